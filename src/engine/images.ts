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
import {
  type ContentStore,
  type BlobInfo,
  type ImageStore,
  type LeaseStore,
  type Lease,
  parseDockerRef,
  familiarizeKey,
  familiarString,
  referenceString,
  chainIds,
  extractKey,
  isExtractKeyLive,
  isLeaseExpired,
  acquireAsync,
  FileLock,
} from "../image/index.ts";
import { isDigest } from "../oci/index.ts";
import { join } from "node:path";
import { closeSync, constants, existsSync, fstatSync, openSync, readSync } from "node:fs";
import type { SnapshotDriver } from "../cow/driver.ts";
// import's machinery (the tar reader and split recorder, the layer stream, the hashing worker, the native
// body writer) and GC load on first use: `run` and `create` resolve images and need none of it
import type { TarFile } from "../tar/index.ts";
// the snapshot names' home is src/image/chain.ts; kept here for the engine files that import them from images.ts
export { chainIds, extractKey, isExtractKeyLive } from "../image/index.ts";
import { mark } from "../lib/trace.ts";
import type { Sha256Worker } from "../lib/sha256-worker.ts";
import type { BodyWriter } from "../ffi/body-writer.ts";
import type { ImageResolver, ResolvedImage } from "./image-types.ts";
import type { EventLog } from "./events.ts";

/** is this active snapshot the unpack area of a process that is gone? */
export function isDeadExtractKey(name: string): boolean {
  return name.startsWith("extract-") && !isExtractKeyLive(name);
}

/**
 * An ingest named by the digest it will become (a pull's layer) is kept for a retried pull to resume;
 * any other unlocked ingest is the leftover of a dead writer (its flock died with it).
 */
export function isResumableIngest(ref: string): boolean {
  return isDigest(ref);
}

/** what a dead process left behind: found by `system check`, reclaimed by the next GC */
export interface Leftover {
  kind: "lease" | "snapshot" | "ingest";
  name: string;
  detail: string;
  /** kept by the GC of ordinary commands (a pull may resume it); `system prune` and `--repair` remove it */
  resumable?: boolean;
}

/** what one collectGarbage pass removed */
export interface GcReport {
  blobs: Digest[];
  freedBytes: number;
  ingests: string[];
  leases: string[];
  snapshots: string[];
}

export interface ImportOptions {
  /** shown in errors: the file name or "-" */
  sourceName: string;
  ref?: string;
  message?: string;
  changes?: Partial<NonNullable<ImageConfig["config"]>>;
  platform?: { os: string; architecture: string; variant?: string };
  /** keep a plain tarball file as a tar-split over its snapshot, not as a second copy (default true) */
  tarSplit?: boolean;
  /** a plain tarball file's bodies written on a native thread where it is there (ffi/body-writer.ts; default true) */
  bodyWriter?: boolean;
  /** with the writer, a plain tarball file's bodies copied from it in the kernel, its headers alone read here (default true) */
  copyBodies?: boolean;
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
  /** set by the engine: a pull's read timeout on a stalled blob body (undefined: the client's 30 s) */
  registryReadTimeoutMs?: number;
  /** set by the engine: registries a docker.io pull tries first (daemon.json registry-mirrors) */
  registryMirrors?: string[];

  /** set by the engine: where docker's image events go (pull, push, tag, untag, delete, import, load, save) */
  events?: EventLog;

  /**
   * docker's LogImageEvent: Actor ID is the image (an ID, or the familiar reference for pull/push), with
   * attribute `name` and the image's labels when it is stored here
   */
  logImage(action: string, id: string, name: string): void {
    let labels: Record<string, string> = {};
    try {
      const rec = this.store.resolve(id);
      const cfg = JSON.parse(new TextDecoder().decode(this.content.readBytes(rec.config.digest))) as ImageConfig;
      labels = cfg.config?.Labels ?? {};
    } catch {
      // an image already deleted (untag, delete) or not readable: the event without its labels
    }
    this.events?.emit("image", action, id, { ...labels, name });
  }

  constructor(
    readonly content: ContentStore,
    readonly store: ImageStore,
    readonly leases: LeaseStore,
    readonly snapshots: SnapshotDriver,
    readonly log: Logger,
  ) {
    // a tar-split layer blob (an imported tarball's) is rebuilt from its committed snapshot's own files
    content.splitSource ??= (name) => {
      try {
        return snapshots.upperDir(name);
      } catch (e) {
        if (e instanceof EngineError && e.kind === "not_found") return undefined;
        throw e;
      }
    };
  }

  /**
   * set by the engine: does a container record own this active snapshot (`container-<id>`)? Unset,
   * the GC never touches container snapshots. With it, a container snapshot no record owns is the
   * leftover of a killed create: creates hold the image-use lock shared from their snapshot until
   * their record exists, and the GC holds it exclusively, so none is in progress while it looks.
   */
  ownsContainerSnapshot?: (key: string) => boolean;

  /** exclusive holds of the image-use lock by this process (re-entrant: rmi's GC runs inside rmi's hold) */
  private exclusiveDepth = 0;

  /**
   * The image-use lock, <content>/use.lock. `create` holds it shared from resolving its image until its
   * record names the image (holdImageRef); rmi, image prune and the GC hold it exclusively while they
   * decide what is unused and remove it. So an image is never deleted between a container's choice of
   * it and the record that makes it "in use". Polled, never blocking (src/image/_lock.ts acquireAsync).
   */
  get useLockPath(): string {
    return join(this.content.dir, "use.lock");
  }

  /** run `fn` holding the image-use lock exclusively */
  async withExclusiveUse<T>(fn: () => Promise<T>): Promise<T> {
    if (this.exclusiveDepth > 0) return fn();
    const l = await acquireAsync(this.useLockPath, "exclusive");
    this.exclusiveDepth++;
    try {
      return await fn();
    } finally {
      this.exclusiveDepth--;
      l.release();
    }
  }

  /**
   * For `create`: first reclaim what dead processes left (the GC every writing command runs), then hold
   * the image-use lock shared until the returned handle is disposed, i.e. until the container record
   * that uses the image is written: `using _ref = await images.holdImageRef();`
   */
  async holdImageRef(): Promise<FileLock> {
    await this.recover();
    return acquireAsync(this.useLockPath, "shared");
  }

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
   *
   * A plain (uncompressed) tarball FILE is not stored a second time: the ingest gets a tar-split of
   * it instead (tar/split.ts: its headers and padding, each body named by its path in the snapshot),
   * committed after the snapshot, and the layer blob is rebuilt from the two when read (save, push).
   * An archive whose bodies the unpacked files cannot give back (a path twice, whiteouts: the
   * recorder's `unsafe`) is copied into a blob from the file in a second pass. `tarSplit: false`
   * (BERTH_IMPORT_TAR_SPLIT=0) stores every input as it is.
   */
  async importTarball(input: ReadableStream<Uint8Array> | { file: string }, opts: ImportOptions): Promise<Digest> {
    const io = await importMachinery();
    // the per-entry glue stays in the lower JIT tiers, less so than a pull's (IMPORT_JIT_SCALE)
    return io.withLayerJitPolicy(() => this.importOnce(io, input, opts), IMPORT_JIT_SCALE);
  }

  private async importOnce(io: ImportMachinery, input: ReadableStream<Uint8Array> | { file: string }, opts: ImportOptions): Promise<Digest> {
    const { BLOCK, BodyWriter, FileRing, LAYER_RING, Sha256Worker, detectCompression, openLayerChunks, readFileRing, readTar, rssBound, tapChunks } = io;
    await this.recover();
    const key = extractKey();
    // the lease keeps GC off the blobs until the image record that references them is written
    using lease = this.leases.createLease(`import-${key}`);
    // a local file is read into a reused ring (tar/compress.ts readFileRing) unless it is zstd, whose
    // DecompressionStream may queue source chunks beyond the ring's guarantee
    let fd = -1;
    let source: AsyncIterable<Uint8Array> | TarFile;
    let splittable = false;
    let bodies: BodyWriter | undefined;
    try {
      if ("file" in input) {
        fd = openSync(input.file, constants.O_RDONLY | 0o2000000);
        const head = new Uint8Array(BLOCK);
        const n = readSync(fd, head, 0, BLOCK, 0);
        const c = detectCompression(head.subarray(0, n));
        splittable = c === "none" && opts.tarSplit !== false;
        // a plain tarball's bodies are written on a native thread, straight from the ring (the ring's
        // pieces are held until the thread is done with them)
        if (splittable && opts.bodyWriter !== false) bodies = BodyWriter.open();
        if (c === "zstd") source = Bun.file(input.file).stream() as unknown as AsyncIterable<Uint8Array>;
        // with the writer, a regular file's tar is read header by header: the writer copies each body
        // from the file in the kernel, and the hash reads the file itself (importSplit)
        else if (bodies && opts.copyBodies !== false && fstatSync(fd).isFile() && existsSync(`/proc/self/fd/${fd}`))
          source = { fd, ring: new FileRing(fd, { ...IMPORT_HEADER_RING, guard: bodies }) };
        else source = readFileRing(fd, { ...IMPORT_FILE_RING, guard: bodies });
      } else source = input as unknown as AsyncIterable<Uint8Array>;
    } catch (e) {
      bodies?.end(true);
      if (fd >= 0) closeSync(fd);
      throw wrap(`import ${opts.sourceName}`, e);
    }
    if (splittable) {
      try {
        return await this.importSplit(io, fd, source, key, lease, opts, bodies);
      } finally {
        bodies?.end(true);
        closeSync(fd);
      }
    }
    // the blob is hashed and written on a second thread while this one unpacks (lib/sha256-worker.ts)
    let writer: Awaited<ReturnType<ContentStore["writer"]>>;
    try {
      writer = await this.content.writer(`import-${key}`, { offThread: true });
    } catch (e) {
      if (fd >= 0) closeSync(fd);
      throw wrap(`import ${opts.sourceName}`, e);
    }
    let diffHasher: Sha256Worker | undefined;
    let prepared = false;
    try {
      const gc = rssBound(IMPORT_RSS_BOUND);
      // a TarFile source comes only with the body writer, so only to importSplit
      const tapped = tapChunks(source as AsyncIterable<Uint8Array>, (c) => {
        writer.write(c);
        gc(c.length);
      });
      // gzip inflates into a ring: the worker hasher copies each piece at once, applyLayer stays within it
      const { compression, chunks } = await openLayerChunks(tapped, LAYER_RING);
      // uncompressed, the blob is the layer: its digest is the diffID, no second pass
      const hasher = compression === "none" ? undefined : (diffHasher = new Sha256Worker());
      const hashed = hasher ? tapChunks(chunks, (c) => hasher.update(c)) : chunks;
      await this.snapshots.prepare(key, undefined, undefined, { spread: true }); // a whole layer: cow/driver.ts
      prepared = true;
      // the layer's syncfs is taken apart from the unpack so the trace shows each
      const sync = this.snapshots.sync?.bind(this.snapshots);
      // large files start their writeback as they are written either way: the syncfs finds less to do
      // (1 GB bench tarball: syncfs 0.6–0.7 s → 0.3–0.4 s)
      const stats = await this.snapshots.applyLayer(key, readTar(hashed), { sync: !sync, writeback: true });
      mark("import: unpacked");
      sync?.(key);
      mark("import: layer synced");
      const blob = await writer.commit({ lease });
      mark("import: blob committed");
      const diffId = hasher ? (`sha256:${await hasher.finish()}` as Digest) : blob.digest;
      const chain = diffId; // single layer: chain ID = diff ID
      await this.commitChain(key, chain, { "berth.size": String(stats.diskSize), "berth.diffid": diffId }, lease);
      prepared = false;
      const layerType = compression === "gzip" ? MediaType.OciLayerGzip : compression === "zstd" ? MediaType.OciLayerZstd : MediaType.OciLayer;
      return await this.storeImported(diffId, { mediaType: layerType, digest: blob.digest, size: blob.size }, lease, opts);
    } catch (e) {
      if (!writer.closed) writer.abort();
      if (prepared) await this.snapshots.remove(key).catch(() => {}); // the real error is rethrown; a leftover extract snapshot is the GC's once this process is gone
      throw wrap(`import ${opts.sourceName}`, e);
    } finally {
      diffHasher?.terminate();
      if (fd >= 0) closeSync(fd);
    }
  }

  /**
   * import of a plain tarball file (see importTarball): the input hashed once on a second thread (its
   * digest is both the diffID and the layer's digest), unpacked, and recorded as a tar-split. Order:
   * unpack, syncfs, snapshot commit, split commit (fsync, rename), image: a kill -9 anywhere leaves an
   * unlocked ingest, an `extract-` snapshot or leased content of a dead lease, which the next command's
   * GC removes.
   */
  private async importSplit(
    io: ImportMachinery,
    fd: number,
    source: AsyncIterable<Uint8Array> | TarFile,
    key: string,
    lease: Lease,
    opts: ImportOptions,
    bodies: BodyWriter | undefined,
  ): Promise<Digest> {
    const { FileHash, FileRing, Sha256Worker, TarSplitRecorder, readTar, rssBound, tapChunks } = io;
    const writer = await this.content.writer(`import-split-${key}`);
    // a file read header by header: the whole file is hashed apart, on a native thread where there is
    // one (FileHash: libcrypto, no JS heap), else by the worker through its own descriptor
    const file = "ring" in source ? source : undefined;
    // the hash and the unpack read the file apart: a write to it meanwhile (ctime moves) fails the import
    // rather than record a diffID its files do not have
    const seen = file ? fstatSync(fd, { bigint: true }) : undefined;
    const fileSize = seen ? Number(seen.size) : 0;
    const native = file ? FileHash.open(fd, fileSize) : undefined;
    const hasher = native ? undefined : new Sha256Worker(file ? { file: `/proc/self/fd/${fd}` } : {});
    let prepared = false;
    try {
      const gc = rssBound(IMPORT_RSS_BOUND);
      let size = 0;
      if (file?.ring instanceof FileRing) file.ring.onRead = gc;
      const hashed =
        file ??
        tapChunks(source as AsyncIterable<Uint8Array>, (c) => {
          hasher!.update(c);
          size += c.length;
          gc(c.length);
        });
      const split = new TarSplitRecorder((b) => writer.write(b));
      await this.snapshots.prepare(key, undefined, undefined, { spread: true }); // a whole layer: cow/driver.ts
      prepared = true;
      const sync = this.snapshots.sync?.bind(this.snapshots);
      const stats = await this.snapshots.applyLayer(key, readTar(hashed, { split }), { sync: !sync, writeback: true, bodies });
      bodies?.end();
      mark("import: unpacked");
      const digest = `sha256:${native ? await native.digest() : await hasher!.finish()}` as Digest;
      if (file) size = native ? fileSize : hasher!.bytes;
      if (seen) {
        const now = fstatSync(fd, { bigint: true });
        if (now.ctimeNs !== seen.ctimeNs || now.mtimeNs !== seen.mtimeNs || now.size !== seen.size)
          throw new EngineError("failed_precondition", `${opts.sourceName} changed while it was imported: import it again once nothing writes to it`);
      }
      if (split.size !== size) throw new EngineError("internal", `tar-split saw ${split.size} of the ${size} bytes read`);
      sync?.(key);
      mark("import: layer synced");
      await this.commitChain(key, digest, { "berth.size": String(stats.diskSize), "berth.diffid": digest }, lease);
      prepared = false;
      let blob: BlobInfo;
      if (split.unsafe === undefined) {
        split.finish({ digest, size, snapshot: digest });
        blob = await writer.commitSplit(digest, size, { lease });
      } else {
        // the files cannot give the bytes back: store the tarball itself, read again from the file
        this.log.debug(`import ${opts.sourceName}: stored as a blob: ${split.unsafe}`);
        writer.abort();
        await using copy = await this.content.writer(`import-${key}`, { offThread: true });
        const buf = new Uint8Array(IMPORT_FILE_RING.chunk);
        for (let pos = 0, n: number; (n = readSync(fd, buf, 0, buf.length, pos)) > 0; pos += n) copy.write(buf.subarray(0, n));
        blob = await copy.commit({ lease, digest, size });
      }
      mark("import: blob committed");
      return await this.storeImported(digest, { mediaType: MediaType.OciLayer, digest, size: blob.size }, lease, opts);
    } catch (e) {
      if (!writer.closed) writer.abort();
      // the writer thread is stopped (its descriptors closed) before the snapshot goes
      bodies?.end(true);
      if (prepared) await this.snapshots.remove(key).catch(() => {}); // the real error is rethrown; a leftover extract snapshot is the GC's once this process is gone
      throw wrap(`import ${opts.sourceName}`, e);
    } finally {
      hasher?.terminate();
      native?.cancel();
    }
  }

  /** the image record of an import: its config (one layer) and manifest */
  private async storeImported(diffId: Digest, layer: Descriptor, lease: Lease, opts: ImportOptions): Promise<Digest> {
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
    const id = await this.storeImage(config, [layer], { ref: opts.ref, lease });
    mark("import: image stored");
    this.logImage("import", id, id);
    return id;
  }

  /** write config + manifest blobs and the image record; tag when asked */
  async storeImage(config: ImageConfig, layers: Descriptor[], opts: { ref?: string; parent?: Digest; lease?: Lease } = {}): Promise<Digest> {
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
    if (opts.ref) this.store.tag(referenceString(parseDockerRef(opts.ref)), id);
    return id;
  }

  /** `tag` (and build's -t): docker's "tag" event names the familiar reference */
  tag(ref: string, id: Digest): void {
    const parsed = parseDockerRef(ref);
    this.store.tag(referenceString(parsed), id);
    this.logImage("tag", id, familiarString(parsed));
  }

  /**
   * Commit the unpacked active snapshot `key` as chain snapshot `chain`, leased first so no GC takes it
   * before the image record names it. When the chain already exists — another process committed the
   * same content first (two pulls of one image) — that is success: our copy is removed and false
   * returned (nothing created). `parent`: `key` was prepared without one (independentLayers).
   */
  async commitChain(key: string, chain: string, labels: Record<string, string>, lease: Lease, parent?: string): Promise<boolean> {
    lease.addSnapshot(chain);
    if (!(await this.hasSnapshot(chain))) {
      try {
        await this.snapshots.commit(chain, key, labels, parent === undefined ? undefined : { parent });
        return true;
      } catch (e) {
        if (!(e instanceof EngineError && e.kind === "already_exists")) throw e;
      }
    }
    await this.snapshots.remove(key);
    return false;
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
        size += info.labels?.["berth.size"] !== undefined ? Number(info.labels["berth.size"]) : (await this.snapshots.usage(chain)).size;
      } catch {} // a missing snapshot (damaged store: `system check` names it) counts as empty
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

  /**
   * GraphDriver.Data of an image as docker's overlay2 reports it: the top layer's directory as
   * UpperDir, the layers below it as LowerDir (a colon list, nearest first; absent for one layer).
   * vfs and btrfs report none (null), as docker's do; so does an image whose layers are gone (`system
   * check` names it).
   */
  private layerData(config: ImageConfig): Record<string, string> | null {
    const top = chainIds(config.rootfs?.diff_ids ?? []).at(-1);
    if (this.snapshots.name !== "overlay" || !top || !this.snapshots.layerDirs) return null;
    let dirs: string[];
    try {
      dirs = this.snapshots.layerDirs(top);
    } catch (e) {
      if (e instanceof EngineError && e.kind === "not_found") return null;
      throw e;
    }
    const [upper, ...lower] = dirs;
    return { ...(lower.length ? { LowerDir: lower.join(":") } : {}), UpperDir: upper! };
  }

  /** docker-shaped `image inspect` JSON */
  async inspect(ref: string): Promise<Record<string, unknown>> {
    const rec = this.store.resolve(ref);
    const config = this.store.config(rec.id);
    const names = this.store.namesOf(rec.id).map(familiarizeKey);
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
      GraphDriver: { Name: this.snapshots.name, Data: this.layerData(config) },
      RootFS: { Type: "layers", Layers: config.rootfs?.diff_ids ?? [] },
      Metadata: { LastTagTime: rec.lastTagTime ?? "0001-01-01T00:00:00Z" },
      Descriptor: { mediaType: rec.manifest.mediaType, digest: rec.manifest.digest, size: rec.manifest.size },
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
      } catch {} // a damaged parent (`system check` names it) gives its history entries no ID (<missing>, as docker)
    }
    const sizes: number[] = [];
    let layer = 0;
    for (const h of hist) {
      let size = 0;
      if (!h.empty_layer && layer < chains.length) {
        try {
          const info = await this.snapshots.stat(chains[layer]!);
          size = info.labels?.["berth.size"] !== undefined ? Number(info.labels["berth.size"]) : (await this.snapshots.usage(chains[layer]!)).size;
        } catch {} // a missing snapshot (damaged store: `system check` names it) counts as empty
        layer++;
      }
      sizes.push(size);
    }
    const out = [];
    for (let i = hist.length - 1; i >= 0; i--) {
      const h = hist[i]!;
      out.push({
        id: idAt.get(i) ?? (i === hist.length - 1 ? rec.id : "<missing>"),
        created: h.created ?? "",
        createdBy: h.created_by ?? "",
        size: sizes[i]!,
        comment: h.comment ?? "",
      });
    }
    return out;
  }

  /**
   * `rmi`: untag the name; delete the image when no name is left. An ID removes the image and every
   * tag of it (docker needs -f when there are several tags). An image used by a container is refused
   * unless forced, and even then only untagged (docker keeps the image for the container).
   */
  async remove(ref: string, opts: { force: boolean; noPrune?: boolean }): Promise<string[]> {
    await this.recover(); // an rmi that only untags collects nothing else
    return this.withExclusiveUse(() => this.removeHeld(ref, opts));
  }

  private async removeHeld(ref: string, opts: { force: boolean; noPrune?: boolean }): Promise<string[]> {
    const out: string[] = [];
    const rec = this.store.resolve(ref);
    const inUseAll = await this.imagesInUse();
    const inUse = inUseAll.get(rec.id) ?? [];
    const names = this.store.namesOf(rec.id);
    let byName: string | undefined;
    try {
      const key = referenceString(parseDockerRef(ref));
      if (names.includes(key)) byName = key;
    } catch {} // an image ID or prefix, not a reference: removed by ID below
    if (byName) {
      if (inUse.length && !opts.force && isSingleReference(names)) {
        throw new EngineError(
          "failed_precondition",
          `conflict: unable to remove repository reference "${ref}" (must force) - container ${inUse[0]!.slice(0, 12)} is using its referenced image ${rec.id.slice(7, 19)}`,
        );
      }
      this.store.untag(byName);
      out.push(`Untagged: ${familiarizeKey(byName)}`);
      this.logImage("untag", rec.id, rec.id);
      let left = this.store.namesOf(rec.id);
      // dockerd: the last tag of a repository takes that repository's digest references with it
      const repo = repositoryOfKey(byName);
      if (!byName.includes("@") && !left.some((n) => !n.includes("@") && repositoryOfKey(n) === repo)) {
        for (const n of left.filter((k) => k.includes("@") && repositoryOfKey(k) === repo)) {
          this.store.untag(n);
          out.push(`Untagged: ${familiarizeKey(n)}`);
          this.logImage("untag", rec.id, rec.id);
        }
        left = this.store.namesOf(rec.id);
      }
      if (left.length || inUse.length) return out;
    } else {
      if (inUse.length) {
        throw new EngineError(
          "failed_precondition",
          `conflict: unable to delete ${rec.id.slice(7, 19)} (${opts.force ? "cannot be forced" : "must be forced"}) - image is being used by running container ${inUse[0]!.slice(0, 12)}`,
        );
      }
      if (names.length > 1 && !opts.force) {
        throw new EngineError(
          "failed_precondition",
          `conflict: unable to delete ${rec.id.slice(7, 19)} (must be forced) - image is referenced in multiple repositories`,
        );
      }
      for (const n of names) {
        this.store.untag(n);
        out.push(`Untagged: ${familiarizeKey(n)}`);
        this.logImage("untag", rec.id, rec.id);
      }
    }
    // dockerd lists each deleted image and then the layers its deletion released, top first (the layer
    // store's release walk); a layer goes with the last deleted image that had it (a parent's layers are
    // its children's too). Which layers went is what the collection below removed
    const layersOf = (id: string) => {
      try {
        return chainIds(this.store.config(id).rootfs?.diff_ids ?? []);
      } catch {
        return []; // a damaged image (config unreadable) names no layers
      }
    };
    const deleted = [{ id: rec.id, chains: layersOf(rec.id) }];
    this.store.delete(rec.id, { force: true });
    this.logImage("delete", rec.id, rec.id);
    // docker (without --no-prune): untagged parents nothing else needs go too (a build's intermediate images)
    if (!opts.noPrune) {
      for (let p = rec.parent; p; ) {
        const parent = this.store.get(p);
        if (!parent || this.store.namesOf(p).length || inUseAll.has(p) || this.store.list().some((r) => r.parent === p)) break;
        deleted.push({ id: p, chains: layersOf(p) });
        this.store.delete(p, { force: true });
        this.logImage("delete", p, p);
        p = parent.parent;
      }
    }
    const released = new Set((await this.collectGarbage()).snapshots);
    deleted.forEach(({ id, chains }, n) => {
      out.push(`Deleted: ${id}`);
      const later = new Set(deleted.slice(n + 1).flatMap((d) => d.chains));
      for (const c of [...chains].reverse()) if (released.has(c) && !later.has(c)) out.push(`Deleted: ${c}`);
    });
    return out;
  }

  /** `image prune`: dangling (untagged) images, or with all=true every image no container uses */
  async prune(
    all: boolean,
    match: (created: string, labels: Record<string, string>) => boolean = () => true,
  ): Promise<{ deleted: string[]; reclaimed: number }> {
    return this.withExclusiveUse(() => this.pruneHeld(all, match));
  }

  private async pruneHeld(
    all: boolean,
    match: (created: string, labels: Record<string, string>) => boolean,
  ): Promise<{ deleted: string[]; reclaimed: number }> {
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
    // the GC runs whether or not anything was deleted: dead processes' leftovers go too
    await this.collectGarbage();
    return { deleted, reclaimed };
  }

  /** chain IDs every image needs */
  referencedChains(): Set<string> {
    const keep = new Set<string>();
    for (const rec of this.store.list()) {
      try {
        for (const c of chainIds(this.store.config(rec.id).rootfs?.diff_ids ?? [])) keep.add(c);
      } catch {} // a damaged image (config unreadable: `system check` names it) has no chains to keep
    }
    return keep;
  }

  /**
   * Remove blobs, ingests, leases and snapshots nothing refers to: committed snapshots no image and no
   * live lease holds (children before parents), and the unpack areas (`extract-…`) and leases of dead
   * processes. `allIngests` also removes resumable ingests (a pull's partial layers): `system prune`.
   *
   * Each round lists the snapshots *before* it reads the leases and image records: work leases a
   * snapshot before committing it and writes its image record before dropping its lease, so whatever
   * the listing shows is still held by one of the two when they are read.
   */
  async collectGarbage(extraChains: Iterable<string> = [], opts: { allIngests?: boolean } = {}): Promise<GcReport> {
    return this.withExclusiveUse(async () => {
      const report: GcReport = { blobs: [], freedBytes: 0, ingests: [], leases: [], snapshots: [] };
      const extra = [...extraChains];
      for (let round = 0; ; round++) {
        const infos: { name: string; kind: string; parent?: string }[] = [];
        for await (const s of this.snapshots.walk()) infos.push(s);
        if (round === 0) {
          const { gc, DEFAULT_INGEST_GRACE_MS } = await import("../image/gc.ts");
          const r = gc(
            { content: this.content, images: this.store, leases: this.leases },
            { ingestGraceFor: (ref) => (!opts.allIngests && isResumableIngest(ref) ? DEFAULT_INGEST_GRACE_MS : 0) },
          );
          report.blobs.push(...r.removedBlobs);
          report.freedBytes += r.freedBytes;
          report.ingests.push(...r.removedIngests);
          report.leases.push(...r.removedLeases);
        }
        const keep = this.referencedChains();
        for (const c of extra) keep.add(c);
        // a tar-split's layer is read from its snapshot: kept while the split is (GC drops the split with its digest)
        for (const s of this.content.listSplits()) if (s.snapshot) keep.add(s.snapshot);
        for (const l of this.leases.list()) if (!isLeaseExpired(l)) for (const s of l.snapshots) keep.add(s);
        const parents = new Set(infos.map((s) => s.parent).filter(Boolean));
        const owns = this.ownsContainerSnapshot;
        const deadCreate = (name: string) => owns !== undefined && name.startsWith("container-") && !owns(name);
        const victims = infos.filter((s) =>
          s.kind === "committed" ? !keep.has(s.name) && !parents.has(s.name) : isDeadExtractKey(s.name) || deadCreate(s.name),
        );
        if (!victims.length) break;
        for (const v of victims) {
          await this.snapshots.remove(v.name);
          report.snapshots.push(v.name);
        }
      }
      return report;
    });
  }

  /** leftovers of dead processes: leases whose owner is gone, their unpack snapshots, unlocked ingests */
  async leftovers(): Promise<Leftover[]> {
    const out: Leftover[] = [];
    for (const l of this.leases.list()) {
      if (isLeaseExpired(l)) out.push({ kind: "lease", name: l.id, detail: l.owner ? `its process ${l.owner.pid} is gone` : "expired" });
    }
    // a create in progress holds the image-use lock shared: only when nobody does is a container
    // snapshot without a record known to be a killed create's
    const probe = FileLock.acquire(this.useLockPath, "exclusive", { wait: false });
    const noCreates = probe !== undefined;
    probe?.release();
    for await (const s of this.snapshots.walk()) {
      if (s.kind === "committed") continue;
      if (isDeadExtractKey(s.name)) out.push({ kind: "snapshot", name: s.name, detail: `unpack area of process ${s.name.split("-")[1]}, which is gone` });
      else if (noCreates && this.ownsContainerSnapshot && s.name.startsWith("container-") && !this.ownsContainerSnapshot(s.name))
        out.push({ kind: "snapshot", name: s.name, detail: "left by a create that did not finish" });
    }
    for (const i of this.content.listIngests()) {
      if (i.locked) continue;
      const resumable = isResumableIngest(i.ref);
      out.push({
        kind: "ingest",
        name: i.ref,
        detail: `${i.size} bytes, last written ${i.updatedAt.toISOString()}${resumable ? "; a retried pull resumes it" : ""}`,
        ...(resumable ? { resumable } : {}),
      });
    }
    return out;
  }

  /**
   * The GC every command that writes runs first: cheap when there is nothing to do (a listing of leases,
   * snapshots and ingests); a full collectGarbage when a dead process left something behind.
   */
  async recover(): Promise<GcReport | undefined> {
    try {
      if (!(await this.leftovers()).some((l) => !l.resumable)) return undefined;
      return await this.collectGarbage();
    } catch (e) {
      // the command's own work matters more: a GC that cannot run (a damaged record, a full disk)
      // is only logged (at debug: the command usually meets the same cause and says so); `system
      // check` names it
      this.log.debug(`reclaiming leftovers of dead processes: ${(e as Error).message}`);
      return undefined;
    }
  }
}

/**
 * How `berth import FILE` reads its tarball (tar/compress.ts readFileRing): 512 KiB per read(2), so a
 * 1 GB tarball takes 2k reads and fewer file bodies straddle two pieces (one writev each); a piece
 * stays intact for 3 MiB of reading, more than the APPLY_WRITE_BUF applyLayer gathers.
 */
const IMPORT_FILE_RING = { ring: 4 << 20, chunk: 512 << 10 };

/**
 * JSC's tier-up thresholds are scaled by this during an import (_layer-stream.ts withLayerJitPolicy;
 * a pull's LAYER_JIT_SCALE is 1000): the per-entry JS of a plain tarball file is most of the
 * JS thread's work once the bodies are copied in the kernel. 1 GB bench tarball, fresh ext4, 2 × 2
 * interleaved rounds (10:32): user CPU 1.14–1.24 s at 1000, 0.99–1.06 s at 100, 0.93–1.00 s at 30;
 * peak RSS 65.9–66.0, 71.4–72.4 and 75.8–76.5 MB.
 */
const IMPORT_JIT_SCALE = 100;

/**
 * How it reads a plain tarball's headers when the body writer copies the bodies from the file
 * (FileRing through tar/reader.ts TarFile): 8 KiB per read(2), so a body shorter than what is left of
 * that piece is written from it and a longer one is copied in the kernel without being read here
 * (4 and 32 KiB: the same user CPU and wall time within the noise, 10:32).
 */
const IMPORT_HEADER_RING = { ring: 1 << 20, chunk: 8 << 10 };

/**
 * import's GC bound (_layer-stream.ts rssBound): the worker hasher's thread keeps its RSS above a pull's, and
 * the import issue asks < 100 MB whatever the size; a full GC per 8 MiB cost seconds per GB there. A
 * local file read into a ring allocates no chunks, so the per-entry garbage alone drives RSS: with 8 MiB
 * of growth allowed the 1 GB bench tarball peaked at 91–103 MB, with 4 MiB at NN MB.
 */
const IMPORT_RSS_BOUND = { checkEvery: 4 << 20, softLimit: 72 << 20, growth: 4 << 20 };

/** the repository of a stored reference key: `docker.io/library/busybox` of `…:latest` or `…@sha256:…` */
function repositoryOfKey(key: string): string {
  const at = key.indexOf("@");
  if (at >= 0) return key.slice(0, at);
  const colon = key.lastIndexOf(":");
  return colon > key.lastIndexOf("/") ? key.slice(0, colon) : key;
}

/** dockerd's isSingleReference: the names are one repository's (at most one tag, and its digests) */
function isSingleReference(keys: string[]): boolean {
  if (keys.length <= 1) return keys.length === 1;
  const tags = keys.filter((k) => !k.includes("@"));
  return tags.length <= 1 && new Set(keys.map(repositoryOfKey)).size === 1;
}

/** what an import runs on, loaded by its first call */
async function importMachinery() {
  const [tar, stream, worker, body] = await Promise.all([
    import("../tar/index.ts"),
    import("./_layer-stream.ts"),
    import("../lib/sha256-worker.ts"),
    import("../ffi/body-writer.ts"),
  ]);
  return { ...tar, ...stream, ...worker, ...body };
}
type ImportMachinery = Awaited<ReturnType<typeof importMachinery>>;
