/** the health check of a running container: probes through exec, folded into State.Health */
import { EngineError } from "../../../lib/errors.ts";
import { applyProbe, hasHealthcheck, MAX_OUTPUT, probeArgv, timings, type HealthState } from "../health.ts";
import { nowNano } from "../logs.ts";
import { startFailureStatus } from "../supervisor.ts";
import type { ContainerConfigFile } from "../types.ts";
import { ev, type ContainerDeps } from "./deps.ts";
import { exec } from "./exec.ts";
import { safeUpdate } from "./state.ts";

/** the probe's exit code when exec itself failed: 127/126 for the command, 1 when the container stopped meanwhile */
function probeFailureStatus(e: unknown): number {
  if (!(e instanceof EngineError)) return 1;
  return e.kind === "conflict" ? 1 : startFailureStatus(e);
}

/**
 * The health check of a running container (docker's HEALTHCHECK / --health-*): a probe through exec
 * every interval, killed after the timeout, its result folded into State.Health (health.ts). Runs in
 * the supervising process; the returned function stops it.
 */
export function startHealth(d: ContainerDeps, id: string, cfg: ContainerConfigFile): () => void {
  const hc = cfg.Config.Healthcheck;
  if (!hasHealthcheck(hc)) return () => {};
  const t = timings(hc);
  const argv = probeArgv(hc.Test);
  const began = d.clock.now();
  let stopped = false;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let probePid = 0;
  const fresh = (): HealthState => ({ Status: "starting", FailingStreak: 0, Log: [] });
  safeUpdate(d, id, (s) => ({ ...s, Health: fresh() }));
  const probe = async () => {
    if (stopped) return;
    if (d.store.readState(id).Status !== "running") {
      timer = setTimeout(probe, t.interval); // paused: no probe, as docker
      return;
    }
    const start = nowNano();
    let out = "";
    const sink = (b: Uint8Array) => {
      if (out.length < MAX_OUTPUT) out += Buffer.from(b).toString();
    };
    let timedOut = false;
    const killer = setTimeout(() => {
      timedOut = true;
      if (probePid) d.runtime.kill(probePid, 9);
    }, t.timeout);
    let code: number;
    try {
      code = await exec(
        d,
        id,
        { cmd: argv, env: [], tty: false, interactive: false, detach: false },
        { stdout: sink, stderr: sink, onStarted: (pid) => void (probePid = pid) },
      );
    } catch (e) {
      code = probeFailureStatus(e);
      out += (e as Error).message;
    } finally {
      clearTimeout(killer);
      probePid = 0;
    }
    if (timedOut) {
      code = -1;
      out = `Health check exceeded timeout (${t.timeout / 1000}s)`;
    }
    if (stopped) return;
    const r = { Start: start, End: nowNano(), ExitCode: code, Output: out };
    const inStartPeriod = d.clock.now() - began < t.startPeriod;
    let was: string | undefined, now: string | undefined;
    safeUpdate(d, id, (s) => {
      if (s.Status !== "running" && s.Status !== "paused") return s;
      const Health = applyProbe(s.Health ?? fresh(), r, { retries: t.retries, inStartPeriod });
      [was, now] = [s.Health?.Status, Health.Status];
      return { ...s, Health };
    });
    // docker: "health_status: healthy" when the status changes
    if (now !== undefined && now !== was) ev(d, `health_status: ${now}`, cfg);
    timer = setTimeout(probe, t.interval);
  };
  timer = setTimeout(probe, t.interval);
  return () => {
    stopped = true;
    clearTimeout(timer);
    if (probePid) d.runtime.kill(probePid, 9);
  };
}
