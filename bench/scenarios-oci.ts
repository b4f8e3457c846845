/**
 * o. berth as an OCI runtime (issue 14): the lifecycle a containerd shim or conmon drives —
 * `create --bundle B --pid-file P`, `start`, wait for the process to exit, `delete` — of the same busybox
 * bundle (`true`), berth-runc against runc and crun, interleaved round by round (berth, runc, crun, …).
 * Picked up by run.ts as an extra scenario file (`--only oci`). Each runtime has its own --root under
 * the work dir; the three config.json differ only in cgroupsPath (one parent, removed at the end).
 *
 * "wait" polls /proc/<pid>/stat until the process is gone or a zombie (after `create` returns, the
 * process belongs to init, as it would to a shim), the same cheap check for every runtime.
 */
import { existsSync, mkdirSync, readFileSync, readdirSync, rmdirSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { rounds, Scenario, type Side } from "./harness.ts";
import type { RunResult } from "./proc.ts";
import type { Ctx } from "./scenarios.ts";

export const TITLE = "o. OCI runtime: create + start + wait + delete of one bundle (berth-runc vs runc, crun)";
const CG = "berth-bench-oci";
let seq = 0;

/** one runtime command; stderr goes to a file: the container inherits the runtime's stdio, so a pipe
 * would not see EOF until the container exits (spawnSync would wait for it) */
function exec(argv: string[], cwd: string): { ok: boolean; code: number | null; stderr: string } {
  const errFile = join(cwd, "stderr");
  const p = Bun.spawnSync(argv, { cwd, stdin: "ignore", stdout: "ignore", stderr: Bun.file(errFile) });
  return { ok: p.exitCode === 0, code: p.exitCode, stderr: p.exitCode === 0 ? "" : readFileSync(errFile, "utf8") };
}

function gone(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "latin1");
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) === "Z";
  } catch {
    return true; // reaped already
  }
}

function lifecycle(bin: string, root: string, bundle: string, work: string): RunResult {
  const id = `bench-${process.pid}-${seq++}`;
  const pidFile = join(work, `${id}.pid`);
  const base = [bin, "--root", root];
  const t0 = performance.now();
  const fail = (what: string, r: { code: number | null; stderr: string }): RunResult => ({
    ok: false,
    code: r.code,
    ms: performance.now() - t0,
    rssKb: 0,
    stdout: "",
    stderr: `${what}: ${r.stderr}`,
    timedOut: false,
  });
  const c = exec([...base, "create", "--bundle", bundle, "--pid-file", pidFile, id], work);
  if (!c.ok) return fail("create", c);
  const pid = Number(readFileSync(pidFile, "utf8"));
  const s = exec([...base, "start", id], work);
  if (!s.ok) return fail("start", s);
  const deadline = performance.now() + 10_000;
  while (!gone(pid) && performance.now() < deadline) Bun.sleepSync(0.1);
  const d = exec([...base, "delete", id], work);
  if (!d.ok) return fail("delete", d);
  const ms = performance.now() - t0;
  rmSync(pidFile, { force: true });
  return { ok: true, code: 0, ms, rssKb: 0, stdout: "", stderr: "", timedOut: false };
}

function rmCgroupParent(): void {
  for (const h of readdirSync("/sys/fs/cgroup")) {
    const dir = join("/sys/fs/cgroup", h, CG);
    if (!existsSync(dir)) continue;
    for (const sub of readdirSync(dir, { withFileTypes: true })) {
      try {
        if (sub.isDirectory()) rmdirSync(join(dir, sub.name));
      } catch {} // a leftover of a failed run still holds a process: left for the operator
    }
    try {
      rmdirSync(dir);
    } catch {} // see above
  }
}

export function scenarioOci(ctx: Ctx): Scenario {
  const fail = ctx.berthErr ?? (ctx.bundle ? undefined : "no OCI bundle (needs runc or crun to write one)");
  const sc = new Scenario("o", TITLE, fail);
  if (fail) return sc;
  const work = join(ctx.work, "oci");
  rmSync(work, { recursive: true, force: true });
  mkdirSync(work, { recursive: true });
  const berthRunc = join(work, "berth-runc");
  symlinkSync(ctx.berthBin, berthRunc);
  const spec = JSON.parse(readFileSync(join(ctx.bundle!, "config.json"), "utf8"));
  const bundleFor = (name: string) => {
    const dir = join(work, `bundle-${name}`);
    mkdirSync(dir, { recursive: true });
    const c = structuredClone(spec);
    c.root.path = join(ctx.bundle!, spec.root.path);
    c.process.args = ["true"];
    c.linux.cgroupsPath = `/${CG}/${name}`;
    writeFileSync(join(dir, "config.json"), JSON.stringify(c));
    return dir;
  };
  const side = (engine: string, bin: string, name: string): Side => {
    const root = join(work, `root-${name}`);
    const bundle = bundleFor(name);
    return { engine, op: () => lifecycle(bin, root, bundle, work) };
  };
  const peers: { side: Side; target?: { kind: "ratio"; max: number } }[] = [];
  if (ctx.runc) peers.push({ side: side("runc", ctx.runc, "runc"), target: { kind: "ratio", max: 1 } });
  else sc.absent("runc", "runc not installed", { kind: "ratio", max: 1 });
  if (ctx.crun) peers.push({ side: side("crun", ctx.crun, "crun"), target: { kind: "ratio", max: 2 } });
  else sc.absent("crun", "crun not installed", { kind: "ratio", max: 2 });
  try {
    rounds(sc, side("berth-runc", berthRunc, "berth"), peers, ctx.runs, 2, ctx.budget);
  } finally {
    rmCgroupParent();
    rmSync(work, { recursive: true, force: true });
  }
  const cpu = /^model name\s*:\s*(.*)$/m.exec(readFileSync("/proc/cpuinfo", "utf8"))?.[1] ?? "unknown CPU";
  const flags = readFileSync("/proc/cpuinfo", "utf8");
  sc.berth.note = `CPU: ${cpu}, ${navigator.hardwareConcurrency} CPUs, SHA-NI ${/\bsha_ni\b/.test(flags) ? "yes" : "no"}, AVX2 ${/\bavx2\b/.test(flags) ? "yes" : "no"}`;
  return sc;
}
