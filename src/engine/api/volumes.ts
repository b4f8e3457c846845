/** The Engine API's volume document (swagger `Volume`) and list response */

/** swagger `Volume`, local driver (keys in the order berth stores them) */
export interface Volume {
  CreatedAt: string;
  Driver: "local";
  Labels: Record<string, string>;
  Mountpoint: string;
  Name: string;
  Options: Record<string, string>;
  Scope: "local";
  /** filled by list and df: RefCount is the number of containers that mount it; Size -1 when not computed */
  UsageData?: { Size: number; RefCount: number };
}

/** swagger `VolumeListResponse` */
export interface VolumeListResponse {
  Volumes: Volume[];
  Warnings: string[] | null;
}

/** swagger `VolumePruneResponse` */
export interface VolumePruneResponse {
  VolumesDeleted: string[];
  SpaceReclaimed: number;
}
