/**
 * `berth import` of a tarball (ImageService.importTarball): the archive unpacked into a fresh snapshot
 * while its bytes are hashed and stored. Loaded by the first import with what it runs on (the tar reader
 * and split recorder, the layer stream, the hashing worker, the native body writer), so that the
 * engine `run` and `create` load has none of it.
 */
import { closeSync, constants, existsSync, fstatSync, openSync, readSync } from "node:fs";
import { EngineError, wrap } from "../lib/errors.ts";
import { mark } from "../lib/trace.ts";
import { hostPlatform, MediaType, type Descriptor, type Digest, type ImageConfig } from "../oci/index.ts";
import { extractKey, type BlobInfo, type ContentStore, type Lease, type LeaseStore } from "../image/index.ts";
import type { SnapshotDriver } from "../cow/driver.ts";
import type { Logger } from "../lib/log.ts";
import type { TarFile } from "../tar/index.ts";
import type { Sha256Worker } from "../lib/sha256-worker.ts";
import type { BodyWriter } from "../ffi/body-writer.ts";

/** what an import needs of ImageService (images.ts, which loads this file: a type import back would be a cycle) */
interface ImportHost {
  readonly content: ContentStore;
  readonly leases: LeaseStore;
  readonly snapshots: SnapshotDriver;
  readonly log: Logger;
  recover(): Promise<unknown>;
  commitChain(key: string, chain: string, labels: Record<string, string>, lease: Lease, parent?: string): Promise<boolean>;
  storeImage(config: ImageConfig, layers: Descriptor[], opts?: { ref?: string; parent?: Digest; lease?: Lease }): Promise<Digest>;
  logImage(action: string, id: string, name: string): void;
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

/** ImageService.importTarball */
export async function importTarball(images: ImportHost, input: ReadableStream<Uint8Array> | { file: string }, opts: ImportOptions): Promise<Digest> {
  const io = await importMachinery();
  // the per-entry glue stays in the lower JIT tiers, less so than a pull's (IMPORT_JIT_SCALE)
  return io.withLayerJitPolicy(() => importOnce(images, io, input, opts), IMPORT_JIT_SCALE);
}

async function importOnce(images: ImportHost, io: ImportMachinery, input: ReadableStream<Uint8Array> | { file: string }, opts: ImportOptions): Promise<Digest> {
  const { BLOCK, BodyWriter, FileRing, LAYER_RING, Sha256Worker, detectCompression, openLayerChunks, readFileRing, readTar, rssBound, tapChunks } = io;
  await images.recover();
  const key = extractKey();
  // the lease keeps GC off the blobs until the image record that references them is written
  using lease = images.leases.createLease(`import-${key}`);
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
      return await importSplit(images, io, fd, source, key, lease, opts, bodies);
    } finally {
      bodies?.end(true);
      closeSync(fd);
    }
  }
  // the blob is hashed and written on a second thread while this one unpacks (lib/sha256-worker.ts)
  let writer: Awaited<ReturnType<ContentStore["writer"]>>;
  try {
    writer = await images.content.writer(`import-${key}`, { offThread: true });
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
    await images.snapshots.prepare(key, undefined, undefined, { spread: true }); // a whole layer: cow/driver.ts
    prepared = true;
    // the layer's syncfs is taken apart from the unpack so the trace shows each
    const sync = images.snapshots.sync?.bind(images.snapshots);
    // large files start their writeback as they are written either way: the syncfs finds less to do
    // (1 GB bench tarball: syncfs 0.6–0.7 s → 0.3–0.4 s)
    const stats = await images.snapshots.applyLayer(key, readTar(hashed), { sync: !sync, writeback: true });
    mark("import: unpacked");
    sync?.(key);
    mark("import: layer synced");
    const blob = await writer.commit({ lease });
    mark("import: blob committed");
    const diffId = hasher ? (`sha256:${await hasher.finish()}` as Digest) : blob.digest;
    const chain = diffId; // single layer: chain ID = diff ID
    await images.commitChain(key, chain, { "berth.size": String(stats.diskSize), "berth.diffid": diffId }, lease);
    prepared = false;
    const layerType = compression === "gzip" ? MediaType.OciLayerGzip : compression === "zstd" ? MediaType.OciLayerZstd : MediaType.OciLayer;
    return await storeImported(images, diffId, { mediaType: layerType, digest: blob.digest, size: blob.size }, lease, opts);
  } catch (e) {
    if (!writer.closed) writer.abort();
    if (prepared) await images.snapshots.remove(key).catch(() => {}); // the real error is rethrown; a leftover extract snapshot is the GC's once this process is gone
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
async function importSplit(
  images: ImportHost,
  io: ImportMachinery,
  fd: number,
  source: AsyncIterable<Uint8Array> | TarFile,
  key: string,
  lease: Lease,
  opts: ImportOptions,
  bodies: BodyWriter | undefined,
): Promise<Digest> {
  const { FileHash, FileRing, Sha256Worker, TarSplitRecorder, readTar, rssBound, tapChunks } = io;
  const writer = await images.content.writer(`import-split-${key}`);
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
    await images.snapshots.prepare(key, undefined, undefined, { spread: true }); // a whole layer: cow/driver.ts
    prepared = true;
    const sync = images.snapshots.sync?.bind(images.snapshots);
    const stats = await images.snapshots.applyLayer(key, readTar(hashed, { split }), { sync: !sync, writeback: true, bodies });
    bodies?.end();
    mark("import: unpacked");
    // the layer's writeback goes on while the hash thread finishes: a CPU without SHA-NI hashes at
    // ~450 MB/s and is still hashing when the files are all written (1 GB: ~1.2 s later here)
    sync?.(key);
    mark("import: layer synced");
    const digest = `sha256:${native ? await native.digest() : await hasher!.finish()}` as Digest;
    mark("import: hashed");
    if (file) size = native ? fileSize : hasher!.bytes;
    if (seen) {
      const now = fstatSync(fd, { bigint: true });
      if (now.ctimeNs !== seen.ctimeNs || now.mtimeNs !== seen.mtimeNs || now.size !== seen.size)
        throw new EngineError("failed_precondition", `${opts.sourceName} changed while it was imported: import it again once nothing writes to it`);
    }
    if (split.size !== size) throw new EngineError("internal", `tar-split saw ${split.size} of the ${size} bytes read`);
    await images.commitChain(key, digest, { "berth.size": String(stats.diskSize), "berth.diffid": digest }, lease);
    prepared = false;
    let blob: BlobInfo;
    if (split.unsafe === undefined) {
      split.finish({ digest, size, snapshot: digest });
      blob = await writer.commitSplit(digest, size, { lease });
    } else {
      // the files cannot give the bytes back: store the tarball itself, read again from the file
      images.log.debug(`import ${opts.sourceName}: stored as a blob: ${split.unsafe}`);
      writer.abort();
      await using copy = await images.content.writer(`import-${key}`, { offThread: true });
      const buf = new Uint8Array(IMPORT_FILE_RING.chunk);
      for (let pos = 0, n: number; (n = readSync(fd, buf, 0, buf.length, pos)) > 0; pos += n) copy.write(buf.subarray(0, n));
      blob = await copy.commit({ lease, digest, size });
    }
    mark("import: blob committed");
    return await storeImported(images, digest, { mediaType: MediaType.OciLayer, digest, size: blob.size }, lease, opts);
  } catch (e) {
    if (!writer.closed) writer.abort();
    // the writer thread is stopped (its descriptors closed) before the snapshot goes
    bodies?.end(true);
    if (prepared) await images.snapshots.remove(key).catch(() => {}); // the real error is rethrown; a leftover extract snapshot is the GC's once this process is gone
    throw wrap(`import ${opts.sourceName}`, e);
  } finally {
    hasher?.terminate();
    native?.cancel();
  }
}

/** the image record of an import: its config (one layer) and manifest */
async function storeImported(images: ImportHost, diffId: Digest, layer: Descriptor, lease: Lease, opts: ImportOptions): Promise<Digest> {
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
  const id = await images.storeImage(config, [layer], { ref: opts.ref, lease });
  mark("import: image stored");
  images.logImage("import", id, id);
  return id;
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
