/**
 * The recorded state of a container, refreshed: a dead supervisor with a dead container is reconciled
 * to "stopped" (its cgroup reaped, its networks detached) by the first reader that notices. Also the
 * small shared steps every verb takes: a state update that tolerates removal, waiting for a stop or for
 * the supervisor to go, reaping the cgroup and detaching the networks.
 */
import { shortId } from "../../../lib/ids.ts";
import * as netw from "../networking.ts";
import { NoSuchContainer } from "../store.ts";
import { isActive, type ContainerConfigFile, type ContainerStateFile } from "../types.ts";
import type { ContainerDeps } from "./deps.ts";

export interface ContainerInfo {
  cfg: ContainerConfigFile;
  state: ContainerStateFile;
}

export function info(d: ContainerDeps, id: string): ContainerInfo {
  return { cfg: d.store.readConfig(id), state: refreshState(d, id) };
}

/** state.json, with a dead supervisor and a dead container reconciled to "stopped" */
export function refreshState(d: ContainerDeps, id: string): ContainerStateFile {
  const rt = d.runtime;
  const st = d.store.readState(id);
  if (st.Restarting && !rt.isAlive(st.MonitorPid, st.MonitorStartTime)) {
    return d.store.updateState(id, (cur) => (cur.Restarting && !rt.isAlive(cur.MonitorPid, cur.MonitorStartTime) ? { ...cur, Restarting: false, MonitorPid: 0, MonitorStartTime: "" } : cur));
  }
  if (!needsReconcile(d, st)) return st;
  return d.store.updateState(id, (cur) => {
    if (!needsReconcile(d, cur)) return cur;
    const cfg = d.store.readConfig(id);
    reapCgroup(d, cfg);
    detachNetworks(d, cfg);
    return { ...cur, Status: "stopped", Pid: 0, MonitorPid: 0, ExitCode: cur.Pid ? 255 : 128, FinishedAt: new Date(d.clock.now()).toISOString(), Error: cur.Pid ? "container supervisor exited unexpectedly" : cur.Error };
  });
}

function needsReconcile(d: ContainerDeps, st: ContainerStateFile): boolean {
  if (!isActive(st.Status) && st.Status !== "creating") return false;
  if (st.Pid && d.runtime.isAlive(st.Pid, st.StartTime)) return false;
  if (d.runtime.isAlive(st.MonitorPid, st.MonitorStartTime)) return false;
  return true;
}

/** docker's network events name the network by id, with the container and the network's name */
export function netEvent(d: ContainerDeps, action: "connect" | "disconnect", network: string, containerId: string): void {
  try {
    const rec = d.networks.mgr.inspect(network);
    d.events.emit("network", action, rec.id, { container: containerId, name: rec.name, type: rec.driver });
  } catch {
    // the network went meanwhile: an event about it has nothing to name
  }
}

/** the container's addresses and veths go (its port reservation stays until rm); never throws */
export function detachNetworks(d: ContainerDeps, cfg: ContainerConfigFile): void {
  d.relays.get(cfg.Id)?.();
  d.relays.delete(cfg.Id);
  if (!netw.isBridgeMode(netw.primaryNetwork(cfg))) return;
  try {
    for (const n of netw.detachAll(d.networks, cfg.Id)) netEvent(d, "disconnect", n, cfg.Id);
  } catch (e) {
    d.log.warn(`release network of container ${shortId(cfg.Id)}: ${(e as Error).message}`);
  }
}

/** every process of the cgroup killed, then the cgroup removed; called on every way out, never throws */
export function reapCgroup(d: ContainerDeps, cfg: ContainerConfigFile): void {
  const rt = d.runtime;
  const cg = cfg.Berth.CgroupPath;
  // called on every way out (exit, afterExit, rm): only the first finds something to do
  try {
    if (!rt.cgroupExists(cg)) return;
  } catch {
    // unreadable hierarchy: try the removal steps anyway, each is safe on a missing cgroup
  }
  const failures: string[] = [];
  const step = (what: string, fn: () => void) => {
    try {
      fn();
    } catch (e) {
      failures.push(`${what}: ${(e as Error).message}`);
    }
  };
  step("kill", () => {
    for (const pid of rt.cgroupPids(cg)) rt.kill(pid, 9);
  });
  step("thaw", () => rt.thaw(cg));
  step("remove", () => rt.removeCgroup(cg));
  // a later caller (rm, the next start) retries; only worth a debug line
  if (failures.length) d.log.debug(`reap cgroup of container ${shortId(cfg.Id)}: ${failures.join("; ")}`);
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

/** until the recorded supervisor is gone (at most ~2 s) */
export async function waitSupervisorGone(d: ContainerDeps, id: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    const st = d.store.readState(id);
    if (!d.runtime.isAlive(st.MonitorPid, st.MonitorStartTime)) return;
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
