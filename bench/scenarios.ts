/**
 * The scenarios (a–g). Each one builds its rows in a Scenario; a missing engine gives a "peer absent"
 * row, a berth feature that is not there yet gives "berth failed: …" — nothing is dropped silently.
 */
import { mkdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { IMAGE } from "./fixtures.ts";
import { berthOnly, dockerDaemonPids, interleave, rounds, safeRm, Scenario, type Budget, type Side } from "./harness.ts";
import type { Target } from "./stats.ts";
import { DOCKER_SOCK, REGISTRY, startDockerd, stopPid, type PeerState } from "./peers.ts";
import { log, procStatusKb, runCmd, sleep, type RunResult } from "./proc.ts";

export interface Ctx {
  work: string;
  berthBin: string;
  berthRoot: string;
  /** berth cannot run at all (build failed) */
  berthErr?: string;
  /** busybox:bench could not be imported into berth */
  berthImageErr?: string;
  quick: boolean;
  runs: number;
  heavyRuns: number;
  sizeMB: number;
  docker?: string;
  dockerWhy: string;
  podman?: string;
  podmanWhy: string;
  crun?: string;
  runc?: string;
  bundle?: string;
  skopeo?: string;
  /** null when the pull image is in the registry; otherwise why not */
  bigErr: string | null;
  /** the image scenario e pulls (the big one; a small one under --quick) */
  pullImage: string;
  importTar?: string;
  ctxTiny: string;
  ctxTen: string;
  peers: PeerState;
  dockerdFlags: string[];
  budget: Budget;
  warnings: string[];
  /** clean-ups run after every scenario, before the daemons the bench started are stopped */
  atEnd: (() => void)[];
}

const T_RUN = 120_000;
let seq = 0;
const uid = () => `berth-bench-${process.pid}-${seq++}`;

function berthCmd(ctx: Ctx, ...args: string[]): string[] {
  return [ctx.berthBin, "--root", ctx.berthRoot, ...args];
}

type SideOpts = Partial<Side> & {
  env?: Record<string, string>;
  cwd?: string;
  timeoutMs?: number;
  /** peak RSS: "inline" wraps every timed run in /usr/bin/time (long operations); "probe" takes it from
   * separate untimed runs (millisecond-scale operations) */
  rss?: "inline" | "probe";
};

function side(engine: string, cmd: string[], extra: SideOpts = {}): Side {
  const { env, cwd, timeoutMs, rss = "probe", ...rest } = extra;
  const o = { env, cwd, timeoutMs: timeoutMs ?? T_RUN };
  return {
    engine,
    op: () => runCmd(cmd, { ...o, timeRss: rss === "inline" }),
    rssProbe: rss === "probe" ? () => runCmd(cmd, { ...o, timeRss: true }).rssKb : undefined,
    ...rest,
  };
}

function dockerSide(engine: string, cmd: string[], extra: SideOpts = {}): Side {
  return side(engine, cmd, { daemons: dockerDaemonPids, ...extra });
}

/** berth's failure reason for scenarios that need busybox:bench */
function imageErr(ctx: Ctx): string | undefined {
  return ctx.berthErr ?? ctx.berthImageErr;
}

// ------------------------------------------------------------------ a. run --rm --network none true
export function scenarioA(ctx: Ctx): Scenario {
  const sc = new Scenario("a", "a. run --rm --network none IMG true", imageErr(ctx));
  const berth = side("berth", berthCmd(ctx, "run", "--rm", "--network", "none", IMAGE, "true"));
  const n = ctx.runs;
  const T2 = { kind: "ratio", max: 2 } as const;
  for (const [name, bin] of [
    ["crun", ctx.crun],
    ["runc", ctx.runc],
  ] as const) {
    if (!bin) sc.absent(`${name} run (bundle)`, `${name} not installed`, name === "crun" ? T2 : undefined);
    else if (!ctx.bundle) sc.absent(`${name} run (bundle)`, "no OCI bundle", name === "crun" ? T2 : undefined);
    else {
      const oci = (timeRss: boolean) => runCmd([bin, "run", "--bundle", ctx.bundle!, uid()], { cwd: ctx.work, timeoutMs: T_RUN, timeRss });
      interleave(
        sc,
        berth,
        { engine: `${name} run (bundle)`, op: () => oci(false), rssProbe: () => oci(true).rssKb },
        n,
        1,
        ctx.budget,
        name === "crun" ? T2 : undefined,
      );
    }
  }
  if (ctx.docker)
    interleave(sc, berth, dockerSide("docker run", [ctx.docker, "run", "--rm", "--pull=never", "--network=none", IMAGE, "true"]), n, 1, ctx.budget);
  else sc.absent("docker run", ctx.dockerWhy);
  if (ctx.podman) interleave(sc, berth, side("podman run", [ctx.podman, "run", "--rm", "--pull=never", "--network=none", IMAGE, "true"]), n, 1, ctx.budget);
  else sc.absent("podman run", ctx.podmanWhy);
  if (!ctx.crun && !ctx.runc && !ctx.docker && !ctx.podman && !imageErr(ctx)) berthOnly(sc, berth, n, 1, ctx.budget);
  return sc;
}

// ------------------------------------------------------------------ b. run --rm true, default bridge
export function scenarioB(ctx: Ctx): Scenario {
  const sc = new Scenario("b", "b. run --rm IMG true (default bridge)", imageErr(ctx));
  const berth = side("berth", berthCmd(ctx, "run", "--rm", IMAGE, "true"));
  if (ctx.docker)
    interleave(sc, berth, dockerSide("docker run", [ctx.docker, "run", "--rm", "--pull=never", IMAGE, "true"]), ctx.runs, 1, ctx.budget, {
      kind: "ratio",
      max: 0.1,
    });
  else sc.absent("docker run", ctx.dockerWhy, { kind: "ratio", max: 0.1 });
  if (ctx.podman) interleave(sc, berth, side("podman run", [ctx.podman, "run", "--rm", "--pull=never", IMAGE, "true"]), ctx.runs, 1, ctx.budget);
  else sc.absent("podman run", ctx.podmanWhy);
  if (!ctx.docker && !ctx.podman && !imageErr(ctx)) berthOnly(sc, berth, ctx.runs, 1, ctx.budget);
  return sc;
}

// ------------------------------------------------------------------ c. 50 × create + one rm
const BATCH = 50;

/** 50 sequential creates, then one rm with all ids; timed as one operation. */
function batch(create: string[], rm: (ids: string[]) => string[]): RunResult {
  const ids: string[] = [];
  let rss = 0;
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < BATCH; i++) {
    const r = runCmd(create, { timeoutMs: T_RUN });
    if (!r.ok) {
      if (ids.length) runCmd(rm(ids), { timeoutMs: T_RUN }); // untimed clean-up of the partial batch
      return r;
    }
    rss = Math.max(rss, r.rssKb);
    const id = r.stdout.trim().split("\n").pop()!.trim();
    ids.push(id);
  }
  const r = runCmd(rm(ids), { timeoutMs: T_RUN });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  return { ...r, ms, rssKb: Math.max(rss, r.rssKb) };
}

/** peak RSS of one create and of one rm, under /usr/bin/time (untimed) */
function batchProbe(create: string[], rm: (ids: string[]) => string[]): number {
  const c = runCmd(create, { timeoutMs: T_RUN, timeRss: true });
  if (!c.ok) return 0;
  const r = runCmd(rm([c.stdout.trim().split("\n").pop()!.trim()]), { timeoutMs: T_RUN, timeRss: true });
  return Math.max(c.rssKb, r.rssKb);
}

export function scenarioC(ctx: Ctx): Scenario {
  const sc = new Scenario("c", `c. ${BATCH} × create + one rm of all ${BATCH}`, imageErr(ctx));
  const bc = berthCmd(ctx, "create", IMAGE, "true");
  const brm = (ids: string[]) => berthCmd(ctx, "rm", ...ids);
  const berth: Side = { engine: "berth", op: () => batch(bc, brm), rssProbe: () => batchProbe(bc, brm) };
  // issue 13: ≤ 0.5 × for the daemonless CLI, which starts a process per create (a Bun process alone
  // costs ≥ 10 ms); the ≤ 0.2 × of a create through the Engine API belongs to the daemon's rows
  const tgt = { kind: "ratio", max: 0.5 } as const;
  const peers: { side: Side; target?: Target }[] = [];
  for (const [name, cli, why, target] of [
    ["docker", ctx.docker, ctx.dockerWhy, tgt],
    ["podman", ctx.podman, ctx.podmanWhy, undefined],
  ] as const) {
    if (!cli) {
      sc.absent(`${name} create/rm`, why, target);
      continue;
    }
    const c = [cli, "create", "--pull=never", "--label", "berth-bench=1", IMAGE, "true"];
    const rm = (ids: string[]) => [cli, "rm", ...ids];
    peers.push({
      side: {
        engine: `${name} create/rm`,
        op: () => batch(c, rm),
        rssProbe: () => batchProbe(c, rm),
        daemons: name === "docker" ? dockerDaemonPids : undefined,
      },
      target,
    });
  }
  if (peers.length) rounds(sc, berth, peers, ctx.heavyRuns, 0, ctx.budget);
  else if (!imageErr(ctx)) berthOnly(sc, berth, ctx.heavyRuns, 0, ctx.budget);
  return sc;
}

// ------------------------------------------------------------------ d. import of a big rootfs tarball vs GNU tar
export function scenarioD(ctx: Ctx): Scenario {
  const sc = new Scenario("d", `d. import of a ${ctx.sizeMB} MB rootfs tarball`, ctx.berthErr);
  sc.berth.target = { kind: "rss", maxMB: 100 };
  const tar = ctx.importTar!;
  // Every run writes into a directory of its own, and all of them are removed only when the whole bench
  // is over: ext4 skips recently freed inodes when it allocates (ialloc.c recently_deleted, for up to
  // 5 minutes), so removing ~20k files per run would slow every later file creation — the next run's,
  // and the other scenarios', berth's and the peers' alike, by an amount that grows with each removal.
  // Disk use until the end: runs × (tarball size for tar + 2 × for berth: blob and unpacked files).
  const dirs: string[] = [];
  let seqD = 0;
  const fresh = (prefix: string) => {
    const d = join(ctx.work, `${prefix}-${seqD++}`);
    const w = safeRm(d);
    if (w) throw new Error(w);
    dirs.push(d);
    // the previous run's dirty pages must not be written back during this one
    runCmd(["sync"]);
    return d;
  };
  let root = "";
  let dir = "";
  const berth: Side = {
    engine: "berth",
    prepare: () => void (root = fresh("import-root")),
    op: () => runCmd([ctx.berthBin, "--root", root, "import", tar, "bench/import:big"], { timeoutMs: 600_000, timeRss: true }),
  };
  const gnu: Side = {
    engine: "GNU tar -xf",
    prepare: () => {
      dir = fresh("import-tar-x");
      mkdirSync(dir, { recursive: true });
    },
    op: () => runCmd(["tar", "-xf", tar, "-C", dir], { timeoutMs: 600_000, timeRss: true }),
  };
  // docker and podman import the same file too (informational: they also hash and store a layer);
  // each run gets its own tag, all removed at the end like the directories
  const peers: { side: Side; target?: Target }[] = [];
  const tags: [string, string][] = [];
  let seqI = 0;
  for (const [name, cli, why] of [
    ["docker import", ctx.docker, ctx.dockerWhy],
    ["podman import", ctx.podman, ctx.podmanWhy],
  ] as const) {
    if (!cli) {
      sc.absent(name, why);
      continue;
    }
    let tag = "";
    const cmd = () => [cli, "import", tar, tag];
    const s: Side = {
      engine: name,
      prepare: () => {
        tag = `berth-bench-import:${process.pid}-${seqI++}`;
        tags.push([cli, tag]);
        runCmd(["sync"]);
      },
      op: () => runCmd(cmd(), { timeoutMs: 600_000, timeRss: true }),
      daemons: name.startsWith("docker") ? dockerDaemonPids : undefined,
    };
    peers.push({ side: s });
  }
  ctx.atEnd.push(() => {
    for (const [cli, t] of tags) runCmd([cli, "rmi", "-f", t], { timeoutMs: 120_000 });
    for (const d of dirs) {
      const w = safeRm(d);
      if (w) ctx.warnings.push(w);
    }
  });
  // an import hashes the whole tarball in order (its digest is the layer's diffID): the time of that
  // hash alone, one stream as berth's hash thread reads it, is the import's floor where hashing is
  // slower than unpacking (a CPU without SHA-NI, or bench/run.ts --no-sha-ni)
  const sha: Side = {
    engine: "SHA-256 of the tarball alone",
    prepare: () => void runCmd(["sync"]),
    op: () => runCmd([process.execPath, join(import.meta.dir, "sha256-file.ts"), tar], { timeoutMs: 600_000, timeRss: true }),
  };
  // the target pair first (berth, tar, the hash × heavy runs), then one round with the slower daemons' imports
  rounds(
    sc,
    berth,
    [
      { side: gnu, target: { kind: "ratio", max: 1.5 } },
      { side: sha, target: undefined },
    ],
    ctx.heavyRuns,
    0,
    ctx.budget,
  );
  if (peers.length) rounds(sc, berth, peers, 1, 0, ctx.budget);
  for (const r of sc.rows) if (r.engine === "docker import") r.note = "peak RSS: CLI, + daemons = dockerd+containerd VmHWM (dockerd unpacks and hashes)";
  for (const r of sc.rows)
    if (r.engine === sha.engine) r.note = "informational: Bun's SHA-256 of the file, 256 KiB reads (bench/sha256-file.ts), the hash an import cannot skip";
  sc.berth.note = "berth: hash + unpack + tar-split of the headers (fsync) + syncfs of the layer; tar -xf: no sync";
  return sc;
}

// ------------------------------------------------------------------ e. pull of the big image from the local registry
export function scenarioE(ctx: Ctx): Scenario {
  const img = ctx.pullImage;
  const sc = new Scenario("e", `e. pull of the ${ctx.quick ? "~55 MB 2-layer (--quick)" : "~550 MB 4-layer"} image from ${REGISTRY}`, ctx.berthErr);
  const n = ctx.heavyRuns;
  const T = 600_000;
  const root = join(ctx.work, "pull-root");
  // Every tool's run starts with nothing dirty in the page cache (an untimed sync after its own
  // cleanup), as row d's: otherwise the writeback of what the run before left (the previous tool's
  // pull, its rmi) lands in the next run, and in berth's only syncfs of the layers, which flushes the
  // whole filesystem, at whichever tool's cost comes after.
  const clean = () => void runCmd(["sync"]);
  // Each tool removes its previous image right before its own pull, as docker's and podman's rmi do:
  // the page cache a removal frees is what the next writer gets first. Removed right after its run
  // instead, berth's root freed its ~700 MB for docker's pull that came next, and berth's own pull got
  // memory left idle for a round; after row d its copies into the page cache then took ~1 s more
  // (copy_folio_from_iter_atomic, bench/README.md session 10), as if each page were a fault on the
  // host, which this VM's balloon reports free memory to.
  const berth: Side = {
    engine: "berth",
    prepare: () => {
      safeRm(root);
      clean();
    },
    op: () => runCmd([ctx.berthBin, "--root", root, "pull", img], { timeoutMs: T, timeRss: true }),
  };
  if (ctx.bigErr) {
    // no image to pull: every engine row says why
    sc.berth.status ??= `not measured: ${ctx.bigErr}`;
    for (const e of ["docker pull", "podman pull", "skopeo copy → dir:"]) sc.absent(e, ctx.bigErr);
    return sc;
  }
  // issue 13: ≤ 0.33 × docker's pull, peak RSS ≤ 64 MB in every run (the table's "max" of the runs)
  sc.berth.target = { kind: "rss", maxMB: 64, every: true };
  const peers: { side: Side; target?: Target }[] = [];
  if (ctx.docker) {
    const d = ctx.docker;
    peers.push({
      target: { kind: "ratio", max: 0.33 },
      side: dockerSide("docker pull", [d, "pull", "-q", img], {
        timeoutMs: T,
        rss: "inline",
        prepare: () => {
          runCmd([d, "rmi", "-f", img]);
          clean();
        },
      }),
    });
  } else sc.absent("docker pull", ctx.dockerWhy);
  if (ctx.podman) {
    const p = ctx.podman;
    peers.push({
      side: side("podman pull", [p, "pull", "-q", "--tls-verify=false", img], {
        timeoutMs: T,
        rss: "inline",
        prepare: () => {
          runCmd([p, "rmi", "-f", img]);
          clean();
        },
      }),
    });
  } else sc.absent("podman pull", ctx.podmanWhy);
  const out = join(ctx.work, "skopeo-dir");
  if (ctx.skopeo) {
    peers.push({
      side: side("skopeo copy → dir:", [ctx.skopeo, "copy", "-q", "--src-tls-verify=false", `docker://${img}`, `dir:${out}`], {
        timeoutMs: T,
        rss: "inline",
        prepare: () => {
          rmSync(out, { recursive: true, force: true });
          clean();
        },
        cleanup: () => rmSync(out, { recursive: true, force: true }),
      }),
    });
  } else sc.absent("skopeo copy → dir:", "skopeo not installed");
  if (peers.length) rounds(sc, berth, peers, n, 0, ctx.budget);
  else berthOnly(sc, berth, n, 0, ctx.budget);
  for (const r of sc.rows) {
    if (r.engine === "docker pull") r.note = "peak RSS: CLI, + daemons = dockerd+containerd VmHWM during the pull (dockerd unpacks the layers)";
    if (r.engine.startsWith("skopeo")) r.note = "no unpacking: blobs stay compressed";
  }
  if (ctx.docker) runCmd([ctx.docker, "rmi", "-f", img]);
  if (ctx.podman) runCmd([ctx.podman, "rmi", "-f", img]);
  safeRm(root);
  return sc;
}

// ------------------------------------------------------------------ f. build, tiny and ten-step, cold and cached
export function scenarioF(ctx: Ctx): Scenario[] {
  const out: Scenario[] = [];
  for (const [file, dir] of [
    ["tiny", ctx.ctxTiny],
    ["ten-step", ctx.ctxTen],
  ] as const) {
    for (const mode of ["cold", "cached"] as const) {
      const sc = new Scenario("f", `f. build ${file} Dockerfile, ${mode === "cold" ? "cold (--no-cache)" : "cached"}`, imageErr(ctx));
      out.push(sc);
      if (Date.now() > ctx.budget.deadline) {
        sc.berth.status ??= "skipped: over the time budget";
        continue;
      }
      const tag = `berth-bench-${file}:${mode}`;
      const cold = mode === "cold";
      const nc = cold ? ["--no-cache"] : [];
      const n = cold ? ctx.heavyRuns : ctx.runs;
      const warm = cold ? 0 : 1; // cached: one untimed build fills the cache
      const opts = { timeoutMs: 300_000, rss: "inline" as const };
      const berth = side("berth", berthCmd(ctx, "build", ...nc, "-t", tag, dir), {
        ...opts,
        prepare: cold ? () => void runCmd(berthCmd(ctx, "rmi", "-f", tag)) : undefined,
      });
      const peers: { side: Side }[] = [];
      if (ctx.docker) {
        const d = ctx.docker;
        for (const [label, bk] of [
          ["docker build (legacy)", "0"],
          ["docker build (BuildKit)", "1"],
        ] as const) {
          peers.push({
            side: dockerSide(label, [d, "build", ...nc, "-q", "-t", tag, dir], {
              ...opts,
              env: { DOCKER_BUILDKIT: bk },
              prepare: cold ? () => void runCmd([d, "rmi", "-f", tag]) : undefined,
            }),
          });
        }
      } else {
        sc.absent("docker build (legacy)", ctx.dockerWhy);
        sc.absent("docker build (BuildKit)", ctx.dockerWhy);
      }
      if (ctx.podman) {
        const p = ctx.podman;
        peers.push({
          side: side("podman build", [p, "build", ...nc, "--pull=never", "-q", "-t", tag, dir], {
            ...opts,
            prepare: cold ? () => void runCmd([p, "rmi", "-f", tag]) : undefined,
          }),
        });
      } else sc.absent("podman build", ctx.podmanWhy);
      if (peers.length) rounds(sc, berth, peers, n, warm, ctx.budget);
      else if (!imageErr(ctx)) berthOnly(sc, berth, n, warm, ctx.budget);
      if (ctx.docker) runCmd([ctx.docker, "rmi", "-f", tag]);
      if (ctx.podman) runCmd([ctx.podman, "rmi", "-f", tag]);
      runCmd(berthCmd(ctx, "rmi", "-f", tag));
    }
  }
  return out;
}

// ------------------------------------------------------------------ g. daemon start-to-ready and idle RSS
export async function scenarioG(ctx: Ctx): Promise<Scenario> {
  const sc = new Scenario("g", "g. daemon start → ready; idle RSS (informational)");
  sc.berth.status = "berth daemon: see the daemon scenario (bench/scenarios-daemon.ts)";
  const restarts = ctx.quick ? 3 : 5;
  const idleMs = ctx.quick ? 3_000 : 15_000;
  const start = sc.row("dockerd start → /_ping");
  const idle = sc.row("dockerd + containerd idle RSS");
  if (!ctx.docker) {
    start.status = idle.status = `peer absent (${ctx.dockerWhy})`;
    return sc;
  }
  if (!ctx.peers.dockerdPid) {
    // never restart a daemon this bench did not start
    start.status = "not measured: dockerd was already running (not started by the bench)";
  } else {
    for (let i = 0; i < restarts && Date.now() < ctx.budget.deadline; i++) {
      const pid = ctx.peers.dockerdPid;
      ctx.peers.dockerdPid = undefined;
      await stopPid(pid, "dockerd", 30_000);
      const t0 = process.hrtime.bigint();
      const np = await startDockerd(ctx.dockerdFlags, join(ctx.work, "run", "dockerd.log"));
      const ms = Number(process.hrtime.bigint() - t0) / 1e6;
      if (!np) {
        start.status = "peer failed: dockerd did not come back";
        break;
      }
      ctx.peers.dockerdPid = np;
      start.samples.push(ms);
    }
    start.note = `exec of dockerd → HTTP 200 on ${DOCKER_SOCK} (includes starting its containerd); flags: ${ctx.dockerdFlags.join(" ") || "default"}`;
  }
  log(`idle ${idleMs / 1000} s, then dockerd RSS`);
  await sleep(idleMs);
  const pids = dockerDaemonPids();
  if (pids.length) {
    const d = procStatusKb(pids[0]!, "VmRSS");
    const c = pids.slice(1).reduce((s, p) => s + procStatusKb(p, "VmRSS"), 0);
    idle.rssKb.push(d + c);
    idle.note = `VmRSS ${idleMs / 1000} s after the last start: dockerd ${d} kB + containerd ${c} kB`;
  } else idle.status = "peer failed: no dockerd pid";
  return sc;
}
