/**
 * `system restore`: what docker's daemon does when it starts — every container whose restart policy
 * says it should be running is started under a new monitor (after a reboot, or anything else that took
 * the monitors). Docker's rule (moby daemon.restore + restartmanager): a container started before, and
 *   always          whatever its last exit, even after a manual stop;
 *   unless-stopped  unless the user stopped it;
 *   on-failure[:N]  when its last exit failed (not 0) and the user did not stop it.
 * A running container, or one whose live monitor waits to restart it, is left alone.
 */
import { EngineError } from "../../../lib/errors.ts";
import { NoSuchContainer } from "../store.ts";
import { isActive, ZERO_TIME, type ContainerConfigFile, type ContainerStateFile } from "../types.ts";
import type { ContainerDeps } from "./deps.ts";
import { startDetached } from "./start.ts";
import { refreshState, sweepHalfCreated } from "./state.ts";

export interface RestoreResult {
  /** ids started, in the order of the store */
  started: string[];
  failed: { id: string; error: EngineError }[];
}

/** should a stopped container run again at restore? (docker's ShouldRestart at daemon start) */
export function shouldRunAtRestore(policy: ContainerConfigFile["HostConfig"]["RestartPolicy"] | undefined, st: ContainerStateFile): boolean {
  if (!st.StartedAt || st.StartedAt === ZERO_TIME) return false; // never started: docker's HasBeenStartedBefore
  switch (policy?.Name) {
    case "always":
      return true;
    case "unless-stopped":
      return !st.ManuallyStopped;
    case "on-failure":
      return !st.ManuallyStopped && st.ExitCode !== 0;
    default:
      return false;
  }
}

export async function restore(d: ContainerDeps): Promise<RestoreResult> {
  await sweepHalfCreated(d, { full: true });
  const out: RestoreResult = { started: [], failed: [] };
  for (const id of d.store.ids()) {
    let cfg: ContainerConfigFile;
    let st: ContainerStateFile;
    try {
      cfg = d.store.readConfig(id);
      // reconciled (a dead container recorded stopped) but not handed to a monitor: started below
      st = refreshState(d, id, { revive: false });
    } catch (e) {
      if (e instanceof NoSuchContainer) continue; // removed meanwhile
      throw e;
    }
    if (isActive(st.Status) || st.Restarting || !shouldRunAtRestore(cfg.HostConfig.RestartPolicy, st)) continue;
    try {
      await startDetached(d, id);
      out.started.push(id);
    } catch (e) {
      if (e instanceof NoSuchContainer) continue;
      out.failed.push({ id, error: e instanceof EngineError ? e : new EngineError("internal", (e as Error).message, { cause: e }) });
    }
  }
  return out;
}
