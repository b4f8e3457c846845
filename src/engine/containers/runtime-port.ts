/**
 * Every call this module makes into src/runtime, in one place, so the container code reads the same
 * whichever way the runtime's signatures settle.
 */
import * as rt from "../../runtime/index.ts";
import type { ContainerSpec, ProcessSpec, RunningContainer, Stdio } from "../../runtime/types.ts";
import { readFileSync } from "node:fs";

export type { RunningContainer, Stdio };

export function createContainer(spec: ContainerSpec, stdio: Stdio): Promise<RunningContainer> {
  return rt.createContainer(spec, stdio);
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
export function processStartTime(pid: number): string | undefined {
  if (!pid) return undefined;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "latin1");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    if (fields[0] === "Z" || fields[0] === "X") return undefined;
    return fields[19];
  } catch {
    return undefined;
  }
}

/** the stored pid is trusted only when its start time matches (pid reuse) */
export function isAlive(pid: number, startTime: string): boolean {
  return !!pid && !!startTime && processStartTime(pid) === startTime;
}

export const freeze = (cgroupPath: string) => rt.freeze(cgroupPath);
export const thaw = (cgroupPath: string) => rt.thaw(cgroupPath);
export const cgroupStats = (cgroupPath: string) => rt.stats(cgroupPath);
export const oomKilled = (cgroupPath: string) => rt.oomKilled(cgroupPath);
export const removeCgroup = (cgroupPath: string) => rt.removeCgroup(cgroupPath);
export const cgroupPids = (cgroupPath: string) => rt.cgroupPids(cgroupPath);
