/**
 * Tar-split (docker's vbatts/tar-split, reduced to what `berth import` needs): a tar stream kept as
 * everything that is not a regular file's body — every header block (pax and GNU long-name entries
 * included), padding, the end-of-archive blocks and whatever follows them — with each body replaced by
 * a reference to the file that holds it (its path in the unpacked layer and its size). The exact tar
 * bytes, hence the same digest, are rebuilt on demand by reading those files back.
 *
 * Format (all integers big-endian), a sequence of records:
 *   0x01 u32 len, len bytes     raw tar bytes
 *   0x02 u32 len                len zero bytes (padding, end blocks, trailing zeros)
 *   0x03 f64 size, u32 n, n bytes UTF-8 path   a body of `size` bytes: the file at that path
 *   0x04                        end of records
 * then a JSON trailer (SplitTrailer), its length as u32, and the 8-byte magic "BTSPLIT1". The trailer
 * at the end lets the split be written in one pass, before the digest of the stream is known.
 *
 * The recorder also decides whether a rebuild can be exact: each body's file must still hold that
 * body after the whole archive has been applied. It says no (`unsafe`) for any archive where a later
 * entry could replace, remove or redirect an earlier body's path: a path that appears twice (except a
 * directory over a directory), an entry under a non-directory, a whiteout (`.wh.`), a name with `..`
 * or a leading `/`. The caller then stores the stream itself instead.
 */
import { closeSync, constants, fstatSync, openSync, readSync } from "node:fs";
import { EngineError } from "../lib/errors.ts";
import { SPLIT_MAGIC, readSplitTrailer, type SplitTrailer } from "./split-trailer.ts";

export { SPLIT_MAGIC, readSplitTrailer, type SplitTrailer } from "./split-trailer.ts";

const REC_RAW = 1;
const REC_ZERO = 2;
const REC_FILE = 3;
const REC_END = 4;
const O_CLOEXEC = 0o2000000;
/** the records are assembled in a buffer of this size before they go out */
const OUT_BUF = 256 << 10;
const O_NOFOLLOW = 0o400000;

/** the tar reader's hook (ReadTarOptions.split): every byte it consumes goes to exactly one call */
export interface SplitSink {
  /** bytes that are not a regular file's body (a subarray of the reader's chunk: copy to keep) */
  raw(bytes: Uint8Array): void;
  /** the body of the regular file `name` (the reader's normalised name), `size` > 0 bytes, comes next */
  file(name: string, size: number): void;
  /** `size` bytes of the body, as the consumer reads them (or the reader skips them) */
  body(size: number): void;
  /** a real entry (not pax/GNU metadata) named `name` (normalised), before its body if any */
  entry(name: string, isDir: boolean): void;
}

const ZERO_BLOCK = Buffer.alloc(512);

/** all zero bytes? (padding and end blocks: ≤ 512 bytes compared natively, longer runs byte by byte) */
function isZero(b: Uint8Array): boolean {
  if (b[0] !== 0) return false; // a header: the first byte of its name
  if (b.length <= 512) return Buffer.from(b.buffer, b.byteOffset, b.length).equals(ZERO_BLOCK.subarray(0, b.length));
  for (let i = 0; i < b.length; i++) if (b[i] !== 0) return false;
  return true;
}

/**
 * Encodes the reader's calls into split records, passed to `out` in pieces of up to OUT_BUF bytes
 * (`out` must copy: the buffer is reused), and tracks whether the stream can be rebuilt from the
 * applied files (`unsafe`). The records are assembled in one buffer, a raw record's length patched in
 * when its run of raw bytes ends, so a header costs a copy and no call out.
 */
export class TarSplitRecorder implements SplitSink {
  /** why the bytes cannot be rebuilt from the unpacked files; undefined while they can */
  unsafe: string | undefined;
  /** bytes seen: raw + bodies (the stream's size, to check against the hash's count) */
  size = 0;
  files = 0;
  private buf = new Uint8Array(OUT_BUF);
  private view = new DataView(this.buf.buffer);
  private pos = 0;
  /** where the open raw record's 5-byte head is in buf, or -1 */
  private runStart = -1;
  private zeros = 0;
  private encoder = new TextEncoder();
  /**
   * layer path (as pathKey) → DIR (explicit or implied by a child) or OTHER. Numbers, not the paths:
   * a string per entry cost ~400 bytes of RSS (10 MB for the 22k-entry bench tarball, and it grows
   * with the entry count), a number key a few dozen
   */
  private kinds = new Map<number, number>();
  private bodyLeft = 0;

  constructor(private readonly out: (bytes: Uint8Array) => void) {}

  raw(bytes: Uint8Array): void {
    const n = bytes.length;
    if (n === 0) return;
    this.size += n;
    if (isZero(bytes)) {
      this.closeRun();
      this.zeros += n;
      return;
    }
    this.flushZeros();
    if (this.runStart < 0 || this.pos + n > OUT_BUF) {
      if (this.pos + 5 + n > OUT_BUF) this.flush();
      if (5 + n > OUT_BUF) {
        // long pax or dumpdir data: a record of its own, straight out
        this.view.setUint8(0, REC_RAW);
        this.view.setUint32(1, n);
        this.out(this.buf.subarray(0, 5));
        this.out(bytes);
        return;
      }
      this.runStart = this.pos;
      this.pos += 5;
    }
    this.buf.set(bytes, this.pos);
    this.pos += n;
  }

  body(size: number): void {
    this.size += size;
    this.bodyLeft -= size;
  }

  /** the reader saw an entry (any type) named `name`: track what could disturb an earlier body */
  entry(name: string, isDir: boolean): void {
    if (this.unsafe) return;
    const path = cleanPath(name);
    if (path === undefined) {
      this.unsafe = `entry ${JSON.stringify(name)}: not a plain relative path`;
      return;
    }
    if (path === "") return; // the root directory's own entry
    if (path.startsWith(".wh.", path.lastIndexOf("/") + 1)) {
      this.unsafe = `entry ${JSON.stringify(name)}: a whiteout`;
      return;
    }
    // ancestors, nearest first, up to the first known directory: its own ancestors were looked at when
    // it was recorded, and a known path never changes kind (a second entry for it is unsafe)
    for (let i = path.lastIndexOf("/"); i > 0; i = path.lastIndexOf("/", i - 1)) {
      const anc = path.slice(0, i);
      const ak = pathKey(anc);
      const k = this.kinds.get(ak);
      if (k === DIR) break;
      if (k === OTHER) {
        this.unsafe = `entry ${JSON.stringify(name)}: under ${JSON.stringify(anc)}, which is not a directory`;
        return;
      }
      this.kinds.set(ak, DIR);
    }
    const pk = pathKey(path);
    const k = this.kinds.get(pk);
    if (k !== undefined && !(k === DIR && isDir)) {
      this.unsafe = `entry ${JSON.stringify(name)}: the archive has that path twice`;
      return;
    }
    this.kinds.set(pk, isDir ? DIR : OTHER);
  }

  file(name: string, size: number): void {
    if (this.bodyLeft !== 0) throw new EngineError("internal", `tar-split: body of the previous entry incomplete before ${JSON.stringify(name)}`);
    this.flushZeros();
    this.closeRun();
    const path = cleanPath(name) ?? name;
    if (this.pos + 13 + 3 * path.length > OUT_BUF) this.flush();
    if (13 + 3 * path.length > OUT_BUF) throw new EngineError("invalid_argument", `tar-split: name of ${path.length} characters`);
    this.view.setUint8(this.pos, REC_FILE);
    this.view.setFloat64(this.pos + 1, size);
    const w = this.encoder.encodeInto(path, this.buf.subarray(this.pos + 13)).written;
    this.view.setUint32(this.pos + 9, w);
    this.pos += 13 + w;
    this.bodyLeft = size;
    this.files++;
  }

  /** flush what is pending and write the end record and the trailer */
  finish(trailer: Omit<SplitTrailer, "v" | "files">): void {
    if (this.bodyLeft !== 0) throw new EngineError("internal", "tar-split: the last body is incomplete");
    this.flushZeros();
    this.flush();
    this.out(Uint8Array.of(REC_END));
    const json = new TextEncoder().encode(JSON.stringify({ v: 1, ...trailer, files: this.files } satisfies SplitTrailer));
    this.out(json);
    const tail = new Uint8Array(12);
    new DataView(tail.buffer).setUint32(0, json.length);
    tail.set(new TextEncoder().encode(SPLIT_MAGIC), 4);
    this.out(tail);
  }

  /** end the open raw record: its length goes into its head */
  private closeRun(): void {
    if (this.runStart < 0) return;
    this.view.setUint8(this.runStart, REC_RAW);
    this.view.setUint32(this.runStart + 1, this.pos - this.runStart - 5);
    this.runStart = -1;
  }

  private flush(): void {
    this.closeRun();
    if (this.pos > 0) this.out(this.buf.subarray(0, this.pos));
    this.pos = 0;
  }

  private flushZeros(): void {
    if (this.zeros === 0) return;
    this.closeRun();
    while (this.zeros > 0) {
      if (this.pos + 5 > OUT_BUF) this.flush();
      const n = Math.min(this.zeros, 0xffffffff);
      this.view.setUint8(this.pos, REC_ZERO);
      this.view.setUint32(this.pos + 1, n);
      this.pos += 5;
      this.zeros -= n;
    }
  }
}

const DIR = 1;
const OTHER = 2;

/**
 * A path as a 53-bit number (crc32 and 21 bits of cityHash32). Two paths with one key can only make the
 * recorder more careful (a false "twice" or "under a non-directory"), with one exception: a key taken
 * for a known directory ends the walk up its ancestors early, so a later non-directory entry at an
 * ancestor never marked might go unnoticed. The rebuild then fails on the missing file or the digest,
 * never hands out other bytes; at ~2^-53 per pair it is not worth a string per path.
 */
function pathKey(path: string): number {
  return Bun.hash.crc32(path) * 0x200000 + (Bun.hash.cityHash32(path) & 0x1fffff);
}

/** a name with something for cleanPath to do: an empty, `.` or `..` component, a leading `/`, a NUL */
const UNCLEAN = /(?:^|\/)\.{0,2}(?:\/|$)|^\/|\0/;

/** a reader name as applyLayer resolves it: "" for the root; undefined for `..`, absolute or NUL names */
function cleanPath(name: string): string | undefined {
  if (!UNCLEAN.test(name)) return name;
  if (name.startsWith("/") || name.includes("\0")) return undefined;
  const out: string[] = [];
  for (const p of name.split("/")) {
    if (p === "" || p === ".") continue;
    if (p === "..") return undefined;
    out.push(p);
  }
  return out.join("/");
}

export type SplitRecord = { kind: "raw"; bytes: Uint8Array } | { kind: "zero"; size: number } | { kind: "file"; path: string; size: number };

/** the records of the split file at `path`, read sequentially through a 256 KiB buffer */
export function* readSplitRecords(path: string, what: string): Generator<SplitRecord> {
  const fd = openSync(path, constants.O_RDONLY | O_CLOEXEC);
  try {
    const buf = new Uint8Array(256 << 10);
    let start = 0;
    let end = 0;
    let filePos = 0;
    const need = (n: number): void => {
      if (end - start >= n) return;
      if (n > buf.length) throw new EngineError("invalid_argument", `${what}: tar-split record of ${n} bytes`);
      buf.copyWithin(0, start, end);
      end -= start;
      start = 0;
      while (end < n) {
        const got = readSync(fd, buf, end, buf.length - end, filePos);
        if (got === 0) throw new EngineError("invalid_argument", `${what}: tar-split truncated`);
        end += got;
        filePos += got;
      }
    };
    const view = new DataView(buf.buffer);
    for (;;) {
      need(1);
      const kind = buf[start]!;
      if (kind === REC_END) return;
      if (kind === REC_RAW || kind === REC_ZERO) {
        need(5);
        const n = view.getUint32(start + 1);
        start += 5;
        if (kind === REC_ZERO) {
          yield { kind: "zero", size: n };
          continue;
        }
        let left = n;
        while (left > 0) {
          need(1);
          const k = Math.min(left, end - start);
          yield { kind: "raw", bytes: buf.slice(start, start + k) };
          start += k;
          left -= k;
        }
      } else if (kind === REC_FILE) {
        need(13);
        const size = view.getFloat64(start + 1);
        const n = view.getUint32(start + 9);
        start += 13;
        need(n);
        const p = new TextDecoder().decode(buf.subarray(start, start + n));
        start += n;
        yield { kind: "file", path: p, size };
      } else throw new EngineError("invalid_argument", `${what}: tar-split record of unknown kind ${kind}`);
    }
  } finally {
    closeSync(fd);
  }
}

const ZERO_CHUNK = 64 << 10;
const READ_CHUNK = 1 << 20;

/** open `rel` under `root` for reading a body: a regular file of exactly `size` bytes, the last component not followed */
function openBody(root: string, rel: string, size: number, what: string): number {
  let fd: number;
  try {
    fd = openSync(`${root}/${rel}`, constants.O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  } catch (e) {
    throw new EngineError("failed_precondition", `${what}: file ${JSON.stringify(rel)} of its snapshot cannot be read: ${(e as Error).message}`, {
      cause: e,
    });
  }
  const st = fstatSync(fd);
  if (!st.isFile() || st.size !== size) {
    closeSync(fd);
    throw new EngineError(
      "failed_precondition",
      `${what}: file ${JSON.stringify(rel)} of its snapshot changed (${st.isFile() ? `${st.size} bytes` : "not a regular file"}, the layer has ${size} bytes)`,
    );
  }
  return fd;
}

/**
 * The tar stream the split at `path` describes, its bodies read from the files under `root`. Every
 * chunk is a fresh buffer. A body file that is missing, not a regular file or of another size throws
 * failed_precondition naming `what` (the layer) and the file; the caller checks the digest at the end.
 */
export async function* rebuildTar(path: string, root: string, what: string): AsyncGenerator<Uint8Array> {
  let sinceTurn = 0;
  for (const r of readSplitRecords(path, what)) {
    if (r.kind === "raw") yield r.bytes;
    else if (r.kind === "zero") {
      for (let left = r.size; left > 0; ) {
        const n = Math.min(left, ZERO_CHUNK);
        yield new Uint8Array(n);
        left -= n;
      }
    } else {
      const fd = openBody(root, r.path, r.size, what);
      try {
        for (let pos = 0; pos < r.size; ) {
          const want = Math.min(READ_CHUNK, r.size - pos);
          const b = new Uint8Array(want);
          let got = 0;
          while (got < want) {
            const n = readSync(fd, b, got, want - got, pos + got);
            if (n === 0) throw new EngineError("failed_precondition", `${what}: file ${JSON.stringify(r.path)} of its snapshot shrank while read`);
            got += n;
          }
          pos += want;
          yield b;
          if ((sinceTurn += want) >= 8 << 20) {
            sinceTurn = 0;
            await new Promise<void>((res) => setImmediate(res));
          }
        }
      } finally {
        closeSync(fd);
      }
    }
  }
}

/**
 * A cheap look at a split without reading any body: the trailer and every record parse, each body's
 * file is a regular file of its size, and the records add up to the trailer's size. Returns the
 * problem, or undefined.
 */
export function checkSplit(path: string, root: string, what: string): string | undefined {
  let trailer: SplitTrailer;
  try {
    const fd = openSync(path, constants.O_RDONLY | O_CLOEXEC);
    try {
      trailer = readSplitTrailer(fd, what);
    } finally {
      closeSync(fd);
    }
    let total = 0;
    let files = 0;
    for (const r of readSplitRecords(path, what)) {
      if (r.kind === "raw") total += r.bytes.length;
      else if (r.kind === "zero") total += r.size;
      else {
        total += r.size;
        files++;
        closeSync(openBody(root, r.path, r.size, what));
      }
    }
    if (total !== trailer.size) return `tar-split describes ${total} bytes, its trailer ${trailer.size}`;
    if (files !== trailer.files) return `tar-split names ${files} files, its trailer ${trailer.files}`;
    return undefined;
  } catch (e) {
    return (e as Error).message;
  }
}
