/** the health check of a running container: probes through exec, folded into State.Health */
import { EngineError } from "../../../lib/errors.ts";
import { applyProbe, hasHealthcheck, MAX_OUTPUT, probeArgv, timings, type HealthState } from "../health.ts";
import { nowNano } from "../logs.ts";
import { startFailureStatus } from "../supervisor.ts";
import type { ContainerConfigFile } from "../types.ts";
import { ev, type ContainerDeps } from "./deps.ts";
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
  const began = d.clock.now();
  let stopped = false;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let probePid = 0;
  const fresh = (): HealthState => ({ Status: "starting", FailingStreak: 0, Log: [] });
  safeUpdate(d, id, (s) => ({ ...s, Health: fresh() }));
  const probe = async () => {
    if (stopped) return;
    if (d.store.readState(id).Status === "running") {
      await probeOnce(d, id, cfg, began, {
        onPid: (pid) => void (probePid = pid),
        stopped: () => stopped,
      });
    }
    // paused: no probe, as docker
    if (!stopped) timer = setTimeout(probe, t.interval);
  };
  timer = setTimeout(probe, t.interval);
  return () => {
    stopped = true;
    clearTimeout(timer);
    if (probePid) d.runtime.kill(probePid, 9);
  };
}

/**
 * One probe through exec, killed after the timeout, folded into State.Health (and docker's
 * "health_status" event when the status changes). `began`: when the container started (clock ms), for
 * the start period. Run by the Bun monitor's timer (startHealth) and by `__monitor --probe`, which the
 * native monitor starts every interval.
 */
export async function probeOnce(
  d: ContainerDeps,
  id: string,
  cfg: ContainerConfigFile,
  began: number,
  o: { onPid?: (pid: number) => void; stopped?: () => boolean } = {},
): Promise<void> {
  const hc = cfg.Config.Healthcheck;
  if (!hasHealthcheck(hc)) return;
  const t = timings(hc);
  const argv = probeArgv(hc.Test);
  const start = nowNano();
  let out = "";
  const sink = (b: Uint8Array) => {
    if (out.length < MAX_OUTPUT) out += Buffer.from(b).toString();
  };
  // exec loads with the first probe (before its timeout starts): a container without a health check never needs it
  const { exec } = await import("./exec.ts");
  let timedOut = false;
  let probePid = 0;
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
      {
        stdout: sink,
        stderr: sink,
        onStarted: (pid) => {
          probePid = pid;
          o.onPid?.(pid);
        },
      },
    );
  } catch (e) {
    code = probeFailureStatus(e);
    out += (e as Error).message;
  } finally {
    clearTimeout(killer);
    o.onPid?.(0);
  }
  if (timedOut) {
    code = -1;
    out = `Health check exceeded timeout (${t.timeout / 1000}s)`;
  }
  if (o.stopped?.()) return;
  const r = { Start: start, End: nowNano(), ExitCode: code, Output: out };
  const inStartPeriod = d.clock.now() - began < t.startPeriod;
  const fresh = (): HealthState => ({ Status: "starting", FailingStreak: 0, Log: [] });
  let was: string | undefined, now: string | undefined;
  safeUpdate(d, id, (s) => {
    if (s.Status !== "running" && s.Status !== "paused") return s;
    const Health = applyProbe(s.Health ?? fresh(), r, { retries: t.retries, inStartPeriod });
    [was, now] = [s.Health?.Status, Health.Status];
    return { ...s, Health };
  });
  // docker: "health_status: healthy" when the status changes
  if (now !== undefined && now !== was) ev(d, `health_status: ${now}`, cfg);
}

/** `__monitor --probe`: one probe of a running container, its start period counted from StartedAt */
export async function probeFromMonitor(d: ContainerDeps, id: string): Promise<void> {
  const cfg = d.store.readConfig(id);
  const st = d.store.readState(id);
  if (st.Status !== "running") return; // paused or gone: no probe, as docker
  const started = Date.parse(st.StartedAt.replace(/(\.\d{3})\d*Z$/, "$1Z"));
  await probeOnce(d, id, cfg, Number.isFinite(started) ? started : d.clock.now());
}
