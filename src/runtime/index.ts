/**
 * src/runtime — ContainerSpec + Mount[] → a running process: namespaces (C shim), mount plan, rootfs,
 * pivot_root, capabilities, user, cgroups, --init reaper.
 *
 * May import: ffi, lib, oci (types). Never images, stores, CLI types.
 *
 * Invariants:
 *  - only spawn.ts enters namespaces, and only through the C shim's clone()d child; Bun's main thread
 *    changes nothing but pid_for_children, restored before the call returns;
 *  - the mount plan is computed in TS (mount-plan.ts, pure) and executed in C without decisions;
 *  - mount targets are resolved inside the rootfs (openat2 RESOLVE_IN_ROOT), never through host symlinks;
 *  - the runtime never waits on pid -1 (Bun reaps its own children by pid).
 *
 * Lifecycle: createContainer() creates the cgroup (and removes it if start fails); after exit the
 * caller reads wait()'s ExitInfo and calls removeCgroup(spec.cgroupPath).
 */
export type { ContainerSpec, ProcessSpec, ResourceSpec, Stdio, ExitInfo, RunningContainer, NamespaceMode } from "./types.ts";
export { createContainer, execInContainer, forkForEveryStart, STAGING_DIR, useChildSignal, type ChildSignal, type CreateHooks } from "./spawn.ts";
export { killContainer, processStartTime, isAlive, openContainerPty, openConsole } from "./process.ts";
export {
  createCgroup,
  cgroupExists,
  joinCgroup,
  updateCgroup,
  freeze,
  thaw,
  stats,
  oomKilled,
  removeCgroup,
  cgroupPids,
  detectLayout,
  cgroupSupport,
  parseLayout,
  cgroupDirs,
  DEFAULT_DEVICE_RULES,
  type CgroupLayout,
  type CgroupStats,
  type Hierarchy,
} from "./cgroups.ts";
export { netStats, parseNetDev, type NetStats } from "./net-stats.ts";
export { DEFAULT_CAPABILITIES, CAPABILITY_NAMES, capabilityMask } from "./capabilities.ts";
export { DEFAULT_MASKED_PATHS, DEFAULT_READONLY_PATHS, planMounts } from "./mount-plan.ts";
export { loadShim } from "./shim.ts";
export { nativeMonitorPath } from "./monitor.ts";
