/**
 * `--only daemon`: berth's Engine API daemon (issue 12) against dockerd, with the same docker CLI on
 * both sides (/usr/local/bin/docker when present, else the bench's; DOCKER_HOST decides which daemon):
 *   - `berth daemon` exec → `/_ping` answers (target ≤ 50 ms; dockerd's figure is scenario g's);
 *   - `berth daemon` idle RSS (target ≤ 40 MB);
 *   - `docker run --rm IMG true` through berth's daemon vs dockerd (target ≤ 0.2 ×);
 *   - 50 × `docker create`, then one `docker rm` of all 50 (target ≤ 0.2 ×).
 * The dockerd is the one the bench reaches (scenario g's); without one, a private dockerd is started on
 * its own socket, data-root, exec-root and pidfile under the work dir (the bench's dockerd flags), and
 * stopped afterwards. When none can start, the dockerd rows say why.
 */
import { existsSync, mkdirSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { berthOnly, interleave, rounds, Scenario, type Side } from "./harness.ts";
import { IMAGE, importInto } from "./fixtures.ts";
import { DOCKER_SOCK } from "./peers.ts";
import { firstLine, log, procStatusKb, runCmd, sleep, type RunResult } from "./proc.ts";
import type { Ctx } from "./scenarios.ts";
import type { Target } from "./stats.ts";

export const TITLE = "daemon. berth daemon + the docker CLI vs dockerd";

const BATCH = 50;
const T_RUN = 60_000;

async function pingUnix(sock: string): Promise<boolean> {
  if (!existsSync(sock)) return false;
  try {
    const r = await fetch("http://localhost/_ping", { unix: sock, signal: AbortSignal.timeout(2000) } as RequestInit);
    return r.ok;
  } catch {
    return false; // not listening yet
  }
}

async function stop(proc: { pid: number; exited: Promise<number> } | undefined, pid?: number): Promise<void> {
  const p = proc?.pid ?? pid;
  if (!p) return;
  try {
    process.kill(p, "SIGTERM");
  } catch {
    return; // gone already
  }
  if (proc) await Promise.race([proc.exited, sleep(20_000)]);
  else for (let i = 0; i < 400 && existsSync(`/proc/${p}`); i++) await sleep(50);
}

/** a dockerd of our own on a private socket: its pid, or why not */
async function privateDockerd(ctx: Ctx, dir: string): Promise<{ pid: number; sock: string } | string> {
  if (!existsSync("/usr/sbin/dockerd")) return "dockerd not installed";
  mkdirSync(dir, { recursive: true });
  const sock = join(dir, "dockerd.sock");
  const pidfile = join(dir, "dockerd.pid");
  const logFile = join(dir, "dockerd.log");
  const args = [
    "/usr/sbin/dockerd",
    ...ctx.dockerdFlags,
    "-H",
    `unix://${sock}`,
    "--data-root",
    join(dir, "data"),
    "--exec-root",
    join(dir, "exec"),
    "--pidfile",
    pidfile,
  ];
  runCmd(["setsid", "-f", "sh", "-c", `exec ${args.join(" ")} >>'${logFile}' 2>&1 </dev/null`]);
  for (let i = 0; i < 600; i++) {
    if (await pingUnix(sock)) return { pid: Number(readFileSync(pidfile, "utf8").trim()), sock };
    await sleep(100);
  }
  return `a private dockerd did not come up (see ${logFile})`;
}

function batch(create: string[], rm: (ids: string[]) => string[], env: Record<string, string>): RunResult {
  const ids: string[] = [];
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < BATCH; i++) {
    const r = runCmd(create, { timeoutMs: T_RUN, env });
    if (!r.ok) {
      if (ids.length) runCmd(rm(ids), { timeoutMs: T_RUN, env }); // untimed clean-up of the partial batch
      return r;
    }
    ids.push(r.stdout.trim().split("\n").pop()!.trim());
  }
  const r = runCmd(rm(ids), { timeoutMs: T_RUN, env });
  return { ...r, ms: Number(process.hrtime.bigint() - t0) / 1e6 };
}

export async function scenarioDaemon(ctx: Ctx): Promise<Scenario[]> {
  // one CLI for both sides: docker 28 where this kind of machine has it (it negotiates dockerd 20.10's API down)
  const cli = existsSync("/usr/local/bin/docker") ? "/usr/local/bin/docker" : ctx.docker;
  const dir = join(ctx.work, "daemon");
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const bsock = join(dir, "berth.sock");
  const daemonArgv = [ctx.berthBin, "daemon", "-H", `unix://${bsock}`, "--root", ctx.berthRoot, "--pidfile", join(dir, "berth.pid")];

  // ---------------------------------------------------------------- start → /_ping, idle RSS
  const start = new Scenario("daemon-start", "daemon. berth daemon exec → /_ping answers", ctx.berthErr);
  start.berth.target = undefined;
  start.berth.note = "dockerd's start → /_ping is scenario g's row (target ≤ 50 ms)";
  const idle = new Scenario("daemon-rss", "daemon. berth daemon idle RSS", ctx.berthErr);
  idle.berth.target = { kind: "rss", maxMB: 40 };
  const out: Scenario[] = [start, idle];
  let daemon: ReturnType<typeof Bun.spawn> | undefined;
  if (start.berthOk) {
    const n = ctx.quick ? 3 : 10;
    for (let i = 0; i < n && Date.now() < ctx.budget.deadline; i++) {
      const t0 = performance.now();
      const p = Bun.spawn(daemonArgv, { stdin: "ignore", stdout: "ignore", stderr: "ignore" });
      while (!(await pingUnix(bsock))) {
        if (p.exitCode !== null || performance.now() - t0 > 20_000) break;
        await sleep(1);
      }
      const ms = performance.now() - t0;
      if (!(await pingUnix(bsock))) {
        start.berth.status = "berth failed: the daemon did not answer /_ping";
        await stop(p);
        break;
      }
      start.berth.samples.push(ms);
      if (i < n - 1) await stop(p);
      else daemon = p;
    }
  }
  if (daemon) {
    const idleMs = ctx.quick ? 2_000 : 10_000;
    await sleep(idleMs);
    idle.berth.rssKb.push(procStatusKb(daemon.pid, "VmRSS"));
    idle.berth.note = `VmRSS ${idleMs / 1000} s after start, no client`;
  } else idle.berth.status = start.berth.status ?? "skipped: no daemon";

  // ---------------------------------------------------------------- run --rm and create ×50, docker CLI on both sides
  const run = new Scenario("daemon-run", `daemon. docker run --rm ${IMAGE} true: berth daemon vs dockerd`, ctx.berthErr ?? ctx.berthImageErr);
  const create = new Scenario("daemon-create", `daemon. ${BATCH} × docker create + one docker rm`, ctx.berthErr ?? ctx.berthImageErr);
  out.push(run, create);
  let mine: { pid: number; sock: string } | undefined;
  try {
    if (!cli || !daemon) {
      const why = !cli ? "no docker CLI" : "berth daemon did not start";
      for (const sc of [run, create]) sc.absent("dockerd", why);
      return out;
    }
    let dsock = DOCKER_SOCK;
    let why = "";
    if (!(await pingUnix(DOCKER_SOCK))) {
      const r = await privateDockerd(ctx, join(dir, "dockerd"));
      if (typeof r === "string") why = r;
      else {
        mine = r;
        dsock = r.sock;
        log(`started a private dockerd (pid ${r.pid}) on ${r.sock}`);
      }
    }
    const benv = { DOCKER_HOST: `unix://${bsock}` };
    const denv = { DOCKER_HOST: `unix://${dsock}` };
    if (!why) {
      const err = mine
        ? runCmd([cli, "import", "--change", 'CMD ["/bin/sh"]', join(ctx.work, "busybox", "rootfs.tar"), IMAGE], { env: denv, timeoutMs: 120_000 }).ok
          ? null
          : "import into the private dockerd failed"
        : importInto(cli, "docker", join(ctx.work, "busybox", "rootfs.tar"));
      if (err) why = err;
    }
    const tgt: Target = { kind: "ratio", max: 0.2 };
    if (why) {
      run.absent("dockerd", why, tgt);
      create.absent("dockerd", why, tgt);
    }
    const runCmdOf = (env: Record<string, string>) => () => runCmd([cli, "run", "--rm", "--pull=never", IMAGE, "true"], { timeoutMs: T_RUN, env });
    const berthRun: Side = { engine: "berth daemon", op: runCmdOf(benv) };
    if (!why) interleave(run, berthRun, { engine: "dockerd", op: runCmdOf(denv) }, ctx.runs, 1, ctx.budget, tgt);
    else berthOnly(run, berthRun, ctx.runs, 1, ctx.budget);
    const c = [cli, "create", "--pull=never", "--label", "berth-bench=1", IMAGE, "true"];
    const rm = (ids: string[]) => [cli, "rm", ...ids];
    const berthCreate: Side = { engine: "berth daemon", op: () => batch(c, rm, benv) };
    if (!why) rounds(create, berthCreate, [{ side: { engine: "dockerd", op: () => batch(c, rm, denv) }, target: tgt }], ctx.heavyRuns, 0, ctx.budget);
    else berthOnly(create, berthCreate, ctx.heavyRuns, 0, ctx.budget);
    for (const sc of [run, create]) if (sc.berth.status) log(`${sc.title}: ${sc.berth.status}`);
    return out;
  } catch (e) {
    for (const sc of [run, create])
      if (!sc.berth.samples.length && !sc.berth.status)
        sc.berth.status = `berth failed: ${firstLine({ stderr: (e as Error).message, stdout: "", code: null })}`;
    return out;
  } finally {
    await stop(daemon);
    if (mine) {
      await stop(undefined, mine.pid);
      log("stopped the private dockerd");
    }
  }
}
