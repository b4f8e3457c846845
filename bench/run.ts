/**
 * bench/: berth side by side with docker, podman, crun, runc, skopeo and GNU tar (issue 7).
 *
 *   bun run bench [--quick] [--runs N] [--with-peers] [--only a,c] [--skip e,f] [--size MB] [--work DIR] [--no-build]
 *
 * Builds dist/berth, prepares the same busybox image for every engine, runs the scenarios with
 * interleaved berth/peer pairs, prints one table and writes JSON + markdown to bench/results/<UTC time>/.
 * Not part of the test suite; it times things, so run it on a quiet machine. See bench/README.md.
 *
 * Owns: bench/** only. Imports nothing from src/ (berth is measured as a black box, through dist/berth).
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { buildBundle, buildBusyboxTar, buildContexts, buildImportTar, ensurePullImage, IMAGE, importInto, BIG_IMAGE, QUICK_IMAGE } from "./fixtures.ts";
import { medianOr, safeRm, type Row, Scenario } from "./harness.ts";
import { applyHostFixes, dockerCli, dockerPing, installPeers, newPeerState, peerVersions, registryPing, startDaemons, stopStarted } from "./peers.ts";
import { firstLine, log, runCmd, which } from "./proc.ts";
import { berthCgroupParents, removeNewCgroupParents } from "../test/helpers/cgroups.ts";
import { scenarioA, scenarioB, scenarioC, scenarioD, scenarioE, scenarioF, scenarioG, type Ctx } from "./scenarios.ts";
import { fmtKb, fmtMs, fmtPaired, fmtRange, fmtTarget, judge, renderMarkdown, renderText } from "./stats.ts";

const USAGE = `usage: bun run bench [options]

  --quick            3 runs per quick scenario, 1 per heavy one, ${100} MB import tarball: a smoke
                     check in < 2 min
  --runs N           timed pairs per peer for the quick scenarios (default 10); the heavy ones
                     (create ×50, import, pull, cold builds) use min(N, 3)
  --with-peers       install missing peers (apt), apply the host workarounds, start dockerd and a
                     registry on 127.0.0.1:5000 if not running; stop what was started at the end
  --only LIST        scenarios to run, e.g. a,b,d   (a run/none, b run/bridge, c create×50,
                     d import, e pull, f build, g daemon; extra files: net, pull, build, …)
  --skip LIST        scenarios to leave out (shown as "skipped")
  --size MB          size of the generated import tarball (default 1024; --quick: 100)
  --work DIR         cache and scratch dir (default /var/tmp/berth-bench)
  --no-build         use the existing dist/berth
  --berth PATH       measure this berth binary instead of building dist/berth
  --budget S         stop starting new runs S seconds after the set-up (default 470; --quick: 70);
                     no scenario gets more than twice its even share of it
  --no-sha-ni        measure as on a CPU without SHA-NI: OPENSSL_ia32cap=":~0x20000000" for berth
                     (its libcrypto, Bun's BoringSSL and its own SHA-256 follow it) and the other
                     processes, GODEBUG=cpu.sha=off for the Go peers (a dockerd already running keeps
                     its SHA-NI: the header says so)
`;

const { values: opt } = parseArgs({
  args: Bun.argv.slice(2),
  options: {
    quick: { type: "boolean", default: false },
    runs: { type: "string" },
    "with-peers": { type: "boolean", default: false },
    only: { type: "string" },
    skip: { type: "string" },
    size: { type: "string" },
    work: { type: "string" },
    "no-build": { type: "boolean", default: false },
    berth: { type: "string" },
    budget: { type: "string" },
    "no-sha-ni": { type: "boolean", default: false },
    help: { type: "boolean", short: "h", default: false },
  },
});
if (opt.help) {
  process.stdout.write(USAGE);
  process.exit(0);
}
if (process.getuid?.() !== 0) {
  process.stderr.write("bench: run as root (containers, mounts, daemons)\n");
  process.exit(2);
}

/**
 * Extra scenario files: every bench/scenarios-<name>.ts is picked up with the id <name> (so
 * `--only net`, `--skip pull`). It exports `scenario<Name>(ctx: Ctx)` (or a default export, or else its
 * first exported function whose name starts with "scenario") returning Scenario | Scenario[] (or a
 * promise of either), and may export `TITLE` for the log and for a "skipped" row. The files other
 * issues are expected to add get a "not present" row until they exist.
 */
// extra scenario files the table always names (a missing one shows as a row, never silently); the
// builds are scenario f in scenarios.ts
const EXPECTED_EXTRAS = ["net", "pull"];

interface Extra {
  id: string;
  file: string;
  title: string;
  fn?: (ctx: Ctx) => Scenario | Scenario[] | Promise<Scenario | Scenario[]>;
  err?: string;
}

async function loadExtras(): Promise<Extra[]> {
  const names = new Set(EXPECTED_EXTRAS);
  for (const f of readdirSync(import.meta.dir)) {
    const m = /^scenarios-([a-z0-9]+)\.ts$/.exec(f);
    if (m) names.add(m[1]!);
  }
  const out: Extra[] = [];
  for (const id of names) {
    const file = join(import.meta.dir, `scenarios-${id}.ts`);
    const rel = `bench/scenarios-${id}.ts`;
    if (!existsSync(file)) {
      out.push({ id, file, title: `${id}. ${rel}`, err: `skipped: ${rel} not present yet` });
      continue;
    }
    try {
      const mod = (await import(file)) as Record<string, unknown>;
      const named = `scenario${id[0]!.toUpperCase()}${id.slice(1)}`;
      const fn = [
        mod[named],
        mod.default,
        ...Object.entries(mod)
          .filter(([k]) => k.startsWith("scenario"))
          .map(([, v]) => v),
      ].find((v) => typeof v === "function") as Extra["fn"];
      const title = typeof mod.TITLE === "string" ? mod.TITLE : `${id}. ${rel}`;
      out.push(fn ? { id, file, title, fn } : { id, file, title, err: `skipped: ${rel} exports no scenario function (${named})` });
    } catch (e) {
      out.push({ id, file, title: `${id}. ${rel}`, err: `skipped: ${rel} failed to load: ${(e as Error).message.split("\n")[0]}` });
    }
  }
  return out;
}

const extras = await loadExtras();
const list = (s?: string) =>
  (s ?? "")
    .split(",")
    .map((x) => x.trim().toLowerCase())
    .filter(Boolean);
const only = list(opt.only);
const skip = list(opt.skip);
const want = (s: string) => (only.length === 0 || only.includes(s)) && !skip.includes(s);

const quick = opt.quick;
const runs = quick ? 3 : Math.max(1, Number(opt.runs ?? 10));
const heavyRuns = quick ? 1 : Math.min(runs, 3);
const sizeMB = Number(opt.size ?? (quick ? 100 : 1024));
const budgetS = Number(opt.budget ?? (quick ? 70 : 470));
const repo = resolve(import.meta.dir, "..");
const work = resolve(opt.work ?? "/var/tmp/berth-bench");
mkdirSync(work, { recursive: true });
const t0 = Date.now();
const loadavgAtStart = runCmd(["cat", "/proc/loadavg"]).stdout.trim();
/** the CPU every figure was measured on: hashing speed differs ~8× with and without SHA-NI (issue 13) */
function cpuInfo(): { model: string; shaNi: boolean; avx2: boolean } {
  let text = "";
  try {
    text = readFileSync("/proc/cpuinfo", "utf8");
  } catch {} // not Linux: unknown CPU
  const flags = new Set((/^flags\s*:\s*(.*)$/m.exec(text)?.[1] ?? "").split(/\s+/));
  return { model: /^model name\s*:\s*(.*)$/m.exec(text)?.[1] ?? "unknown", shaNi: flags.has("sha_ni"), avx2: flags.has("avx2") };
}
const cpu = cpuInfo();
/** --no-sha-ni: set before any peer or daemon starts, so every process inherits it */
const shaMasked = opt["no-sha-ni"] && cpu.shaNi;
if (shaMasked) {
  process.env.OPENSSL_ia32cap = ":~0x20000000"; // CPUID leaf 7 EBX bit 29: SHA
  process.env.GODEBUG = [process.env.GODEBUG, "cpu.sha=off"].filter(Boolean).join(",");
}
const shaText = `SHA-NI ${cpu.shaNi ? (shaMasked ? "yes, masked (--no-sha-ni)" : "yes") : "no"}`;
const stamp = new Date()
  .toISOString()
  .replace(/[-:]/g, "")
  .replace(/\.\d+Z$/, "Z");

const peers = newPeerState();
// berth's default bridge and nftables table, made by the bridge scenarios when the host had none:
// removed again at the end, as nothing of berth's runs any more
const berthBridge = process.env.BERTH_BRIDGE || "berth0";
const berthTable = process.env.BERTH_NFT_TABLE || "berth";
// berth's parent cgroups stay once made (as docker's do): the bench removes those it made
const cgroupParents = new Set(berthCgroupParents());
const hadBridge = Bun.spawnSync(["ip", "link", "show", berthBridge], { stdout: "ignore", stderr: "ignore" }).exitCode === 0;
// podman's default network: its bridge (10.88.0.1/16) stays once a bridged `podman run` made it
const hadPodmanBridge = existsSync("/sys/class/net/cni-podman0") || existsSync("/sys/class/net/podman0");
const hadTable = Bun.spawnSync(["nft", "list", "table", "ip", berthTable], { stdout: "ignore", stderr: "ignore" }).exitCode === 0;
let stopping = false;
const stopAll = async () => {
  if (stopping) return;
  stopping = true;
  await stopStarted(peers);
};
for (const sig of ["SIGINT", "SIGTERM"] as const) {
  process.on(sig, () => {
    log(`${sig}: stopping what the bench started`);
    void stopAll().finally(() => process.exit(130));
  });
}

const scenarios: Scenario[] = [];
const warnings: string[] = [];
let ctx: Ctx | undefined;
try {
  // ---------------------------------------------------------------- peers
  if (opt["with-peers"]) {
    installPeers(peers);
    applyHostFixes(peers);
    await startDaemons(peers, work);
  }
  if (shaMasked && !peers.dockerdPid && (await dockerPing()))
    peers.notes.push("--no-sha-ni: dockerd was running before the bench, so it hashes with SHA-NI (stop it to mask it too)");
  const setupStart = Date.now();

  // ---------------------------------------------------------------- berth
  const berthBin = opt.berth ? resolve(opt.berth) : join(repo, "dist/berth");
  let berthErr: string | undefined;
  if (!opt["no-build"] && !opt.berth) {
    log("bun run build");
    const r = runCmd(["bun", "run", "build"], { cwd: repo, timeoutMs: 300_000 });
    if (!r.ok) berthErr = `build: ${firstLine(r)}`;
  }
  if (!berthErr && !existsSync(berthBin)) berthErr = `${berthBin} missing`;

  // fresh berth root for this run (never /var/lib/berth)
  let berthRoot = join(work, "berth-root");
  const w = safeRm(berthRoot);
  if (w) {
    warnings.push(w);
    berthRoot = join(work, `berth-root-${stamp}`);
  }
  mkdirSync(berthRoot, { recursive: true });

  // ---------------------------------------------------------------- images
  const busyboxTar = buildBusyboxTar(work);
  let berthImageErr: string | undefined;
  if (!berthErr) {
    const r = runCmd([berthBin, "--root", berthRoot, "import", busyboxTar, IMAGE], { timeoutMs: 120_000 });
    if (!r.ok) berthImageErr = `import: ${firstLine(r)}`;
  }

  let docker: string | undefined;
  let dockerWhy = "";
  const dcli = dockerCli();
  if (!dcli) dockerWhy = "docker not installed";
  else if (!(await dockerPing())) dockerWhy = which("dockerd") ? "dockerd not running; use --with-peers" : "dockerd not installed";
  else {
    const e = importInto(dcli, "docker", busyboxTar);
    if (e) dockerWhy = `docker import failed: ${e}`;
    else docker = dcli;
  }
  let podman: string | undefined;
  let podmanWhy = "";
  const pcli = which("podman");
  if (!pcli) podmanWhy = "podman not installed";
  else {
    const e = importInto(pcli, "podman", busyboxTar);
    if (e) podmanWhy = `podman import failed: ${e}`;
    else podman = pcli;
  }
  const crun = which("crun") ?? undefined;
  const runc = which("runc") ?? undefined;
  const bundle = crun || runc ? (buildBundle(work, busyboxTar) ?? undefined) : undefined;
  const skopeo = which("skopeo") ?? undefined;
  let bigErr: string | null = null;
  if (want("e")) {
    if (!(await registryPing())) bigErr = "no registry on 127.0.0.1:5000; use --with-peers";
    else if (!skopeo) bigErr = "skopeo not installed (needed to push the image)";
    else bigErr = ensurePullImage(work, docker ?? null, quick);
  }
  const importTar = want("d") ? buildImportTar(work, sizeMB) : undefined;
  const { tiny, ten } = buildContexts(work);
  // leftovers of an interrupted earlier run (only containers this bench labelled)
  for (const cli of [docker, podman]) {
    if (!cli) continue;
    const ids = runCmd([cli, "ps", "-aq", "--filter", "label=berth-bench=1"]).stdout.split("\n").filter(Boolean);
    if (ids.length) runCmd([cli, "rm", "-f", ...ids]);
  }
  log(`setup took ${((Date.now() - setupStart) / 1000).toFixed(1)} s`);

  const c: Ctx = {
    work,
    berthBin,
    berthRoot,
    berthErr,
    berthImageErr,
    quick,
    runs,
    heavyRuns,
    sizeMB,
    docker,
    dockerWhy,
    podman,
    podmanWhy,
    crun,
    runc,
    bundle,
    skopeo,
    bigErr,
    pullImage: quick ? QUICK_IMAGE : BIG_IMAGE,
    importTar,
    ctxTiny: tiny,
    ctxTen: ten,
    peers,
    dockerdFlags: (process.env.BENCH_DOCKERD_FLAGS ?? "--iptables=false --ip-forward=false").split(/\s+/).filter(Boolean),
    budget: { deadline: Date.now() + budgetS * 1000 },
    warnings,
    atEnd: [],
  };
  ctx = c;

  // ---------------------------------------------------------------- scenarios
  type Fn = () => Scenario | Scenario[] | Promise<Scenario | Scenario[]>;
  const table: [string, string, Fn | string][] = [
    ["a", "a. run --rm --network none IMG true", () => scenarioA(c)],
    ["b", "b. run --rm IMG true (default bridge)", () => scenarioB(c)],
    ["c", "c. 50 × create + one rm of all 50", () => scenarioC(c)],
    ["d", `d. import of a ${sizeMB} MB rootfs tarball`, () => scenarioD(c)],
    ["e", "e. pull from the local registry", () => scenarioE(c)],
    ["f", "f. build (tiny, ten-step; cold, cached)", () => scenarioF(c)],
    ["g", "g. daemon start → ready; idle RSS (informational)", () => scenarioG(c)],
    ...extras.map((x): [string, string, Fn | string] => [x.id, x.title, x.fn ? () => x.fn!(c) : x.err!]),
  ];
  // in table order: the targets (a–d) first, so a time budget running out costs informational rows.
  // No scenario may take more than twice its even share of the budget, so one slow scenario cannot
  // starve all the ones after it (it gets "cut short after k of n runs" instead).
  const deadline = c.budget.deadline;
  const share = (2 * budgetS * 1000) / Math.max(1, table.filter(([id, , fn]) => typeof fn !== "string" && want(id)).length);
  const done = new Map<string, Scenario[]>();
  for (const [id, title, fn] of table) {
    const push = (...s: Scenario[]) => done.set(id, [...(done.get(id) ?? []), ...s]);
    if (typeof fn === "string") {
      if (want(id)) {
        const sc = new Scenario(id, title);
        sc.berth.status = fn;
        push(sc);
      }
      continue;
    }
    if (!want(id)) {
      if (only.length === 0) {
        const sc = new Scenario(id, title);
        sc.berth.status = "skipped (--skip)";
        push(sc);
      }
      continue;
    }
    c.budget.deadline = Math.min(deadline, Date.now() + share);
    if (Date.now() > deadline) {
      const sc = new Scenario(id, title);
      sc.berth.status = "skipped: over the time budget";
      push(sc);
      continue;
    }
    log(`scenario ${title}`);
    try {
      const r = await fn();
      push(...(Array.isArray(r) ? r : [r]));
    } catch (e) {
      // one broken scenario must not cost the table of all the others
      const sc = new Scenario(id, title);
      sc.berth.status = `bench error: ${(e as Error).message.split("\n")[0]}`;
      push(sc);
    }
  }
  for (const [id] of table) scenarios.push(...(done.get(id) ?? []));
} finally {
  // clean-ups first: some need the daemons (docker rmi)
  for (const f of ctx?.atEnd ?? []) {
    try {
      f();
    } catch (e) {
      warnings.push(`clean-up: ${(e as Error).message}`);
    }
  }
  await stopAll();
  if (ctx) {
    const w = safeRm(ctx.berthRoot);
    if (w) warnings.push(w);
  }
  removeNewCgroupParents(cgroupParents);
  if (!hadBridge) {
    Bun.spawnSync(["ip", "link", "del", berthBridge], { stdout: "ignore", stderr: "ignore" });
    rmSync(`/run/berth/net/${berthBridge}`, { recursive: true, force: true }); // its lease directory (berth keeps it)
  }
  if (!hadTable) Bun.spawnSync(["nft", "delete", "table", "ip", berthTable], { stdout: "ignore", stderr: "ignore" });
  if (!hadPodmanBridge) for (const l of ["cni-podman0", "podman0"]) Bun.spawnSync(["ip", "link", "del", l], { stdout: "ignore", stderr: "ignore" });
}

// ---------------------------------------------------------------- output
function cells(r: Row, berthFailed: boolean): string[] {
  if (r.status) return [r.scenario, r.engine, r.status, "–", "–", "–", fmtTarget(r.target), r.target ? "n/a" : "–"];
  const med = medianOr(r.samples);
  const rss = medianOr(r.rssKb);
  const dkb = medianOr(r.daemonKb);
  let rssCell = fmtKb(rss);
  if (dkb !== undefined) rssCell = `${rssCell} + daemons ${fmtKb(dkb)}`;
  const ratio = berthFailed ? undefined : r.ratio;
  return [
    r.scenario,
    r.engine,
    med === undefined ? "–" : fmtMs(med),
    r.samples.length ? fmtRange(r.samples) : "–",
    rssCell,
    r.engine === "berth" ? "–" : fmtPaired(ratio),
    fmtTarget(r.target),
    judge(r.target, ratio, r.engine !== "berth" ? undefined : r.target?.kind === "rss" && r.target.every && r.rssKb.length ? Math.max(...r.rssKb) : rss),
  ];
}

const rows: string[][] = [];
for (const sc of scenarios) {
  const failed = !!sc.berth.status;
  for (const r of sc.rows) rows.push(cells(r, failed));
}
const text = renderText(rows);
const md = renderMarkdown(rows);
const elapsed = (Date.now() - t0) / 1000;
const outDir = join(repo, "bench/results", stamp);
mkdirSync(outDir, { recursive: true });
const meta = {
  date: new Date().toISOString(),
  elapsedSeconds: elapsed,
  options: { quick, runs, heavyRuns, sizeMB, budgetS, withPeers: opt["with-peers"], only, skip },
  loadavg: runCmd(["cat", "/proc/loadavg"]).stdout.trim(),
  loadavgAtStart,
  cpu: { ...cpu, shaNiMasked: shaMasked },
  nproc: navigator.hardwareConcurrency,
  versions: peerVersions(),
  berth: ctx ? runCmd([ctx.berthBin, "--version"]).stdout.trim() : "",
  peersStarted: { installed: peers.installed, notes: peers.notes },
  warnings,
};
writeFileSync(
  join(outDir, "results.json"),
  JSON.stringify({ meta, scenarios: scenarios.map((s) => ({ id: s.id, title: s.title, rows: s.rows })) }, null, 2) + "\n",
);
writeFileSync(
  join(outDir, "results.md"),
  `# berth bench ${meta.date}\n\nCPU ${cpu.model} × ${meta.nproc} (${shaText}, AVX2 ${cpu.avx2 ? "yes" : "no"}); loadavg at start ${loadavgAtStart.split(" ").slice(0, 3).join(" ")}, at end ${meta.loadavg.split(" ").slice(0, 3).join(" ")}\n\n${quick ? "--quick, " : ""}${runs} runs (heavy scenarios ${heavyRuns}); ratios = berth / peer from interleaved pairs: ratio of medians (min–max of per-pair ratios, n pairs).\n\n${md}\n` +
    `Notes:\n${scenarios.flatMap((s) => s.rows.filter((r) => r.note).map((r) => `- ${r.scenario} / ${r.engine}: ${r.note}`)).join("\n")}\n\nVersions: ${JSON.stringify(meta.versions)}\n`,
);
process.stdout.write(
  `\nberth bench ${meta.date}: ${quick ? "--quick, " : ""}${runs} runs (heavy scenarios ${heavyRuns}), ${meta.nproc} CPUs (${cpu.model}, ${shaText}, AVX2 ${cpu.avx2 ? "yes" : "no"}), loadavg ${loadavgAtStart.split(" ").slice(0, 3).join(" ")} at start, ${meta.loadavg.split(" ").slice(0, 3).join(" ")} at end, ${meta.berth || "berth ?"}\n\n` +
    text,
);
for (const sc of scenarios) for (const r of sc.rows) if (r.note) process.stdout.write(`  note: ${r.scenario} / ${r.engine}: ${r.note}\n`);
for (const n of [...peers.notes, ...warnings]) process.stdout.write(`  warning: ${n}\n`);
process.stdout.write(`\nratios: berth / peer, ratio of medians over interleaved pairs (min–max of the per-pair ratios, n pairs)\n`);
process.stdout.write(`${elapsed.toFixed(0)} s; results in ${outDir}/results.{json,md}\n`);
