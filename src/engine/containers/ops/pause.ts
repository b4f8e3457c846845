/**
 * `pause` and `unpause` (youki's container_pause.rs / container_resume.rs): under the container's lock,
 * refresh the status → check the transition (canPause / canUnpause) → freeze or thaw the cgroup → save.
 * A pause taken for one operation (commit's) records its pauser, so it cannot outlive that process: the
 * next reader of a container whose pauser died thaws it (ops/state.ts refreshState), and so does its
 * supervisor within a second (watchPauser).
 */
import { EngineError } from "../../../lib/errors.ts";
import { canPause, canUnpause } from "../types.ts";
import { ev, type ContainerDeps } from "./deps.ts";
import { refreshState } from "./state.ts";

export interface PauseOptions {
  /** held by this process only, for the length of an operation (commit): it dies with the process */
  transient?: boolean;
}

export function pause(d: ContainerDeps, ref: string, o: PauseOptions = {}): string {
  const id = d.store.resolve(ref);
  const cfg = d.store.readConfig(id);
  d.store.withLock(id, () => {
    const st = refreshState(d, id);
    if (st.Status === "paused") throw new EngineError("conflict", `container ${id} is already paused`);
    if (!canPause(st.Status)) throw new EngineError("conflict", `container ${id} is not running`);
    // recorded before the freeze: a kill between the two leaves a pause that the next reader undoes
    const pausedBy = o.transient ? { PausedBy: { Pid: d.self.pid, StartTime: d.runtime.processStartTime(d.self.pid) ?? "" } } : {};
    d.store.writeState(id, { ...st, Status: "paused", ...pausedBy });
    try {
      d.runtime.freeze(cfg.Berth.CgroupPath);
    } catch (e) {
      d.store.writeState(id, st);
      throw e;
    }
    ev(d, "pause", cfg);
  });
  return id;
}

export function unpause(d: ContainerDeps, ref: string): string {
  const id = d.store.resolve(ref);
  const cfg = d.store.readConfig(id);
  d.store.withLock(id, () => {
    const st = refreshState(d, id);
    if (!canUnpause(st.Status)) throw new EngineError("conflict", `container ${id} is not paused`);
    d.runtime.thaw(cfg.Berth.CgroupPath);
    const { PausedBy: _, ...rest } = st;
    d.store.writeState(id, { ...rest, Status: "running" });
    ev(d, "unpause", cfg);
  });
  return id;
}

/**
 * The supervisor's side of it (the monitor, a foreground run): every `everyMs` while the container runs,
 * a pause whose pauser died is undone, so a killed commit's freeze lasts a second even when no command
 * reads the state. Returns the stop function.
 */
export function watchPauser(d: ContainerDeps, id: string, everyMs = 1000): () => void {
  const t = setInterval(() => {
    try {
      const st = d.store.readState(id);
      if (st.Status === "paused" && st.PausedBy && !d.runtime.isAlive(st.PausedBy.Pid, st.PausedBy.StartTime)) refreshState(d, id, { revive: false });
    } catch (e) {
      // removed meanwhile (rm -f): the supervisor's exit path ends this watch; anything else waits for the next tick
      d.log.debug(`watch the pause of ${id.slice(0, 12)}: ${(e as Error).message}`);
    }
  }, everyMs);
  return () => clearInterval(t);
}
