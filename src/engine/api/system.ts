/** The Engine API's system views: `GET /info` (SystemInfo), `GET /version` (SystemVersion), `GET /system/df` */
import type { ContainerSummary } from "./views.ts";
import type { ImageSummary } from "./images.ts";
import type { Volume } from "./volumes.ts";

/** docker's /info fields that mean something for berth (names and types as the Engine API has them) */
export interface SystemInfo {
  ID: string;
  Containers: number;
  ContainersRunning: number;
  ContainersPaused: number;
  ContainersStopped: number;
  Images: number;
  Driver: string;
  DriverStatus: [string, string][];
  Plugins: { Volume: string[]; Network: string[]; Log: string[] };
  MemoryLimit: boolean;
  SwapLimit: boolean;
  /** `run --oom-kill-disable` can be honoured (cgroup v1's memory.oom_control) */
  OomKillDisable: boolean;
  CpuCfsPeriod: boolean;
  CpuCfsQuota: boolean;
  CPUShares: boolean;
  CPUSet: boolean;
  PidsLimit: boolean;
  IPv4Forwarding: boolean;
  Debug: boolean;
  SystemTime: string;
  LoggingDriver: string;
  CgroupDriver: string;
  CgroupVersion: string;
  KernelVersion: string;
  OperatingSystem: string;
  OSVersion: string;
  OSType: string;
  Architecture: string;
  NCPU: number;
  MemTotal: number;
  DockerRootDir: string;
  Name: string;
  Labels: string[];
  ExperimentalBuild: boolean;
  ServerVersion: string;
  ApiVersion: string;
  LiveRestoreEnabled: boolean;
  Warnings: string[] | null;
}

/** swagger `SystemVersion` */
export interface SystemVersion {
  Platform: { Name: string };
  Components: { Name: string; Version: string; Details: Record<string, string> }[];
  Version: string;
  ApiVersion: string;
  MinAPIVersion: string;
  Os: string;
  Arch: string;
  KernelVersion: string;
}

/** one row of `system df`'s summary (docker's CLI computes these from the usage below) */
export interface DiskUsageRow {
  type: "Images" | "Containers" | "Local Volumes" | "Build Cache";
  total: number;
  active: number;
  size: number;
  reclaimable: number;
}

/** swagger `BuildCache`, the fields berth fills */
export interface BuildCacheRecord {
  ID: string;
  Type: string;
  Description: string;
  InUse: boolean;
  Shared: boolean;
  Size: number;
  CreatedAt: string;
  LastUsedAt: string | null;
  UsageCount: number;
}

/** `GET /system/df` (swagger `SystemDataUsageResponse`) */
export interface DiskUsage {
  LayersSize: number;
  Images: ImageSummary[];
  Containers: ContainerSummary[];
  Volumes: Volume[];
  BuildCache: BuildCacheRecord[];
}
