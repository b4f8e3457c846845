/**
 * Layer compression: detect by magic bytes, decompress and compress as streams. Uses the web
 * DecompressionStream/CompressionStream, which Bun implements natively for "gzip" and (non-standard)
 * "zstd" since 1.3.3 (oven-sh/bun#24757). Measured on the project VM (2 cores, Bun 1.4.4, a 250 MB tar
 * from /usr, page cache warm, output drained): DecompressionStream gzip 395–415 MB/s vs node:zlib
 * createGunzip 411–428 MB/s; zstd 427–538 MB/s vs createZstdDecompress 471–503 MB/s (docs/research.md §1.5
 * has 327/340/717 from an earlier run). Within noise of each other, so the web streams win on
 * simplicity; both hand out ~450–800 KiB chunks, large enough for the reader's per-chunk cost to vanish.
 *
 * bzip2 and xz layers exist in the wild (old docker save output) but neither Bun nor node:zlib decodes
 * them; they are detected and refused with a clear message rather than misread as tar.
 */
import { readSync } from "node:fs";
import { EngineError } from "../lib/errors.ts";
import { Inflater, Z_BUF_ERROR, Z_STREAM_END } from "../ffi/zlib.ts";
import { BLOCK, isZeroBlock, verifyChecksum } from "./header.ts";
import type { TarSource } from "./reader.ts";
import { readableOf } from "../lib/readable.ts";

export type Compression = "gzip" | "zstd" | "none" | "bzip2" | "xz" | "unknown";

/**
 * Classify the first bytes of a stream (pass at least 512 when available): gzip `1f 8b`, zstd
 * `28 b5 2f fd`, bzip2 `BZh`, xz `fd 37 7a 58 5a 00`; "none" for plain tar (valid header checksum,
 * ustar magic at 257, an all-zero first block, or an empty stream); "unknown" otherwise.
 */
export function detectCompression(first: Uint8Array): Compression {
  if (first.length === 0) return "none";
  if (first.length >= 2 && first[0] === 0x1f && first[1] === 0x8b) return "gzip";
  if (first.length >= 4 && first[0] === 0x28 && first[1] === 0xb5 && first[2] === 0x2f && first[3] === 0xfd) return "zstd";
  if (first.length >= 3 && first[0] === 0x42 && first[1] === 0x5a && first[2] === 0x68) return "bzip2";
  if (first.length >= 6 && first[0] === 0xfd && first[1] === 0x37 && first[2] === 0x7a && first[3] === 0x58 && first[4] === 0x5a && first[5] === 0) return "xz";
  if (first.length >= BLOCK) {
    const b = first.subarray(0, BLOCK);
    if (isZeroBlock(b) || verifyChecksum(b)) return "none";
    if (b[257] === 0x75 && b[258] === 0x73 && b[259] === 0x74 && b[260] === 0x61 && b[261] === 0x72) return "none";
  } else if (first.every((x) => x === 0)) {
    return "none";
  }
  return "unknown";
}

/** AsyncIterable or ReadableStream → ReadableStream (pull-driven, so backpressure is kept) */
export function toReadableStream(source: TarSource): ReadableStream<Uint8Array> {
  if (typeof (source as ReadableStream).getReader === "function") return source as ReadableStream<Uint8Array>;
  // one chunk read ahead, as a ReadableStream's default high-water mark
  return readableOf(source as AsyncIterable<Uint8Array>, 1);
}

function refuse(what: Compression): never {
  if (what === "bzip2" || what === "xz") {
    throw new EngineError("invalid_argument", `tar: ${what}-compressed archives are not supported`, {
      hint: `recompress with gzip or zstd, e.g. \`${what === "xz" ? "xz" : "bzip2"} -dc layer | gzip > layer.tar.gz\``,
    });
  }
  throw new EngineError("invalid_argument", "tar: not a tar archive and not gzip or zstd compressed");
}

/**
 * A decompressing stream over `source`; "none" passes bytes through. Corrupt or truncated data is
 * EngineError("invalid_argument") (the web stream's own errors are TypeErrors: "zstd decode failed",
 * "unexpected end of file"); an error of the source itself passes through unchanged.
 */
export function decompressStream(source: TarSource, what: "gzip" | "zstd" | "none"): ReadableStream<Uint8Array> {
  if (what === "none") return toReadableStream(source);
  const input = toReadableStream(source).getReader();
  let sourceFailed = false;
  const s = new ReadableStream<Uint8Array>({
    async pull(c) {
      const r = await input.read().catch((e: unknown) => {
        sourceFailed = true;
        throw e;
      });
      if (r.done) c.close();
      else c.enqueue(r.value);
    },
    cancel: (reason) => input.cancel(reason),
  });
  const ds = new DecompressionStream(what as "gzip");
  const output = s.pipeThrough(ds as unknown as ReadableWritablePair<Uint8Array, Uint8Array>).getReader();
  return new ReadableStream<Uint8Array>({
    async pull(c) {
      const r = await output.read().catch((e: unknown) => {
        if (sourceFailed || e instanceof EngineError) throw e;
        throw new EngineError("invalid_argument", `${what}: ${e instanceof Error ? e.message : String(e)} (corrupt stream)`, { cause: e });
      });
      if (r.done) c.close();
      else c.enqueue(r.value);
    },
    cancel: (reason) => output.cancel(reason),
  });
}

export function compressStream(source: TarSource, what: "gzip" | "zstd"): ReadableStream<Uint8Array> {
  const cs = new CompressionStream(what as "gzip");
  return toReadableStream(source).pipeThrough(cs as unknown as ReadableWritablePair<Uint8Array, Uint8Array>);
}

/**
 * Peek at the first bytes (≥ 512 unless the stream is shorter), detect the compression and return the
 * uncompressed tar stream. Throws EngineError("invalid_argument") for bzip2, xz and unrecognised data.
 */
export async function openMaybeCompressed(source: TarSource): Promise<{ compression: "gzip" | "zstd" | "none"; stream: ReadableStream<Uint8Array> }> {
  const { head, all, close } = await peek(source as AsyncIterable<Uint8Array>);
  const compression = detectCompression(head);
  if (compression !== "gzip" && compression !== "zstd" && compression !== "none") {
    await close().catch(() => {}); // closing the source we refuse; refuse() below throws the error that matters
    refuse(compression);
  }
  return { compression, stream: decompressStream(all, compression) };
}

/** where inflated gzip output goes: `ring` bytes reused round and round, at most `chunk` per piece */
export interface RingOptions {
  /** total bytes of output memory (default 2 MiB) */
  ring?: number;
  /** largest piece handed out (default 128 KiB); must be ≤ ring / 2 */
  chunk?: number;
  /** gzip only: libz.so.1 through bun:ffi (default) or Bun's native zlib, where the runtime has it
   * (faster, but node:zlib and node:stream cost ~9 MB of RSS once loaded; see inflateGzip) */
  inflater?: "native" | "libz";
}

/**
 * Inflate a gzip stream (one or more members, as `gzip -d` takes them) into a ring of reused output
 * memory. Each piece handed out is a view of the ring and stays intact only until `ring - 2 × chunk`
 * more bytes have been handed out: a consumer must be done with a piece by then (hash it, write it)
 * or copy it. In exchange no output memory is allocated per chunk, whatever the size of the layer.
 * Throws EngineError("invalid_argument") for corrupt data, trailing garbage and a truncated stream.
 *
 * The inflate itself is libz.so.1 through bun:ffi (ffi/zlib.ts), or with `inflater: "native"` Bun's
 * own zlib (the handle under node:zlib's Gunzip, whose writeSync writes into a window of caller
 * memory, as Node's zlib.js drives it; libz where that handle is missing). Measured on the project
 * VM (a 101 MB gzip layer → 371 MB, page cache warm): native 670–690 ms, libz 1.2.13 1.22 s,
 * createGunzip's stream 780–840 ms, DecompressionStream 800–840 ms (fresh chunks). Native is not the
 * default because loading node:zlib and node:stream costs ~9 MB of RSS (4.3 + 4.2 MB, measured with
 * Bun.gc + rss), which takes a pull past its 64 MB bound.
 */
export async function* inflateGzip(source: AsyncIterable<Uint8Array>, o: RingOptions = {}): AsyncGenerator<Uint8Array> {
  // node:zlib is loaded only here: importing it (with the node:stream it pulls in) costs every berth
  // process 3–5 ms at start-up and ~9 MB of RSS (issue 13)
  const native = o.inflater === "native" ? nativeGunzip((await import("node:zlib")).createGunzip) : undefined;
  if (native) yield* inflateNative(source, native, o);
  else yield* inflateLibz(source, o);
}

/**
 * readFileRing's hold on its pieces for a consumer that hands them on to another thread (ffi/body-writer.ts):
 * `fence()` when a piece is done with on this thread, `waitFor(mark)` before its bytes are read over.
 */
export interface RingGuard {
  fence(): number;
  waitFor(mark: number): void;
}

/**
 * Positional reads of a file into a ring of reused memory, up to `chunk` bytes per read(2): a piece
 * stays intact until `ring - 2 × chunk` more bytes have been handed out or, with a guard, until the
 * work queued on it by the time the next piece was asked for has been waited for. readFileRing reads
 * a whole file this way; tar/reader.ts reads a tarball's headers with it and skips the bodies that
 * its consumer copies in the kernel. The caller owns `fd`.
 */
export class FileRing {
  private readonly ring: Uint8Array;
  readonly chunk: number;
  private readonly guard: RingGuard | undefined;
  /** told the length of each piece read */
  onRead: ((n: number) => void) | undefined;
  /** with a guard: [start, end, mark] of the pieces handed out whose bytes may still be in use */
  private readonly out: [number, number, number][] = [];
  private pos = 0;

  constructor(
    private readonly fd: number,
    o: RingOptions & { guard?: RingGuard } = {},
  ) {
    this.chunk = o.chunk ?? 128 << 10;
    this.ring = new Uint8Array(Math.max(o.ring ?? 2 << 20, 2 * this.chunk));
    this.guard = o.guard;
  }

  /** up to `chunk` bytes of the file at `offset`; empty at its end */
  read(offset: number): Uint8Array {
    const { chunk, ring, guard, out } = this;
    if (this.pos + chunk > ring.length) this.pos = 0;
    const pos = this.pos;
    if (guard) {
      // the last piece is done with once the next is asked for; a piece about to be read over is
      // waited for until the work queued on it by then has run
      const last = out[out.length - 1];
      if (last && last[2] < 0) last[2] = guard.fence();
      for (let i = 0; i < out.length; ) {
        const [start, end, mark] = out[i]!;
        if (start < pos + chunk && end > pos) {
          guard.waitFor(mark);
          out.splice(i, 1);
        } else i++;
      }
    }
    const n = readSync(this.fd, ring, pos, chunk, offset);
    if (n === 0) return ring.subarray(0, 0);
    if (guard) out.push([pos, pos + n, -1]);
    this.onRead?.(n);
    this.pos = pos + n;
    return ring.subarray(pos, pos + n);
  }
}

/**
 * A local file read from its start into a ring of reused memory (FileRing), one read(2) of up to
 * `chunk` bytes per piece: the same contract as inflateGzip's output. `berth import FILE` reads a
 * compressed tarball this way: Bun.file().stream() hands out a fresh buffer per read, and 1 GB of
 * fresh memory cost page faults and page clearing on the unpacking thread (perf: clear_page_erms +
 * exc_page_fault ~5 % of its samples) and garbage for the collector. `turnEvery`: bytes after which
 * the event loop gets a turn (readSync never yields to it; a consumer that never awaits I/O would
 * otherwise starve it).
 */
export async function* readFileRing(fd: number, o: RingOptions & { turnEvery?: number; guard?: RingGuard } = {}): AsyncGenerator<Uint8Array> {
  const file = new FileRing(fd, o);
  let sinceTurn = 0;
  for (let at = 0; ; ) {
    const piece = file.read(at);
    if (piece.length === 0) return;
    yield piece;
    at += piece.length;
    if (o.turnEvery && (sinceTurn += piece.length) >= o.turnEvery) {
      sinceTurn = 0;
      await new Promise<void>((r) => setImmediate(r));
    }
  }
}

/** the parts of node:zlib's native handle this file drives (Bun's NativeZlib, Node's ZlibBase._handle) */
interface ZlibHandle {
  writeSync(flush: number, input: Uint8Array, inOff: number, inLen: number, out: Uint8Array, outOff: number, outLen: number): void;
  close(): void;
  onerror: (message: string, errno: number) => void;
}

/** a fresh gunzip handle and its [availOut, availIn] after each write, or undefined where the runtime has none */
function nativeGunzip(createGunzip: typeof import("node:zlib").createGunzip): { h: ZlibHandle; state: Uint32Array } | undefined {
  const g = createGunzip() as unknown as { _handle?: ZlibHandle; _writeState?: Uint32Array };
  const h = g._handle;
  if (!h || typeof h.writeSync !== "function" || !(g._writeState instanceof Uint32Array)) return undefined;
  return { h, state: g._writeState };
}

async function* inflateNative(source: AsyncIterable<Uint8Array>, z: { h: ZlibHandle; state: Uint32Array }, o: RingOptions): AsyncGenerator<Uint8Array> {
  const chunk = o.chunk ?? 128 << 10;
  const ring = new Uint8Array(Math.max(o.ring ?? 2 << 20, 2 * chunk));
  const { h, state } = z;
  // the handle reports zlib's errors through this callback, during writeSync
  let err: { message: string; errno: number } | undefined;
  h.onerror = (message, errno) => {
    err ??= { message, errno };
  };
  const fail = (): never => {
    const e = err!;
    // Z_BUF_ERROR at Z_FINISH: the input ended inside a member
    if (e.errno === Z_BUF_ERROR || /unexpected end/.test(e.message))
      throw new EngineError("invalid_argument", "gzip: unexpected end of data (truncated stream)");
    throw new EngineError("invalid_argument", `gzip: ${e.message} (corrupt stream)`);
  };
  let pos = 0;
  let started = false;
  try {
    for await (const input of source) {
      let off = 0;
      while (off < input.length) {
        started = true;
        if (pos + chunk > ring.length) pos = 0;
        h.writeSync(Z_NO_FLUSH_NATIVE, input, off, input.length - off, ring, pos, chunk);
        if (err) fail();
        const produced = chunk - state[0]!;
        const consumed = input.length - off - state[1]!;
        off += consumed;
        if (produced > 0) {
          const piece = ring.subarray(pos, pos + produced);
          pos += produced;
          yield piece;
        } else if (consumed === 0) throw new EngineError("invalid_argument", "gzip: no progress (corrupt stream)");
      }
    }
    if (!started) throw new EngineError("invalid_argument", "gzip: empty stream");
    // input is done: let zlib hand over what it still holds; a member cut short is an error
    for (;;) {
      if (pos + chunk > ring.length) pos = 0;
      h.writeSync(Z_FINISH_NATIVE, EMPTY, 0, 0, ring, pos, chunk);
      if (err) fail();
      const produced = chunk - state[0]!;
      if (produced === 0) break;
      const piece = ring.subarray(pos, pos + produced);
      pos += produced;
      yield piece;
    }
  } finally {
    h.close();
  }
}

/** node:zlib's flush values (zlib.h Z_NO_FLUSH, Z_FINISH) */
const Z_NO_FLUSH_NATIVE = 0;
const Z_FINISH_NATIVE = 4;

async function* inflateLibz(source: AsyncIterable<Uint8Array>, o: RingOptions): AsyncGenerator<Uint8Array> {
  const chunk = o.chunk ?? 128 << 10;
  const ring = new Uint8Array(Math.max(o.ring ?? 2 << 20, 2 * chunk));
  using z = new Inflater();
  let pos = 0;
  /** a member ended and no byte of the next one was seen yet */
  let between = false;
  let started = false;
  for await (const input of source) {
    let off = 0;
    while (off < input.length) {
      if (between) {
        z.reset();
        between = false;
      }
      started = true;
      if (pos + chunk > ring.length) pos = 0;
      const rc = z.step(input, off, ring, pos, chunk);
      off += z.consumed;
      if (z.produced > 0) {
        const piece = ring.subarray(pos, pos + z.produced);
        pos += z.produced;
        yield piece;
      }
      if (rc === Z_STREAM_END) between = true;
      else if (rc === Z_BUF_ERROR && z.consumed === 0 && z.produced === 0) {
        throw new EngineError("invalid_argument", "gzip: no progress (corrupt stream)");
      }
    }
  }
  // input is done: let zlib hand over what it still holds, until the member's end
  while (started && !between) {
    if (pos + chunk > ring.length) pos = 0;
    const rc = z.step(EMPTY, 0, ring, pos, chunk);
    if (z.produced > 0) {
      const piece = ring.subarray(pos, pos + z.produced);
      pos += z.produced;
      yield piece;
    }
    if (rc === Z_STREAM_END) break;
    if (z.produced === 0) throw new EngineError("invalid_argument", "gzip: unexpected end of data (truncated stream)");
  }
  if (!started) throw new EngineError("invalid_argument", "gzip: empty stream");
}

const EMPTY = new Uint8Array(0);

/** the first ≥ 512 bytes of `source` (fewer if it is shorter) and an iterator that replays them, then the rest */
async function peek(source: AsyncIterable<Uint8Array>): Promise<{ head: Uint8Array; all: AsyncIterable<Uint8Array>; close: () => Promise<unknown> }> {
  const it = source[Symbol.asyncIterator]();
  const head: Uint8Array[] = [];
  let have = 0;
  let done = false;
  while (have < BLOCK) {
    const r = await it.next();
    if (r.done) {
      done = true;
      break;
    }
    if (r.value.length === 0) continue;
    head.push(r.value);
    have += r.value.length;
  }
  async function* all(): AsyncGenerator<Uint8Array> {
    try {
      while (head.length) yield head.shift()!;
      if (done) return;
      for (;;) {
        const r = await it.next();
        if (r.done) return;
        yield r.value;
      }
    } finally {
      if (!done) await it.return?.();
    }
  }
  return { head: head.length === 1 ? head[0]! : Buffer.concat(head, have), all: all(), close: async () => (done ? undefined : it.return?.()) };
}

/**
 * openMaybeCompressed for a consumer that finishes with each chunk in time (see inflateGzip): one
 * async iterable, no web streams, gzip inflated by zlib into a ring of reused memory (`ring`), zstd
 * through DecompressionStream (fresh chunks), plain tar passed through. Refuses bzip2, xz and
 * unrecognised data like openMaybeCompressed.
 */
export async function openLayerChunks(
  source: AsyncIterable<Uint8Array>,
  o: RingOptions = {},
): Promise<{ compression: "gzip" | "zstd" | "none"; chunks: AsyncIterable<Uint8Array> }> {
  const { head, all, close } = await peek(source);
  const compression = detectCompression(head);
  if (compression === "gzip") return { compression, chunks: inflateGzip(all, o) };
  if (compression === "zstd") return { compression, chunks: decompressStream(all, "zstd") as unknown as AsyncIterable<Uint8Array> };
  if (compression === "none") return { compression, chunks: all };
  await close().catch(() => {}); // closing the source we refuse; refuse() below throws the error that matters
  refuse(compression);
}
