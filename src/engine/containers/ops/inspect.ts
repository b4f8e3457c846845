/**
 * `ps` and `inspect`: the containers, with their refreshed state; docker's inspect document and ps's
 * PORTS column (façade methods today; presentation moves to the CLI), and the reverse indexes other
 * parts of the engine ask for (snapshot keys, image and volume users).
 */
import { dockerStatus, isActive, listedMounts, type DockerHostConfig } from "../types.ts";
import * as netw from "../networking.ts";
import { EngineError } from "../../../lib/errors.ts";
import { NoSuchContainer } from "../store.ts";
import type { ContainerDeps } from "./deps.ts";
import { ports } from "./network.ts";
import { info, type ContainerInfo } from "./state.ts";

/** each container's config, skipping one removed while we read */
function* configs(d: ContainerDeps) {
  for (const id of d.store.ids()) {
    try {
      yield d.store.readConfig(id);
    } catch (e) {
      if (!(e instanceof NoSuchContainer)) throw e; // removed meanwhile: not a user any more
    }
  }
}

/** `ps` (-a: all, else running, paused and restarting), newest first */
export function list(d: ContainerDeps, all: boolean): ContainerInfo[] {
  const out: ContainerInfo[] = [];
  for (const id of d.store.ids()) {
    try {
      const i = info(d, id);
      if (all || isActive(i.state.Status) || i.state.Restarting) out.push(i);
    } catch (e) {
      if (!(e instanceof EngineError)) throw e;
      if (!(e instanceof NoSuchContainer)) d.log.warn(e.message); // a damaged record: skipped, `system check` names it
    }
  }
  return out.sort((a, b) => (a.cfg.Created < b.cfg.Created ? 1 : -1));
}

/** snapshot keys owned by containers (for `system check` / GC) */
export function snapshotKeys(d: ContainerDeps): Set<string> {
  const keys = new Set<string>();
  for (const cfg of configs(d)) keys.add(cfg.Berth.SnapshotKey);
  return keys;
}

/** image id → ids of the containers created from it (for rmi's "image is being used" and df) */
export function imageUsers(d: ContainerDeps): Map<string, string[]> {
  const m = new Map<string, string[]>();
  for (const cfg of configs(d)) m.set(cfg.Image, [...(m.get(cfg.Image) ?? []), cfg.Id]);
  return m;
}

/** volume name → ids of the containers whose record mounts it */
export function volumeUsers(d: ContainerDeps): Map<string, string[]> {
  const m = new Map<string, string[]>();
  for (const cfg of configs(d)) {
    for (const mp of cfg.Mounts) {
      if (mp.Type === "volume" && mp.Name) m.set(mp.Name, [...(m.get(mp.Name) ?? []), cfg.Id]);
    }
  }
  return m;
}

/** Go's time.RFC3339Nano, as dockerd prints a time.Time: the fraction without its trailing zeros */
export const rfc3339Nano = (t: string) => t.replace(/(\.\d*?)0+Z$/, (_, f: string) => (f === "." ? "Z" : `${f}Z`));

/** docker's `inspect` document of a container */
export function inspectJson(d: ContainerDeps, i: ContainerInfo): Record<string, unknown> {
  const { cfg, state: st } = i;
  const status = dockerStatus(st.Status);
  return {
    Id: cfg.Id,
    Created: rfc3339Nano(cfg.Created),
    Path: cfg.Path,
    Args: cfg.Args,
    State: {
      Status: st.Restarting ? "restarting" : status,
      // dockerd's SetRestarting keeps Running true through the restart back-off
      Running: status === "running" || status === "paused" || !!st.Restarting,
      Paused: status === "paused",
      Restarting: !!st.Restarting,
      OOMKilled: st.OOMKilled,
      Dead: false,
      Pid: st.Pid,
      ExitCode: st.ExitCode,
      Error: st.Error,
      StartedAt: rfc3339Nano(st.StartedAt),
      FinishedAt: rfc3339Nano(st.FinishedAt),
      ...(st.Health ? { Health: st.Health } : {}),
    },
    Image: cfg.Image,
    ResolvConfPath: cfg.ResolvConfPath,
    HostnamePath: cfg.HostnamePath,
    HostsPath: cfg.HostsPath,
    LogPath: cfg.LogPath,
    Name: cfg.Name,
    RestartCount: st.RestartCount,
    Driver: cfg.Driver,
    Platform: cfg.Platform,
    MountLabel: "",
    ProcessLabel: "",
    AppArmorProfile: "",
    ExecIDs: null,
    HostConfig: dockerHostConfig(cfg.HostConfig),
    GraphDriver: { Data: null, Name: cfg.Driver },
    Mounts: listedMounts(cfg),
    Config: cfg.Config,
    NetworkSettings: netw.networkSettings(d.networks, cfg, isActive(st.Status), st.Pid),
  };
}

/**
 * the record's HostConfig with every field docker's inspect always prints, in docker's order (moby
 * api/types/container HostConfig and Resources), so `inspect -f '{{.HostConfig.CpuQuota}}'` reads 0 as
 * from dockerd instead of "<no value>" (and the docker CLI's "map has no entry for key"). A field the
 * record holds keeps its value; the rest are docker's defaults for what berth does not set. Optional
 * fields docker leaves out when empty (Tmpfs, Sysctls, Mounts, Init) stay out when the record has none.
 */
export function dockerHostConfig(h: DockerHostConfig): Record<string, unknown> {
  const rec = h as unknown as Record<string, unknown>;
  const defaults: [string, unknown][] = [
    ["Binds", null],
    ["ContainerIDFile", ""],
    ["LogConfig", { Type: "json-file", Config: {} }],
    ["NetworkMode", "bridge"],
    ["PortBindings", {}],
    ["RestartPolicy", { Name: "no", MaximumRetryCount: 0 }],
    ["AutoRemove", false],
    ["VolumeDriver", ""],
    ["VolumesFrom", null],
    ["ConsoleSize", [0, 0]],
    ["CapAdd", null],
    ["CapDrop", null],
    // a berth container has its own cgroup namespace (runtime/spawn) unless --cgroupns host, on v1 as on v2
    ["CgroupnsMode", "private"],
    ["Dns", []],
    ["DnsOptions", []],
    ["DnsSearch", []],
    ["ExtraHosts", null],
    ["GroupAdd", null],
    ["IpcMode", "private"],
    ["Cgroup", ""],
    ["Links", null],
    ["OomScoreAdj", 0],
    ["PidMode", ""],
    ["Privileged", false],
    ["PublishAllPorts", false],
    ["ReadonlyRootfs", false],
    ["SecurityOpt", null],
    ["Tmpfs", undefined],
    ["UTSMode", ""],
    ["UsernsMode", ""],
    ["ShmSize", 67108864],
    ["Sysctls", undefined],
    ["Runtime", "berth"],
    ["Isolation", ""],
    ["CpuShares", 0],
    ["Memory", 0],
    ["NanoCpus", 0],
    ["CgroupParent", ""],
    ["BlkioWeight", 0],
    ["BlkioWeightDevice", null],
    ["BlkioDeviceReadBps", null],
    ["BlkioDeviceWriteBps", null],
    ["BlkioDeviceReadIOps", null],
    ["BlkioDeviceWriteIOps", null],
    ["CpuPeriod", 0],
    ["CpuQuota", 0],
    ["CpuRealtimePeriod", 0],
    ["CpuRealtimeRuntime", 0],
    ["CpusetCpus", ""],
    ["CpusetMems", ""],
    ["Devices", null],
    ["DeviceCgroupRules", null],
    ["DeviceRequests", null],
    ["MemoryReservation", 0],
    ["MemorySwap", 0],
    ["MemorySwappiness", null],
    ["OomKillDisable", false],
    ["PidsLimit", null],
    ["Ulimits", null],
    ["CpuCount", 0],
    ["CpuPercent", 0],
    ["IOMaximumIOps", 0],
    ["IOMaximumBandwidth", 0],
    ["Mounts", undefined],
    ["MaskedPaths", null],
    ["ReadonlyPaths", null],
    ["Init", undefined],
  ];
  const out: Record<string, unknown> = {};
  for (const [k, dflt] of defaults) {
    const v = rec[k] !== undefined ? rec[k] : dflt;
    if (v !== undefined) out[k] = v;
  }
  // anything else the record holds, after docker's fields
  for (const [k, v] of Object.entries(rec)) if (!(k in out) && v !== undefined) out[k] = v;
  return out;
}
