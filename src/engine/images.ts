/**
 * The image half of the engine: import, list, inspect, tag, remove, prune, disk usage and the store
 * check. It joins three stores that stay apart (containerd's split): blobs and image records
 * (src/image), layer snapshots (src/cow), and the tar stream between them (src/tar).
 *
 * Snapshot naming (chain IDs, extraction keys): src/image/chain.ts.
 */
import type { Logger } from "../lib/log.ts";
import { EngineError, wrap } from "../lib/errors.ts";
import { hostPlatform, MediaType, type Descriptor, type Digest, type ImageConfig, type Manifest } from "../oci/index.ts";
import { ContentStore, ImageStore, LeaseStore, gc, parseDockerRef, familiarizeKey, referenceString, chainIds, extractKey } from "../image/index.ts";
import type { SnapshotDriver } from "../cow/driver.ts";
import { openLayerChunks, readTar } from "../tar/index.ts";
import { LAYER_RING, rssBound, tapChunks } from "./_layer-stream.ts";
// the snapshot names' home is src/image/chain.ts; kept here for the engine files that import them from images.ts
export { chainIds, extractKey, isExtractKeyLive } from "../image/index.ts";
import { Sha256Worker } from "../lib/sha256-worker.ts";
import type { ImageResolver, ResolvedImage } from "./image-types.ts";

export interface ImportOptions {
  /** shown in errors: the file name or "-" */
  sourceName: string;
  ref?: string;
  message?: string;
  changes?: Partial<NonNullable<ImageConfig["config"]>>;
  platform?: { os: string; architecture: string; variant?: string };
}

export interface ImageSummary {
  id: Digest;
  names: string[]; // familiar "repo:tag" (and repo@digest)
  created: string;
  size: number;
  containers: number;
}

export class ImageService implements ImageResolver {
  /** set by the engine: image IDs used by containers (rmi and prune refuse / skip them) */
  imagesInUse: () => Promise<Map<Digest, string[]>> = async () => new Map();
  /** set by the engine: docker's config.json that pull and push read stored credentials from */
  registryAuthFile?: string;

  constructor(
    readonly content: ContentStore,
    readonly store: ImageStore,
    readonly leases: LeaseStore,
    readonly snapshots: SnapshotDriver,
    readonly log: Logger,
  ) {}

  async resolve(ref: string): Promise<ResolvedImage> {
    const rec = this.store.resolve(ref);
    const config = this.store.config(rec.id);
    const chains = chainIds(config.rootfs?.diff_ids ?? []);
    return { id: rec.id, config, topLayer: chains[chains.length - 1], names: this.store.namesOf(rec.id).map(familiarizeKey) };
  }

  /**
   * `berth import`: one streaming pass over the input. The bytes as given are hashed and written to
   * an ingest (they become the layer blob), and at the same time decompressed, hashed again (the
   * diffID) and unpacked into a fresh snapshot. Only when the whole archive has been read and both
   * digests are known does anything become visible: blob commit, snapshot commit, config, manifest,
   * image record, tag — in that order, so a crash in between leaves only unreferenced content that GC
   * and `system check` recognise. On any error the ingest and the snapshot are removed.
   */
  async importTarball(source: ReadableStream<Uint8Array>, opts: ImportOptions): Promise<Digest> {
    const key = extractKey();
    // the lease keeps GC off the blobs until the image record that references them is written
    using lease = this.leases.createLease(`import-${key}`);
    // the blob is hashed and written on a second thread while this one unpacks (lib/sha256-worker.ts)
    const writer = await this.content.writer(`import-${key}`, { offThread: true });
    let diffHasher: Sha256Worker | undefined;
    let prepared = false;
    try {
      const gc = rssBound(IMPORT_RSS_BOUND);
      const tapped = tapChunks(source as unknown as AsyncIterable<Uint8Array>, (c) => {
        writer.write(c);
        gc(c.length);
      });
      // gzip inflates into a ring: the worker hasher copies each piece at once, applyLayer stays within it
      const { compression, chunks } = await openLayerChunks(tapped, LAYER_RING);
      // uncompressed, the blob is the layer: its digest is the diffID, no second pass
      const hasher = compression === "none" ? undefined : (diffHasher = new Sha256Worker());
      const hashed = hasher ? tapChunks(chunks, (c) => hasher.update(c)) : chunks;
      await this.snapshots.prepare(key);
      prepared = true;
      const stats = await this.snapshots.applyLayer(key, readTar(hashed));
      const blob = await writer.commit({ lease });
      const diffId = hasher ? (`sha256:${await hasher.finish()}` as Digest) : blob.digest;
      const chain = diffId; // single layer: chain ID = diff ID
      if (await this.hasSnapshot(chain)) {
        await this.snapshots.remove(key);
      } else {
        await this.snapshots.commit(chain, key, { "berth.size": String(stats.diskSize), "berth.diffid": diffId });
      }
      prepared = false;
      const layerType = compression === "gzip" ? MediaType.OciLayerGzip : compression === "zstd" ? MediaType.OciLayerZstd : MediaType.OciLayer;
      const now = new Date().toISOString();
      const platform = opts.platform ?? hostPlatform();
      const config: ImageConfig = {
        created: now,
        architecture: platform.architecture,
        os: platform.os,
        ...(platform.variant ? { variant: platform.variant } : {}),
        config: { ...opts.changes },
        rootfs: { type: "layers", diff_ids: [diffId] },
        history: [{ created: now, created_by: "berth import", comment: opts.message ?? `Imported from ${opts.sourceName}` }],
      };
      return this.storeImage(config, [{ mediaType: layerType, digest: blob.digest, size: blob.size }], { ref: opts.ref, lease });
    } catch (e) {
      if (!writer.closed) writer.abort();
      if (prepared) await this.snapshots.remove(key).catch(() => {});
      throw wrap(`import ${opts.sourceName}`, e);
    } finally {
      diffHasher?.terminate();
    }
  }

  /** write config + manifest blobs and the image record; tag when asked */
  async storeImage(config: ImageConfig, layers: Descriptor[], opts: { ref?: string; parent?: Digest; lease?: import("../image/index.ts").Lease } = {}): Promise<Digest> {
    const configBytes = JSON.stringify(config);
    const cfg = this.content.putBytes(configBytes, undefined, { lease: opts.lease });
    const manifest: Manifest = {
      schemaVersion: 2,
      mediaType: MediaType.OciManifest,
      config: { mediaType: MediaType.OciConfig, digest: cfg.digest, size: cfg.size },
      layers,
    };
    const man = this.content.putBytes(JSON.stringify(manifest), undefined, { lease: opts.lease });
    const id = cfg.digest;
    this.store.put({
      manifest: { mediaType: MediaType.OciManifest, digest: man.digest, size: man.size },
      config: { mediaType: MediaType.OciConfig, digest: cfg.digest, size: cfg.size },
      ...(opts.parent ? { parent: opts.parent } : {}),
    });
    if (opts.ref) this.tag(opts.ref, id);
    return id;
  }

  tag(ref: string, id: Digest): void {
    const parsed = parseDockerRef(ref);
    this.store.tag(referenceString(parsed), id);
  }

  /** is there a snapshot (committed or active) with this name? */
  async hasSnapshot(name: string): Promise<boolean> {
    try {
      await this.snapshots.stat(name);
      return true;
    } catch (e) {
      if (e instanceof EngineError && e.kind === "not_found") return false;
      throw e;
    }
  }

  /** uncompressed size of an image: the sum of its layers' unpacked sizes */
  async imageSize(config: ImageConfig): Promise<number> {
    let size = 0;
    for (const chain of chainIds(config.rootfs?.diff_ids ?? [])) {
      try {
        const info = await this.snapshots.stat(chain);
        size += (info.labels?.["berth.size"] !== undefined ? Number(info.labels["berth.size"]) : (await this.snapshots.usage(chain)).size);
      } catch {}
    }
    return size;
  }

  async list(): Promise<ImageSummary[]> {
    const inUse = await this.imagesInUse();
    const out: ImageSummary[] = [];
    for (const rec of this.store.list()) {
      const config = this.store.config(rec.id);
      out.push({
        id: rec.id,
        names: this.store.namesOf(rec.id).map(familiarizeKey),
        created: config.created ?? rec.created ?? "",
        size: await this.imageSize(config),
        containers: inUse.get(rec.id)?.length ?? 0,
      });
    }
    return out.sort((a, b) => (a.created < b.created ? 1 : a.created > b.created ? -1 : 0));
  }

  /** docker-shaped `image inspect` JSON */
  async inspect(ref: string): Promise<Record<string, unknown>> {
    const rec = this.store.resolve(ref);
    const config = this.store.config(rec.id);
    const names = this.store.namesOf(rec.id).map(familiarizeKey);
    const manifest = this.content.readJson<Manifest>(rec.manifest.digest);
    return {
      Id: rec.id,
      RepoTags: names.filter((n) => !n.includes("@")),
      RepoDigests: names.filter((n) => n.includes("@")),
      Parent: rec.parent ?? "",
      Comment: config.history?.[config.history.length - 1]?.comment ?? "",
      Created: config.created ?? rec.created ?? "",
      Author: config.author ?? "",
      Config: { ...config.config },
      Architecture: config.architecture,
      ...(config.variant ? { Variant: config.variant } : {}),
      Os: config.os,
      Size: await this.imageSize(config),
      GraphDriver: { Name: this.snapshots.name, Data: null },
      RootFS: { Type: "layers", Layers: config.rootfs?.diff_ids ?? [] },
      Metadata: { LastTagTime: rec.lastTagTime ?? "0001-01-01T00:00:00Z" },
      Descriptor: { mediaType: rec.manifest.mediaType, digest: rec.manifest.digest, size: rec.manifest.size },
      Manifest: { layers: manifest.layers.length },
    };
  }

  /**
   * docker's `history`: the config's history, newest first. A step that made a layer shows that
   * layer's unpacked size; a step is named by the ID of the local ancestor image (commit/build parent
   * chain) that ends with it, else `<missing>`, as docker does.
   */
  async history(ref: string): Promise<{ id: string; created: string; createdBy: string; size: number; comment: string }[]> {
    const rec = this.store.resolve(ref);
    const config = this.store.config(rec.id);
    const hist = config.history ?? [];
    const chains = chainIds(config.rootfs?.diff_ids ?? []);
    const idAt = new Map<number, string>();
    const seen = new Set<string>();
    for (let cur: typeof rec | undefined = rec; cur && !seen.has(cur.id); cur = cur.parent ? this.store.get(cur.parent) : undefined) {
      seen.add(cur.id);
      try {
        const n = this.store.config(cur.id).history?.length ?? 0;
        if (!idAt.has(n - 1)) idAt.set(n - 1, cur.id);
      } catch {}
    }
    const sizes: number[] = [];
    let layer = 0;
    for (const h of hist) {
      let size = 0;
      if (!h.empty_layer && layer < chains.length) {
        try {
          const info = await this.snapshots.stat(chains[layer]!);
          size = (info.labels?.["berth.size"] !== undefined ? Number(info.labels["berth.size"]) : (await this.snapshots.usage(chains[layer]!)).size);
        } catch {}
        layer++;
      }
      sizes.push(size);
    }
    const out = [];
    for (let i = hist.length - 1; i >= 0; i--) {
      const h = hist[i]!;
      out.push({ id: idAt.get(i) ?? (i === hist.length - 1 ? rec.id : "<missing>"), created: h.created ?? "", createdBy: h.created_by ?? "", size: sizes[i]!, comment: h.comment ?? "" });
    }
    return out;
  }

  /**
   * `rmi`: untag the name; delete the image when no name is left. An ID removes the image and every
   * tag of it (docker needs -f when there are several tags). An image used by a container is refused
   * unless forced, and even then only untagged (docker keeps the image for the container).
   */
  async remove(ref: string, opts: { force: boolean; noPrune?: boolean }): Promise<string[]> {
    const out: string[] = [];
    const rec = this.store.resolve(ref);
    const inUseAll = await this.imagesInUse();
    const inUse = inUseAll.get(rec.id) ?? [];
    const names = this.store.namesOf(rec.id);
    let byName: string | undefined;
    try {
      const key = referenceString(parseDockerRef(ref));
      if (names.includes(key)) byName = key;
    } catch {}
    if (byName) {
      if (inUse.length && !opts.force && names.length === 1) {
        throw new EngineError("failed_precondition", `conflict: unable to remove repository reference "${ref}" (must force) - container ${inUse[0]!.slice(0, 12)} is using its referenced image ${rec.id.slice(7, 19)}`);
      }
      this.store.untag(byName);
      out.push(`Untagged: ${familiarizeKey(byName)}`);
      if (names.length > 1 || inUse.length) return out;
    } else {
      if (inUse.length) {
        throw new EngineError("failed_precondition", `conflict: unable to delete ${rec.id.slice(7, 19)} (${opts.force ? "cannot be forced" : "must be forced"}) - image is being used by running container ${inUse[0]!.slice(0, 12)}`);
      }
      if (names.length > 1 && !opts.force) {
        throw new EngineError("failed_precondition", `conflict: unable to delete ${rec.id.slice(7, 19)} (must be forced) - image is referenced in multiple repositories`);
      }
      for (const n of names) {
        this.store.untag(n);
        out.push(`Untagged: ${familiarizeKey(n)}`);
      }
    }
    this.store.delete(rec.id, { force: true });
    out.push(`Deleted: ${rec.id}`);
    // docker (without --no-prune): untagged parents nothing else needs go too (a build's intermediate images)
    if (!opts.noPrune) {
      for (let p = rec.parent; p; ) {
        const parent = this.store.get(p);
        if (!parent || this.store.namesOf(p).length || inUseAll.has(p) || this.store.list().some((r) => r.parent === p)) break;
        this.store.delete(p, { force: true });
        out.push(`Deleted: ${p}`);
        p = parent.parent;
      }
    }
    await this.collectGarbage();
    return out;
  }

  /** `image prune`: dangling (untagged) images, or with all=true every image no container uses */
  async prune(all: boolean, match: (created: string, labels: Record<string, string>) => boolean = () => true): Promise<{ deleted: string[]; reclaimed: number }> {
    const inUse = await this.imagesInUse();
    const deleted: string[] = [];
    let reclaimed = 0;
    // children first: a build's intermediate images are parents (not dangling) until their child goes
    for (let progress = true; progress; ) {
      progress = false;
      const recs = this.store.list();
      const parents = new Set(recs.map((r) => r.parent).filter(Boolean));
      for (const rec of recs) {
        if (inUse.has(rec.id) || parents.has(rec.id)) continue;
        const names = this.store.namesOf(rec.id);
        if (names.length && !all) continue;
        const cfg = this.store.config(rec.id);
        if (!match(cfg.created ?? "", cfg.config?.Labels ?? {})) continue;
        reclaimed += await this.imageSize(cfg);
        for (const n of names) {
          this.store.untag(n);
          deleted.push(`untagged: ${familiarizeKey(n)}`);
        }
        this.store.delete(rec.id, { force: true });
        deleted.push(`deleted: ${rec.id}`);
        progress = true;
      }
    }
    if (deleted.length) await this.collectGarbage();
    return { deleted, reclaimed };
  }

  /** chain IDs every image needs */
  referencedChains(): Set<string> {
    const keep = new Set<string>();
    for (const rec of this.store.list()) {
      try {
        for (const c of chainIds(this.store.config(rec.id).rootfs?.diff_ids ?? [])) keep.add(c);
      } catch {}
    }
    return keep;
  }

  /** remove blobs and committed snapshots nothing refers to (children before parents) */
  async collectGarbage(extraChains: Iterable<string> = []): Promise<void> {
    gc({ content: this.content, images: this.store, leases: this.leases });
    const keep = this.referencedChains();
    for (const c of extraChains) keep.add(c);
    for (;;) {
      const infos: { name: string; kind: string; parent?: string }[] = [];
      for await (const s of this.snapshots.walk()) infos.push(s);
      const parents = new Set(infos.map((s) => s.parent).filter(Boolean));
      const victims = infos.filter((s) => s.kind === "committed" && !keep.has(s.name) && !parents.has(s.name));
      if (!victims.length) break;
      for (const v of victims) await this.snapshots.remove(v.name);
    }
  }
}

/**
 * import's GC bound (_layer-stream.ts rssBound): the worker hasher's thread keeps its RSS above a pull's, and
 * the import issue asks < 100 MB whatever the size; a full GC per 8 MiB cost seconds per GB there
 */
const IMPORT_RSS_BOUND = { checkEvery: 4 << 20, softLimit: 72 << 20, growth: 8 << 20 };
