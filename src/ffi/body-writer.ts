/**
 * Regular files' bodies written on a native thread (body-writer.c), for import: the JS thread creates
 * each file (cow/apply.ts, with all its path checks) and queues the descriptor, the body's pieces and
 * the file's owner, mode and times; the thread writes, sets them and closes. The thread is handed
 * descriptors only, never a path.
 *
 * Where the object comes from, as layer-inflate.ts: embedded by `bun run build` (scripts/build.ts)
 * and dlopen()ed from a sealed memfd; from source compiled once per process with the host's `cc`;
 * neither: `BodyWriter.open` returns undefined and the caller writes on its own thread.
 *
 * Memory rules (bun:ffi): the op ring is a JS ArrayBuffer the thread reads, and each WRITE op points
 * into the caller's chunk. The writer keeps every queued chunk referenced until its op has run; the
 * caller must not overwrite a chunk's bytes before then (`fence` / `waitFor`: tar/compress.ts
 * readFileRing's `guard`). An open writer is kept in `live` until end() has joined its thread.
 */
import { dlopen, FFIType as T, ptr, type Pointer } from "bun:ffi";
import { EngineError, SyscallError, wrap } from "../lib/errors.ts";
import { strerror } from "./_core.ts";
import { compileObject, dlopenSealed, embeddedObject, lazySource } from "./embedded-object.ts";
import { errnoName } from "./errno.ts";
// the C text as an embedded file, read only when needed (the prebuilt object's name, a compile from source)
import writerPath from "./body-writer.c" with { type: "file" };

const SYMBOLS = {
  bw_open: { args: [T.ptr, T.u64], returns: T.ptr },
  bw_push: { args: [T.ptr, T.u64], returns: T.void },
  bw_wait: { args: [T.ptr, T.u64], returns: T.u64_fast },
  bw_error: { args: [T.ptr, T.ptr], returns: T.i32 },
  bw_end: { args: [T.ptr, T.i32], returns: T.void },
  fh_open: { args: [T.i32, T.u64], returns: T.ptr },
  fh_done: { args: [T.ptr], returns: T.i32 },
  fh_end: { args: [T.ptr, T.i32, T.ptr], returns: T.i32 },
} as const;

type Lib = ReturnType<typeof dlopen<typeof SYMBOLS>>["symbols"];
/** undefined: not tried yet; null: unavailable in this process */
let lib: Lib | null | undefined;

const writerSource = lazySource(writerPath);

/** the name stem scripts/build.ts gives the compiled object: the hash ties it to this source */
export function prebuiltBodyWriterName(source: string = writerSource()): string {
  return `berth-body-writer-${Bun.hash(source).toString(16)}`;
}

/** the C compiler's flags for the object (scripts/build.ts uses the same) */
export const BODY_WRITER_CFLAGS = ["-O2", "-shared", "-fPIC", "-Wall", "-Wl,-z,now", "-Wl,-z,noexecstack", "-s"];
export const BODY_WRITER_LIBS = ["-lpthread", "-ldl"];

function load(): Lib | null {
  if (lib !== undefined) return lib;
  const bytes = embeddedObject(prebuiltBodyWriterName());
  if (bytes) {
    try {
      lib = dlopenSealed("berth-body-writer", bytes, SYMBOLS);
      return lib;
    } catch {} // no memfd_create or a dlopen refusal: try the source, else the JS thread writes
  }
  lib = compileObject("berth-body-writer", writerSource(), BODY_WRITER_CFLAGS, BODY_WRITER_LIBS, SYMBOLS); // none: the caller writes on its own thread
  return lib;
}

const OP_WRITE = 1;
const OP_FINISH = 2;
const F_CHOWN = 1;
const F_CHMOD = 2;
const F_WRITEBACK = 4;
const F_TIMES = 8;
const OP_CREATE = 3;
const OP_COPY = 4;
const OP_LINK = 5;
const SYSCALLS = ["", "write", "fchown", "fchmod", "futimens", "close", "cancel", "open", "copy_file_range", "link"];
/** a slot: 16 words of op, then (CREATE) the path, NUL-terminated */
const OP_BYTES = 512;
const PATH_AT = 64;
const PATH_MAX_HERE = OP_BYTES - PATH_AT - 1;
const OP_WORDS = OP_BYTES / 4;
const TWO32 = 2 ** 32;
/**
 * ops published to the thread at a time (bw_push: a mutex and, when the thread sleeps, a futex wake):
 * one push per file cost the JS thread ~0.1 s of futex calls on the 22k-entry bench tarball
 */
const PUSH_EVERY = 16;
/**
 * behind(): the thread has more than this many ops still to run (at most half the queue). The import
 * then opens its files on its own thread: it is ahead and has time for it, the thread is what the
 * layer waits for. On the 1 GB bench tarball that took the import from 1.38–1.43 s to 1.27–1.36 s
 * (4 interleaved pairs, fresh ext4). When the caller is the slow side (an ext4 slow to allocate
 * inodes, where the opens are most of the work), the queue runs short and the thread opens them.
 */
const BEHIND_ABOVE = 64;

/** what a file gets after its body (cow/driver.ts BodyFile has this shape); times in seconds and nanoseconds */
export interface BodyFile {
  chown: boolean;
  uid: number;
  gid: number;
  /** fchmod to this, or -1 */
  chmod: number;
  /** start the writeback of its pages (sync_file_range) */
  writeback: boolean;
  atime: number;
  atimeNsec: number;
  mtime: number;
  mtimeNsec: number;
}

/** open writers: their op rings and queued chunks must outlive their threads */
const live = new Set<BodyWriter>();

/**
 * One writer thread and its queue. `write` and `finish` queue ops (blocking only while the queue is
 * full) and report the thread's first failure, naming the entry it was for; `drain` waits for all;
 * `end` must be called, also on error paths (with `cancel`, queued writes are dropped and only the
 * descriptors closed).
 */
export class BodyWriter implements Disposable {
  private p: Pointer | null;
  private readonly ops: Uint32Array;
  private readonly bytes: Uint8Array;
  /** the low 32 bits of the thread's counter, stored by it after each op */
  private readonly progress: Uint32Array;
  private readonly behindAbove: number;
  private readonly enc = new TextEncoder();
  /** per slot, the view its path is encoded into (made once) */
  private readonly pathViews: Uint8Array[] = [];
  /** per slot: the chunk a WRITE points into (kept alive) and the entry name (for errors) */
  private readonly keep: (Uint8Array | undefined)[];
  private readonly names: string[];
  private head = 0;
  private pushed = 0;
  private tail = 0;
  private readonly errBuf = new BigUint64Array(2);

  private constructor(
    private readonly l: Lib,
    p: Pointer,
    private readonly cap: number,
    ops: Uint32Array,
  ) {
    this.p = p;
    this.ops = ops;
    this.bytes = new Uint8Array(ops.buffer);
    this.progress = new Uint32Array(ops.buffer, cap * OP_BYTES, 1);
    this.behindAbove = Math.min(BEHIND_ABOVE, cap >> 1);
    this.keep = new Array(cap);
    this.names = new Array(cap);
    live.add(this);
  }

  /** a running thread with a queue of `cap` ops (at most that many descriptors in flight), or undefined */
  static open(cap = 512): BodyWriter | undefined {
    const l = load();
    if (!l) return undefined;
    // an ArrayBuffer first: a small typed array starts inside the JS heap, and asking for its buffer
    // later would move its bytes away from the address the thread was given
    const ops = new Uint32Array(new ArrayBuffer(cap * OP_BYTES + 8));
    const p = l.bw_open(ptr(ops), cap);
    if (!p || typeof p === "bigint") return undefined; // no memory or no thread: the caller writes itself
    return new BodyWriter(l, p, cap, ops);
  }

  private live(): Pointer {
    if (!this.p) throw new EngineError("failed_precondition", "body writer: already ended");
    return this.p;
  }

  /** ops queued so far: the thread is done with a chunk once `waitFor(fence())` taken after it returns */
  fence(): number {
    return this.head;
  }

  /** block until every op queued before the counter `mark` has run; throws the thread's failure */
  waitFor(mark: number): void {
    if (this.tail >= mark) return;
    if (this.pushed < mark) this.push();
    this.tail = Number(this.l.bw_wait(this.live(), mark));
    if (this.tail < mark) this.check();
  }

  /**
   * queue the creation of the regular file `path` (absolute; its parent already resolved inside the
   * root by the caller) with `mode`: open(2) O_CREAT|O_EXCL|O_NOFOLLOW on the thread, which then is
   * the file of the `fd` -1 in write/finish. false (nothing queued) when the path is too long for a
   * slot: the caller opens the file itself.
   */
  create(path: string, mode: number, name: string): boolean {
    if (path.length * 3 > PATH_MAX_HERE && Buffer.byteLength(path) > PATH_MAX_HERE) return false;
    const b = this.slot(name, undefined);
    const i = b / OP_WORDS;
    const at = b * 4 + PATH_AT;
    const view = (this.pathViews[i] ??= this.bytes.subarray(at, at + PATH_MAX_HERE));
    const n = this.enc.encodeInto(path, view).written;
    this.bytes[at + n] = 0;
    const o = this.ops;
    o[b] = OP_CREATE;
    o[b + 1] = n;
    o[b + 2] = mode;
    this.head++;
    return true;
  }

  /** the thread has more than BEHIND_ABOVE ops (at most half the queue) still to run: read from its progress word, no call */
  behind(): boolean {
    return ((this.head >>> 0) - this.progress[0]!) >>> 0 > this.behindAbove;
  }

  /**
   * queue link(2) of `target` (a file whose creation is queued already, or made before) to the new
   * name `path`, both absolute and resolved inside the root by the caller. false (nothing queued)
   * when the two do not fit in a slot: the caller links them itself, after a drain.
   */
  link(target: string, path: string, name: string): boolean {
    const room = PATH_MAX_HERE - 1;
    if ((target.length + path.length) * 3 > room && Buffer.byteLength(target) + Buffer.byteLength(path) > room) return false;
    const b = this.slot(name, undefined);
    const at = b * 4 + PATH_AT;
    const t = this.enc.encodeInto(target, this.bytes.subarray(at, at + PATH_MAX_HERE)).written;
    this.bytes[at + t] = 0;
    const n = this.enc.encodeInto(path, this.bytes.subarray(at + t + 1, at + PATH_MAX_HERE)).written;
    this.bytes[at + t + 1 + n] = 0;
    const o = this.ops;
    o[b] = OP_LINK;
    o[b + 1] = t;
    o[b + 2] = n;
    this.head++;
    if (this.head - this.pushed >= PUSH_EVERY) this.push();
    return true;
  }

  /** queue `chunk` for `fd` (the file of entry `name`; -1: the last created) */
  write(fd: number, chunk: Uint8Array, name: string): void {
    const b = this.slot(name, chunk);
    const o = this.ops;
    // its buffer first: a small typed array's bytes move out of the JS heap when that is asked for
    const a = chunk.buffer && ptr(chunk);
    o[b] = OP_WRITE;
    o[b + 1] = fd;
    o[b + 2] = a % TWO32;
    o[b + 3] = Math.floor(a / TWO32);
    o[b + 4] = chunk.length;
    this.head++;
  }

  /**
   * queue the copy of `length` bytes at `offset` of the file `src` (the tarball: kept open by the
   * caller until the queue is drained) to `fd` (-1: the last created), in the kernel
   */
  copy(fd: number, src: number, offset: number, length: number, name: string): void {
    const b = this.slot(name, undefined);
    const o = this.ops;
    o[b] = OP_COPY;
    o[b + 1] = fd;
    o[b + 2] = src;
    o[b + 3] = offset % TWO32;
    o[b + 4] = Math.floor(offset / TWO32);
    o[b + 5] = length % TWO32;
    o[b + 6] = Math.floor(length / TWO32);
    this.head++;
  }

  /** queue what `fd` gets after its body (null: nothing), and its close; published with the next PUSH_EVERY ops, or by waitFor/drain/end */
  finish(fd: number, name: string, f: BodyFile | null): void {
    const b = this.slot(name, undefined);
    const o = this.ops;
    o[b] = OP_FINISH;
    o[b + 1] = fd;
    let flags = 0;
    if (f) {
      if (f.chown) {
        flags |= F_CHOWN;
        o[b + 3] = f.uid;
        o[b + 4] = f.gid;
      }
      if (f.chmod >= 0) {
        flags |= F_CHMOD;
        o[b + 5] = f.chmod;
      }
      if (f.writeback) flags |= F_WRITEBACK;
      flags |= F_TIMES;
      o[b + 6] = f.atime >>> 0;
      o[b + 7] = Math.floor(f.atime / TWO32);
      o[b + 8] = f.atimeNsec;
      o[b + 9] = f.mtime >>> 0;
      o[b + 10] = Math.floor(f.mtime / TWO32);
      o[b + 11] = f.mtimeNsec;
    }
    o[b + 2] = flags;
    this.head++;
    if (this.head - this.pushed >= PUSH_EVERY) this.push();
  }

  /** wait for every queued op; throws the thread's failure */
  drain(): void {
    this.waitFor(this.head);
    this.check();
  }

  /** stop and join the thread (`cancel`: drop queued writes, only close); idempotent */
  end(cancel = false): void {
    if (!this.p) return;
    if (this.pushed < this.head) this.push();
    this.l.bw_end(this.p, cancel ? 1 : 0);
    this.p = null;
    this.keep.fill(undefined);
    live.delete(this);
  }

  [Symbol.dispose](): void {
    this.end(true);
  }

  /** the first word of the next op's slot, waiting while the queue is full */
  private slot(name: string, chunk: Uint8Array | undefined): number {
    if (this.head - this.tail >= this.cap) this.waitFor(this.head - this.cap + 1);
    const i = this.head % this.cap;
    this.keep[i] = chunk;
    this.names[i] = name;
    return i * OP_WORDS;
  }

  private push(): void {
    this.l.bw_push(this.live(), this.head);
    this.pushed = this.head;
  }

  private check(): void {
    const e = this.l.bw_error(this.live(), ptr(this.errBuf));
    if (e === 0) return;
    const seq = Number(this.errBuf[0]);
    const syscall = SYSCALLS[Number(this.errBuf[1])] ?? "write";
    // the slot's name is the failed op's while the queue has not come round to it again
    const name = this.head - seq <= this.cap ? (this.names[seq % this.cap] ?? "?") : "?";
    throw wrap(`layer entry ${JSON.stringify(name)}`, new SyscallError(syscall, e, errnoName(e), strerror(e)));
  }
}

/**
 * The SHA-256 of the first `size` bytes of a file on a native thread (body-writer.c fh_*: read
 * into a small buffer and hashed by libcrypto), for an import whose bodies the writer copies from
 * the file. `open` returns undefined where that is not there (no native object,
 * no libcrypto.so.3): the caller hashes another way. `digest` or `cancel` must be called once.
 */
export class FileHash implements Disposable {
  private p: Pointer | null;

  private constructor(
    private readonly l: Lib,
    p: Pointer,
  ) {
    this.p = p;
  }

  static open(fd: number, size: number): FileHash | undefined {
    const l = load();
    if (!l) return undefined;
    const p = l.fh_open(fd, size);
    if (!p || typeof p === "bigint") return undefined;
    return new FileHash(l, p);
  }

  /** the hex digest, once the thread is done (polled, so the event loop keeps turning meanwhile) */
  async digest(): Promise<string> {
    const p = this.p;
    if (!p) throw new EngineError("failed_precondition", "file hash: already ended");
    while (this.l.fh_done(p) === 0) await Bun.sleep(1);
    this.p = null;
    const out = new Uint8Array(32);
    const e = this.l.fh_end(p, 0, ptr(out));
    if (e !== 0) throw wrap("hash of the input file", new SyscallError("pread", e, errnoName(e), strerror(e)));
    return Buffer.from(out).toString("hex");
  }

  /** stop the thread (before its next read) and join it; idempotent */
  cancel(): void {
    if (!this.p) return;
    this.l.fh_end(this.p, 1, ptr(new Uint8Array(32)));
    this.p = null;
  }

  [Symbol.dispose](): void {
    this.cancel();
  }
}
