/**
 * The restart policy applied: the monitor's decisions between runs (planRestart, beginRestart; the
 * pure rules are ../restart.ts) and a user's stop/kill/rm cancelling a pending restart (`restart` itself is
 * ./restart.ts).
 */
import { nextDelay } from "../restart.ts";
import { NoSuchContainer } from "../store.ts";
import type { ContainerDeps } from "./deps.ts";
import { safeUpdate, waitSupervisorGone } from "./state.ts";

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

/**
 * the back-off is over: count the restart, unless the user stopped it meanwhile, or another process
 * took the container over (a user's start, or a monitor launched after this one was thought dead)
 */
export function beginRestart(d: ContainerDeps, id: string): boolean {
  let go = false;
  safeUpdate(d, id, (s) => {
    const ours = s.MonitorPid === d.self.pid;
    go = ours && !!s.Restarting && !s.ManuallyStopped;
    if (go) return { ...s, RestartCount: (s.RestartCount ?? 0) + 1 }; // still "restarting" until the claim turns it into "running" in one update
    return ours ? { ...s, Restarting: false, MonitorPid: 0, MonitorStartTime: "" } : s;
  });
  return go;
}
