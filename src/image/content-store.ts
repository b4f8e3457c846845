/**
 * Content-addressed blob store in containerd's layout (containerd core/content, plugins/content/local):
 *
 *   <dir>/blobs/sha256/<hex>     committed blobs, immutable, mode 0444
 *   <dir>/splits/sha256/<hex>    layer blobs kept as a tar-split (tar/split.ts) over the files of a
 *                                committed snapshot instead of their bytes (`berth import` of a plain
 *                                tarball); immutable, mode 0444
 *   <dir>/ingest/<sha256(ref)>/  one in-progress write: `data` (flock'd by its writer) and `ref`
 *   <dir>/lock                   the store lock (see index.ts for the protocol)
 *
 * A write goes to ingest/…/data, hashed as it goes, and is renamed into blobs/ only after its size
 * and digest check out and the data is fsync'd; the directory is fsync'd after the rename so the new
 * name survives a crash (rename(2) is atomic, not durable). Ingest directories are named by the hash
 * of the ref so any ref string (containerd uses `layer-sha256:…`) is a safe single path component.
 *
 * A split blob is a blob like any other to the store's readers: info/has/readStream/readChunks/listSync
 * give the same size, digest and bytes as the stored tarball would (the rebuild re-hashes the bytes and
 * fails, naming the layer, before handing out the last piece if they differ from the digest). It needs
 * `splitSource` (set by the engine: a committed snapshot's directory) to be readable; has() is false
 * without its snapshot. The engine keeps the snapshot of every split while the split exists (GC), and
 * GC drops the split with its digest. When a real blob of the same digest exists, it is used instead.
 */
import {
  closeSync,
  constants,
  fchmodSync,
  fstatSync,
  fsyncSync,
  ftruncateSync,
  lstatSync,
  mkdirSync,
  openSync,
  readFileSync,
  readSync,
  readdirSync,
  renameSync,
  rmSync,
  statSync,
  unlinkSync,
  writeFileSync,
  writeSync,
} from "node:fs";
import { join } from "node:path";
import { EngineError, wrap } from "../lib/errors.ts";
import { fsyncDir } from "../lib/atomic-write.ts";
import type { Sha256Worker } from "../lib/sha256-worker.ts";
import { isDigest, type Digest } from "../oci/index.ts";
// the tar readers, the split rebuild and the hashing worker load on first use (`run` needs none of them)
import type { RingOptions } from "../tar/index.ts";
import { readSplitTrailer, type SplitTrailer } from "../tar/split-trailer.ts";
import { FileLock, O_CLOEXEC, isLockedElsewhere, tryLockFd, type LockMode } from "./_lock.ts";
import { readableOf } from "../lib/readable.ts";

export interface BlobInfo {
  digest: Digest;
  size: number;
  /** set when the blob is a tar-split only (no stored bytes): the committed snapshot holding its bodies */
  snapshot?: string;
}

export interface IngestInfo {
  ref: string;
  /** bytes written so far */
  size: number;
  updatedAt: Date;
  /** a writer (in any process) holds the ingest right now */
  locked: boolean;
}

export type VerifyResult = { digest: Digest; ok: true; size: number } | { digest: Digest; ok: false; problem: string };

/**
 * Something that records a blob as in use before it becomes visible in blobs/ (a lease). Called
 * while the store lock is held shared, so GC cannot run between the record and the rename.
 */
export interface ResourceHolder {
  addResourceLocked(digest: Digest): void;
}

export interface CommitOptions {
  /** expected size in bytes; a mismatch removes the ingest and throws invalid_argument */
  size?: number;
  /** expected digest; a mismatch removes the ingest and throws invalid_argument */
  digest?: Digest;
  /** protect the committed blob until the caller references it (see leases.ts) */
  lease?: ResourceHolder;
}

/** default cap for readBytes: configs and manifests are KBs; registries cap manifests at 4 MiB */
export const SMALL_BLOB_MAX = 4 * 1024 * 1024;
/** write coalescing buffer: few large write(2)s, and a whole buffer per syscall for small chunks (a
 * pull has up to 3 writers open: 256 KiB is already one write per 4+ HTTP chunks) */
const WRITE_BUFFER = 256 * 1024;
/** how long writer() waits for a competing probe (listIngests, gc) to let go of an ingest lock */
const INGEST_LOCK_RETRIES = 40;
const INGEST_LOCK_RETRY_MS = 5;

function hexOf(digest: Digest): string {
  return digest.slice("sha256:".length);
}

function checkDigest(digest: string): Digest {
  if (!isDigest(digest)) throw new EngineError("invalid_argument", `invalid digest ${JSON.stringify(digest)}`);
  return digest;
}

export function sha256Digest(bytes: Uint8Array | string): Digest {
  return `sha256:${new Bun.CryptoHasher("sha256").update(bytes).digest("hex")}` as Digest;
}

function digestMismatch(expected: Digest, got: Digest): EngineError {
  return new EngineError("invalid_argument", `commit blob: digest mismatch: expected ${expected}, got ${got}`);
}

function writeAll(fd: number, data: Uint8Array, len: number, position: number): void {
  let off = 0;
  while (off < len) off += writeSync(fd, data, off, len - off, position + off);
}

export class ContentStore {
  readonly blobsDir: string;
  readonly splitsDir: string;
  readonly ingestDir: string;
  readonly lockPath: string;
  /**
   * Where a committed snapshot's own files are (the engine sets it: SnapshotDriver.upperDir), or
   * undefined when there is no such snapshot. Without it split blobs cannot be read (has() is false).
   */
  splitSource?: (snapshot: string) => string | undefined;

  constructor(readonly dir: string) {
    this.blobsDir = join(dir, "blobs", "sha256");
    this.splitsDir = join(dir, "splits", "sha256");
    this.ingestDir = join(dir, "ingest");
    this.lockPath = join(dir, "lock");
    mkdirSync(this.blobsDir, { recursive: true, mode: 0o700 });
    mkdirSync(this.splitsDir, { recursive: true, mode: 0o700 });
    mkdirSync(this.ingestDir, { recursive: true, mode: 0o700 });
  }

  /**
   * Take the store lock: "shared" for anything that only adds (commit, putBytes, image records, tags,
   * leases), "exclusive" for anything that removes (gc, delete). Blocks. Hold it across synchronous
   * code only.
   */
  lock(mode: LockMode): FileLock {
    return FileLock.hold(this.lockPath, mode);
  }

  path(digest: Digest): string {
    return join(this.blobsDir, hexOf(checkDigest(digest)));
  }

  /** the tar-split of `digest` (whether or not it exists) */
  splitPath(digest: Digest): string {
    return join(this.splitsDir, hexOf(checkDigest(digest)));
  }

  /** readable: stored bytes, or a tar-split whose snapshot is there */
  has(digest: Digest): boolean {
    if (!isDigest(digest)) return false;
    if (this.hasBytes(digest)) return true;
    const t = this.readableTrailer(digest);
    return t !== undefined && this.splitRoot(t.snapshot) !== undefined;
  }

  /** stored bytes in blobs/ (not a tar-split) */
  hasBytes(digest: Digest): boolean {
    try {
      return statSync(this.path(digest)).isFile();
    } catch (e) {
      if (e instanceof EngineError) throw e;
      return false; // ENOENT: not in the store
    }
  }

  info(digest: Digest): BlobInfo | undefined {
    try {
      const st = statSync(this.path(digest));
      if (st.isFile()) return { digest, size: st.size };
    } catch (e) {
      if (e instanceof EngineError) throw e;
    }
    const t = this.readableTrailer(digest);
    return t ? { digest, size: t.size, snapshot: t.snapshot } : undefined;
  }

  /** splitTrailer, with a damaged split taken as absent (GC and the listings must not fail on it; verify names it) */
  private readableTrailer(digest: Digest): SplitTrailer | undefined {
    try {
      return this.splitTrailer(digest);
    } catch (e) {
      if (e instanceof EngineError && e.kind === "invalid_argument" && e.message.startsWith("invalid digest")) throw e;
      return undefined; // damaged: `system check` reports it through verify, GC removes it once unreferenced
    }
  }

  /** the trailer of digest's tar-split; undefined when there is none (a damaged one throws) */
  splitTrailer(digest: Digest): SplitTrailer | undefined {
    let fd: number;
    try {
      fd = openSync(this.splitPath(digest), constants.O_RDONLY | O_CLOEXEC);
    } catch (e) {
      if (e instanceof EngineError) throw e;
      return undefined;
    }
    try {
      return readSplitTrailer(fd, `layer ${digest}`);
    } finally {
      closeSync(fd);
    }
  }

  /** every tar-split: its digest, size and snapshot */
  listSplits(): (BlobInfo & { snapshot: string })[] {
    const out: (BlobInfo & { snapshot: string })[] = [];
    for (const name of readdirSync(this.splitsDir)) {
      if (!/^[0-9a-f]{64}$/.test(name)) continue;
      const digest = `sha256:${name}` as Digest;
      try {
        const t = this.splitTrailer(digest);
        if (t) out.push({ digest, size: t.size, snapshot: t.snapshot });
      } catch {
        out.push({ digest, size: 0, snapshot: "" }); // damaged: listed (check reports it, GC may remove it)
      }
    }
    return out;
  }

  /** the snapshot's directory, or undefined when it cannot be found (no snapshot, or unreadable snapshot metadata: `system check` names that) */
  private splitRoot(snapshot: string): string | undefined {
    let dir: string | undefined;
    try {
      dir = this.splitSource?.(snapshot);
    } catch {
      return undefined; // the driver's metadata is damaged: reported by check as such, the split as unreadable
    }
    return dir !== undefined && statSync(dir, { throwIfNoEntry: false })?.isDirectory() ? dir : undefined;
  }

  /**
   * The bytes of digest's tar-split, rebuilt from its snapshot's files and hashed on the way: a
   * mismatch (a file changed under the split) throws before the last piece is handed out, so no reader
   * gets a whole stream of wrong bytes.
   */
  private async *rebuild(digest: Digest): AsyncGenerator<Uint8Array> {
    const t = this.splitTrailer(digest);
    if (!t) throw new EngineError("not_found", `blob ${digest}: not found`);
    const what = `layer ${digest} (a tar-split over ${t.snapshot === digest ? "its snapshot" : `snapshot ${t.snapshot}`})`;
    const root = this.splitRoot(t.snapshot);
    if (root === undefined) throw new EngineError("failed_precondition", `${what}: the snapshot is missing`);
    const h = new Bun.CryptoHasher("sha256");
    let size = 0;
    let held: Uint8Array | undefined;
    const { rebuildTar } = await import("../tar/split.ts");
    for await (const c of rebuildTar(this.splitPath(digest), root, what)) {
      h.update(c);
      size += c.length;
      if (held) yield held;
      held = c;
    }
    const got = `sha256:${h.digest("hex")}`;
    if (got !== digest || size !== t.size) {
      throw new EngineError("internal", `${what}: the rebuilt ${size} bytes hash to ${got}: the snapshot's files changed`);
    }
    if (held) yield held;
  }

  private mustInfo(digest: Digest): BlobInfo {
    const i = this.info(digest);
    if (!i) throw new EngineError("not_found", `blob ${digest}: not found`);
    return i;
  }

  /** the blob's bytes, streamed from disk; not_found if absent */
  readStream(digest: Digest): ReadableStream<Uint8Array> {
    if (this.mustInfo(digest).snapshot === undefined) return Bun.file(this.path(digest)).stream();
    return readableOf(this.rebuild(digest));
  }

  /**
   * The blob's bytes read into a ring of reused memory (`ring` bytes, pieces of at most `chunk`), so a
   * layer of any size is read without an allocation per chunk. A piece stays intact only until
   * `ring - 2 × chunk` more bytes have been handed out (tar's inflateGzip has the same contract);
   * not_found if absent. Reads are synchronous (page cache, ≤ `chunk` each), with a turn of the event
   * loop every MiB so concurrent downloads keep flowing.
   */
  async *readChunks(digest: Digest, o: RingOptions = {}): AsyncGenerator<Uint8Array> {
    if (this.mustInfo(digest).snapshot !== undefined) {
      // fresh buffers: they outlive any ring's contract
      yield* this.rebuild(digest);
      return;
    }
    const { readFileRing } = await import("../tar/compress.ts");
    const fd = openSync(this.path(digest), constants.O_RDONLY | O_CLOEXEC);
    try {
      yield* readFileRing(fd, { ...o, turnEvery: 1 << 20 });
    } finally {
      closeSync(fd);
    }
  }

  /**
   * The whole blob in memory, re-hashed against its name (cheap at this size; catches a damaged store
   * before a bad config reaches the runtime). Refuses blobs above `maxSize`.
   */
  readBytes(digest: Digest, maxSize = SMALL_BLOB_MAX): Uint8Array {
    const { size } = this.mustInfo(digest);
    if (size > maxSize) {
      throw new EngineError("failed_precondition", `blob ${digest}: too large to read into memory (${size} bytes, limit ${maxSize})`);
    }
    let bytes: Uint8Array;
    try {
      bytes = readFileSync(this.path(digest));
    } catch (e) {
      throw wrap(`read blob ${digest}`, e);
    }
    const got = sha256Digest(bytes);
    if (got !== digest) throw new EngineError("internal", `blob ${digest}: content does not match its digest (got ${got})`);
    return bytes;
  }

  readJson<T>(digest: Digest, maxSize = SMALL_BLOB_MAX): T {
    const text = new TextDecoder().decode(this.readBytes(digest, maxSize));
    try {
      return JSON.parse(text) as T;
    } catch (e) {
      throw new EngineError("invalid_argument", `blob ${digest}: invalid json: ${(e as Error).message}`);
    }
  }

  /**
   * Store a small blob (config, manifest) in one step. Idempotent: an existing blob is not an error.
   * `expected` guards against a caller hashing different bytes than it sends.
   */
  putBytes(bytes: Uint8Array | string, expected?: Digest, opts: { lease?: ResourceHolder } = {}): BlobInfo {
    const data = typeof bytes === "string" ? Buffer.from(bytes) : bytes;
    const digest = sha256Digest(data);
    if (expected !== undefined && checkDigest(expected) !== digest) {
      throw digestMismatch(expected, digest);
    }
    const target = this.path(digest);
    using _ = this.lock("shared");
    opts.lease?.addResourceLocked(digest);
    if (this.hasBytes(digest) && statSync(target).size === data.length) return { digest, size: data.length };
    // the tmp file lives in ingest/ so blobs/ only ever holds complete, verified blobs
    const tmp = join(this.ingestDir, `.put-${process.pid}-${Math.random().toString(36).slice(2, 10)}`);
    try {
      const fd = openSync(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | O_CLOEXEC, 0o444);
      try {
        writeAll(fd, data, data.length, 0);
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
      renameSync(tmp, target);
      fsyncDir(this.blobsDir);
    } catch (e) {
      rmSync(tmp, { force: true });
      throw wrap(`put blob ${digest}`, e);
    }
    return { digest, size: data.length };
  }

  /**
   * Remove a blob now. Takes the store lock exclusively, like GC; returns false if it was absent.
   * Prefer gc(): it knows what is still referenced.
   */
  delete(digest: Digest): boolean {
    const p = this.path(digest);
    const sp = this.splitPath(digest);
    using _ = this.lock("exclusive");
    const a = this.deleteLocked(p);
    return this.deleteLocked(sp) || a;
  }

  /** @internal for gc, which already holds the exclusive lock */
  deleteLocked(path: string): boolean {
    try {
      unlinkSync(path);
      return true;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ENOENT") return false;
      throw wrap(`remove blob ${path}`, e);
    }
  }

  async *list(): AsyncIterable<BlobInfo> {
    for (const b of this.listSync()) yield b;
  }

  /** every blob: stored bytes, then the tar-splits of digests without stored bytes (`snapshot` set) */
  listSync(): BlobInfo[] {
    const out: BlobInfo[] = [];
    const seen = new Set<string>();
    for (const name of readdirSync(this.blobsDir)) {
      if (!/^[0-9a-f]{64}$/.test(name)) continue;
      try {
        out.push({ digest: `sha256:${name}` as Digest, size: statSync(join(this.blobsDir, name)).size });
        seen.add(name);
      } catch {
        // removed while listing
      }
    }
    for (const s of this.listSplits()) if (!seen.has(hexOf(s.digest))) out.push(s);
    return out;
  }

  /** in-progress writes; `locked` probes each ingest's flock without disturbing its writer */
  listIngests(): IngestInfo[] {
    const out: IngestInfo[] = [];
    for (const ent of readdirSync(this.ingestDir, { withFileTypes: true })) {
      if (!ent.isDirectory() || ent.name.startsWith(".")) continue;
      const d = join(this.ingestDir, ent.name);
      let ref = ent.name;
      try {
        ref = readFileSync(join(d, "ref"), "utf8");
      } catch {} // a crash between mkdir and writing ref: the directory name stands in
      try {
        const st = statSync(join(d, "data"));
        out.push({ ref, size: st.size, updatedAt: st.mtime, locked: isLockedElsewhere(join(d, "data")) });
      } catch {
        // no data yet (a crash right after mkdir): listed with size 0 unless the directory went too
        const st = statSync(d, { throwIfNoEntry: false });
        if (st) out.push({ ref, size: 0, updatedAt: st.mtime, locked: false });
      }
    }
    return out;
  }

  ingestPath(ref: string): string {
    return join(this.ingestDir, new Bun.CryptoHasher("sha256").update(ref).digest("hex"));
  }

  /**
   * Open (or resume) the ingest `ref` for writing. The writer holds an exclusive flock on the ingest's
   * data for its whole life, so a second writer on the same ref — in this or another process — gets
   * `unavailable`, and GC never removes it. An existing unlocked ingest is resumed: its bytes are
   * re-hashed and `offset` says where to continue (an HTTP Range request, for a pull).
   */
  async writer(ref?: string, opts: WriterOptions = {}): Promise<ContentWriter> {
    ref ??= `ingest-${crypto.randomUUID()}`;
    if (ref === "" || ref.length > 1024 || ref.includes("\0")) {
      throw new EngineError("invalid_argument", `invalid ingest ref ${JSON.stringify(ref)}`);
    }
    const dir = this.ingestPath(ref);
    const dataPath = join(dir, "data");
    const worker = opts.offThread ? (await import("../lib/sha256-worker.ts")).Sha256Worker : undefined;
    for (let attempt = 0; ; attempt++) {
      let fd = -1;
      let state: "locked" | "busy" | "stale";
      {
        // shared store lock: GC (exclusive) cannot remove the directory between mkdir and flock
        using _ = this.lock("shared");
        try {
          mkdirSync(dir, { recursive: true, mode: 0o700 });
          try {
            fd = openSync(dataPath, constants.O_RDWR | constants.O_CREAT | O_CLOEXEC, 0o600);
            state = tryLockFd(fd, dataPath);
          } catch (e) {
            // a committing/aborting writer renamed the directory away between our mkdir and open
            if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw e;
            state = "stale";
          }
          if (state === "locked") {
            const refPath = join(dir, "ref");
            if (!lstatSync(refPath, { throwIfNoEntry: false })) writeFileSync(refPath, ref, { mode: 0o600 });
          }
        } catch (e) {
          if (fd >= 0) closeSync(fd);
          throw wrap(`open ingest ${ref}`, e);
        }
      }
      if (state === "locked") return ContentWriter.open(this, ref, dir, fd, opts, worker);
      if (fd >= 0) closeSync(fd);
      if (state === "busy" && attempt >= (opts.busyRetries ?? INGEST_LOCK_RETRIES)) {
        throw new EngineError("unavailable", `ingest ${ref}: locked by another writer`);
      }
      await Bun.sleep(state === "busy" ? INGEST_LOCK_RETRY_MS : 0);
    }
  }

  /** re-hash a blob against its name (for `system check`) */
  async verify(digest: Digest): Promise<VerifyResult> {
    const p = this.path(digest);
    const st = statSync(p, { throwIfNoEntry: false });
    if (!st && lstatSync(this.splitPath(digest), { throwIfNoEntry: false })) return this.verifySplit(digest, (await import("../tar/split.ts")).checkSplit);
    if (!st) return { digest, ok: false, problem: "missing" };
    if (!st.isFile()) return { digest, ok: false, problem: "not a regular file" };
    const h = new Bun.CryptoHasher("sha256");
    let size = 0;
    try {
      for await (const chunk of Bun.file(p).stream()) {
        h.update(chunk);
        size += chunk.length;
      }
    } catch (e) {
      return { digest, ok: false, problem: `read: ${(e as Error).message}` };
    }
    const got = `sha256:${h.digest("hex")}`;
    if (got !== digest) return { digest, ok: false, problem: `content does not match digest (got ${got}, ${size} bytes)` };
    return { digest, ok: true, size };
  }

  /**
   * A tar-split is not re-hashed (that reads the whole layer): its records must parse, add up to its
   * size and name files of the snapshot that are regular files of their recorded sizes.
   */
  private verifySplit(digest: Digest, checkSplit: typeof import("../tar/split.ts").checkSplit): VerifyResult {
    let t: SplitTrailer | undefined;
    try {
      t = this.splitTrailer(digest);
    } catch (e) {
      return { digest, ok: false, problem: (e as Error).message };
    }
    if (!t) return { digest, ok: false, problem: "missing" };
    if (t.digest !== digest) return { digest, ok: false, problem: `tar-split says it is ${t.digest}` };
    const root = this.splitRoot(t.snapshot);
    if (root === undefined) return { digest, ok: false, problem: `tar-split over snapshot ${t.snapshot}, which is missing` };
    const problem = checkSplit(this.splitPath(digest), root, `tar-split over snapshot ${t.snapshot}`);
    return problem ? { digest, ok: false, problem } : { digest, ok: true, size: t.size };
  }
}

export interface WriterOptions {
  /**
   * Hash and write on a second thread (lib/sha256-worker.ts): for one large stream whose producer has
   * other work to do (`berth import` unpacks the same bytes). A fresh ingest only; a resumed one is
   * written inline. In this mode `digest()` and `reset()` are not available; `commit()` waits for the
   * worker.
   */
  offThread?: boolean;
  /**
   * How often to retry, 5 ms apart, while another writer holds the ingest (default 40: a probe such as
   * listIngests lets go at once); 0 reports `unavailable` at the first conflict.
   */
  busyRetries?: number;
}

/**
 * One in-progress blob. Lifecycle: `store.writer(ref)` → `write()`* → `commit()` | `abort()` |
 * `close()` (keeps the ingest for a later resume). `using`/`await using` closes it.
 *
 * write() is synchronous: it hashes the chunk and copies it into a 1 MiB buffer (or writes a large
 * chunk straight through), so the cost per byte is one SHA-256 pass and one write(2) to page cache.
 */
export class ContentWriter implements Disposable {
  private hasher = new Bun.CryptoHasher("sha256");
  /** offThread mode: hashes and pwrites what write() is given */
  private worker: Sha256Worker | undefined;
  /** allocated on the first buffered write (an off-thread writer never needs it) */
  private buf: Buffer | undefined;
  private used = 0;
  /** bytes on disk (excluding the buffer) */
  private written = 0;
  private fd: number;
  /** bytes that were already in the ingest when it was opened: resume from here */
  readonly offset: number;

  private constructor(
    private readonly store: ContentStore,
    readonly ref: string,
    private readonly dir: string,
    fd: number,
    opts: WriterOptions,
    Worker?: typeof Sha256Worker,
  ) {
    this.fd = fd;
    const size = fstatSync(fd).size;
    if (size > 0) {
      const chunk = Buffer.allocUnsafe(WRITE_BUFFER);
      let pos = 0;
      while (pos < size) {
        const n = readSync(fd, chunk, 0, Math.min(chunk.length, size - pos), pos);
        if (n === 0) break;
        this.hasher.update(chunk.subarray(0, n));
        pos += n;
      }
      this.written = pos;
    }
    this.offset = this.written;
    if (opts.offThread && Worker && this.written === 0) this.worker = new Worker({ path: join(dir, "data"), position: 0, writeback: true });
  }

  /** @internal */
  static open(store: ContentStore, ref: string, dir: string, fd: number, opts: WriterOptions = {}, Worker?: typeof Sha256Worker): ContentWriter {
    try {
      return new ContentWriter(store, ref, dir, fd, opts, Worker);
    } catch (e) {
      closeSync(fd);
      throw wrap(`resume ingest ${ref}`, e);
    }
  }

  get size(): number {
    return this.written + this.used;
  }

  get closed(): boolean {
    return this.fd < 0;
  }

  private live(): number {
    if (this.fd < 0) throw new EngineError("failed_precondition", `ingest ${this.ref}: writer is closed`);
    return this.fd;
  }

  write(chunk: Uint8Array): void {
    const fd = this.live();
    if (this.worker) {
      try {
        this.worker.update(chunk);
      } catch (e) {
        throw wrap(`write ingest ${this.ref}`, e);
      }
      this.written += chunk.length;
      return;
    }
    this.hasher.update(chunk);
    let off = 0;
    const len = chunk.length;
    if (this.used === 0 && len >= WRITE_BUFFER) {
      this.pwrite(fd, chunk, len);
      return;
    }
    const buf = (this.buf ??= Buffer.allocUnsafe(WRITE_BUFFER));
    while (off < len) {
      const n = Math.min(WRITE_BUFFER - this.used, len - off);
      buf.set(n === len ? chunk : chunk.subarray(off, off + n), this.used);
      this.used += n;
      off += n;
      if (this.used === WRITE_BUFFER) this.flush();
    }
  }

  /** pump a stream (an HTTP body, a tee of an import) into the ingest */
  async writeStream(source: ReadableStream<Uint8Array> | AsyncIterable<Uint8Array>): Promise<void> {
    for await (const chunk of source as AsyncIterable<Uint8Array>) this.write(chunk);
  }

  private pwrite(fd: number, data: Uint8Array, len: number): void {
    try {
      writeAll(fd, data, len, this.written);
    } catch (e) {
      throw wrap(`write ingest ${this.ref}`, e);
    }
    this.written += len;
  }

  private flush(): void {
    if (this.used === 0) return;
    const n = this.used;
    this.used = 0;
    this.pwrite(this.live(), this.buf!, n);
  }

  /** the digest of everything written so far */
  digest(): Digest {
    if (this.worker) throw new EngineError("failed_precondition", `ingest ${this.ref}: digest() of an off-thread writer before commit`);
    return `sha256:${this.hasher.copy().digest("hex")}` as Digest;
  }

  /** drop what was written (a server ignored our Range request) */
  reset(): void {
    const fd = this.live();
    if (this.worker) throw new EngineError("failed_precondition", `ingest ${this.ref}: reset() of an off-thread writer`);
    this.used = 0;
    ftruncateSync(fd, 0);
    this.written = 0;
    this.hasher = new Bun.CryptoHasher("sha256");
  }

  /**
   * Verify, fsync, and move the data into blobs/. An already-present blob is success. On a size or
   * digest mismatch the ingest is removed (its bytes are known bad) and invalid_argument is thrown;
   * any other failure (ENOSPC at the final flush or fsync) removes the ingest too.
   */
  async commit(opts: CommitOptions = {}): Promise<BlobInfo> {
    const fd = this.live();
    /** the ingest directory once renamed out of the way (retireIngest) */
    let doomed: string | undefined;
    try {
      this.flush();
      const size = this.size;
      let digest: Digest;
      if (this.worker) {
        const w = this.worker;
        this.worker = undefined;
        try {
          digest = `sha256:${await w.finish()}` as Digest;
        } catch (e) {
          throw wrap(`write ingest ${this.ref}`, e);
        }
      } else digest = this.digest();
      if (opts.size !== undefined && opts.size !== size) {
        throw new EngineError("invalid_argument", `commit blob: size mismatch: expected ${opts.size} bytes, got ${size}`);
      }
      if (opts.digest !== undefined && opts.digest !== digest) throw digestMismatch(opts.digest, digest);
      fsyncSync(fd);
      fchmodSync(fd, 0o444);
      const target = this.store.path(digest);
      {
        using _ = this.store.lock("shared");
        opts.lease?.addResourceLocked(digest);
        doomed = this.retireIngest();
        if (this.store.hasBytes(digest) && statSync(target).size === size) {
          // same content already committed (two pulls of one layer): keep the old inode
        } else {
          renameSync(join(doomed, "data"), target);
          fsyncDir(this.store.blobsDir);
        }
        rmSync(doomed, { recursive: true, force: true });
      }
      return { digest, size };
    } catch (e) {
      // every failure removes the ingest: bad bytes (a mismatch) are useless, and after a write or
      // fsync error (ENOSPC, EIO) what reached the file is unknown, so resuming from it is unsafe
      if (doomed === undefined) this.removeIngest();
      else rmSync(doomed, { recursive: true, force: true });
      if (e instanceof EngineError && e.kind === "invalid_argument") throw e;
      throw wrap(`commit ingest ${this.ref}`, e);
    } finally {
      this.close();
    }
  }

  /**
   * Commit what was written as the tar-split of the layer `digest` (`size` bytes, bodies in the
   * committed snapshot `snapshot`; the caller wrote the split's trailer saying so): fsync, then rename
   * into splits/ under the shared lock, leased first. Stored bytes of that digest win: the split is
   * then dropped. Failures remove the ingest, as commit() does.
   */
  async commitSplit(digest: Digest, size: number, opts: { lease?: ResourceHolder } = {}): Promise<BlobInfo> {
    const fd = this.live();
    let doomed: string | undefined;
    try {
      if (this.worker) throw new EngineError("failed_precondition", `ingest ${this.ref}: a tar-split is written inline`);
      this.flush();
      fsyncSync(fd);
      fchmodSync(fd, 0o444);
      const target = this.store.splitPath(digest);
      {
        using _ = this.store.lock("shared");
        opts.lease?.addResourceLocked(digest);
        doomed = this.retireIngest();
        if (!this.store.hasBytes(digest)) {
          renameSync(join(doomed, "data"), target);
          fsyncDir(this.store.splitsDir);
        }
        rmSync(doomed, { recursive: true, force: true });
      }
      return { digest, size };
    } catch (e) {
      if (doomed === undefined) this.removeIngest();
      else rmSync(doomed, { recursive: true, force: true });
      throw wrap(`commit tar-split ${this.ref}`, e);
    } finally {
      this.close();
    }
  }

  /** remove the ingest and release it */
  abort(): void {
    if (this.fd < 0) return;
    this.removeIngest();
    this.close();
  }

  /**
   * Move the ingest directory out of the way in one rename(2) while we still hold its flock. A
   * concurrent writer(ref) then either fails to open (ENOENT) or finds its locked inode no longer at
   * the ingest path ("stale") and starts over; removing files in place instead would let it create a
   * fresh `data` in a directory we are about to delete.
   */
  private retireIngest(): string {
    const doomed = join(this.store.ingestDir, `.retired-${process.pid}-${Math.random().toString(36).slice(2, 10)}`);
    renameSync(this.dir, doomed);
    return doomed;
  }

  /** best effort: the error that brought us here matters more than a failed cleanup */
  private removeIngest(): void {
    try {
      rmSync(this.retireIngest(), { recursive: true, force: true });
    } catch {} // see above: the caller rethrows the error that brought us here
  }

  /** release the ingest but keep its bytes for a later `writer(ref)` to resume */
  close(): void {
    if (this.fd < 0) return;
    // off-thread writes still in the ring are dropped; the worker has its own fd, and a resume
    // re-hashes whatever reached the file
    this.worker?.terminate();
    this.worker = undefined;
    const fd = this.fd;
    try {
      this.flush();
    } finally {
      this.fd = -1;
      closeSync(fd); // drops the flock
    }
  }

  [Symbol.dispose](): void {
    this.close();
  }
}
