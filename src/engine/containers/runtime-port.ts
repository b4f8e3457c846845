/**
 * Every call this module makes into src/runtime, in one place, so the container code reads the same
 * whichever way the runtime's signatures settle.
 */
import * as rt from "../../runtime/index.ts";
import type { ContainerSpec, ProcessSpec, RunningContainer, Stdio } from "../../runtime/types.ts";

export type { RunningContainer, Stdio };

export function createContainer(spec: ContainerSpec, stdio: Stdio, hooks: rt.CreateHooks = {}): Promise<RunningContainer> {
  return rt.createContainer(spec, stdio, hooks);
}

export function execInContainer(pid: number, proc: ProcessSpec, stdio: Stdio, cgroupPath: string): Promise<RunningContainer> {
  return rt.execInContainer(pid, proc, stdio, cgroupPath);
}

/** kill(2) that treats ESRCH as done (the process is gone: what the caller wants) */
export function killPid(pid: number, signal: number): void {
  try {
    process.kill(pid, signal);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "ESRCH") throw e;
  }
}

/** /proc/<pid>/stat field 22, undefined for a dead pid or a zombie */
export const processStartTime = (pid: number) => rt.processStartTime(pid);
/** the stored pid is trusted only when its start time matches (pid reuse) */
export const isAlive = (pid: number, startTime: string) => rt.isAlive(pid, startTime);
/** `run -t`: pty 0 of the new container's own devpts instance */
export const openConsole = () => rt.openConsole();
/** `exec -t`: a pty from the running container's devpts (inside: /dev/pts/N) */
export const openContainerPty = (pid: number) => rt.openContainerPty(pid);

export const freeze = (cgroupPath: string) => rt.freeze(cgroupPath);
export const thaw = (cgroupPath: string) => rt.thaw(cgroupPath);
export const cgroupStats = (cgroupPath: string) => rt.stats(cgroupPath);
/** NET I/O of a process's network namespace (0 for pid 0 or the host's) */
export const netStats = (pid: number) => rt.netStats(pid);
export const oomKilled = (cgroupPath: string) => rt.oomKilled(cgroupPath);
export const removeCgroup = (cgroupPath: string) => rt.removeCgroup(cgroupPath);
export const cgroupPids = (cgroupPath: string) => rt.cgroupPids(cgroupPath);
export const cgroupExists = (cgroupPath: string) => rt.cgroupExists(cgroupPath);
export const updateCgroup = (cgroupPath: string, r: import("../../runtime/index.ts").ResourceSpec) => rt.updateCgroup(cgroupPath, r);
