/**
 * `pause` and `unpause` (youki's container_pause.rs / container_resume.rs): under the container's lock,
 * refresh the status → check the transition (canPause / canUnpause) → freeze or thaw the cgroup → save.
 */
import { EngineError } from "../../../lib/errors.ts";
import { canPause, canUnpause } from "../types.ts";
import { ev, type ContainerDeps } from "./deps.ts";
import { refreshState } from "./state.ts";

export function pause(d: ContainerDeps, ref: string): string {
  const id = d.store.resolve(ref);
  const cfg = d.store.readConfig(id);
  d.store.withLock(id, () => {
    const st = refreshState(d, id);
    if (st.Status === "paused") throw new EngineError("conflict", `container ${id} is already paused`);
    if (!canPause(st.Status)) throw new EngineError("conflict", `container ${id} is not running`);
    d.runtime.freeze(cfg.Berth.CgroupPath);
    d.store.writeState(id, { ...st, Status: "paused" });
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
    d.store.writeState(id, { ...st, Status: "running" });
    ev(d, "unpause", cfg);
  });
  return id;
}
