/**
 * SHA-256 (and optionally the write to a file) of a byte stream on a second thread.
 *
 * Why: this VM kind's CPUs have no SHA extensions, so SHA-256 runs at ~250–400 MB/s per core
 * (BoringSSL's AVX2 code; `openssl speed sha256` agrees). Hashing a 1 GB layer on the thread that also
 * unpacks it costs as much CPU as GNU tar's whole extraction. A Worker fed through a SharedArrayBuffer
 * ring takes the hash (and the blob's write(2)s) to the other core; the producing thread pays one
 * memcpy per byte.
 *
 * Protocol (one producer, one consumer): `ctl` = [head, tail, closed, failed] as 64-bit counters;
 * the producer copies bytes in at head % ring and bumps head; the worker hashes (and pwrites)
 * [tail, head) and bumps tail. Either side sleeps in Atomics.wait when the ring is empty or full.
 * A worker error (ENOSPC from the write, …) sets `failed` and is reported by the next update() or by
 * finish(), so the producer never blocks on a ring nobody drains.
 *
 * The worker's code is a string run from a blob: URL, so `bun build --compile` needs no extra entry
 * point. With `path`, the worker opens that file itself (its own fd: an error path on the producer's
 * side that closes its descriptor can never leave the worker writing to a reused fd number) and
 * writes the bytes at `position`… with pwrite(2); every 32 MiB
 * sync_file_range(SYNC_FILE_RANGE_WRITE) starts their writeback, so a later fsync(2) finds little left
 * to do (the page cache would otherwise hold the whole blob until dirty_background_ratio is reached).
 */
import { EngineError } from "./errors.ts";

// biome-ignore lint/complexity/noUselessStringRaw: the worker source is kept raw so a later backslash in it stays as written
const WORKER_SRC = String.raw`
import { closeSync, openSync, readSync, writeSync } from "node:fs";
let sfr = null;
self.onmessage = (ev) => {
  const { sab, ring, path, position, writeback, file } = ev.data;
  let fd = -1;
  if (file) {
    // the hash of a whole file, read here: the producer hands over nothing
    try {
      fd = openSync(file, "r");
      const h = new Bun.CryptoHasher("sha256");
      const buf = new Uint8Array(256 * 1024);
      let at = 0;
      for (let n; (n = readSync(fd, buf, 0, buf.length, at)) > 0; at += n) h.update(buf.subarray(0, n));
      closeSync(fd);
      postMessage({ hex: h.digest("hex"), bytes: at });
    } catch (e) {
      if (fd >= 0) try { closeSync(fd); } catch {} // the read error is what the producer must hear (posted below)
      postMessage({ error: String(e && e.message || e), code: e && e.code });
    }
    return;
  }
  const ctl = new BigInt64Array(sab, 0, 4);
  const data = new Uint8Array(sab, 64, ring);
  const h = new Bun.CryptoHasher("sha256");
  const R = BigInt(ring);
  let pos = position;
  let synced = position;
  const WB = 32 * 1024 * 1024;
  if (path && writeback) {
    try {
      const { dlopen } = require("bun:ffi");
      sfr = dlopen("libc.so.6", { sync_file_range: { args: ["i32", "i64", "i64", "u32"], returns: "i32" } }).symbols.sync_file_range;
    } catch {} // no sync_file_range (not glibc): writeback starts at the final fsync instead
  }
  const out = (v) => {
    let off = 0;
    while (off < v.length) off += writeSync(fd, v, off, v.length - off, pos + off);
    pos += v.length;
    if (sfr && pos - synced >= WB) {
      sfr(fd, synced, pos - synced, 2); // SYNC_FILE_RANGE_WRITE: start writeback, don't wait
      synced = pos;
    }
  };
  try {
    if (path) fd = openSync(path, "r+");
    for (;;) {
      const tail = Atomics.load(ctl, 1);
      const head = Atomics.load(ctl, 0);
      if (head === tail) {
        if (Atomics.load(ctl, 2) !== 0n && Atomics.load(ctl, 0) === tail) break;
        Atomics.wait(ctl, 0, tail, 50);
        continue;
      }
      const s = Number(tail % R);
      const n = Number(head - tail);
      const a = data.subarray(s, Math.min(ring, s + n));
      const b = s + n > ring ? data.subarray(0, s + n - ring) : null;
      h.update(a);
      if (b) h.update(b);
      if (fd >= 0) {
        out(a);
        if (b) out(b);
      }
      Atomics.store(ctl, 1, head);
      Atomics.notify(ctl, 1);
    }
    if (fd >= 0) closeSync(fd);
    fd = -1;
    postMessage({ hex: h.digest("hex") });
  } catch (e) {
    if (fd >= 0) try { closeSync(fd); } catch {} // the write error is what the producer must hear (posted below)
    Atomics.store(ctl, 3, 1n);
    Atomics.notify(ctl, 1);
    postMessage({ error: String(e && e.message || e), code: e && e.code });
  }
};
`;

let workerUrl: string | undefined;

export interface Sha256WorkerOptions {
  /** ring size in bytes (default 4 MiB) */
  ringBytes?: number;
  /** also pwrite the bytes into this existing file, starting at `position` */
  path?: string;
  position?: number;
  /** start writeback of the written bytes as they go (sync_file_range) */
  writeback?: boolean;
  /** hash this whole file instead (the worker reads it; update() is not used): `bytes` is its length once finished */
  file?: string;
}

export class Sha256Worker implements Disposable {
  private readonly ring: number;
  private readonly ctl: BigInt64Array;
  private readonly data: Uint8Array;
  private readonly worker: Worker;
  private readonly result: Promise<{ hex?: string; bytes?: number; error?: string; code?: string }>;
  private closed = false;
  /** bytes handed to update() so far */
  bytes = 0;

  constructor(opts: Sha256WorkerOptions = {}) {
    this.ring = opts.file ? 0 : (opts.ringBytes ?? 4 << 20);
    const sab = new SharedArrayBuffer(64 + this.ring);
    this.ctl = new BigInt64Array(sab, 0, 4);
    this.data = new Uint8Array(sab, 64, this.ring);
    workerUrl ??= URL.createObjectURL(new Blob([WORKER_SRC], { type: "application/javascript" }));
    this.worker = new Worker(workerUrl);
    this.result = new Promise((resolve) => {
      this.worker.onmessage = (ev: MessageEvent) => resolve(ev.data);
      this.worker.onerror = (ev: ErrorEvent) => resolve({ error: ev.message || "worker failed" });
    });
    this.worker.postMessage({ sab, ring: this.ring, path: opts.path ?? "", position: opts.position ?? 0, writeback: !!opts.writeback, file: opts.file });
  }

  private failed(): boolean {
    return Atomics.load(this.ctl, 3) !== 0n;
  }

  /** copy `chunk` into the ring (blocks while the ring is full); throws once the worker has failed */
  update(chunk: Uint8Array): void {
    if (this.closed) throw new EngineError("failed_precondition", "sha256 worker: update after finish");
    const ring = this.ring;
    let off = 0;
    while (off < chunk.length) {
      const head = this.ctl[0]!;
      const tail = Atomics.load(this.ctl, 1);
      const free = ring - Number(head - tail);
      if (free === 0) {
        if (this.failed()) throw new EngineError("internal", "sha256 worker failed");
        Atomics.wait(this.ctl, 1, tail, 50);
        continue;
      }
      const s = Number(head % BigInt(ring));
      const n = Math.min(free, chunk.length - off, ring - s);
      this.data.set(n === chunk.length ? chunk : chunk.subarray(off, off + n), s);
      off += n;
      Atomics.store(this.ctl, 0, head + BigInt(n));
      Atomics.notify(this.ctl, 0);
    }
    this.bytes += chunk.length;
  }

  /** no more input: wait for the worker to drain the ring; the hex digest of everything given */
  async finish(): Promise<string> {
    this.closed = true;
    Atomics.store(this.ctl, 2, 1n);
    Atomics.notify(this.ctl, 0);
    try {
      const r = await this.result;
      if (r.error !== undefined || r.hex === undefined) {
        const e = new EngineError("internal", `sha256 worker: ${r.error ?? "no result"}`);
        (e as { code?: string }).code = r.code;
        throw e;
      }
      if (r.bytes !== undefined) this.bytes = r.bytes;
      return r.hex;
    } finally {
      this.worker.terminate();
    }
  }

  /** stop the worker without waiting for a digest (error paths) */
  terminate(): void {
    this.closed = true;
    this.worker.terminate();
  }

  [Symbol.dispose](): void {
    this.terminate();
  }
}
