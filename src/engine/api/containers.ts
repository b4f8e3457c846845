/**
 * The Docker Engine API's container create and update shapes, with the swagger's names
 * (https://docs.docker.com/reference/api/engine/ definitions ContainerConfig, HostConfig, Resources,
 * Mount, NetworkingConfig, EndpointSettings, ContainerCreateResponse, ContainerUpdateResponse): what a
 * client hands the engine. The CLI turns docker's flags into them (commands/_container-opts.ts, as
 * docker/cli's opts.go does); a daemon would decode the same objects from `POST /containers/create` and
 * `POST /containers/{id}/update`.
 *
 * Every field is optional, as in the API: an absent field gets dockerd's default when the engine merges
 * the request with the image (engine/containers/create-config.ts). The record a container keeps
 * (engine/containers/types.ts) is the filled-in form of the same objects, so the request types are built
 * from the record's.
 */
import type { ApiMount, DockerConfig, DockerHostConfig } from "../containers/types.ts";

/** a `Config` as a client sends it (swagger ContainerConfig) */
export type ContainerConfig = Partial<DockerConfig>;

/** API `Mount` (swagger Mount): one `--mount`, before the engine checks and records it */
export type { ApiMount as Mount } from "../containers/types.ts";

/** the API's `Resources` (the part of HostConfig that `update` may change too) */
export type Resources = Partial<
  Pick<
    DockerHostConfig,
    "Memory" | "MemorySwap" | "MemoryReservation" | "NanoCpus" | "CpuShares" | "CpusetCpus" | "CpusetMems" | "PidsLimit" | "Ulimits" | "Devices"
  >
> & {
  /** CFS period and quota (µs), recorded and written to the cgroup as given (docker's CPUPeriod, CPUQuota) */
  CpuPeriod?: number;
  CpuQuota?: number;
};

/** a `HostConfig` as a client sends it (swagger HostConfig) */
export type HostConfig = Partial<Omit<DockerHostConfig, keyof Resources>> &
  Resources & {
    /** `--mount`: API Mount objects (the record keeps them as MountPoints) */
    Mounts?: ApiMount[] | null;
    /** `--volumes-from` (not supported by berth yet: a non-empty list is refused) */
    VolumesFrom?: string[] | null;
  };

/** one network's endpoint as a client asks for it (swagger EndpointSettings, the configurable half) */
export interface EndpointSettingsRequest {
  Aliases?: string[] | null;
  /** `--ip` */
  IPAMConfig?: { IPv4Address?: string } | null;
  /** `--mac-address` */
  MacAddress?: string;
  Links?: string[] | null;
}

/** swagger NetworkingConfig: the endpoint settings, by network name */
export interface NetworkingConfig {
  EndpointsConfig?: Record<string, EndpointSettingsRequest>;
}

/** the body of `POST /containers/create`: the Config's fields at the top level, plus HostConfig and NetworkingConfig */
export type ContainerCreateRequest = ContainerConfig & {
  HostConfig?: HostConfig;
  NetworkingConfig?: NetworkingConfig;
};

/** what the create request's query string carries: `?name=…&platform=…` */
export interface ContainerCreateOptions {
  name?: string;
  /** `--platform`: the image was pulled for it; the engine resolves the local image by reference */
  platform?: string;
  /**
   * engine-internal, no API field: the writable layer is never mounted again (a build's RUN step), so no
   * anonymous volumes for the image's VOLUMEs (BuildKit mounts none for RUN) and overlay may skip its sync
   */
  ephemeral?: boolean;
  /**
   * engine-internal, no API field: this process starts the container right after (a foreground `run`).
   * The runtime is readied first, so that its file-work thread takes over what the records written from
   * here on free on the disk (ffi/background.ts)
   */
  startsHere?: boolean;
}

/** swagger ContainerCreateResponse */
export interface ContainerCreateResponse {
  Id: string;
  Warnings: string[];
}

/** the body of `POST /containers/{id}/update`: a field present is a field changed */
export type ContainerUpdateRequest = Resources & {
  RestartPolicy?: DockerHostConfig["RestartPolicy"];
};

/** swagger ContainerUpdateResponse */
export interface ContainerUpdateResponse {
  Warnings: string[];
}
