/**
 * The restart policy applied: the monitor's decisions between runs (planRestart, beginRestart; the
 * pure rules are ../restart.ts), a user's stop/kill/rm cancelling a pending restart, and `restart`.
 */
import { nextDelay } from "../restart.ts";
import { NoSuchContainer } from "../store.ts";
import { ev, type ContainerDeps } from "./deps.ts";
import { startDetached } from "./start.ts";
import { safeUpdate, waitSupervisorGone } from "./state.ts";
import { stop } from "./stop.ts";

/** stop/kill/rm of a container waiting to restart: the monitor goes, the container stays stopped */
export async function cancelRestart(d: ContainerDeps, id: string): Promise<void> {
  const st = d.store.updateState(id, (s) => ({ ...s, ManuallyStopped: true }));
  if (st.MonitorPid && d.runtime.isAlive(st.MonitorPid, st.MonitorStartTime)) d.runtime.kill(st.MonitorPid, 9);
  await waitSupervisorGone(d, id);
  safeUpdate(d, id, (s) => ({ ...s, Restarting: false, MonitorPid: 0, MonitorStartTime: "" }));
}

/**
 * After an exit under a restart policy: mark the container restarting (its monitor stays, waiting) and
 * return the back-off, or undefined when it stays stopped (policy, a manual stop, removed meanwhile).
 */
export function planRestart(d: ContainerDeps, id: string, ranMs: number, previousDelay: number): number | undefined {
  try {
    return d.store.readState(id).Restarting ? nextDelay(previousDelay, ranMs) : undefined;
  } catch (e) {
    if (e instanceof NoSuchContainer) return undefined; // removed
    throw e;
  }
}

/** the back-off is over: count the restart, unless the user stopped it meanwhile */
export function beginRestart(d: ContainerDeps, id: string): boolean {
  let go = false;
  safeUpdate(d, id, (s) => {
    go = !!s.Restarting && !s.ManuallyStopped;
    // still "restarting" until the claim turns it into "running" in one update
    return go ? { ...s, RestartCount: (s.RestartCount ?? 0) + 1 } : { ...s, Restarting: false, MonitorPid: 0, MonitorStartTime: "" };
  });
  return go;
}

/** `restart`: stop (as `stop` does), then start under a new monitor, whatever the status was */
export async function restart(d: ContainerDeps, ref: string, timeoutSec?: number): Promise<string> {
  const id = await stop(d, ref, timeoutSec);
  await waitSupervisorGone(d, id);
  await startDetached(d, id);
  ev(d, "restart", d.store.readConfig(id));
  return id;
}
