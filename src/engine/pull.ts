/**
 * `pull`: registry → content store + snapshots, in docker's order of visibility.
 *
 * Each layer is one streaming pass: HTTP body → (sha256 of the compressed bytes in the ContentWriter,
 * which also writes them to an ingest) → decompression → sha256 of the tar (the diffID) → tar reader
 * → snapshot applyLayer. Up to `concurrency` layers download at once. With `unpackAtOnce` (the default
 * where the native inflate thread serves) and a driver whose layers are independent (overlay: a snapshot's fs/ is its own upper dir) each of them
 * streams straight into a parentless snapshot of its own, and only the commits go in layer order: a
 * layer waits for its parent's commit, syncfs(2) once, then commits with that parent. Otherwise a
 * layer whose parent is not yet committed downloads into its ingest at the network's pace, and once
 * the parent is committed unpacks from that ingest file, at the download's heels where it is still
 * running (_layer-stream.ts followFile); its blob is committed (digest verified) before its snapshot.
 * Nothing is held in memory whole.
 *
 * Visibility: blob commit (size and digest verified, under the pull's lease so GC keeps it), snapshot
 * commit named by chain ID (after the diffID matched the config), then config, manifest, index
 * blobs, the image record, the tags. On any failure everything this pull created is undone: ingests
 * aborted, active snapshots removed, the lease deleted and the GC run, which removes the committed
 * snapshots and blobs only this pull held (a concurrent pull of the same image keeps what it leased)
 * — `system check` stays clean. Killed instead, the pull leaves a dead lease the next GC reclaims and
 * layer ingests named by their digests, which the next pull resumes.
 */
import { hostPlatform, type Descriptor, type Digest, type Manifest, type Platform } from "../oci/index.ts";
import { EngineError, wrap } from "../lib/errors.ts";
import { parseDockerRef, referenceString, familiarString, type ContentWriter, type Reference } from "../image/index.ts";
import {
  BlobSources,
  clientFor,
  parseImageConfig,
  parseManifest,
  selectPlatform,
  layerCompression,
  RegistryError,
  type RegistryClient,
  type SessionOptions,
} from "../image/registry/index.ts";
import { dirname, join } from "node:path";
import { readTar } from "../tar/index.ts";
import { chainIds, extractKey, type ImageService } from "./images.ts";
import { mark } from "../lib/trace.ts";
import { ImageAssembly, rssBound, tapChunks, withLayerJitPolicy } from "./assembly.ts";
import {
  followFile,
  freeChunk,
  freshChunkBound,
  LANE_IN_RING_FIRST,
  LANE_OUT_ROOM,
  LANE_RING,
  LANE_WRITE_BUF,
  LaneScheduler,
  openFileLane,
  openLayerLane,
  pacedRecords,
  type LaneOptions,
  type LayerLane,
  settleLayerMemory,
  threadInflateAvailable,
} from "./_layer-stream.ts";
import { closeSync, constants, openSync } from "node:fs";
import { startWriteback } from "../ffi/cow-fs.ts";
import { inflateEngine, syncfsOffThread } from "../ffi/layer-inflate.ts";

const O_CLOEXEC = 0o2000000;

/** a downloading layer's ingest starts its writeback every this many bytes (pull's follow path) */
const INGEST_WRITEBACK_EVERY = 8 << 20;

export type PullEvent =
  /** `latest: Pulling from library/busybox` */
  | { type: "start"; tagOrDigest: string; repo: string }
  /** per layer: Pulling fs layer, Waiting, Downloading, Verifying Checksum, Download complete, Extracting, Pull complete, Already exists, Retrying */
  | { type: "layer"; id: string; status: string; current?: number; total?: number }
  | { type: "digest"; digest: Digest }
  /** `Status: Downloaded newer image for busybox:latest` */
  | { type: "status"; message: string };

export interface PullOptions extends SessionOptions {
  platform?: Platform;
  /** parallel layer downloads (default 3) */
  concurrency?: number;
  /**
   * Where the driver's layers are independent (overlay): unpack every downloading layer at once into
   * a parentless snapshot of its own, parents set at commit. Default: on where the native inflate
   * thread serves ("thread"), each layer inflating on its own thread while the JS thread parses and
   * writes whichever layer has output, the largest first (_layer-stream.ts LaneScheduler). Measured on
   * 2 cores (550 MB 4-layer gzip image from a local registry): 2.1–2.5 s against 2.7–3.5 s one layer
   * after another, peak RSS 60–63 MB (bench/README.md, session 8). With the JS inflaters it gained
   * nothing (inflate, hash and unpack all on the one JS thread) and cost 3–6 MB more peak RSS.
   */
  unpackAtOnce?: boolean;
  /**
   * gzip inflate (tar/compress.ts inflateGzip): "libz" (default) or "native", Bun's zlib: 0.8 s less
   * CPU on that image (371 MB inflated in 0.67 s vs 1.22 s), but loading node:zlib and node:stream
   * costs ~9 MB of RSS, which puts a pull above the 64 MB bound (64–71 MB against 56–62 MB).
   * "thread" (default where the native object is there, else "libz"): the inflate (ISA-L's igzip
   * where libisal.so.2 is there, else libz) and the diffID's SHA-256 on a native thread per layer
   * (ffi/layer-inflate.ts), the JS thread left with HTTP, tar and the writes. With layers unpacked from their ingests as they download, measured on 2 quiet cores: the
   * 550 MB pull 3.9–4.4 s against 4.5–4.8 s with "libz", same peak RSS (bench/README.md, issue 13).
   */
  inflater?: "libz" | "native" | "thread";
  onProgress?: (e: PullEvent) => void;
  /** the caller gave up (the daemon's client went away): downloads stop, and no layer or image is
   * committed after it; what the pull made is undone as for any failure */
  signal?: AbortSignal;
}

/** an aborted caller's pull ends at its next step, undone like any failed pull */
function checkCanceled(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new EngineError("unavailable", "pull canceled: the client went away");
}

export interface PullResult {
  id: Digest;
  /** digest of what the name resolved to on the registry (index or manifest) */
  digest: Digest;
  /** normalized name that was pulled: docker.io/library/busybox:latest */
  name: string;
  /** the tag moved (false: it already pointed at this image) */
  updated: boolean;
}

class Semaphore {
  private waiting: (() => void)[] = [];
  constructor(private free: number) {}
  async acquire(): Promise<void> {
    if (this.free > 0) {
      this.free--;
      return;
    }
    await new Promise<void>((r) => this.waiting.push(r));
  }
  release(): void {
    const next = this.waiting.shift();
    if (next) next();
    else this.free++;
  }
}

/** the blob-source hints of this berth root (registry/sources.ts) */
export function blobSources(images: ImageService): BlobSources {
  return new BlobSources(join(dirname(images.content.dir), "registry", "blob-sources"));
}

/** the reference's tag or digest as docker prints it ("latest", "sha256:…") */
function tagOrDigest(ref: Reference): string {
  return ref.digest ?? ref.tag ?? "latest";
}

export async function pullImage(images: ImageService, name: string, opts: PullOptions = {}): Promise<PullResult> {
  opts = { ...opts, inflater: opts.inflater ?? "thread" };
  const ref = parseDockerRef(name);
  const emit = opts.onProgress ?? (() => {});
  const session = { configPath: images.registryAuthFile, readTimeoutMs: images.registryReadTimeoutMs, ...opts, actions: "pull" as const };
  const client = clientFor(ref, session);
  const shown = familiarString(ref);
  try {
    // docker's registry-mirrors: a docker.io image is asked of each mirror first, then of Docker Hub
    for (const mirror of ref.domain === "docker.io" ? (images.registryMirrors ?? []) : []) {
      const host = mirror.replace(/^https?:\/\//, "").replace(/\/$/, "");
      const insecure = mirror.startsWith("http://") ? [host, ...(session.insecure ?? [])] : session.insecure;
      try {
        const r = await withLayerJitPolicy(() => pullWith(images, clientFor({ ...ref, domain: host }, { ...session, insecure }), ref, opts, emit));
        images.logImage("pull", shown, familiarName(shown));
        return r;
      } catch (e) {
        images.log.debug(`pull ${shown} from mirror ${mirror}: ${(e as Error).message}`); // the next mirror, then Docker Hub, as dockerd does
      }
    }
    const r = await withLayerJitPolicy(() => pullWith(images, client, ref, opts, emit));
    images.logImage("pull", shown, familiarName(shown));
    return r;
  } catch (e) {
    if (e instanceof RegistryError && e.status === 404 && /manifest/.test(e.message)) {
      // docker: "manifest for busybox:nope not found: manifest unknown: manifest unknown"
      const detail = e.message.replace(/^manifest for [^:]+:[^:]+: /, "");
      throw new RegistryError("not_found", `manifest for ${shown} not found: ${detail}`, 404, e.code);
    }
    // docker's pull exits 1 whatever went wrong
    const w = wrap(`pull ${shown}`, e);
    throw new EngineError(w.kind, w.message, { hint: w.hint, cause: e });
  }
}

async function pullWith(images: ImageService, client: RegistryClient, ref: Reference, opts: PullOptions, emit: (e: PullEvent) => void): Promise<PullResult> {
  const want = opts.platform ?? hostPlatform();
  // docker prints the path on the registry: "latest: Pulling from library/busybox"
  emit({ type: "start", tagOrDigest: tagOrDigest(ref), repo: ref.path });
  const top = await client.getManifest(tagOrDigest(ref));
  if (ref.digest && top.digest !== ref.digest) {
    throw new EngineError("invalid_argument", `manifest ${ref.digest}: digest mismatch: got ${top.digest}`);
  }
  let parsed = parseManifest(top.bytes, top.mediaType);
  let indexBlob: { bytes: Uint8Array; mediaType: string; digest: Digest } | undefined;
  let manBlob = { bytes: top.bytes, mediaType: parsed.mediaType, digest: top.digest };
  if (parsed.kind === "index") {
    indexBlob = { bytes: top.bytes, mediaType: parsed.mediaType, digest: top.digest };
    const chosen = selectPlatform(parsed.index, want);
    const m = await client.getManifest(chosen.digest);
    if (m.digest !== chosen.digest) throw new EngineError("invalid_argument", `manifest ${chosen.digest}: digest mismatch: got ${m.digest}`);
    parsed = parseManifest(m.bytes, m.mediaType);
    if (parsed.kind !== "manifest") throw new EngineError("invalid_argument", `manifest ${chosen.digest}: an index inside an index is not supported`);
    manBlob = { bytes: m.bytes, mediaType: parsed.mediaType, digest: m.digest };
  }
  if (parsed.kind !== "manifest") throw new EngineError("internal", "unreachable");
  const manifest = parsed.manifest;
  for (const l of manifest.layers) layerCompression(l.mediaType);
  const configBytes = await client.getSmallBlob(manifest.config.digest);
  // (pullImage turns every error into docker's exit 1)
  const { diffIds } = parseImageConfig(configBytes, manifest.layers.length, `config ${manifest.config.digest}`);

  return new ImageAssembly(images, "pull").run(async (asm) => {
    const lease = asm.lease;
    mark("pull: manifest and config fetched");
    await fetchLayers(images, client, manifest, diffIds, asm, opts, emit);
    mark("pull: layers done");
    checkCanceled(opts.signal);
    const cfg = images.content.putBytes(configBytes, manifest.config.digest, { lease });
    images.content.putBytes(manBlob.bytes, manBlob.digest, { lease });
    if (indexBlob) images.content.putBytes(indexBlob.bytes, indexBlob.digest, { lease });
    const id = cfg.digest;
    const tagKey = referenceString(ref);
    const before = images.store.tags()[tagKey];
    images.store.put({
      manifest: { mediaType: manBlob.mediaType, digest: manBlob.digest, size: manBlob.bytes.length },
      config: { mediaType: manifest.config.mediaType, digest: manifest.config.digest, size: manifest.config.size },
      ...(indexBlob ? { index: { mediaType: indexBlob.mediaType, digest: indexBlob.digest, size: indexBlob.bytes.length } } : {}),
    });
    // docker's RepoDigests: name@<digest the name resolved to>
    images.store.tag(referenceString({ domain: ref.domain, path: ref.path, digest: top.digest }), id);
    if (!ref.digest) images.store.tag(tagKey, id);
    const sources = blobSources(images);
    for (const d of [manifest.config, ...manifest.layers]) sources.add(d.digest, `${ref.domain}/${ref.path}`);
    const updated = before !== id;
    emit({ type: "digest", digest: top.digest });
    emit({ type: "status", message: `${updated ? "Downloaded newer image" : "Image is up to date"} for ${familiarString(ref)}` });
    return { id, digest: top.digest, name: tagKey, updated };
  });
}

async function fetchLayers(
  images: ImageService,
  client: RegistryClient,
  manifest: Manifest,
  diffIds: Digest[],
  asm: ImageAssembly,
  opts: PullOptions,
  emit: (e: PullEvent) => void,
): Promise<void> {
  const chains = chainIds(diffIds);
  const independent = (opts.unpackAtOnce ?? (opts.inflater === "thread" && threadInflateAvailable())) && images.snapshots.independentLayers === true;
  const sem = new Semaphore(Math.max(1, opts.concurrency ?? 3));
  const collect = rssBound();
  // every HTTP chunk is a fresh buffer: bounded by bytes, not by RSS growth (_layer-stream.ts)
  const collectFresh = freshChunkBound();
  const done: boolean[] = manifest.layers.map(() => false);
  let failed: unknown;
  /** extract snapshots this pull made and has not committed or removed */
  const extracts = new Set<string>();
  const check = () => {
    if (failed !== undefined) throw new EngineError("unavailable", "pull aborted");
    checkCanceled(opts.signal);
  };
  const short = (d: Descriptor) => d.digest.slice(7, 19);
  const lease = asm.lease;
  // layers inflating at once: the largest (by its compressed size) is the pull's critical path, so
  // the JS thread serves it first (LaneScheduler), and its input ring is the larger one
  const lanes = new LaneScheduler();
  const largest = Math.max(...manifest.layers.map((d) => d.size));
  // lease every layer's blob and chain snapshot before looking: what is there now stays there, even
  // when another pull of the same image fails and collects meanwhile
  for (let i = 0; i < manifest.layers.length; i++) {
    lease.addResource(manifest.layers[i]!.digest);
    lease.addSnapshot(chains[i]!);
  }
  const present = await Promise.all(manifest.layers.map(async (d, i) => (await images.hasSnapshot(chains[i]!)) && images.content.has(d.digest)));
  manifest.layers.forEach((d, i) => emit({ type: "layer", id: short(d), status: present[i] ? "Already exists" : "Pulling fs layer" }));

  const finishApply = async (key: string, i: number, size: number, parent: string | undefined) => {
    checkCanceled(opts.signal);
    await images.commitChain(key, chains[i]!, { "berth.size": String(size), "berth.diffid": diffIds[i]! }, lease, parent);
  };

  /**
   * The layer's ingest is named by its digest, so a pull killed halfway leaves bytes the next pull of
   * the layer resumes (a Range request from `offset`). When a concurrent pull is writing that ingest
   * right now, this one writes a private ingest instead (its flock dies with it; GC then reclaims it).
   */
  const openIngest = async (d: Descriptor): Promise<ContentWriter> => {
    try {
      return await images.content.writer(d.digest, { busyRetries: 0 });
    } catch (e) {
      if (!(e instanceof EngineError && e.kind === "unavailable")) throw e;
      return images.content.writer(`pull-${d.digest}-${crypto.randomUUID()}`);
    }
  };

  /**
   * A layer that failed to decompress or unpack while streaming is most often a corrupt download,
   * and the digest is the registry's word on that: fetch the rest (Range from what the ingest holds)
   * and report a digest mismatch when there is one, rather than the decompressor's complaint.
   */
  const explainFailure = async (e: unknown, w: ContentWriter, d: Descriptor): Promise<unknown> => {
    if (e instanceof RegistryError || w.closed || failed !== undefined) return e;
    try {
      if (w.size < d.size) for await (const c of client.blobStream(d.digest, d.size, w.size)) w.write(c);
      const got = w.digest();
      if (w.size === d.size && got !== d.digest) {
        return new EngineError("invalid_argument", `layer ${d.digest}: digest mismatch: content is ${got}`, { cause: e });
      }
    } catch {} // finishing the blob was only a diagnosis: the original error is returned
    return e;
  };

  /** syncfs of snapshot `key`'s filesystem, off this thread where the native object is there */
  const syncSnapshot = async (key: string): Promise<void> => {
    const dir = images.snapshots.upperDir(key);
    const fd = openSync(dir, constants.O_RDONLY | constants.O_DIRECTORY | O_CLOEXEC);
    try {
      if (await syncfsOffThread(fd, dir)) return;
    } finally {
      closeSync(fd);
    }
    images.snapshots.sync?.(key);
  };

  const waitTurn = async (_i: number, prev: Promise<void> | undefined) => {
    if (prev) await prev;
  };

  /**
   * Unpack layer i from `source` (its compressed bytes) into a new snapshot, then `drained()` (the
   * blob is in and its digest verified), check the diffID, and commit the snapshot on its parent.
   * `prev` is the parent layer's task where independent layers wait for their turn only at commit.
   */
  const unpack = async (
    i: number,
    /** the layer's lane over its compressed bytes (openLayerLane, openFileLane) */
    open: (tap: (c: Uint8Array) => void, o: LaneOptions) => Promise<LayerLane>,
    drained: () => Promise<void>,
    prev: Promise<void> | undefined,
    release: () => void,
    explain: (e: unknown) => Promise<unknown>,
    /** the lane reads the HTTP body: its chunks may be freed once inflated (LaneOptions.freeChunks) */
    body?: { freed: boolean },
  ): Promise<void> => {
    const d = manifest.layers[i]!;
    const key = extractKey();
    const parent = i > 0 ? chains[i - 1] : undefined;
    // spread: not where the last removed image's files were (cow/driver.ts)
    await images.snapshots.prepare(key, independent ? undefined : parent, undefined, { spread: true });
    extracts.add(key);
    try {
      const lane = await open((c) => collect(c.length), {
        ...LANE_RING,
        // the largest layer's thread gets the larger rings: it is the one the others wait for
        outRoom: d.size === largest ? LANE_OUT_ROOM : undefined,
        inflater: opts.inflater,
        scheduler: lanes,
        priority: d.size,
        inRing: d.size === largest ? LANE_IN_RING_FIRST : undefined,
        freeChunks: body !== undefined,
      });
      if (body && lane.offThread) body.freed = true;
      mark(`pull: layer ${i} inflating ${lane.offThread ? `on a native thread (${inflateEngine()})` : "here"}`);
      const stats = await images.snapshots.applyLayer(
        key,
        pacedRecords(readTar(lane.chunks), lane.turn),
        // independent layers: one syncfs when the layer's turn to commit comes (below); their large
        // files start their writeback as they are written all the same, or that syncfs finds the
        // whole layer still dirty (0.43 s of a 4.8 s pull went to it)
        { sync: !independent, writeback: true, writeBuf: LANE_WRITE_BUF },
      );
      mark(`pull: layer ${i} unpacked`);
      await drained();
      const diffId = lane.diffId();
      if (diffId !== diffIds[i]) {
        throw new EngineError("invalid_argument", `layer ${d.digest}: diff ID mismatch: config says ${diffIds[i]}, content is ${diffId}`);
      }
      release();
      if (independent) {
        await waitTurn(i, prev);
        check();
        // the layer's files are durable before the snapshot record names them; the syncfs runs on
        // another thread, so the layers still unpacking go on meanwhile
        await syncSnapshot(key);
        mark(`pull: layer ${i} synced`);
      }
      await finishApply(key, i, stats.diskSize, independent ? parent : undefined);
      extracts.delete(key);
      mark(`pull: layer ${i} committed`);
    } catch (e) {
      try {
        await images.snapshots.remove(key);
        extracts.delete(key);
      } catch {} // the real error is rethrown; a removal that fails here (ENOSPC while other layers still download) is tried again once every task has stopped (below)
      throw await explain(e);
    }
  };

  const task = async (i: number, prev: Promise<void> | undefined): Promise<void> => {
    const d = manifest.layers[i]!;
    const id = short(d);
    if (present[i]) {
      lease.addResource(d.digest);
      await waitTurn(i, prev);
      done[i] = true;
      return;
    }
    const snapExists = await images.hasSnapshot(chains[i]!);
    await sem.acquire();
    let released = false;
    const release = () => {
      if (!released) {
        released = true;
        sem.release();
      }
    };
    let writer: ContentWriter | undefined;
    try {
      check();
      mark(`pull: layer ${i} started`);
      writer = await openIngest(d);
      const w = writer;
      if (w.offset > d.size) w.reset();
      const from = w.offset;
      let got = from;
      let lastEmit = 0;
      /** the body's chunks are freed by their last reader (then no collection is needed for them) */
      const bodyChunks = { freed: false };
      const body = tapChunks(
        from === d.size
          ? (async function* () {})()
          : client.blobStream(d.digest, d.size, from, (at) => emit({ type: "layer", id, status: `Retrying from ${at}` })),
        (c) => {
          check();
          w.write(c);
          got += c.length;
          if (!bodyChunks.freed) collectFresh(c.length);
          const now = Date.now();
          if (now - lastEmit > 100 || got === d.size) {
            lastEmit = now;
            emit({ type: "layer", id, status: "Downloading", current: got, total: d.size });
          }
        },
      );
      // a resumed ingest is finished on disk first and unpacked from there. Only the first layer, or
      // the layer whose parent is committed, streams from the socket; the others download into their
      // ingests at the network's pace and unpack from there: independent layers (unpackAtOnce on
      // overlay) at once, into parentless snapshots that get their parents at commit, in layer order;
      // otherwise once the parent is committed. An HTTP body read at unpack speed instead kept more of
      // Bun's buffers (the big pull at once: peak RSS 60–62 MB streamed, 58–60 MB from the ingests).
      const streamThrough = !snapExists && from === 0 && (i === 0 || (!independent && done[i - 1]));
      if (snapExists) {
        // only the blob is missing: download to the ingest and verify
        for await (const _ of body) {
        }
        emit({ type: "layer", id, status: "Verifying Checksum" });
        await w.commit({ size: d.size, digest: d.digest, lease });
        mark(`pull: layer ${i} downloaded`);
        emit({ type: "layer", id, status: "Download complete" });
      } else if (streamThrough) {
        // one pass from the socket into the snapshot
        const drained = async () => {
          // the tar reader drained the decompressor, which drained the body; take any stray tail too
          for await (const _ of body) {
          }
          emit({ type: "layer", id, status: "Verifying Checksum" });
          await w.commit({ size: d.size, digest: d.digest, lease });
          emit({ type: "layer", id, status: "Download complete" });
        };
        await unpack(
          i,
          (tap, lo) => openLayerLane(body, tap, lo),
          drained,
          prev,
          release,
          (e) => explainFailure(e, w, d),
          bodyChunks,
        );
      } else {
        // the body goes on into the ingest at the network's pace (its slot freed when it is in and
        // verified), and the layer unpacks from the ingest file (at once, or once the parent is
        // committed), following the download where it is still running; the fd is opened before the
        // commit can move that file into blobs/
        const fd = openSync(join(images.content.ingestPath(w.ref), "data"), "r");
        let wake: (() => void) | undefined;
        let fileLane: { grew(): void } | undefined;
        bodyChunks.freed = true;
        const downloaded = (async () => {
          try {
            // the ingest write (a copy or a pwrite) is each chunk's last reader
            let unsynced = 0;
            for await (const c of tapChunks(body, () => {
              wake?.();
              fileLane?.grew();
            })) {
              unsynced += c.length;
              freeChunk(c);
              // the ingest's pages start going to disk as they come (through this fd: the same
              // inode), so its fsync at commit, and the syncfs of a layer committed meanwhile, find
              // little left to write while they hold up this thread
              if (unsynced >= INGEST_WRITEBACK_EVERY) {
                unsynced = 0;
                startWriteback(fd);
              }
            }
            emit({ type: "layer", id, status: "Verifying Checksum" });
            await w.commit({ size: d.size, digest: d.digest, lease });
            mark(`pull: layer ${i} downloaded`);
            emit({ type: "layer", id, status: "Download complete" });
          } finally {
            release();
          }
        })();
        downloaded.catch(() => {}); // observed below
        const more = () =>
          Promise.race([
            new Promise<boolean>((r) => {
              wake = () => r(true);
            }),
            downloaded.then(() => false),
          ]);
        try {
          if (!independent) await waitTurn(i, prev);
          check();
        } catch (e) {
          closeSync(fd);
          await downloaded.catch(() => {}); // the parent's failure is the one to report; this only waits for the ingest writes to stop
          throw e;
        }
        emit({ type: "layer", id, status: "Extracting" });
        settleLayerMemory();
        // a failed unpack waits for the download: a digest mismatch is the registry's word on a corrupt
        // layer, and no write to the ingest may still be under way when the pull undoes it
        const downloadError = async (e: unknown): Promise<unknown> =>
          downloaded.then(
            () => e,
            (de: unknown) => de,
          );
        // the native thread reads a gzip ingest itself; otherwise this thread reads it (followFile)
        const open = async (tap: (c: Uint8Array) => void, lo: LaneOptions): Promise<LayerLane> => {
          let lane: (LayerLane & { grew(): void }) | undefined;
          try {
            lane = await openFileLane(fd, d.size, downloaded, more, tap, lo);
          } catch (e) {
            closeSync(fd);
            throw e;
          }
          if (!lane) return openLayerLane(followFile(fd, more), tap, lo);
          fileLane = lane;
          const chunks = lane.chunks;
          return {
            ...lane,
            chunks: (async function* () {
              try {
                yield* chunks;
              } finally {
                closeSync(fd); // after the thread that reads it was joined
              }
            })(),
          };
        };
        await unpack(
          i,
          open,
          () => downloaded,
          independent ? prev : undefined,
          () => {},
          downloadError,
        );
        mark(`pull: layer ${i} applied`);
      }
      done[i] = true;
      emit({ type: "layer", id, status: "Pull complete" });
    } catch (e) {
      if (writer && !writer.closed) writer.abort();
      failed ??= e;
      throw e;
    } finally {
      release();
    }
  };

  const tasks: Promise<void>[] = [];
  for (let i = 0; i < manifest.layers.length; i++) {
    const p = task(i, tasks[i - 1]);
    p.catch(() => {}); // observed below and by the next layer
    tasks.push(p);
  }
  const results = await Promise.allSettled(tasks);
  const bad = results.find((r) => r.status === "rejected");
  if (failed !== undefined || bad) {
    // every download has stopped and its ingest is gone: an extract snapshot whose removal failed for
    // want of space (the metadata is rewritten to drop it) goes now; one that still cannot is the GC's
    // once this process is gone
    for (const key of extracts) await images.snapshots.remove(key).catch(() => {});
  }
  if (failed !== undefined) throw failed;
  if (bad) throw (bad as PromiseRejectedResult).reason;
}

/** docker's reference.FamiliarName: the familiar reference without its tag or digest ("busybox") */
export function familiarName(familiar: string): string {
  const at = familiar.indexOf("@");
  const s = at < 0 ? familiar : familiar.slice(0, at);
  const colon = s.lastIndexOf(":");
  return colon > s.lastIndexOf("/") ? s.slice(0, colon) : s;
}

/** docker's `GET /distribution/{name}/json` answer (registry.DistributionInspect) */
export interface DistributionInspect {
  Descriptor: { mediaType: string; digest: Digest; size: number };
  Platforms: { architecture: string; os: string; variant?: string; "os.version"?: string }[];
}

/**
 * What `name` resolves to on its registry without pulling it: the top descriptor (index or manifest) and
 * its platforms — an index's entries (attestations left out), else the manifest's config's.
 */
export async function inspectDistribution(images: ImageService, name: string, opts: SessionOptions = {}): Promise<DistributionInspect> {
  const ref = parseDockerRef(name);
  const client = clientFor(ref, { configPath: images.registryAuthFile, readTimeoutMs: images.registryReadTimeoutMs, ...opts, actions: "pull" });
  try {
    const top = await client.getManifest(tagOrDigest(ref));
    const parsed = parseManifest(top.bytes, top.mediaType);
    const Descriptor = { mediaType: parsed.mediaType, digest: top.digest, size: top.bytes.length };
    if (parsed.kind === "index") {
      const Platforms = (parsed.index.manifests ?? [])
        .filter((d) => d.platform && d.annotations?.["vnd.docker.reference.type"] !== "attestation-manifest" && d.platform.os !== "unknown")
        .map((d) => {
          const p = d.platform!;
          return {
            architecture: p.architecture,
            os: p.os,
            ...(p.variant ? { variant: p.variant } : {}),
            ...(p["os.version"] ? { "os.version": p["os.version"] } : {}),
          };
        });
      return { Descriptor, Platforms };
    }
    const cfg = JSON.parse(new TextDecoder().decode(await client.getSmallBlob(parsed.manifest.config.digest))) as Platform;
    return { Descriptor, Platforms: [{ architecture: cfg.architecture, os: cfg.os, ...(cfg.variant ? { variant: cfg.variant } : {}) }] };
  } catch (e) {
    throw wrap(`inspect ${familiarString(ref)} on its registry`, e);
  }
}
