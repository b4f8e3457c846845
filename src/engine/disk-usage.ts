/**
 * `system df -v`: disk usage object by object, as docker's daemon reports it for the verbose tables:
 * images with their shared and unique sizes (a layer is shared when more than one image has it),
 * containers with their writable layer's size and local volume count, volumes with the containers
 * that use them, and the build cache's entries.
 */
import { join } from "node:path";
import type { Digest } from "../oci/index.ts";
import type { ContainerInfo } from "./containers/index.ts";
import { toSummary } from "./containers/summary.ts";
import type { ContainerSummary } from "./api/views.ts";
import { chainIds } from "./images.ts";
import type { ImageStore } from "../image/index.ts";
import type { SystemParts } from "./system.ts";

export interface ImageUsage {
  id: Digest;
  /** familiar "repo:tag" names (no digests) */
  tags: string[];
  created: string;
  size: number;
  /** bytes of layers another image has too */
  shared: number;
  containers: number;
}

export interface ContainerUsage {
  info: ContainerInfo;
  /** the row ps shows for it (docker's Container in the system df response) */
  summary: ContainerSummary;
  /** the writable layer */
  size: number;
  /** mounts of (local) volumes */
  localVolumes: number;
}

export interface VolumeUsage {
  name: string;
  /** containers that use it */
  links: number;
  size: number;
}

export interface BuildCacheUsage {
  id: Digest;
  size: number;
  created: string;
  lastUsed: Date;
  /** cache keys naming it */
  keys: number;
  inUse: boolean;
}

export interface VerboseDiskUsage {
  images: ImageUsage[];
  /** every layer's size once, however many images have it (docker's LayersSize, `system df`'s Images SIZE) */
  layersSize: number;
  containers: ContainerUsage[];
  volumes: VolumeUsage[];
  buildCache: BuildCacheUsage[];
}

export async function verboseDiskUsage(engine: SystemParts & { readonly imageStore: ImageStore }): Promise<VerboseDiskUsage> {
  const { images, layersSize } = await imageUsage(engine);

  const containers: ContainerUsage[] = [];
  for (const info of engine.containers.list(true)) {
    let size = 0;
    try {
      size = (await engine.snapshots.usage(info.cfg.Berth.SnapshotKey)).apparent; // docker's SizeRw
    } catch {
      // a container whose snapshot is gone (being removed): nothing on disk, as `system df` counts it
    }
    containers.push({ info, summary: toSummary(engine.containers, info), size, localVolumes: info.cfg.Mounts.filter((m) => m.Type === "volume").length });
  }

  const users = engine.containers.volumeUsers();
  const volumes = engine.containers.volumes
    .list()
    .map((v) => ({ name: v.Name, links: (users.get(v.Name) ?? []).length, size: engine.containers.volumes.size(v.Name) }));

  const { BuildSupport } = await import("./build.ts");
  const buildCache = await new BuildSupport(engine.images, engine.containers, join(engine.root, "builder")).cacheEntries();
  return { images, layersSize, containers, volumes, buildCache };
}

/** the images with their shared sizes, and the size of all their layers counted once */
export async function imageUsage(engine: SystemParts & { readonly imageStore: ImageStore }): Promise<{ images: ImageUsage[]; layersSize: number }> {
  const list = await engine.images.list();
  // each layer's size once, and how many images have it
  const chainSize = new Map<string, number>();
  const chainUsers = new Map<string, number>();
  const chainsOf = new Map<Digest, string[]>();
  for (const img of list) {
    const chains = chainIds(engine.imageStore.config(img.id).rootfs?.diff_ids ?? []);
    chainsOf.set(img.id, chains);
    for (const c of new Set(chains)) {
      chainUsers.set(c, (chainUsers.get(c) ?? 0) + 1);
      if (chainSize.has(c)) continue;
      let size = 0;
      try {
        const info = await engine.snapshots.stat(c);
        size = info.labels?.["berth.size"] !== undefined ? Number(info.labels["berth.size"]) : (await engine.snapshots.usage(c)).size;
      } catch {
        // a missing snapshot (damaged store: `system check` says so) counts as empty, as images.list does
      }
      chainSize.set(c, size);
    }
  }
  const images = list.map((img) => ({
    id: img.id,
    tags: img.names.filter((n) => !n.includes("@")),
    created: img.created,
    size: img.size,
    shared: (chainsOf.get(img.id) ?? []).filter((c) => (chainUsers.get(c) ?? 0) > 1).reduce((a, c) => a + (chainSize.get(c) ?? 0), 0),
    containers: img.containers,
  }));
  return { images, layersSize: [...chainSize.values()].reduce((a, n) => a + n, 0) };
}
