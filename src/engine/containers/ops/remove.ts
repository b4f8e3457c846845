/**
 * `rm`: a stopped container (canRemove), or with force a running, paused or restarting one killed
 * first, leaves no cgroup, snapshot, name, attach socket, port reservation or directory behind.
 */
import { renameSync, unlinkSync } from "node:fs";
import { EngineError } from "../../../lib/errors.ts";
import { ANONYMOUS_LABEL } from "../../volumes.ts";
import { attachSocketPath } from "../attach-proto.ts";
import * as netw from "../networking.ts";
import { NoSuchContainer } from "../store.ts";
import { canRemove, isActive, type ContainerConfigFile } from "../types.ts";
import { ev, type ContainerDeps } from "./deps.ts";
import { cancelRestart } from "./restart-policy.ts";
import { reapCgroup, refreshState, waitStopped, waitSupervisorGone } from "./state.ts";
import { keepExit } from "./stop.ts";

/** the attach socket lives outside the container's directory when that path is too long for a socket */
function rmSocket(dir: string): void {
  const p = attachSocketPath(dir);
  if (p.startsWith(dir)) return; // goes with the directory
  try {
    renameSync(p, p + ".gone");
    unlinkSync(p + ".gone");
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw e; // none: the supervisor removed it
  }
}

/** `rm` (`volumes`: -v, the container's anonymous volumes go too) */
export async function rm(d: ContainerDeps, ref: string, force: boolean, volumes = false): Promise<string> {
  const id = d.store.resolve(ref);
  const cfg = d.store.readConfig(id);
  const st = refreshState(d, id);
  if (st.Restarting) {
    if (!force) throw new EngineError("conflict", `cannot remove container "${cfg.Name}": container is restarting: stop the container before removing or force remove`);
    await cancelRestart(d, id);
  }
  if (!canRemove(st.Status, force)) {
    throw new EngineError("conflict", `cannot remove container "${cfg.Name}": container is ${st.Status === "paused" ? "paused" : "running"}: ${st.Status === "paused" ? "unpause" : "stop"} the container before removing or force remove`);
  }
  if (isActive(st.Status)) {
    if (st.Pid) d.runtime.kill(st.Pid, 9);
    reapCgroup(d, cfg);
    await waitStopped(d, id, 5000);
    await waitSupervisorGone(d, id);
  }
  await removeNow(d, id, volumes);
  return id;
}

/**
 * remove everything of a stopped container: cgroup leftovers, snapshot, name, directory; with
 * `volumes` (rm -v; --rm always) its anonymous volumes no other container mounts, as docker does
 */
export async function removeNow(d: ContainerDeps, id: string, volumes = false): Promise<void> {
  let cfg: ContainerConfigFile;
  try {
    cfg = d.store.readConfig(id);
  } catch (e) {
    if (e instanceof NoSuchContainer) return;
    throw e;
  }
  if (cfg.HostConfig.AutoRemove) {
    keepExit(d, id, d.store.readState(id).ExitCode);
  }
  reapCgroup(d, cfg);
  if (netw.primaryNetwork(cfg) !== "none" && netw.primaryNetwork(cfg) !== "host") netw.releaseAll(d.networks, id);
  try {
    await d.snapshots.remove(cfg.Berth.SnapshotKey);
  } catch (e) {
    if (!(e instanceof EngineError && e.kind === "not_found")) throw e;
  }
  d.store.releaseName(cfg.Name.slice(1), id);
  try {
    rmSocket(d.store.dir(id));
  } catch (e) {
    d.log.warn(`remove attach socket of ${id}: ${(e as Error).message}`);
  }
  d.store.removeDir(id);
  if (volumes || cfg.HostConfig.AutoRemove) {
    for (const m of cfg.Mounts) {
      if (m.Type !== "volume" || !m.Name || !(ANONYMOUS_LABEL in (d.volumes.find(m.Name)?.Labels ?? {}))) continue;
      try {
        d.volumes.removeUnchecked(m.Name, id);
      } catch (e) {
        d.log.warn(`remove volume ${m.Name}: ${(e as Error).message}`);
      }
    }
  }
  ev(d, "destroy", cfg);
}
