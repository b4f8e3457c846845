/**
 * The container runtime as the lifecycle sees it: one interface (youki's Syscall trait, containerd's
 * runtime v2 task API) with the host implementation over src/runtime. Everything the lifecycle does to
 * processes and cgroups goes through it, so a recording fake (test/helpers/fake-runtime.ts) can stand in
 * for it in unit tests that need no root.
 */
import * as rt from "../../runtime/index.ts";
import type { ContainerSpec, ProcessSpec, ResourceSpec, RunningContainer, Stdio } from "../../runtime/types.ts";
import type { ContainerPty, DevptsConsole } from "../../ffi/pty.ts";

export type { RunningContainer, Stdio, ContainerPty, DevptsConsole };
export type CgroupStats = rt.CgroupStats;
export type NetStats = ReturnType<typeof rt.netStats>;
export type CreateHooks = rt.CreateHooks;

export interface ContainerRuntime {
  /** a new container from its spec: cgroup, namespaces, rootfs, PID 1 (removes its cgroup if it fails) */
  create(spec: ContainerSpec, stdio: Stdio, hooks?: CreateHooks): Promise<RunningContainer>;
  /** a new process in a running container's namespaces and cgroup */
  exec(pid: number, proc: ProcessSpec, stdio: Stdio, cgroupPath: string): Promise<RunningContainer>;
  /** kill(2) that treats ESRCH as done (the process is gone: what the caller wants) */
  kill(pid: number, signal: number): void;
  /** /proc/<pid>/stat field 22, undefined for a dead pid or a zombie */
  processStartTime(pid: number): string | undefined;
  /** the stored pid is trusted only when its start time matches (pid reuse) */
  isAlive(pid: number, startTime: string): boolean;
  /** `run -t`: pty 0 of the new container's own devpts instance */
  openConsole(): DevptsConsole;
  /** `exec -t`: a pty from the running container's devpts (inside: /dev/pts/N) */
  openContainerPty(pid: number): ContainerPty;
  freeze(cgroupPath: string): void;
  thaw(cgroupPath: string): void;
  stats(cgroupPath: string): CgroupStats;
  oomKilled(cgroupPath: string): boolean;
  cgroupPids(cgroupPath: string): number[];
  removeCgroup(cgroupPath: string): void;
  updateCgroup(cgroupPath: string, r: ResourceSpec): void;
  /** NET I/O of a process's network namespace (0 for pid 0 or the host's) */
  netStats(pid: number): NetStats;
  /** load what a start needs ahead of it (the shim, whose thread then also does file work: ffi/background.ts) */
  prepare?(): void;
}

/** the real runtime: src/runtime on this host */
export const hostRuntime: ContainerRuntime = {
  create: (spec, stdio, hooks = {}) => rt.createContainer(spec, stdio, hooks),
  exec: (pid, proc, stdio, cgroupPath) => rt.execInContainer(pid, proc, stdio, cgroupPath),
  kill: (pid, signal) => void rt.killContainer(pid, signal),
  processStartTime: (pid) => rt.processStartTime(pid),
  isAlive: (pid, startTime) => rt.isAlive(pid, startTime),
  openConsole: () => rt.openConsole(),
  openContainerPty: (pid) => rt.openContainerPty(pid),
  freeze: (cg) => rt.freeze(cg),
  thaw: (cg) => rt.thaw(cg),
  stats: (cg) => rt.stats(cg),
  oomKilled: (cg) => rt.oomKilled(cg),
  cgroupPids: (cg) => rt.cgroupPids(cg),
  removeCgroup: (cg) => rt.removeCgroup(cg),
  updateCgroup: (cg, r) => rt.updateCgroup(cg, r),
  netStats: (pid) => rt.netStats(pid),
  prepare: () => void rt.loadShim(),
};
