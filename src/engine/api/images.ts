/** The Engine API's image views (swagger `ImageSummary`, `ImageInspect`) and the image list query */
import type { Filters } from "../filters.ts";

/** `GET /images/json`'s query */
export interface ImageListOptions {
  /** intermediate images too (untagged parents of other images) */
  all?: boolean;
  /** docker's keys: dangling, reference, before, since, until, label */
  filters?: Filters;
  /** RepoDigests filled (they always are; kept for the API's shape) */
  digests?: boolean;
}

/** swagger `ImageSummary` */
export interface ImageSummary {
  Id: string;
  /** "" when the image has no local parent */
  ParentId: string;
  /** familiar "repo:tag"; with a reference filter only the matching ones */
  RepoTags: string[];
  /** familiar "repo@sha256:…" */
  RepoDigests: string[];
  /** unix seconds */
  Created: number;
  Size: number;
  /** -1: not computed */
  SharedSize: number;
  Labels: Record<string, string>;
  /** containers using the image */
  Containers: number;
}

/** swagger `ImageInspect`, the fields berth fills */
export interface ImageInspect {
  Id: string;
  RepoTags: string[];
  RepoDigests: string[];
  Parent: string;
  Comment: string;
  Created: string;
  Author: string;
  Config: Record<string, unknown>;
  Architecture: string;
  Variant?: string;
  Os: string;
  Size: number;
  GraphDriver: { Name: string; Data: Record<string, string> | null };
  RootFS: { Type: string; Layers: string[] };
  Metadata: { LastTagTime: string };
  Descriptor?: { mediaType: string; digest: string; size: number };
  [k: string]: unknown;
}
