/**
 * Snapshot → image: the one path by which a filesystem change becomes a layer (`berth commit`, and each
 * filesystem step of a build).
 *
 * `commitLayer` takes an active snapshot prepared on top of an image's top layer (or on nothing) and
 *  1. streams the snapshot's diff (driver.diff: OCI whiteouts) through the tar writer, hashing the tar
 *     (the diffID) and gzip-compressing it into a content-store ingest — the blob is what a registry
 *     would get, as `import` stores it (compression "none" keeps it a plain tar);
 *  2. commits the blob under a lease, then unpacks it onto the parent chain snapshot and commits that as
 *     the new chain ID (the same routine pull and load use, which re-checks the diffID), so the layer
 *     the image names is exactly the bytes in the store, like docker's ApplyDiff of the committed tar;
 *  3. writes config (parent's config + the caller's config, rootfs.diff_ids and history appended) and
 *     an OCI manifest (parent's layers + the new one), the image record, and the tag.
 * The active snapshot is left alone (a container keeps running on it; a build removes it itself).
 * Until step 3 nothing is visible; on failure the ImageAssembly (assembly.ts) removes the new chain
 * snapshot, drops the lease and collects the staged blob, so `system check` stays clean.
 *
 * With `layer: false` no blob or snapshot is made and history gets `empty_layer: true` (docker's
 * metadata-only build steps: ENV, LABEL, CMD, …).
 */
import { EngineError, wrap } from "../lib/errors.ts";
import {
  hostPlatform,
  MediaType,
  type ContainerConfig,
  type Descriptor,
  type Digest,
  type HistoryEntry,
  type ImageConfig,
  type Manifest,
} from "../oci/index.ts";
import { compressStream, tarStream } from "../tar/index.ts";
import { applyChanges } from "./changes.ts";
import { withoutInitPaths } from "./init-paths.ts";
import { chainIds, type ImageService } from "./images.ts";
import { ImageAssembly, tapChunks } from "./assembly.ts";
import { nowNano } from "./containers/logs.ts";
import type { ContainerService } from "./containers/index.ts";

export interface CommitLayerOptions {
  /** active snapshot whose changes against its parent become the layer */
  key: string;
  /** image the snapshot was prepared from (its top chain ID must be the snapshot's parent); none = scratch */
  base?: Digest;
  /** the new image's runtime config (replaces the base's `config` whole); default: the base's */
  config?: ContainerConfig;
  /** the history entry for this step; `created` defaults to now */
  history?: HistoryEntry;
  /** image author (docker commit -a) */
  author?: string;
  /** false: config/history only, no layer (history empty_layer) */
  layer?: boolean;
  /** layer blob compression, default gzip */
  compression?: "gzip" | "none";
  /** tag the result (repo[:tag]) */
  ref?: string;
  /** progress of the diff stream, in uncompressed tar bytes */
  onProgress?: (tarBytes: number) => void;
  /**
   * one commit of many (a build's steps): skip the dead-process recovery before and the GC after a
   * success, which walk every snapshot and image record (a per-step cost growing with the store); the
   * caller recovers once. A failure still collects what it staged.
   */
  batch?: boolean;
}

export interface CommitLayerResult {
  /** image ID (config digest) */
  id: Digest;
  /** the new layer, absent with layer: false */
  layer?: { diffId: Digest; digest: Digest; size: number; chain: string; tarSize: number };
}

/** docker schema2 layer types as their OCI twins (same bytes, same digest) so one OCI manifest can list them */
function ociLayerType(mediaType: string): string {
  switch (mediaType) {
    case MediaType.DockerLayerGzip:
      return MediaType.OciLayerGzip;
    case "application/vnd.docker.image.rootfs.diff.tar":
      return MediaType.OciLayer;
    case "application/vnd.docker.image.rootfs.diff.tar.zstd":
      return MediaType.OciLayerZstd;
    default:
      return mediaType;
  }
}

/** snapshot changes → layer blob + chain snapshot + image; see the module comment */
export async function commitLayer(images: ImageService, opts: CommitLayerOptions): Promise<CommitLayerResult> {
  // dockerd's time.Now() in the config: RFC3339Nano, its fraction without trailing zeros (it was milliseconds)
  const now = nowNano().replace(/(\.\d*?)0+Z$/, (_, f: string) => (f === "." ? "Z" : `${f}Z`));
  let baseConfig: ImageConfig | undefined;
  let baseLayers: Descriptor[] = [];
  if (opts.base) {
    const rec = images.store.resolve(opts.base);
    baseConfig = images.store.config(rec.id);
    baseLayers = images.content
      .readJson<Manifest>(rec.manifest.digest)
      .layers.map((l) => ({ mediaType: ociLayerType(l.mediaType), digest: l.digest, size: l.size }));
  }
  const baseDiffIds = baseConfig?.rootfs?.diff_ids ?? [];
  const parentChain = chainIds(baseDiffIds).at(-1);
  const withLayer = opts.layer !== false;
  if (withLayer) {
    const info = await images.snapshots.stat(opts.key);
    if (info.kind !== "active") throw new EngineError("failed_precondition", `commit snapshot ${opts.key}: not an active snapshot`);
    if ((info.parent ?? undefined) !== parentChain) {
      throw new EngineError(
        "failed_precondition",
        `commit snapshot ${opts.key}: its parent ${info.parent ?? "(none)"} is not the top layer of image ${opts.base ?? "scratch"}`,
      );
    }
  }

  return new ImageAssembly(images, "commit", { batch: opts.batch }).run(async (asm) => {
    const lease = asm.lease;
    let layer: CommitLayerResult["layer"];
    if (withLayer) {
      const writer = await images.content.writer(`commit-${process.pid}-${crypto.randomUUID()}`);
      let blob;
      const h = new Bun.CryptoHasher("sha256");
      let tarSize = 0;
      try {
        // the engine's mount points (hostname, hosts, /proc, …) are not the container's changes
        const tar = tapChunks(tarStream(withoutInitPaths(images.snapshots.diff(opts.key))) as unknown as AsyncIterable<Uint8Array>, (c) => {
          h.update(c);
          tarSize += c.length;
          opts.onProgress?.(tarSize);
        });
        const out = opts.compression === "none" ? tar : (compressStream(tar, "gzip") as unknown as AsyncIterable<Uint8Array>);
        for await (const c of out) writer.write(c);
        blob = await writer.commit({ lease });
      } catch (e) {
        if (!writer.closed) writer.abort();
        throw e;
      }
      const diffId = `sha256:${h.digest("hex")}` as Digest;
      const chain = chainIds([...baseDiffIds, diffId]).at(-1)!;
      await asm.applyStored(blob.digest, parentChain, diffId, chain);
      layer = { diffId, digest: blob.digest, size: blob.size, chain, tarSize };
    }

    const history: HistoryEntry = { created: now, ...opts.history, ...(withLayer ? {} : { empty_layer: true }) };
    if (opts.author && history.author === undefined) history.author = opts.author;
    const config: ImageConfig = {
      ...(baseConfig ?? hostPlatform()),
      created: history.created ?? now,
      config: structuredClone(opts.config ?? baseConfig?.config ?? {}),
      rootfs: { type: "layers", diff_ids: layer ? [...baseDiffIds, layer.diffId] : [...baseDiffIds] },
      history: [...(baseConfig?.history ?? []), history],
    };
    if (opts.author) config.author = opts.author;
    else delete config.author;
    delete config.comment;
    const layers = layer
      ? [...baseLayers, { mediaType: opts.compression === "none" ? MediaType.OciLayer : MediaType.OciLayerGzip, digest: layer.digest, size: layer.size }]
      : baseLayers;
    const id = await images.storeImage(config, layers, { ref: opts.ref, lease, ...(opts.base ? { parent: images.store.resolve(opts.base).id } : {}) });
    return { id, ...(layer ? { layer } : {}) };
  });
}

export interface CommitContainerOptions {
  /** repository[:tag] for the new image */
  ref?: string;
  /** -m: the history comment */
  message?: string;
  /** -a */
  author?: string;
  /** -c: Dockerfile instructions applied to the config (CMD, ENV, ENTRYPOINT, WORKDIR, USER, EXPOSE, LABEL, …) */
  changes?: string[];
  /** freeze a running container while its diff is read (docker's default -p=true) */
  pause?: boolean;
  /** `POST /commit`'s body: config fields set over the container's, before `changes` */
  config?: ContainerConfig;
}

/** the parts of a container's docker config that belong in an image config */
function imageConfigOf(c: import("./containers/index.ts").ContainerConfigFile["Config"], base: ContainerConfig | undefined): ContainerConfig {
  const out: ContainerConfig = { ...base };
  if (c.User) out.User = c.User;
  if (c.Env?.length) out.Env = [...c.Env];
  if (c.Cmd !== undefined) out.Cmd = c.Cmd;
  if (c.Entrypoint !== undefined) out.Entrypoint = c.Entrypoint;
  if (c.WorkingDir) out.WorkingDir = c.WorkingDir;
  if (c.Volumes) out.Volumes = c.Volumes;
  if (c.Labels && Object.keys(c.Labels).length) out.Labels = { ...c.Labels };
  if (c.OnBuild) out.OnBuild = c.OnBuild;
  if (c.StopSignal) out.StopSignal = c.StopSignal;
  const exposed = (c as { ExposedPorts?: Record<string, object> }).ExposedPorts;
  if (exposed) out.ExposedPorts = exposed;
  for (const k of Object.keys(out) as (keyof ContainerConfig)[]) if (out[k] === null) delete out[k];
  return out;
}

/** `berth commit`: a container's changes as a new image on top of the one it was created from */
export async function commitContainer(images: ImageService, containers: ContainerService, ref: string, opts: CommitContainerOptions = {}): Promise<Digest> {
  const id = containers.resolve(ref);
  try {
    const { cfg, state } = containers.info(id);
    const baseCfg = images.store.config(cfg.Image as Digest);
    const given = Object.fromEntries(Object.entries(opts.config ?? {}).filter(([, v]) => v !== null && v !== undefined));
    const config = applyChanges({ ...imageConfigOf(cfg.Config, baseCfg.config), ...given }, opts.changes ?? []);
    let paused = false;
    if (opts.pause !== false && state.Status === "running") {
      containers.pause(id, { transient: true });
      paused = true;
    }
    try {
      const res = await commitLayer(images, {
        key: cfg.Berth.SnapshotKey,
        base: cfg.Image as Digest,
        config,
        author: opts.author,
        history: { created_by: [cfg.Path, ...cfg.Args].join(" "), ...(opts.message ? { comment: opts.message } : {}) },
        ref: opts.ref,
      });
      // dockerd's "commit" event: the message, the new image's id and the name it was given
      const tagged = opts.ref && !/[:@][^/]*$/.test(opts.ref) ? `${opts.ref}:latest` : (opts.ref ?? "");
      containers.event(id, "commit", { comment: opts.message ?? "", imageID: res.id, imageRef: tagged });
      return res.id;
    } finally {
      if (paused) containers.unpause(id);
    }
  } catch (e) {
    throw wrap(`commit ${ref}`, e);
  }
}
