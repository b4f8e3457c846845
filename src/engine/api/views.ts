/**
 * The Engine API's container views (swagger `ContainerSummary`, `ContainerInspectResponse`): what
 * `GET /containers/json` and `GET /containers/{id}/json` return, and what `berth ps` / `inspect` render.
 */
import type { DockerConfig, DockerHostConfig, EndpointSettings, MountPoint } from "../containers/types.ts";
import type { Filters } from "../filters.ts";

/** one published or exposed port (swagger `Port`); `PublicPort`/`IP` only when published */
export interface Port {
  IP?: string;
  PrivatePort: number;
  PublicPort?: number;
  Type: "tcp" | "udp" | "sctp";
}

/** `GET /containers/json`'s query */
export interface ContainerListOptions {
  /** every container, not only running ones (docker's `all`) */
  all?: boolean;
  /** the N most recently created, in any state (ps -n/-l); undefined: no limit */
  limit?: number;
  /** fill SizeRw and SizeRootFs (ps -s) */
  size?: boolean;
  /**
   * docker's keys: id, name, label, status, exited, health, ancestor, before, since, network.
   * status, exited, before and since include stopped containers, as under docker.
   */
  filters?: Filters;
}

/** swagger `ContainerSummary` */
export interface ContainerSummary {
  Id: string;
  /** "/name" */
  Names: string[];
  /** the image as the user gave it (or its ID) */
  Image: string;
  ImageID: string;
  /** the daemon's join of path and args; an argument with a space is quoted: sh -c 'exit 2' */
  Command: string;
  /** unix seconds */
  Created: number;
  Ports: Port[];
  SizeRw?: number;
  SizeRootFs?: number;
  Labels: Record<string, string>;
  /** created, running, paused, exited (docker's State.Status) */
  State: string;
  /** "Up 2 seconds", "Exited (0) 3 seconds ago" */
  Status: string;
  HostConfig: { NetworkMode: string };
  /** per network, docker's EndpointSettings (inspect's NetworkSettings.Networks entries) */
  NetworkSettings: { Networks: Record<string, EndpointSettings & Record<string, unknown>> };
  Mounts: MountPoint[];
}

/** swagger `ContainerState` */
export interface ContainerStateView {
  Status: string;
  Running: boolean;
  Paused: boolean;
  Restarting: boolean;
  OOMKilled: boolean;
  Dead: boolean;
  Pid: number;
  ExitCode: number;
  Error: string;
  StartedAt: string;
  FinishedAt: string;
  Health?: unknown;
}

/** swagger `ContainerInspectResponse`, the fields berth fills (keys in docker's order) */
export interface ContainerInspect {
  Id: string;
  Created: string;
  Path: string;
  Args: string[];
  State: ContainerStateView;
  Image: string;
  ResolvConfPath: string;
  HostnamePath: string;
  HostsPath: string;
  LogPath: string;
  Name: string;
  RestartCount: number;
  Driver: string;
  Platform: string;
  MountLabel: string;
  ProcessLabel: string;
  AppArmorProfile: string;
  ExecIDs: string[] | null;
  HostConfig: DockerHostConfig;
  GraphDriver: { Data: Record<string, string> | null; Name: string };
  /** with `size` */
  SizeRw?: number;
  SizeRootFs?: number;
  Mounts: MountPoint[];
  Config: DockerConfig;
  NetworkSettings: Record<string, unknown>;
}
