/**
 * `--only daemonpull`: `docker pull` of scenario e's image (the big one, ~550 MB; a small one under
 * --quick) from the local registry, the same docker CLI on both sides: through `berth daemon` (its own
 * root and socket under the work dir) against dockerd (issue 12's row, target ≤ 0.5 ×). Before each
 * timed pull the image is removed through the same daemon (untimed), so every pull downloads and
 * unpacks every layer. The dockerd is the one the bench reaches, else a private one on its own socket,
 * data-root, exec-root and pidfile (the bench's dockerd flags), stopped afterwards.
 */
import { existsSync, mkdirSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { berthOnly, dockerDaemonPids, rounds, Scenario, type Side } from "./harness.ts";
import { DOCKER_SOCK } from "./peers.ts";
import { log, runCmd, sleep } from "./proc.ts";
import type { Ctx } from "./scenarios.ts";
import type { Target } from "./stats.ts";

export const TITLE = "daemonpull. docker pull through berth daemon vs dockerd";

const T_PULL = 900_000;

async function pingUnix(sock: string): Promise<boolean> {
  if (!existsSync(sock)) return false;
  try {
    const r = await fetch("http://localhost/_ping", { unix: sock, signal: AbortSignal.timeout(2000) } as RequestInit);
    return r.ok;
  } catch {
    return false; // not listening yet
  }
}

async function stopPid(pid: number): Promise<void> {
  try {
    process.kill(pid, "SIGTERM");
  } catch {
    return; // gone already
  }
  for (let i = 0; i < 400 && existsSync(`/proc/${pid}`); i++) await sleep(50);
}

export async function scenarioDaemonpull(ctx: Ctx): Promise<Scenario[]> {
  const sc = new Scenario("daemonpull", `daemonpull. docker pull ${ctx.pullImage} (local registry): berth daemon vs dockerd`, ctx.berthErr);
  const tgt: Target = { kind: "ratio", max: 0.5 };
  const cli = ctx.docker ?? (existsSync("/usr/local/bin/docker") ? "/usr/local/bin/docker" : undefined);
  if (!cli || ctx.bigErr) {
    const why = !cli ? "no docker CLI" : `no image to pull: ${ctx.bigErr}`;
    sc.berth.status ??= `not measured: ${why}`;
    sc.absent("dockerd", why, tgt);
    return [sc];
  }
  const dir = join(ctx.work, "daemonpull");
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const bsock = join(dir, "berth.sock");
  const daemon = Bun.spawn([ctx.berthBin, "daemon", "-H", `unix://${bsock}`, "--root", join(dir, "root"), "--pidfile", join(dir, "berth.pid")], {
    stdin: "ignore",
    stdout: "ignore",
    stderr: "ignore",
  });
  let dockerdPid = 0;
  try {
    for (let i = 0; i < 400 && !(await pingUnix(bsock)); i++) await sleep(50);
    if (!(await pingUnix(bsock))) {
      sc.berth.status = "berth failed: the daemon did not answer /_ping";
      sc.absent("dockerd", "berth daemon did not start", tgt);
      return [sc];
    }
    let dsock = DOCKER_SOCK;
    let why = "";
    if (!(await pingUnix(DOCKER_SOCK))) {
      if (!existsSync("/usr/sbin/dockerd")) why = "dockerd not installed";
      else {
        const d = join(dir, "dockerd");
        mkdirSync(d, { recursive: true });
        dsock = join(d, "dockerd.sock");
        const args = [
          "/usr/sbin/dockerd",
          ...ctx.dockerdFlags,
          "-H",
          `unix://${dsock}`,
          "--data-root",
          join(d, "data"),
          "--exec-root",
          join(d, "exec"),
          "--pidfile",
          join(d, "dockerd.pid"),
        ];
        runCmd(["setsid", "-f", "sh", "-c", `exec ${args.join(" ")} >>'${join(d, "dockerd.log")}' 2>&1 </dev/null`]);
        for (let i = 0; i < 600 && !(await pingUnix(dsock)); i++) await sleep(100);
        if (await pingUnix(dsock)) {
          dockerdPid = Number(readFileSync(join(d, "dockerd.pid"), "utf8").trim());
          log(`started a private dockerd (pid ${dockerdPid}) on ${dsock}`);
        } else why = `a private dockerd did not come up (see ${join(d, "dockerd.log")})`;
      }
    }
    const side = (engine: string, sock: string, daemons?: () => number[]): Side => {
      const env = { DOCKER_HOST: `unix://${sock}` };
      return {
        engine,
        prepare: () => void runCmd([cli, "rmi", "-f", ctx.pullImage], { timeoutMs: 120_000, env }),
        op: () => runCmd([cli, "pull", "-q", ctx.pullImage], { timeoutMs: T_PULL, env }),
        cleanup: () => void runCmd([cli, "rmi", "-f", ctx.pullImage], { timeoutMs: 120_000, env }),
        ...(daemons ? { daemons } : {}),
      };
    };
    const berth = side("berth daemon", bsock, () => [daemon.pid]);
    if (why) {
      sc.absent("dockerd", why, tgt);
      berthOnly(sc, berth, ctx.heavyRuns, 0, ctx.budget);
    } else
      rounds(sc, berth, [{ side: side("dockerd", dsock, () => (dockerdPid ? [dockerdPid] : dockerDaemonPids())), target: tgt }], ctx.heavyRuns, 0, ctx.budget);
    sc.berth.note = "each pull into an empty store (the image removed through the daemon before, untimed); the daemon's peak VmHWM in the daemon column";
    return [sc];
  } finally {
    daemon.kill("SIGTERM");
    await daemon.exited;
    if (dockerdPid) {
      await stopPid(dockerdPid);
      log("stopped the private dockerd");
    }
    rmSync(dir, { recursive: true, force: true });
  }
}
