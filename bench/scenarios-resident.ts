/**
 * Resident cost (issue 13): the memory a detached container and a user network keep while they exist.
 *
 *   r1/r10/r100. N × `run -d --network none IMG sleep 3600`, then the Pss and RSS of every supervisor
 *       (/proc/PID/smaps_rollup), divided by N: berth's native monitor (the default), berth's Bun
 *       monitor (BERTH_MONITOR=bun), docker's containerd-shim-runc-v2 and podman's conmon (the
 *       processes of those names that appeared during the runs). The "peak RSS" column holds **Pss per
 *       container**; RSS per container is in the note. Target (issue 13): ≤ 2 MB Pss each with 10.
 *   rdns. K user networks, each with one detached container: berth's DNS process(es) (the pid files
 *       under <root>/network/.dns), measured with 1 network and with K; the column holds the Pss each
 *       added network costs, the note the totals. Target: ≤ 3 MB per network, or one process for all.
 *
 * Informational (no timing): every row records the CPU model and whether SHA-NI and AVX2 are present.
 * Containers and networks are removed at the end of each row.
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { IMAGE } from "./fixtures.ts";
import { Scenario, type Row } from "./harness.ts";
import { log, runCmd } from "./proc.ts";
import type { Ctx } from "./scenarios.ts";

export const TITLE = "resident. memory per detached container (1, 10, 100) and per user network";
const T = 120_000;

/** CPU model and SHA-NI/AVX2, for every figure */
export function cpuLine(): string {
  let model = "?";
  let flags = "";
  try {
    const info = readFileSync("/proc/cpuinfo", "utf8");
    model = /^model name\s*:\s*(.+)$/m.exec(info)?.[1]?.trim() ?? "?";
    flags = /^flags\s*:\s*(.+)$/m.exec(info)?.[1] ?? "";
  } catch {
    // no /proc/cpuinfo: the model stays unknown
  }
  const has = (f: string) => (` ${flags} `.includes(` ${f} `) ? "yes" : "no");
  return `CPU ${model}, SHA-NI ${has("sha_ni")}, AVX2 ${has("avx2")}`;
}

/** Rss and Pss of a process in kB (smaps_rollup); zeros when it is gone */
export function rssPss(pid: number): { rss: number; pss: number } {
  try {
    const s = readFileSync(`/proc/${pid}/smaps_rollup`, "utf8");
    const kb = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+)`, "m").exec(s)?.[1] ?? 0);
    return { rss: kb("Rss"), pss: kb("Pss") };
  } catch {
    return { rss: 0, pss: 0 };
  }
}

/** pids whose comm starts with `prefix` */
function pidsNamed(prefix: string): Set<number> {
  const out = new Set<number>();
  for (const d of readdirSync("/proc")) {
    if (!/^\d+$/.test(d)) continue;
    try {
      if (readFileSync(`/proc/${d}/comm`, "utf8").startsWith(prefix)) out.add(Number(d));
    } catch {
      // raced with its exit
    }
  }
  return out;
}

/** the recorded monitors of a berth root's containers */
function berthMonitors(root: string): number[] {
  const dir = join(root, "containers");
  if (!existsSync(dir)) return [];
  const out: number[] = [];
  for (const id of readdirSync(dir)) {
    try {
      const st = JSON.parse(readFileSync(join(dir, id, "state.json"), "utf8")) as { MonitorPid?: number };
      if (st.MonitorPid) out.push(st.MonitorPid);
    } catch {
      // names/, or a record being written: not a container's monitor
    }
  }
  return out;
}

function sum(pids: number[]): { rss: number; pss: number } {
  return pids.map(rssPss).reduce((a, b) => ({ rss: a.rss + b.rss, pss: a.pss + b.pss }), { rss: 0, pss: 0 });
}

function fill(row: Row, total: { rss: number; pss: number }, n: number, procs: number, cpu: string): void {
  row.rssKb.push(Math.round(total.pss / n));
  row.note = `Pss ${(total.pss / n / 1024).toFixed(2)} MB, RSS ${(total.rss / n / 1024).toFixed(2)} MB per container (${procs} processes for ${n}); ${cpu}`;
}

/** berth: N detached containers under `env`, measured, removed */
function berthRow(ctx: Ctx, sc: Scenario, row: Row, n: number, env: Record<string, string>, cpu: string): void {
  const b = (...a: string[]) => [ctx.berthBin, "--root", ctx.berthRoot, ...a];
  const ids: string[] = [];
  try {
    for (let i = 0; i < n; i++) {
      const r = runCmd(b("run", "-d", "--network", "none", IMAGE, "sleep", "3600"), { timeoutMs: T, env: { ...process.env, ...env } });
      if (!r.ok) {
        row.status = `berth failed: ${r.stderr.trim().split("\n")[0]}`;
        return;
      }
      ids.push(r.stdout.trim());
    }
    Bun.sleepSync(1000); // settled: the hand-over to the native monitor done, Bun's lazy pages touched
    const mons = berthMonitors(ctx.berthRoot);
    fill(row, sum(mons), n, mons.length, cpu);
  } finally {
    for (let i = 0; i < ids.length; i += 50) runCmd(b("rm", "-f", ...ids.slice(i, i + 50)), { timeoutMs: T });
  }
  void sc;
}

/** a peer: N detached containers, measured through the supervisor processes named `comm` that appeared */
function peerRow(cli: string, row: Row, n: number, comm: string, cpu: string, extra: string[] = []): void {
  const before = pidsNamed(comm);
  const ids: string[] = [];
  try {
    for (let i = 0; i < n; i++) {
      const r = runCmd([cli, "run", "-d", "--pull=never", "--label", "berth-bench=1", "--network", "none", ...extra, IMAGE, "sleep", "3600"], { timeoutMs: T });
      if (!r.ok) {
        row.status = `peer failed: ${r.stderr.trim().split("\n")[0]}`;
        return;
      }
      ids.push(r.stdout.trim());
    }
    Bun.sleepSync(1000);
    const mons = [...pidsNamed(comm)].filter((p) => !before.has(p));
    fill(row, sum(mons), n, mons.length, cpu);
  } finally {
    for (let i = 0; i < ids.length; i += 50) runCmd([cli, "rm", "-f", ...ids.slice(i, i + 50)], { timeoutMs: T });
  }
}

function containers(ctx: Ctx, n: number, cpu: string): Scenario {
  const fail = ctx.berthErr ?? ctx.berthImageErr;
  const sc = new Scenario(`r${n}`, `r${n}. Pss per detached container, ${n} running (RSS in the note)`, fail);
  if (n === 10) sc.berth.target = { kind: "rss", maxMB: 2 };
  const bun = sc.row("berth, Bun monitor (BERTH_MONITOR=bun)");
  if (!fail) {
    log(`resident: berth × ${n}`);
    berthRow(ctx, sc, sc.berth, n, {}, cpu);
    log(`resident: berth (Bun monitor) × ${n}`);
    berthRow(ctx, sc, bun, n, { BERTH_MONITOR: "bun" }, cpu);
  } else bun.status = `berth failed: ${fail}`;
  if (ctx.docker) {
    log(`resident: docker × ${n}`);
    peerRow(ctx.docker, sc.row("docker (containerd-shim-runc-v2)"), n, "containerd-shim", cpu);
  } else sc.absent("docker (containerd-shim-runc-v2)", ctx.dockerWhy);
  if (ctx.podman) {
    log(`resident: podman × ${n}`);
    peerRow(ctx.podman, sc.row("podman (conmon)"), n, "conmon", cpu);
  } else sc.absent("podman (conmon)", ctx.podmanWhy);
  return sc;
}

/** the root's DNS processes (pid files under <root>/network/.dns) */
function dnsPids(root: string): number[] {
  const dnsDir = join(root, "network", ".dns");
  const pids = new Set<number>();
  for (const f of existsSync(dnsDir) ? readdirSync(dnsDir) : []) {
    if (!f.endsWith(".json") || f.startsWith("relay-") || f === "served.json") continue;
    try {
      const pid = Number((JSON.parse(readFileSync(join(dnsDir, f), "utf8")) as { pid?: number }).pid);
      if (pid) pids.add(pid);
    } catch {
      // torn pid file: not counted
    }
  }
  return [...pids];
}

/**
 * K user networks with one detached container each: the DNS processes' memory, measured with 1 network
 * and again with all K, so the row shows the total and what each further network adds
 */
function networks(ctx: Ctx, k: number, cpu: string): Scenario {
  const fail = ctx.berthErr ?? ctx.berthImageErr;
  const sc = new Scenario("rdns", `rdns. Pss per user network (DNS): ${k} networks with one container each (total and per added network in the note)`, fail);
  sc.berth.target = { kind: "rss", maxMB: 3 };
  if (fail) return sc;
  const b = (...a: string[]) => [ctx.berthBin, "--root", ctx.berthRoot, ...a];
  const nets: string[] = [];
  const ids: string[] = [];
  let one = { rss: 0, pss: 0 };
  try {
    for (let i = 0; i < k; i++) {
      const name = `berth-bench-net${i}-${process.pid}`;
      const r = runCmd(b("network", "create", "--subnet", `10.213.${i}.0/24`, name), { timeoutMs: T });
      if (!r.ok) {
        sc.berth.status = `berth failed: ${r.stderr.trim().split("\n")[0]}`;
        return sc;
      }
      nets.push(name);
      const c = runCmd(b("run", "-d", "--network", name, IMAGE, "sleep", "3600"), { timeoutMs: T });
      if (!c.ok) {
        sc.berth.status = `berth failed: ${c.stderr.trim().split("\n")[0]}`;
        return sc;
      }
      ids.push(c.stdout.trim());
      if (i === 0) {
        Bun.sleepSync(1000);
        one = sum(dnsPids(ctx.berthRoot));
      }
    }
    Bun.sleepSync(1000);
    const pids = dnsPids(ctx.berthRoot);
    const all = sum(pids);
    const mb = (kb: number) => (kb / 1024).toFixed(2);
    // the judged figure: what one more network costs (one process serves them all, issue 13's alternative)
    const added = { rss: (all.rss - one.rss) / Math.max(1, k - 1), pss: (all.pss - one.pss) / Math.max(1, k - 1) };
    sc.berth.rssKb.push(Math.max(1, Math.round(added.pss)));
    sc.berth.note =
      `${pids.length} DNS process(es) for ${k} networks; total Pss ${mb(one.pss)} MB / RSS ${mb(one.rss)} MB with 1 network, ` +
      `Pss ${mb(all.pss)} MB / RSS ${mb(all.rss)} MB with ${k}: each added network Pss ${mb(added.pss)} MB, RSS ${mb(added.rss)} MB; ${cpu}`;
  } finally {
    if (ids.length) runCmd(b("rm", "-f", ...ids), { timeoutMs: T });
    for (const n of nets) runCmd(b("network", "rm", n), { timeoutMs: T });
  }
  return sc;
}

export function scenarioResident(ctx: Ctx): Scenario[] {
  const cpu = cpuLine();
  const counts = ctx.quick ? [1, 10] : [1, 10, 100];
  return [...counts.map((n) => containers(ctx, n, cpu)), networks(ctx, ctx.quick ? 2 : 5, cpu)];
}
