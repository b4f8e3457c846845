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
import { canRemove, isActive, type ContainerConfigFile, type ContainerStateFile } from "../types.ts";
import { ev, type ContainerDeps } from "./deps.ts";
import { cancelRestart } from "./restart-policy.ts";
import { reapCgroup, refreshState, safeUpdate, waitSupervisorGone } from "./state.ts";
import { keepExit } from "./stop.ts";
import { clearCreatorMark, markCreator } from "./create.ts";
import { mark } from "../../../lib/trace.ts";

/** the attach socket lives outside the container's directory when that path is too long for a socket */
function rmSocket(dir: string, longDir: string): void {
  const p = attachSocketPath(dir, longDir);
  if (p.startsWith(dir)) return; // goes with the directory
  try {
    renameSync(p, p + ".gone");
    unlinkSync(p + ".gone");
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw e; // none: the supervisor removed it
  }
}

/**
 * SIGKILL until the container is stopped (or the timeout): a supervisor still starting it (claimed,
 * no pid yet) records a pid later, which gets the signal then
 */
async function killUntilStopped(d: ContainerDeps, cfg: ContainerConfigFile, timeoutMs: number): Promise<void> {
  const end = d.clock.now() + timeoutMs;
  for (let delay = 5; ; delay = Math.min(delay * 2, 100)) {
    let st: ContainerStateFile;
    try {
      st = refreshState(d, cfg.Id, { revive: false });
    } catch (e) {
      if (e instanceof NoSuchContainer) return;
      throw e;
    }
    if (!isActive(st.Status) || d.clock.now() >= end) return;
    if (st.Pid) d.runtime.kill(st.Pid, 9);
    reapCgroup(d, cfg);
    await d.clock.sleep(delay);
  }
}

/** `rm` (`volumes`: -v, the container's anonymous volumes go too) */
export async function rm(d: ContainerDeps, ref: string, force: boolean, volumes = false): Promise<string> {
  const id = d.store.resolve(ref);
  const cfg = d.store.readConfig(id);
  // rm -f removes it whatever its policy: a reconcile here must not start a new monitor for it
  const st = refreshState(d, id, { revive: !force });
  if (st.Restarting) {
    if (!force)
      throw new EngineError("conflict", `cannot remove container "${cfg.Name}": container is restarting: stop the container before removing or force remove`);
    await cancelRestart(d, id);
  }
  if (!canRemove(st.Status, force)) {
    throw new EngineError(
      "conflict",
      `cannot remove container "${cfg.Name}": container is ${st.Status === "paused" ? "paused" : "running"}: ${st.Status === "paused" ? "unpause" : "stop"} the container before removing or force remove`,
    );
  }
  if (isActive(st.Status)) {
    // its supervisor must not restart it, and must be gone (its exit steps done) before the record goes
    const supervisor = { pid: st.MonitorPid, startTime: st.MonitorStartTime };
    safeUpdate(d, id, (s) => ({ ...s, ManuallyStopped: true }));
    ev(d, "kill", cfg, { signal: "9" }); // dockerd's rm -f kills with SIGKILL and logs it
    await killUntilStopped(d, cfg, 5000);
    await waitSupervisorGone(d, id, supervisor);
  }
  await removeNow(d, id, volumes);
  return id;
}

/**
 * remove everything of a stopped container: cgroup leftovers, snapshot, name, directory; with
 * `volumes` (rm -v; --rm always) its anonymous volumes no other container mounts, as docker does
 */
export async function removeNow(
  d: ContainerDeps,
  id: string,
  volumes = false,
  o: { networksReleased?: boolean; releaseNetworks?: () => boolean } = {},
): Promise<void> {
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
  mark("rm: exit kept");
  // from here the record is debris of this process's (the creator mark, as a create's, then no
  // config.json): `ps -a` no longer shows it, and a kill -9 anywhere below leaves what the next create's
  // or rm's sweep of half-created records removes (ops/state.ts sweepHalfCreated), where a record
  // without its snapshot would stay until a prune
  markCreator(d, id);
  d.store.dropConfig(id);
  reapCgroup(d, cfg);
  // not fsynced: should a power loss bring the snapshot's entry back, the record is gone with it (or
  // goes with a rerun of rm), and a container snapshot without a record is reclaimed by the next
  // command that writes (images.recover: "left by a create that did not finish"). 2 fsyncs per rm.
  // Its files go on the thread pool (cow/_base.ts destroyAsync) while this thread releases the rest
  const snapshot = d.snapshots.remove(cfg.Berth.SnapshotKey, { durable: false }).catch((e) => {
    if (!(e instanceof EngineError && e.kind === "not_found")) throw e;
  });
  let files: Promise<void> = Promise.resolve();
  let failure: { e: unknown } | undefined;
  try {
    const released = o.releaseNetworks ? o.releaseNetworks() : o.networksReleased;
    if (!released && netw.primaryNetwork(cfg) !== "none" && netw.primaryNetwork(cfg) !== "host") netw.releaseAll(d.networks, id);
    mark("rm: cgroup, network released");
    d.store.releaseName(cfg.Name.slice(1), id);
    try {
      rmSocket(d.store.dir(id), d.attachDir);
    } catch (e) {
      d.log.warn(`remove attach socket of ${id}: ${(e as Error).message}`);
    }
    // the record is gone here; its files (a tombstone) go on the thread pool too
    files = d.store.removeDirAsync(id);
    mark("rm: name, directory removed");
  } catch (e) {
    failure = { e };
  }
  // both settled before anything is reported (the snapshot's failure first, as before)
  const [snap, dir] = await Promise.allSettled([snapshot, files]);
  if (snap.status === "rejected") throw snap.reason;
  if (failure) throw failure.e;
  if (dir.status === "rejected") throw dir.reason;
  mark("rm: snapshot removed");
  // the mark goes last: until the snapshot is gone, a sweep finds the debris by it
  clearCreatorMark(d.root, id);
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
