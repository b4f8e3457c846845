/**
 * What the runtime is asked to run (a trimmed OCI runtime spec in berth's own shape) and what it hands
 * back. src/engine builds a ContainerSpec from the image config, the CLI flags and the snapshot's
 * Mount[]; src/runtime turns it into a process through the C shim (see spawn.ts), and never looks at
 * images, stores or CLI types.
 */
import type { Mount } from "../oci/index.ts";

export interface ProcessSpec {
  args: string[];
  env: string[];
  cwd: string;
  uid: number;
  gid: number;
  additionalGids: number[];
  terminal: boolean;
  /** capability names as in capabilities(7): "CAP_CHOWN", … (bounding, effective, permitted) */
  capabilities: string[];
  noNewPrivileges: boolean;
  /** add the small reaper as PID 1 (`--init`) */
  init: boolean;
  /** seccomp profile in docker's format (seccomp.ts); undefined = docker's default, "unconfined" = none */
  seccomp?: import("./seccomp.ts").SeccompProfile | "unconfined";
  rlimits?: { type: string; soft: number; hard: number }[];
  /** the container process's umask (the OCI runtime passes 0022 unless the spec says otherwise) */
  umask?: number;
  /** --oom-score-adj: the child writes /proc/self/oom_score_adj before its exec, as runc's nsexec does
   * for a container's first process and for every exec (the OCI runtime writes its own, oci.oomScoreAdj) */
  oomScoreAdj?: number;
}

export type NamespaceMode = "new" | "host" | { path: string };

export interface ResourceSpec {
  /** bytes; undefined = unlimited */
  memory?: number;
  memorySwap?: number;
  /** CPUs as a fraction (1.5 = one and a half CPUs): a quota over a 100 ms period */
  cpus?: number;
  /** the CFS pair as given (µs; a quota of -1 is none): written as it is, before `cpus` */
  cpuQuota?: number;
  cpuPeriod?: number;
  cpuShares?: number;
  pidsLimit?: number;
  /** --cpuset-cpus / --cpuset-mems, the kernel's list syntax ("0-1,3") */
  cpusetCpus?: string;
  cpusetMems?: string;
  /** --memory-reservation: a soft limit, bytes (v1 memory.soft_limit_in_bytes, v2 memory.low) */
  memoryReservation?: number;
  /** device-cgroup rules allowed beyond docker's defaults (--device), v1 syntax "c 10:229 rwm" */
  deviceRules?: string[];
  /** an OCI spec that allows every device: no device cgroup rules at all */
  allDevices?: boolean;
  /** raw cgroup files beyond the above (OCI blockIO, hugepageLimits, unified, swappiness…): written to
   * the hierarchy holding `controller` (v1) or the unified directory (v2, controller ignored) */
  files?: { controller: string; file: string; value: string }[];
}

export interface ContainerSpec {
  id: string;
  hostname: string;
  /** rootfs mounts from the snapshot driver (overlay or bind), mounted at "/" */
  rootfs: Mount[];
  readonlyRootfs: boolean;
  /** user mounts (binds, tmpfs, generated /etc/hosts …) with container-absolute targets */
  mounts: Mount[];
  process: ProcessSpec;
  namespaces: {
    net: NamespaceMode;
    ipc: NamespaceMode;
    uts: NamespaceMode;
    pid: NamespaceMode;
    /** default "new" (docker's containers always get their own cgroup namespace here) */
    cgroup?: NamespaceMode;
    /** default "host"; "new" needs oci.uidMappings/gidMappings */
    user?: NamespaceMode;
  };
  /** cgroup path relative to each hierarchy's root, e.g. "berth/<id>" */
  cgroupPath: string;
  resources: ResourceSpec;
  privileged: boolean;
  maskedPaths: string[];
  readonlyPaths: string[];
  /** --device: host device nodes bound into the container's /dev (the cgroup rule is in resources) */
  devices?: { source: string; target: string }[];
  /** --sysctl: written under the container's own /proc/sys (namespaced keys only; the engine checks) */
  sysctls?: Record<string, string>;
  /** --shm-size: bytes of the /dev/shm tmpfs (default 64 MiB) */
  shmSize?: number;
  /** set by the OCI runtime (engine/oci-runtime): the docker path leaves it out */
  oci?: OciOptions;
}

/**
 * What an OCI bundle asks for beyond docker's containers. With it, `mounts` is the spec's whole list
 * (proc, /dev, devpts, sysfs, cgroup… included), applied in order as runc does, and the process parks
 * before execve until the exec fifo is opened (`start`).
 */
export interface OciOptions {
  /** host path of <root>/<id>/exec.fifo */
  execFifo: string;
  /** fds 3..3+n-1 of the runtime reach the container (--preserve-fds) */
  preserveFds: number;
  uidMappings: IdMapping[];
  gidMappings: IdMapping[];
  /** linux.devices: created with mknod (bound from the host path in a user namespace) */
  devices: OciDevice[];
  /** "shared" | "slave" | "private" | "unbindable" (r-prefixed too), applied to "/" after pivot_root */
  rootfsPropagation?: string;
  /** written to /proc/<pid>/oom_score_adj while the child waits */
  oomScoreAdj?: number;
}

export interface IdMapping {
  containerID: number;
  hostID: number;
  size: number;
}

export interface OciDevice {
  path: string;
  type: "c" | "b" | "u" | "p";
  major: number;
  minor: number;
  fileMode?: number;
  uid?: number;
  gid?: number;
}

export interface Stdio {
  /** fds handed to the container as 0, 1, 2 (a pty slave for all three when process.terminal) */
  stdin: number;
  stdout: number;
  stderr: number;
  /** with process.terminal: where the slave comes from (openConsole()): the detached devpts mount the
   * runtime attaches at the container's /dev/pts, and the slave's name there */
  devpts?: { mountFd: number; name: string };
}

export interface ExitInfo {
  /** docker's convention: the exit code, or 128+signal */
  exitCode: number;
  signal?: number;
  oomKilled: boolean;
  /** oomKilled was read from the container's cgroup after the exit: no need to read it again */
  oomRead?: boolean;
}

export interface RunningContainer {
  /** host pid of the container's PID 1 */
  pid: number;
  /** /proc/<pid>/stat field 22, to re-identify the pid later (pid reuse) */
  startTime: string;
  /** resolves once PID 1 is reaped; only valid in the process that spawned it */
  wait(): Promise<ExitInfo>;
}
