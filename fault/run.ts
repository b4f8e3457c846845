/**
 * Fault injection (issue 15): SIGKILL berth at a random instant of import, pull, load, build, commit,
 * run -d, run --rm, create, rm -f and prune, and fill a small filesystem under a pull and an import (ENOSPC); after each
 * landed fault check the rule a user relies on:
 *
 *   one rerun of the same command, and at most `system prune -f`, leaves `system check` clean, with no
 *   unsupervised or paused container, no container directory `ps -a` does not show, no image that cannot
 *   be inspected, and — once the trial's containers are removed — no leaked mount, cgroup, veth or
 *   monitor process.
 *
 *   bun run fault [--trials N] [--ops import,pull,…] [--quick] [--seed S] [--keep]
 *
 * --quick is the CI form (a few trials of every operation). The report (trials, landed kills, lasting
 * failures per operation, and each failure's details) goes to stdout as markdown and to
 * fault/results/<UTC time>/report.{json,md}. Exit status 1 when any trial left a lasting failure.
 * Runs as root with the compiled binary (dist/berth, `bun run build`), a registry from Debian's
 * docker-registry on 127.0.0.1, and a bridge, subnet and nftables table of its own.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import { Registry } from "../test/integration/registry-fixture.ts";
import { berthCgroupParents, removeNewCgroupParents } from "../test/helpers/cgroups.ts";

const repo = join(import.meta.dir, "..");
const args = process.argv.slice(2);
const opt = (name: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : undefined;
};
const quick = args.includes("--quick");
const trials = Number(opt("trials") ?? (quick ? 3 : 25));
let seed = Number(opt("seed") ?? Date.now() % 1_000_000);
const seed0 = seed;
const keep = args.includes("--keep");
const bin = opt("bin") ?? join(repo, "dist/berth");

/** a small deterministic PRNG (mulberry32) so a run can be replayed with --seed */
function rand(): number {
  seed = (seed + 0x6d2b79f5) | 0;
  let t = seed;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}

if (process.getuid?.() !== 0) {
  console.error("fault: needs root (namespaces, mounts, cgroups)");
  process.exit(2);
}
if (!existsSync(bin)) {
  console.error(`fault: ${bin} missing: run 'bun run build' first`);
  process.exit(2);
}

// isolation, as test/preload.ts does for the suite: our own bridge, subnet and table; no traffic off the host
const tag = randomBytes(3).toString("hex");
const env: Record<string, string> = {
  ...(process.env as Record<string, string>),
  NO_COLOR: "1",
  BERTH_BRIDGE: `bf${tag}`,
  BERTH_NFT_TABLE: `berth_f${tag}`,
  // (10.50–10.87: 10.88/16 is podman's default network, often present on a machine with peers)
  BERTH_BIP: `10.${50 + Math.floor(Math.random() * 38)}.${Math.floor(Math.random() * 250)}.0/24`,
  HTTPS_PROXY: "http://127.0.0.1:9",
  HTTP_PROXY: "http://127.0.0.1:9",
  NO_PROXY: "127.0.0.1,localhost,::1",
};

const work = mkdtempSync("/tmp/berth-fault-");
const cgroupParents = new Set(berthCgroupParents());
/** each operation gets a fresh root, so what one leaves behind is counted against it alone */
let root = join(work, "root");

interface Result {
  stdout: string;
  stderr: string;
  exitCode: number;
}
async function berth(argv: string[], o: { root?: string; timeoutMs?: number } = {}): Promise<Result> {
  const p = Bun.spawn([bin, "--root", o.root ?? root, ...argv], { env, stdout: "pipe", stderr: "pipe", stdin: "ignore", timeout: o.timeoutMs ?? 120_000 });
  const [stdout, stderr, exitCode] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  return { stdout, stderr, exitCode };
}
async function must(argv: string[], o: { root?: string } = {}): Promise<string> {
  const r = await berth(argv, o);
  if (r.exitCode !== 0) throw new Error(`berth ${argv.join(" ")}: exit ${r.exitCode}: ${r.stderr.trim()}`);
  return r.stdout;
}
function sh(cmd: string[]): string {
  const p = Bun.spawnSync(cmd, { stdout: "pipe", stderr: "pipe" });
  if (p.exitCode !== 0) throw new Error(`${cmd.join(" ")}: ${p.stderr.toString().trim()}`);
  return p.stdout.toString();
}

/** start `argv`, SIGKILL it `delayMs` later; landed = the kill found it still running */
async function killAt(argv: string[], delayMs: number): Promise<{ landed: boolean; exitCode: number | null }> {
  const p = Bun.spawn([bin, "--root", root, ...argv], { env, stdout: "ignore", stderr: "ignore", stdin: "ignore" });
  const done = await Promise.race([p.exited.then(() => true), Bun.sleep(delayMs).then(() => false)]);
  if (done) return { landed: false, exitCode: p.exitCode };
  p.kill("SIGKILL");
  await p.exited;
  return { landed: p.signalCode === "SIGKILL", exitCode: p.exitCode };
}

interface Op {
  name: string;
  /** the state the command starts from (untimed) */
  prepare(): Promise<void>;
  argv(): string[];
  /** a rerun's result that counts as success besides exit 0 (e.g. rm -f of a container already gone) */
  rerunOk?(r: Result): boolean;
  /** a small filesystem instead of a kill */
  enospc?: boolean;
}

// ---- fixtures ------------------------------------------------------------------------------------------
const reg = new Registry(join(work, "registry"));
const producer = join(work, "producer");
const ctx = join(work, "ctx");
const bigTar = join(work, "big.tar");
const savedTar = join(work, "multi.tar");

async function fixtures(): Promise<void> {
  const bb = join(work, "busybox.tar");
  sh(["bash", join(repo, "scripts/busybox-rootfs.sh"), bb]);
  await must(["import", "-c", 'CMD ["sh"]', bb, "busybox:latest"], { root: producer });
  // an image of 4 layers, a few MB each, in the producer root: pushed to the registry and saved to a tarball
  mkdirSync(ctx, { recursive: true });
  writeFileSync(
    join(ctx, "Dockerfile"),
    "FROM busybox\nRUN head -c 6000000 /dev/urandom > /a\nRUN head -c 6000000 /dev/urandom > /b\nRUN head -c 6000000 /dev/urandom > /c\nRUN echo done > /d\n",
  );
  await reg.start();
  await must(["build", "-q", "-t", `${reg.host}/fault/multi:1`, ctx], { root: producer });
  await must(["push", `${reg.host}/fault/multi:1`], { root: producer });
  await must(["tag", `${reg.host}/fault/multi:1`, "fault/loaded:1"], { root: producer });
  await must(["save", "-o", savedTar, "fault/loaded:1"], { root: producer });
  // a 40 MB rootfs tarball for import
  const big = join(work, "bigfs");
  mkdirSync(join(big, "data"), { recursive: true });
  for (let i = 0; i < 8; i++) writeFileSync(join(big, "data", `f${i}`), randomBytes(5 << 20));
  sh(["tar", "-C", big, "-cf", bigTar, "."]);
  rmSync(big, { recursive: true, force: true });
}

/** a fresh root for one operation: busybox, and a running container to commit (commit pauses it) */
async function freshRoot(name: string): Promise<void> {
  root = join(work, `root-${name.replace(/[^a-z]+/g, "-")}`);
  await must(["import", "-c", 'CMD ["sh"]', join(work, "busybox.tar"), "busybox:latest"]);
  seen.clear();
  fixtureId = (await must(["run", "-d", "--network", "none", "--name", "fault-src", "busybox", "sh", "-c", "head -c 12000000 /dev/urandom > /data; exec sleep 100000"])).trim();
  await Bun.sleep(500);
  baseline = hostState();
}

const image = () => `${reg.host}/fault/multi:1`;
const ops: Op[] = [
  { name: "import", prepare: async () => void (await berth(["rmi", "-f", "fault/import:1"])), argv: () => ["import", bigTar, "fault/import:1"] },
  { name: "pull", prepare: async () => void (await berth(["rmi", "-f", image()])), argv: () => ["pull", "-q", image()] },
  { name: "load", prepare: async () => void (await berth(["rmi", "-f", "fault/loaded:1"])), argv: () => ["load", "-q", "-i", savedTar] },
  { name: "build", prepare: async () => {}, argv: () => ["build", "-q", "--no-cache", "-t", "fault/built:1", ctx] },
  { name: "commit", prepare: async () => {}, argv: () => ["commit", "fault-src", "fault/committed:1"] },
  { name: "run -d", prepare: async () => {}, argv: () => ["run", "-d", "--label", "fault=1", "busybox", "sleep", "100000"] },
  { name: "run -d (none)", prepare: async () => {}, argv: () => ["run", "-d", "--network", "none", "--label", "fault=1", "busybox", "sleep", "100000"] },
  // the start path of issue 13: a record written without fsyncs (--rm), and create's one durable record
  { name: "run --rm", prepare: async () => {}, argv: () => ["run", "--rm", "--network", "none", "--label", "fault=1", "busybox", "true"] },
  { name: "create", prepare: async () => {}, argv: () => ["create", "--network", "none", "--label", "fault=1", "busybox", "true"] },
  {
    name: "rm -f",
    prepare: async () => {
      await berth(["rm", "-f", "fault-rm"]);
      await must(["run", "-d", "--name", "fault-rm", "--label", "fault=1", "busybox", "sleep", "100000"]);
    },
    argv: () => ["rm", "-f", "fault-rm"],
    rerunOk: (r) => /No such container/.test(r.stderr),
  },
  {
    name: "prune",
    prepare: async () => {
      await berth(["run", "--network", "none", "--label", "fault=1", "busybox", "true"]);
      await berth(["run", "--network", "none", "--label", "fault=1", "busybox", "true"]);
      await berth(["tag", "busybox", "fault/dangling:1"]);
    },
    argv: () => ["system", "prune", "-f"],
  },
];

// ---- the rule ------------------------------------------------------------------------------------------
function readJson(path: string): Record<string, any> | undefined {
  try {
    return JSON.parse(readFileSync(path, "utf8"));
  } catch {
    return undefined; // a missing or corrupt record is reported by the callers' other checks
  }
}
const alive = (pid: number) => pid > 0 && existsSync(`/proc/${pid}`) && !/^State:\s+Z/m.test(readFileSync(`/proc/${pid}/status`, "utf8"));

/** the rule's checks that hold while containers run; an empty list = clean */
async function invariants(): Promise<string[]> {
  const problems: string[] = [];
  const check = await berth(["system", "check"]);
  if (check.exitCode !== 0) problems.push(`system check: ${(check.stdout + check.stderr).trim().split("\n").slice(-3).join(" | ")}`);
  const listed = new Set((await berth(["ps", "-aq", "--no-trunc"])).stdout.split("\n").filter(Boolean));
  const dir = join(root, "containers");
  for (const id of existsSync(dir) ? readdirSync(dir).filter((d) => /^[0-9a-f]{64}$/.test(d)) : []) {
    const st = readJson(join(dir, id, "state.json"));
    const hasConfig = existsSync(join(dir, id, "config.json"));
    if (hasConfig && !listed.has(id)) problems.push(`container ${id.slice(0, 12)} has a record that ps -a does not show`);
    if (!hasConfig) continue; // a directory without config.json is a create in flight or debris the next command sweeps
    if (!st) continue;
    if (st.Status === "paused" || st.Paused) problems.push(`container ${id.slice(0, 12)} is left paused`);
    if ((st.Status === "running" || st.Status === "paused") && alive(st.Pid) && !alive(st.MonitorPid ?? 0)) {
      problems.push(`container ${id.slice(0, 12)} runs without a monitor (pid ${st.Pid})`);
    }
  }
  for (const ref of (await berth(["images", "-q", "--no-trunc"])).stdout.split("\n").filter(Boolean)) {
    const r = await berth(["image", "inspect", ref]);
    if (r.exitCode !== 0) problems.push(`image ${ref} is listed but cannot be inspected: ${r.stderr.trim()}`);
  }
  return problems;
}

/** what the host holds under the root with only the fixture container running (set after fixtures()) */
let baseline = { mounts: new Set<string>(), monitors: 0 };
function hostState(): { mounts: Set<string>; monitors: number } {
  const mounts = new Set(
    readFileSync("/proc/self/mountinfo", "utf8")
      .split("\n")
      .map((l) => l.split(" ")[4] ?? "")
      .filter((m) => m.startsWith(root + "/")),
  );
  const monitors = sh(["ps", "-eo", "pid,args"])
    .split("\n")
    .filter((l) => l.includes(`--root ${root} __monitor`)).length;
  return { mounts, monitors };
}

/** ids of every container this run has seen (their cgroups are ours to account for) */
const seen = new Set<string>();
async function remember(): Promise<void> {
  for (const id of (await berth(["ps", "-aq", "--no-trunc"])).stdout.split("\n").filter(Boolean)) seen.add(id);
  const dir = join(root, "containers");
  if (existsSync(dir)) for (const id of readdirSync(dir).filter((d) => /^[0-9a-f]{64}$/.test(d))) seen.add(id);
}

/** after the trial's containers are removed: nothing of them may remain on the host */
async function leaks(): Promise<string[]> {
  const problems: string[] = [];
  await remember();
  const ids = (await berth(["ps", "-aq", "--no-trunc", "--filter", "label=fault=1"])).stdout.split("\n").filter(Boolean);
  if (ids.length) {
    const r = await berth(["rm", "-f", ...ids]);
    if (r.exitCode !== 0) problems.push(`rm -f of the trial's containers failed: ${r.stderr.trim().split("\n")[0]}`);
  }
  const running = new Set((await berth(["ps", "-q", "--no-trunc"])).stdout.split("\n").filter(Boolean));
  const now = hostState();
  const extra = [...now.mounts].filter((m) => !baseline.mounts.has(m));
  if (extra.length) problems.push(`mounts left under the root: ${extra.slice(0, 3).join(", ")}`);
  if (now.monitors > baseline.monitors) problems.push(`${now.monitors - baseline.monitors} monitor process(es) without a container`);
  for (const ctrl of readdirSync("/sys/fs/cgroup")) {
    const d = `/sys/fs/cgroup/${ctrl}/berth`;
    if (!existsSync(d)) continue;
    for (const id of readdirSync(d)) {
      if (seen.has(id) && !running.has(id)) problems.push(`cgroup ${ctrl}/berth/${id.slice(0, 12)} of a container that is not running`);
    }
  }
  const bridge = env.BERTH_BRIDGE!;
  const ports = existsSync(`/sys/class/net/${bridge}/brif`) ? readdirSync(`/sys/class/net/${bridge}/brif`) : [];
  if (ports.length > [...running].filter((id) => id !== fixtureId).length) problems.push(`veths left on ${bridge}: ${ports.join(", ")}`);
  return problems;
}
let fixtureId = "";

// ---- a trial -------------------------------------------------------------------------------------------
interface Trial {
  op: string;
  delayMs: number;
  landed: boolean;
  rerun: number;
  pruned: boolean;
  /** what `system check` and the invariants found before that prune */
  prunedFor?: string[];
  problems: string[];
}

async function trial(op: Op, durationMs: number): Promise<Trial> {
  await op.prepare();
  const delayMs = Math.round(rand() * durationMs * 1.1);
  const k = await killAt(op.argv(), delayMs);
  await remember();
  const t: Trial = { op: op.name, delayMs, landed: k.landed, rerun: 0, pruned: false, problems: [] };
  if (!k.landed) return t;
  const again = await berth(op.argv());
  t.rerun = again.exitCode;
  await remember();
  if (again.exitCode !== 0 && !op.rerunOk?.(again)) t.problems.push(`the rerun failed (${again.exitCode}): ${again.stderr.trim().split("\n")[0]}`);
  let problems = await invariants();
  if (problems.length) {
    t.pruned = true;
    t.prunedFor = problems;
    await berth(["system", "prune", "-f"]);
    problems = await invariants();
  }
  t.problems.push(...problems, ...(await leaks()));
  return t;
}

/** ENOSPC: the same store on a tmpfs too small for the operation; afterwards the store must be as before */
async function enospcTrial(name: string, argv: (r: string) => string[], sizeMb: number): Promise<Trial> {
  const mnt = join(work, `small-${name}`);
  mkdirSync(mnt, { recursive: true });
  sh(["mount", "-t", "tmpfs", "-o", `size=${sizeMb}m`, "tmpfs", mnt]);
  const t: Trial = { op: `ENOSPC ${name}`, delayMs: 0, landed: false, rerun: 0, pruned: false, problems: [] };
  try {
    const r0 = join(mnt, "root");
    const bb = join(work, "busybox.tar");
    await berth(["import", bb, "busybox:latest"], { root: r0 });
    const r = await berth(argv(r0), { root: r0 });
    t.landed = r.exitCode !== 0 && /no space|ENOSPC/i.test(r.stderr);
    if (r.exitCode !== 0 && r.stderr.includes("    at ")) t.problems.push(`a stack trace on ENOSPC: ${r.stderr.split("\n")[0]}`);
    if (r.exitCode !== 0 && r.stderr.trim().split("\n").length > 2) t.problems.push(`more than a one-line error: ${r.stderr.trim().split("\n").slice(0, 2).join(" | ")}`);
    const c = await berth(["system", "check"], { root: r0 });
    if (c.exitCode !== 0) t.problems.push(`system check after ENOSPC: ${(c.stdout + c.stderr).trim().split("\n").slice(-2).join(" | ")}`);
    const ingests = join(r0, "content", "ingest");
    if (existsSync(ingests) && readdirSync(ingests).length) t.problems.push(`ingests left: ${readdirSync(ingests).join(", ")}`);
  } finally {
    Bun.spawnSync(["umount", "-l", mnt]);
    rmSync(mnt, { recursive: true, force: true });
  }
  return t;
}

/** remove every container of the current root */
async function dropRoot(): Promise<void> {
  if (!existsSync(root)) return;
  const ids = (await berth(["ps", "-aq", "--no-trunc"])).stdout.split("\n").filter(Boolean);
  if (ids.length) await berth(["rm", "-f", ...ids]);
}

// ---- main ----------------------------------------------------------------------------------------------
const only = opt("ops")?.split(",");
const selected = ops.filter((o) => !only || only.includes(o.name));
const results: Trial[] = [];
let exit = 0;
try {
  await fixtures();
  for (const op of selected) {
    await freshRoot(op.name);
    // calibrate: unkilled runs give the window the kills fall in; the faster of two, since a first run
    // can be much slower (a cold registry, page cache): a pull's window was 10x its trials' run time
    let duration = Infinity;
    for (let c = 0; c < 2; c++) {
      await op.prepare();
      const t0 = performance.now();
      const r = await berth(op.argv());
      duration = Math.min(duration, Math.max(50, performance.now() - t0));
      if (r.exitCode !== 0) throw new Error(`${op.name}: the unkilled run failed: ${r.stderr.trim()}`);
    }
    await leaks();
    for (let i = 0; i < trials; i++) {
      const t = await trial(op, duration);
      results.push(t);
      if (t.problems.length) console.error(`fault: ${op.name} killed at ${t.delayMs} ms: ${t.problems.join("; ")}`);
    }
    await dropRoot();
  }
  if (!only || only.includes("enospc")) {
    results.push(await enospcTrial("import", () => ["import", bigTar, "fault/big:1"], 24));
    results.push(await enospcTrial("pull", () => ["pull", "-q", image()], 12));
  }
} catch (e) {
  console.error(`fault: ${(e as Error).message}`);
  exit = 2;
} finally {
  // teardown: every container, the registry, our bridge and table, the work directory
  await dropRoot();
  const pids = (await berth(["ps", "-aq", "--no-trunc"], { root: producer })).stdout.split("\n").filter(Boolean);
  if (pids.length) await berth(["rm", "-f", ...pids], { root: producer });
  await reg.stop();
  removeNewCgroupParents(cgroupParents);
  Bun.spawnSync(["ip", "link", "del", env.BERTH_BRIDGE!], { stderr: "ignore" });
  Bun.spawnSync(["nft", "delete", "table", "ip", env.BERTH_NFT_TABLE!], { stderr: "ignore" });
  if (existsSync(`/run/berth/net/${env.BERTH_BRIDGE}`)) rmSync(`/run/berth/net/${env.BERTH_BRIDGE}`, { recursive: true, force: true });
  for (const line of readFileSync("/proc/self/mountinfo", "utf8").split("\n").reverse()) {
    const m = line.split(" ")[4];
    if (m?.startsWith(work + "/")) Bun.spawnSync(["umount", "-l", m]);
  }
  if (!keep) rmSync(work, { recursive: true, force: true });
}

// ---- report --------------------------------------------------------------------------------------------
const byOp = new Map<string, Trial[]>();
for (const t of results) byOp.set(t.op, [...(byOp.get(t.op) ?? []), t]);
const lines = [
  `# berth fault injection — ${new Date().toISOString()}`,
  "",
  `seed ${seed0}, ${trials} trials per operation${quick ? " (quick)" : ""}, kernel ${sh(["uname", "-r"]).trim()}, CPU ${cpuModel()}`,
  "",
  "| operation | trials | landed faults | rerun needed prune | lasting failures |",
  "|---|---:|---:|---:|---:|",
];
let lasting = 0;
let landed = 0;
for (const [op, ts] of byOp) {
  const l = ts.filter((t) => t.landed).length;
  const f = ts.filter((t) => t.problems.length).length;
  landed += l;
  lasting += f;
  lines.push(`| ${op} | ${ts.length} | ${l} | ${ts.filter((t) => t.pruned).length} | ${f} |`);
}
lines.push(`| **all** | ${results.length} | ${landed} | ${results.filter((t) => t.pruned).length} | ${lasting} |`, "");
for (const t of results.filter((t) => t.problems.length)) lines.push(`- ${t.op} (killed at ${t.delayMs} ms): ${t.problems.join("; ")}`);
for (const t of results.filter((t) => t.pruned)) lines.push(`- ${t.op} (killed at ${t.delayMs} ms) needed the prune for: ${t.prunedFor!.join("; ")}`);
const md = lines.join("\n") + "\n";
process.stdout.write(md);
const out = join(import.meta.dir, "results", new Date().toISOString().replace(/[-:]/g, "").replace(/\..*/, "Z"));
mkdirSync(out, { recursive: true });
writeFileSync(join(out, "report.md"), md);
writeFileSync(join(out, "report.json"), JSON.stringify({ seed: seed0, trials, quick, results }, null, 2) + "\n");
if (lasting > 0 && exit === 0) exit = 1;
process.exit(exit);

function cpuModel(): string {
  return /model name\s*:\s*(.*)/.exec(readFileSync("/proc/cpuinfo", "utf8"))?.[1] ?? "unknown";
}
