/**
 * The recorded state of a container, refreshed against the processes it names by the first reader that
 * notices (a dead supervisor, a dead pauser, a dead monitor owing a restart), and the sweep of records
 * whose create was killed half-way. Also the small shared steps every verb takes: a state update that
 * tolerates removal, waiting for a stop or for the supervisor to go, reaping the cgroup and detaching
 * the networks.
 */
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { EngineError } from "../../../lib/errors.ts";
import { shortId } from "../../../lib/ids.ts";
import * as netw from "../networking.ts";
import { shouldRestart } from "../restart.ts";
import { NoSuchContainer } from "../store.ts";
import { isActive, type ContainerConfigFile, type ContainerStateFile } from "../types.ts";
import { ev, type ContainerDeps } from "./deps.ts";
import { clearCreatorMark, CREATOR_MARK_PREFIX, creatorMarkPath, snapshotKey } from "./create.ts";
import { launchMonitor } from "./self.ts";

export interface ContainerInfo {
  cfg: ContainerConfigFile;
  state: ContainerStateFile;
}

export function info(d: ContainerDeps, id: string): ContainerInfo {
  return { cfg: d.store.readConfig(id), state: refreshState(d, id) };
}

export interface RefreshOptions {
  /**
   * a container whose monitor is found dead gets a new one: to watch it while it runs
   * (`__monitor --adopt`), or, once it exited, to start it again as its restart policy says after the
   * policy's first back-off (`__monitor --resume`). Default true; false for a caller about to start or
   * remove the container itself (claim, rm -f, system restore).
   */
  revive?: boolean;
}

/**
 * state.json, reconciled with the processes it names, by the first reader that notices:
 *  - paused by an operation whose process died (kill -9 of commit): thawed, running again;
 *  - waiting to restart, its monitor dead: a new monitor takes over the restart (or, with revive off or
 *    after a manual stop, it stays stopped);
 *  - running, its supervisor dead: a new monitor (`__monitor --adopt`) watches it to its exit, then
 *    records it and applies the restart policy (its output went with the old monitor's pipes);
 *  - active, with both the container and its supervisor dead: stopped (exit 255, docker's code for an
 *    exit nobody saw), its cgroup reaped and networks detached; then its restart policy applies.
 */
export function refreshState(d: ContainerDeps, id: string, o: RefreshOptions = {}): ContainerStateFile {
  const revive = o.revive ?? true;
  const rt = d.runtime;
  let st = d.store.readState(id);
  if (pauserGone(d, st)) st = thawOrphanPause(d, id);
  if (st.Restarting && !rt.isAlive(st.MonitorPid, st.MonitorStartTime)) {
    st = d.store.updateState(id, (cur) => {
      if (!cur.Restarting || rt.isAlive(cur.MonitorPid, cur.MonitorStartTime)) return cur;
      if (revive && !cur.ManuallyStopped) return { ...cur, ...relaunch(d, id) };
      return { ...cur, Restarting: false, MonitorPid: 0, MonitorStartTime: "" };
    });
  }
  if (revive && orphaned(d, st)) st = adopt(d, id);
  if (!needsReconcile(d, st)) return st;
  return d.store.updateState(id, (cur) => {
    if (!needsReconcile(d, cur)) return cur;
    const cfg = d.store.readConfig(id);
    reapCgroup(d, cfg);
    detachNetworks(d, cfg);
    const exitCode = cur.Pid ? 255 : 128;
    const { PausedBy: _, ...rest } = cur;
    const next: ContainerStateFile = {
      ...rest,
      Status: "stopped",
      Pid: 0,
      StartTime: "",
      MonitorPid: 0,
      MonitorStartTime: "",
      Restarting: false,
      ExitCode: exitCode,
      FinishedAt: new Date(d.clock.now()).toISOString(),
      Error: cur.Pid ? "container supervisor exited unexpectedly" : cur.Error,
    };
    const again =
      cur.Status !== "creating" &&
      shouldRestart(cfg.HostConfig.RestartPolicy, { exitCode, restartCount: cur.RestartCount ?? 0, manuallyStopped: !!cur.ManuallyStopped });
    return revive && again ? { ...next, ...relaunch(d, id) } : next;
  });
}

/** a new monitor for a restart its dead monitor cannot do; recorded as the container's supervisor */
function relaunch(d: ContainerDeps, id: string): Pick<ContainerStateFile, "Restarting" | "MonitorPid" | "MonitorStartTime"> {
  try {
    const pid = launchMonitor(d, id, "resume");
    return { Restarting: true, MonitorPid: pid, MonitorStartTime: d.runtime.processStartTime(pid) ?? "" };
  } catch (e) {
    d.log.warn(`restart container ${shortId(id)}: ${(e as Error).message}`);
    return { Restarting: false, MonitorPid: 0, MonitorStartTime: "" };
  }
}

/** running, its monitor dead */
function orphaned(d: ContainerDeps, st: ContainerStateFile): boolean {
  return isActive(st.Status) && !!st.Pid && d.runtime.isAlive(st.Pid, st.StartTime) && !d.runtime.isAlive(st.MonitorPid, st.MonitorStartTime);
}

/** a new monitor that supervises a running container until its exit (`__monitor --adopt`) */
function adopt(d: ContainerDeps, id: string): ContainerStateFile {
  return d.store.updateState(id, (cur) => {
    if (!orphaned(d, cur)) return cur;
    try {
      const pid = launchMonitor(d, id, "adopt");
      return { ...cur, MonitorPid: pid, MonitorStartTime: d.runtime.processStartTime(pid) ?? "" };
    } catch (e) {
      d.log.warn(`supervise container ${shortId(id)}: ${(e as Error).message}`);
      return cur;
    }
  });
}

function needsReconcile(d: ContainerDeps, st: ContainerStateFile): boolean {
  if (!isActive(st.Status) && st.Status !== "creating") return false;
  if (st.Pid && d.runtime.isAlive(st.Pid, st.StartTime)) return false;
  if (d.runtime.isAlive(st.MonitorPid, st.MonitorStartTime)) return false;
  return true;
}

/** paused by an operation (commit) whose process is gone */
function pauserGone(d: ContainerDeps, st: ContainerStateFile): boolean {
  return st.Status === "paused" && !!st.PausedBy && !d.runtime.isAlive(st.PausedBy.Pid, st.PausedBy.StartTime);
}

/** the pause dies with its pauser: thaw the cgroup, running again (the user's own pause has no PausedBy) */
function thawOrphanPause(d: ContainerDeps, id: string): ContainerStateFile {
  return d.store.updateState(id, (cur) => {
    if (!pauserGone(d, cur)) return cur;
    const cfg = d.store.readConfig(id);
    try {
      d.runtime.thaw(cfg.Berth.CgroupPath);
    } catch (e) {
      // its cgroup is gone with its processes: nothing is frozen any more (the reconcile below records the exit)
      d.log.debug(`thaw container ${shortId(id)}: ${(e as Error).message}`);
    }
    ev(d, "unpause", cfg);
    const { PausedBy: _, ...rest } = cur;
    return { ...rest, Status: "running" };
  });
}

// ---------------------------------------------------------------------------------------- half-created records

const ID_RE = /^[0-9a-f]{64}$/;
/** a mark without a creator in it (or a directory without config.json and without a mark) is a create that just began, this long */
const YOUNG_MS = 60_000;

/** is the create whose mark (or, for a directory of an earlier version, whose directory) is `path` still in flight? */
function createInFlight(d: ContainerDeps, markPath: string, dir = markPath): boolean {
  let mark: string | undefined;
  try {
    mark = readFileSync(markPath, "utf8");
  } catch {
    // no mark: judged by age
  }
  const [pid, start] = (mark ?? "").trim().split(" ");
  // a mark being written (empty yet) or without a start time says nothing: judged by age as well
  if (Number(pid) > 0 && start) return d.runtime.isAlive(Number(pid), start);
  try {
    return d.clock.now() - statSync(mark === undefined ? dir : markPath).mtimeMs < YOUNG_MS;
  } catch {
    return false; // neither mark nor directory: nothing in flight
  }
}

/** config.json is there and whole (a power loss between its rename and its flush can leave it empty) */
function hasRecord(d: ContainerDeps, id: string): boolean {
  try {
    d.store.readConfig(id);
    return true;
  } catch {
    return false; // none, or empty (see above) or damaged: no record
  }
}

/**
 * The debris of creates killed before their record was complete (no config.json, or an empty one after
 * a power loss: `ps -a` does not show it and `rm -f` cannot name it): its writable snapshot, its name
 * and its directory go; and the tombstones of removals killed during their recursive delete
 * (store.removeDir). Its port and address reservations are reclaimed by the networks once the
 * directory is gone (isKnownContainer). Found by the creators' marks (CREATOR_MARK_PREFIX, one readdir
 * of the containers directory and nothing per record: `create` runs this every time); `full` also
 * looks into every directory for one without config.json and without a mark (an earlier version's).
 * Run by every create, `container prune`/`system prune` (full) and `system restore` (full).
 * Returns the ids swept.
 */
export async function sweepHalfCreated(d: ContainerDeps, o: { full?: boolean } = {}): Promise<string[]> {
  let entries: string[];
  try {
    entries = readdirSync(d.root);
  } catch {
    return []; // no containers directory yet: nothing was ever created
  }
  d.store.sweepTombstones(entries);
  const marked = new Set(entries.filter((n) => n.startsWith(CREATOR_MARK_PREFIX)).map((n) => n.slice(CREATOR_MARK_PREFIX.length)));
  const candidates: { id: string; inFlight: () => boolean }[] = [];
  for (const id of marked) {
    if (ID_RE.test(id)) candidates.push({ id, inFlight: () => createInFlight(d, creatorMarkPath(d.root, id)) });
  }
  if (o.full) {
    for (const id of entries) {
      if (!ID_RE.test(id) || marked.has(id) || existsSync(join(d.store.dir(id), "config.json"))) continue;
      const dir = d.store.dir(id);
      candidates.push({ id, inFlight: () => createInFlight(d, join(dir, "creating"), dir) });
    }
  }
  const swept: string[] = [];
  for (const { id, inFlight } of candidates) {
    if (inFlight()) continue;
    if (hasRecord(d, id)) {
      clearCreatorMark(d.root, id); // a finished create whose mark a kill (or a power loss) left behind
      continue;
    }
    try {
      await d.snapshots.remove(snapshotKey(id));
    } catch (e) {
      if (!(e instanceof EngineError && e.kind === "not_found")) {
        d.log.warn(`remove half-created container ${shortId(id)}: ${(e as Error).message}`);
        continue; // its snapshot stays named by its mark: a later sweep tries again
      }
    }
    try {
      for (const name of readdirSync(d.store.namesDir)) if (!name.startsWith(".")) d.store.releaseName(name, id);
    } catch (e) {
      d.log.debug(`names of half-created container ${shortId(id)}: ${(e as Error).message}`);
    }
    d.store.removeDir(id);
    clearCreatorMark(d.root, id);
    swept.push(id);
  }
  // a removal killed while its snapshot's files went (off its thread) left that snapshot's trash: the
  // driver's directory is looked through only when a dead creator or remover was found
  if (swept.length) {
    try {
      await d.snapshots.cleanup?.();
    } catch (e) {
      d.log.debug(`snapshot leftovers: ${(e as Error).message}`);
    }
  }
  return swept;
}

/** docker's network events name the network by id, with the container and the network's name */
export function netEvent(
  d: ContainerDeps,
  action: "connect" | "disconnect",
  network: string,
  containerId: string,
  known?: { id?: string; driver?: string },
): void {
  try {
    const rec = known?.id && known.driver ? { id: known.id, name: network, driver: known.driver } : d.networks.mgr.inspect(network);
    d.events.emit("network", action, rec.id, { container: containerId, name: rec.name, type: rec.driver });
  } catch {
    // the network went meanwhile: an event about it has nothing to name
  }
}

/** the container's addresses and veths go (its port reservation stays until rm); never throws. True
 * when it is off every network */
export function detachNetworks(d: ContainerDeps, cfg: ContainerConfigFile, o: { exited?: boolean } = {}): boolean {
  d.relays.get(cfg.Id)?.();
  d.relays.delete(cfg.Id);
  d.networks.stopRelay(cfg.Id); // the relay a `network connect` started for it, if any
  if (!netw.isBridgeMode(netw.primaryNetwork(cfg))) return true;
  try {
    for (const n of netw.detachAll(d.networks, cfg.Id, o)) netEvent(d, "disconnect", n.name, cfg.Id, n);
    return true;
  } catch (e) {
    d.log.warn(`release network of container ${shortId(cfg.Id)}: ${(e as Error).message}`);
    return false;
  }
}

/**
 * every process of the cgroup killed, then the cgroup removed; called on every way out, never throws.
 * True when it is gone. A container in `d.reapedHere` is skipped: its exit was reaped by this process
 * moments ago (recordExit, then afterExit and its rm, in one supervise: afterExit clears the mark)
 */
export function reapCgroup(d: ContainerDeps, cfg: ContainerConfigFile): boolean {
  const rt = d.runtime;
  const cg = cfg.Berth.CgroupPath;
  // called on every way out (exit, afterExit, rm): only the first finds something to do, and the later
  // ones of the same exit need not even look (10 access(2) on a v1 host)
  if (d.reapedHere.has(cfg.Id)) return true;
  // one rmdir per hierarchy in the usual exit (its tasks are gone; a missing cgroup is no error). A
  // cgroup that refuses is thawed, its processes killed, and the rmdirs retried (runtime removeCgroup)
  try {
    rt.removeCgroup(cg);
    return true;
  } catch (e) {
    // a later caller (rm, the next start) retries; only worth a debug line
    d.log.debug(`reap cgroup of container ${shortId(cfg.Id)}: ${(e as Error).message}`);
    return false;
  }
}

/** the container may have been removed under us (rm -f): then there is nothing to record */
export function safeUpdate(d: ContainerDeps, id: string, fn: (st: ContainerStateFile) => ContainerStateFile, durable?: boolean): void {
  try {
    d.store.updateState(id, fn, durable);
  } catch (e) {
    if (!(e instanceof NoSuchContainer)) throw e;
  }
}

/** poll until the container is no longer active (or gone); false on timeout */
export async function waitStopped(d: ContainerDeps, id: string, timeoutMs: number): Promise<boolean> {
  const end = d.clock.now() + timeoutMs;
  for (let delay = 5; ; delay = Math.min(delay * 2, 100)) {
    let st: ContainerStateFile;
    try {
      st = refreshState(d, id);
    } catch (e) {
      if (e instanceof NoSuchContainer) return true;
      throw e;
    }
    if (!isActive(st.Status)) return true;
    if (d.clock.now() >= end) return false;
    await d.clock.sleep(delay);
  }
}

/**
 * until the supervisor is gone (at most ~2 s): the process, not the state's MonitorPid, which is
 * cleared at the exit before the supervisor's last steps (cgroup, networks, --rm). `supervisor`: the
 * one recorded before the caller acted (stop or kill clear it); default: the one recorded now.
 */
export async function waitSupervisorGone(d: ContainerDeps, id: string, supervisor?: { pid: number; startTime: string }): Promise<void> {
  let s = supervisor;
  if (!s) {
    try {
      const st = d.store.readState(id);
      s = { pid: st.MonitorPid, startTime: st.MonitorStartTime };
    } catch (e) {
      if (e instanceof NoSuchContainer) return;
      throw e;
    }
  }
  if (s.pid === d.self.pid) return; // this process supervises it (in-process, as in unit tests): it cannot wait for itself
  for (let i = 0; i < 200; i++) {
    if (!d.runtime.isAlive(s.pid, s.startTime)) return;
    await d.clock.sleep(10);
  }
}

/** the thaw that a SIGKILL of a paused container needs; the container may be gone already */
export function thawQuiet(d: ContainerDeps, id: string): void {
  try {
    d.runtime.thaw(d.store.readConfig(id).Berth.CgroupPath);
    safeUpdate(d, id, (s) => (s.Status === "paused" ? { ...s, Status: "running" } : s));
  } catch {
    // removed or its cgroup gone: nothing is frozen any more
  }
}
