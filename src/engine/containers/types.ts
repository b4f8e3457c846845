/**
 * The on-disk container record, shaped like docker's `inspect` JSON (moby api/types ContainerJSON) so a
 * later daemon serving the Docker Engine API can read and manage the very same containers.
 *
 *   <root>/containers/<64-hex id>/config.json   ContainerConfigFile (immutable after create, except Name)
 *   <root>/containers/<64-hex id>/state.json    ContainerStateFile  (rewritten tmp → fsync → rename)
 *   <root>/containers/<64-hex id>/<id>-json.log docker's json-file log
 *   <root>/containers/<64-hex id>/{hostname,hosts,resolv.conf}  bind-mounted into the container
 *   <root>/containers/names/<name>             a file holding the id (created with link(2): atomic, unique)
 */

/** docker's container Config (moby api/types/container.Config), the subset berth uses */
export interface DockerConfig {
  Hostname: string;
  Domainname: string;
  User: string;
  AttachStdin: boolean;
  AttachStdout: boolean;
  AttachStderr: boolean;
  Tty: boolean;
  OpenStdin: boolean;
  StdinOnce: boolean;
  Env: string[];
  Cmd: string[] | null;
  Image: string;
  Volumes: Record<string, object> | null;
  WorkingDir: string;
  Entrypoint: string[] | null;
  OnBuild: string[] | null;
  Labels: Record<string, string>;
  StopSignal?: string;
  StopTimeout?: number;
  /** the image's HEALTHCHECK with the --health-* flags over it */
  Healthcheck?: import("../../oci/index.ts").HealthConfig;
  /** "80/tcp" → {} (image EXPOSE, --expose, -p) */
  ExposedPorts?: Record<string, object>;
}

/** docker's HostConfig.PortBindings: "80/tcp" → [{HostIp, HostPort}] as requested ("" = any / random) */
export type PortBindingMap = Record<string, { HostIp: string; HostPort: string }[]>;

/** what a container asked of one network (docker's EndpointSettings, the configured half) */
export interface EndpointSettings {
  Aliases: string[] | null;
  /** --ip ("" = allocate) */
  IPAddress: string;
  /** --mac-address ("" = derived from the address) */
  MacAddress: string;
}

/** docker's HostConfig, the subset berth uses */
export interface DockerHostConfig {
  Binds: string[] | null;
  /** --volumes-from, as given (CONTAINER[:ro|rw]) */
  VolumesFrom?: string[] | null;
  NetworkMode: string;
  RestartPolicy: { Name: string; MaximumRetryCount: number };
  AutoRemove: boolean;
  CapAdd: string[] | null;
  CapDrop: string[] | null;
  Dns: string[];
  DnsOptions: string[];
  DnsSearch: string[];
  ExtraHosts: string[] | null;
  Privileged: boolean;
  ReadonlyRootfs: boolean;
  SecurityOpt: string[] | null;
  Tmpfs?: Record<string, string>;
  Memory: number;
  MemorySwap: number;
  NanoCpus: number;
  /** --cpu-quota / --cpu-period (µs) as given; 0 when not */
  CpuQuota?: number;
  CpuPeriod?: number;
  CpuShares: number;
  PidsLimit: number | null;
  Init: boolean | null;
  GroupAdd: string[] | null;
  IpcMode: string;
  PidMode: string;
  UTSMode: string;
  /** --ulimit */
  Ulimits?: { Name: string; Soft: number; Hard: number }[] | null;
  /** --device */
  Devices?: { PathOnHost: string; PathInContainer: string; CgroupPermissions: string }[] | null;
  /** --shm-size, bytes (0: docker's 64 MiB) */
  ShmSize?: number;
  /** --sysctl */
  Sysctls?: Record<string, string>;
  CpusetCpus?: string;
  CpusetMems?: string;
  /** --memory-reservation, bytes */
  MemoryReservation?: number;
  /** --cgroupns: "private" (berth's default, on v1 as on v2) or "host" */
  CgroupnsMode?: string;
  /** --oom-score-adj, -1000…1000 */
  OomScoreAdj?: number;
  /** --oom-kill-disable; kept only where the host has the switch (cgroup v1's memory.oom_control) */
  OomKillDisable?: boolean;
  /** --blkio-weight, 10…1000; kept only where the host has the file (dockerd discards it with a warning) */
  BlkioWeight?: number;
  /** --mount as the client sent it (docker keeps the API's Mount objects) */
  Mounts?: ApiMount[];
  Runtime: string;
  LogConfig: { Type: string; Config: Record<string, string> };
  MaskedPaths: string[];
  ReadonlyPaths: string[];
  PortBindings?: PortBindingMap;
  PublishAllPorts?: boolean;
  /** --link, "name:alias" */
  Links?: string[] | null;
}

export interface MountPoint {
  Type: "bind" | "tmpfs" | "volume";
  /** volumes: the volume's name ("" in createConfig's output for an anonymous one, named at create) */
  Name?: string;
  /** volumes: the mountpoint (<root>/volumes/<name>/_data), filled in at create */
  Source: string;
  Destination: string;
  /** volumes: "local" */
  Driver?: string;
  Mode: string;
  RW: boolean;
  Propagation: string;
}

/** berth's own bookkeeping, next to docker's fields */
export interface BerthFields {
  /** active snapshot key of the container's writable layer */
  SnapshotKey: string;
  /** snapshot driver name */
  Snapshotter: string;
  /** cgroup path relative to each hierarchy's root */
  CgroupPath: string;
  /** mount options for --tmpfs, as given */
  Tmpfs: Record<string, string>;
  /** networks the container joins at start, primary (HostConfig.NetworkMode) first; `network connect`/`disconnect` edit it */
  Networks?: Record<string, EndpointSettings>;
  /** the writable layer is never mounted again after this run (a build's RUN step): overlay may skip
   * its sync on unmount (see ops/start.ts buildRuntimeSpec) */
  Ephemeral?: boolean;
}

export interface ContainerConfigFile {
  Id: string;
  Created: string;
  Path: string;
  Args: string[];
  /** docker's "/name" */
  Name: string;
  /** image ID (sha256:…) */
  Image: string;
  Driver: string;
  Platform: "linux";
  Config: DockerConfig;
  HostConfig: DockerHostConfig;
  Mounts: MountPoint[];
  HostnamePath: string;
  HostsPath: string;
  ResolvConfPath: string;
  LogPath: string;
  Berth: BerthFields;
}

/** OCI runtime statuses plus paused (STYLE §2); docker's words come from `dockerStatus()` */
export type ContainerStatus = "creating" | "created" | "running" | "stopped" | "paused";

export interface ContainerStateFile {
  Status: ContainerStatus;
  /** host pid of the container's PID 1, 0 when not running */
  Pid: number;
  /** /proc/<pid>/stat starttime: the pid is trusted only when it matches */
  StartTime: string;
  /** the process that supervises the container (monitor or foreground `run`) and its start time */
  MonitorPid: number;
  MonitorStartTime: string;
  StartedAt: string;
  FinishedAt: string;
  ExitCode: number;
  OOMKilled: boolean;
  Error: string;
  RestartCount: number;
  /** exited, and its monitor waits out the restart policy's back-off before starting it again */
  Restarting?: boolean;
  /** stopped or killed by the user: the restart policy does not bring it back until the next start */
  ManuallyStopped?: boolean;
  /**
   * paused for the duration of one operation (commit): the process that paused it and its start time.
   * The pause must not outlive that process: the next reader thaws a container whose pauser is dead.
   * Absent for a user's `berth pause`, which stays until `unpause`.
   */
  PausedBy?: { Pid: number; StartTime: string };
  /** with a health check: its state while running (docker's State.Health) */
  Health?: import("./health.ts").HealthState;
}

export const ZERO_TIME = "0001-01-01T00:00:00Z";

export function initialState(): ContainerStateFile {
  return {
    Status: "created",
    Pid: 0,
    StartTime: "",
    MonitorPid: 0,
    MonitorStartTime: "",
    StartedAt: ZERO_TIME,
    FinishedAt: ZERO_TIME,
    ExitCode: 0,
    OOMKilled: false,
    Error: "",
    RestartCount: 0,
  };
}

/** docker's State.Status word for an OCI status */
export function dockerStatus(s: ContainerStatus): "created" | "running" | "paused" | "exited" {
  switch (s) {
    case "creating":
    case "created":
      return "created";
    case "running":
      return "running";
    case "paused":
      return "paused";
    case "stopped":
      return "exited";
  }
}

/**
 * The lifecycle rules, in one table (youki's state.rs can_start/can_kill/can_delete/can_pause/can_resume):
 * which verb a status allows. Every op checks its verb here before it acts; the op raises docker's
 * message for a refusal. A container waiting out its restart policy's back-off is "stopped" with
 * Restarting set: stop/kill cancel the restart, rm wants force (ops/remove.ts, ops/stop.ts).
 *
 *   status    start stop kill pause unpause rm  rm -f exec attach top/stats(active)
 *   creating    -    -    -    -      -     y    y    -    -      -
 *   created     y    -    -    -      -     y    y    -    -      -
 *   running     -    y    y    y      -     -    y    y    y      y
 *   paused      -    y    y    -      y     -    y    -    -      y
 *   stopped     y    -    -    -      -     y    y    -    -      -
 *
 * stop of a container that is not running is a no-op (docker's too), so canStop says whether there is
 * anything to stop, not whether the verb fails.
 */
export const canStart = (s: ContainerStatus) => s === "created" || s === "stopped";
export const canStop = (s: ContainerStatus) => s === "running" || s === "paused";
export const canKill = (s: ContainerStatus) => s === "running" || s === "paused";
export const canPause = (s: ContainerStatus) => s === "running";
export const canUnpause = (s: ContainerStatus) => s === "paused";
export const canRemove = (s: ContainerStatus, force: boolean) => force || s === "created" || s === "stopped" || s === "creating";
export const canExec = (s: ContainerStatus) => s === "running";
export const canAttach = (s: ContainerStatus) => s === "running";
/** running or paused: it has processes (top, stats, cp into its live root, network connect now) */
export const isActive = (s: ContainerStatus) => s === "running" || s === "paused";

/**
 * The container's mount points as dockerd lists them (inspect's and ps's Mounts): the record's binds and
 * volumes, then each `--mount type=tmpfs` (moby's parseMountSpec keeps it as a MountPoint with no
 * source; `--tmpfs` is HostConfig.Tmpfs only and is not listed)
 */
export function listedMounts(cfg: { Mounts: MountPoint[]; HostConfig: { Mounts?: ApiMount[] } }): MountPoint[] {
  const tmpfs = (cfg.HostConfig.Mounts ?? []).filter((m) => m.Type === "tmpfs");
  if (!tmpfs.length) return cfg.Mounts;
  return [
    ...cfg.Mounts,
    ...tmpfs.map(
      (m): MountPoint => ({ Type: "tmpfs", Source: "", Destination: (m.Target ?? "").replace(/(.)\/+$/, "$1"), Mode: "", RW: !m.ReadOnly, Propagation: "" }),
    ),
  ];
}

/** one `--mount` as the API carries it (HostConfig.Mounts; moby api/types/mount.Mount) */
export interface ApiMount {
  Type: "bind" | "volume" | "tmpfs";
  /** bind: an absolute host path; volume: a name ("" or absent: a new anonymous volume) */
  Source?: string;
  /** the path in the container */
  Target: string;
  ReadOnly?: boolean;
  /** docker's "consistency" (kept, no meaning on Linux) */
  Consistency?: string;
  BindOptions?: { Propagation?: "private" | "rprivate" | "shared" | "rshared" | "slave" | "rslave" };
  VolumeOptions?: { NoCopy?: boolean; Labels?: Record<string, string>; DriverConfig?: { Name?: string; Options?: Record<string, string> } };
  /** SizeBytes 0: the kernel's default; Mode: the permission bits (0o1777 when absent) */
  TmpfsOptions?: { SizeBytes?: number; Mode?: number };
}
