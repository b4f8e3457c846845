/**
 * Streaming tar reader: bytes in, one TarRecord per entry out, bodies as zero-copy subarrays of the
 * source chunks. Never buffers more than one source chunk plus the metadata of one entry (pax/GNU long
 * name data, capped by `maxMetaSize`).
 *
 * Contract with the consumer: iterate `body` before asking for the next record, or don't touch it at
 * all (the reader skips what is left). A body iterated after the reader moved on throws. Chunks handed
 * out are subarrays of the source's chunks: the reader never writes into them, and a consumer that keeps
 * one keeps that source chunk alive (copy with `.slice()` to keep a small piece of a large chunk).
 *
 * Names: a leading "./" (repeated) is stripped and a trailing "/" removed; "./" itself becomes ".".
 * `..` components and absolute names are passed through unchanged: the reader is a decoder, and the
 * appliers in src/cow are the ones that refuse escapes (they know the root they write into).
 */
import { EngineError } from "../lib/errors.ts";
import { BLOCK, isZeroBlock, oneLine, parseHeader, parsePax, paxString, parsePaxTime, type RawHeader } from "./header.ts";
import type { SplitSink } from "./split.ts";
import type { EntryType, TarEntry, TarRecord } from "./types.ts";

export type TarSource = AsyncIterable<Uint8Array> | ReadableStream<Uint8Array>;

/**
 * A tarball in a regular file (`berth import FILE`): the reader reads it through `ring` from offset 0
 * (pieces of `ring.chunk` bytes, whole 512-byte blocks so a header never straddles two), and a
 * consumer may take a body by its place in the file (TarRecord.bodyAt) instead of its bytes: the
 * reader then skips it without reading it. `fd` is the file `ring` reads.
 */
export interface TarFile {
  fd: number;
  /** tar/compress.ts FileRing: up to its chunk of the file at `offset`, empty at the end */
  ring: { read(offset: number): Uint8Array };
}

export interface ReadTarOptions {
  /** cap on the data of one pax/GNU long-name entry (default 16 MiB); hostile archives can't make us
   * buffer more */
  maxMetaSize?: number;
  /** read the source to its end after the end-of-archive marker (default true), so that a hash or
   * size check computed underneath the reader sees the whole stream */
  drain?: boolean;
  /** updated as the reader goes: bytes of tar consumed so far and entries yielded */
  stats?: { bytes: number; entries: number };
  /** take an archive that stops inside the last entry's padding as ended there, as Go's archive/tar does:
   * the docker CLI sends such build contexts (with `-f` outside the context its tar rewriter closes the pipe
   * before the writer's padding and end marker). The entry's data itself must be whole. */
  eofInPadding?: boolean;
  /** told about every byte consumed (tar/split.ts): the raw bytes, each regular file's name and size
   * before its body, and the body bytes; for a tar-split of the stream */
  split?: SplitSink;
}

const EMPTY = new Uint8Array(0);

function err(msg: string): EngineError {
  return new EngineError("invalid_argument", oneLine(`tar: ${msg}`));
}

/** pulls chunks from either kind of source; `buf[pos..]` is the unread part of the current chunk */
class Input {
  buf: Uint8Array = EMPTY;
  pos = 0;
  /** absolute stream offset of buf[0] */
  base = 0;
  eof = false;
  /** the tar-split hook: raw (non-body) bytes as they are consumed, body bytes apart */
  split: SplitSink | undefined;
  /** a file source (TarFile): pieces are read synchronously, at `base + buf.length` */
  readonly file: TarFile | undefined;
  private next: () => Promise<IteratorResult<Uint8Array>>;
  private close: () => Promise<unknown> | void;

  constructor(source: TarSource | TarFile) {
    if ("ring" in source) {
      const f = (this.file = source);
      this.next = async () => {
        const v = f.ring.read(this.base + this.buf.length);
        return v.length ? { done: false, value: v } : { done: true, value: undefined };
      };
      this.close = () => {};
    } else if (typeof (source as ReadableStream).getReader === "function") {
      const reader = (source as ReadableStream<Uint8Array>).getReader();
      this.next = () => reader.read() as Promise<IteratorResult<Uint8Array>>;
      this.close = () => reader.cancel().catch(() => {}); // release(): we stop reading; a stream that failed meanwhile has nothing left to tell us
    } else {
      const it = (source as AsyncIterable<Uint8Array>)[Symbol.asyncIterator]();
      this.next = () => it.next();
      this.close = () => it.return?.();
    }
  }

  get offset(): number {
    return this.base + this.pos;
  }

  /** replace the (fully consumed) current chunk by the next non-empty one; false at EOF */
  async fill(): Promise<boolean> {
    if (this.eof) return false;
    for (;;) {
      const r = await this.next();
      if (r.done) {
        this.eof = true;
        this.base += this.buf.length;
        this.buf = EMPTY;
        this.pos = 0;
        return false;
      }
      const v = r.value;
      if (v.length === 0) continue;
      this.base += this.buf.length;
      this.buf = v instanceof Uint8Array ? v : new Uint8Array(v);
      this.pos = 0;
      return true;
    }
  }

  /** advance n bytes; returns how many were actually skipped (< n only at EOF); `body`: file body bytes */
  async skip(n: number, body = false): Promise<number> {
    let left = n;
    while (left > 0) {
      const avail = this.buf.length - this.pos;
      if (avail >= left) {
        if (this.split) this.tell(this.buf.subarray(this.pos, this.pos + left), body);
        this.pos += left;
        return n;
      }
      left -= avail;
      if (this.split) this.tell(this.buf.subarray(this.pos), body);
      this.pos = this.buf.length;
      if (!(await this.fill())) return n - left;
    }
    return n;
  }

  private tell(b: Uint8Array, body: boolean): void {
    if (body) this.split!.body(b.length);
    else this.split!.raw(b);
  }

  /** a file source's next piece, read now (fill without the promise); false at EOF */
  private fillNow(): boolean {
    const v = this.file!.ring.read(this.base + this.buf.length);
    this.base += this.buf.length;
    this.pos = 0;
    if (v.length === 0) {
      this.eof = true;
      this.buf = EMPTY;
      return false;
    }
    this.buf = v;
    return true;
  }

  /**
   * A file source: pass over `n` bytes of body without reading them (the consumer copies them from
   * the file) and read on from the block they end in, so pieces stay block-aligned. false when the
   * file ends before them (nothing is skipped then).
   */
  skipUnread(n: number): boolean {
    const end = this.offset + n;
    if (end <= this.base + this.buf.length) {
      this.pos = end - this.base;
      this.split?.body(n);
      return true;
    }
    const at = end - (end % BLOCK);
    const v = this.file!.ring.read(at);
    if (at + v.length < end) return false;
    this.split?.body(n);
    this.base = at;
    this.buf = v;
    this.pos = end - at;
    return true;
  }

  private scratch = new Uint8Array(BLOCK);

  /** block() without a turn when the current chunk holds the whole block (a file source: reads it); else undefined */
  blockNow(): Uint8Array | undefined {
    if (this.pos === this.buf.length && this.file && !this.eof) this.fillNow();
    if (this.buf.length - this.pos < BLOCK) return undefined;
    const b = this.buf.subarray(this.pos, this.pos + BLOCK);
    this.pos += BLOCK;
    this.split?.raw(b);
    return b;
  }

  /**
   * The next 512-byte block: a subarray when the current chunk holds it whole, else assembled into a
   * scratch buffer that the next call overwrites. Returns the number of bytes read when short (EOF).
   */
  async block(): Promise<Uint8Array | number> {
    const avail = this.buf.length - this.pos;
    if (avail >= BLOCK) {
      const b = this.buf.subarray(this.pos, this.pos + BLOCK);
      this.pos += BLOCK;
      this.split?.raw(b);
      return b;
    }
    let got = 0;
    const s = this.scratch;
    while (got < BLOCK) {
      if (this.pos === this.buf.length && !(await this.fill())) {
        this.split?.raw(s.subarray(0, got));
        return got;
      }
      const n = Math.min(BLOCK - got, this.buf.length - this.pos);
      s.set(this.buf.subarray(this.pos, this.pos + n), got);
      this.pos += n;
      got += n;
    }
    this.split?.raw(s);
    return s;
  }

  /** read exactly n bytes into a new buffer (metadata only: pax and GNU long names) */
  async readExact(n: number): Promise<Uint8Array | number> {
    const out = new Uint8Array(n);
    let got = 0;
    while (got < n) {
      if (this.pos === this.buf.length && !(await this.fill())) {
        this.split?.raw(out.subarray(0, got));
        return got;
      }
      const k = Math.min(n - got, this.buf.length - this.pos);
      out.set(this.buf.subarray(this.pos, this.pos + k), got);
      this.pos += k;
      got += k;
    }
    this.split?.raw(out);
    return out;
  }

  async drain(): Promise<void> {
    this.split?.raw(this.buf.subarray(this.pos));
    this.pos = this.buf.length;
    while (await this.fill()) {
      this.split?.raw(this.buf);
      this.pos = this.buf.length;
    }
  }

  async release(): Promise<void> {
    if (!this.eof) await this.close();
  }
}

function pad(size: number): number {
  const r = size % BLOCK;
  return r === 0 ? 0 : BLOCK - r;
}

/** "./a/b/" → "a/b"; "./" and "." → "."; ".." and "/abs" untouched (see module comment) */
export function normalizeName(name: string): string {
  let n = name;
  while (n.startsWith("./")) n = n.slice(2);
  while (n.length > 1 && n.endsWith("/")) n = n.slice(0, -1);
  return n === "" ? "." : n;
}

function typeOf(flag: string, name: string): EntryType | null {
  switch (flag) {
    case "0":
    case "\0":
    case "7":
      // v7 and old archives mark directories only by a trailing slash
      return name.endsWith("/") ? "dir" : "file";
    case "1":
      return "hardlink";
    case "2":
      return "symlink";
    case "3":
      return "char";
    case "4":
      return "block";
    case "5":
    case "D": // GNU dumpdir: a directory whose data lists its contents; the data is skipped
      return "dir";
    case "6":
      return "fifo";
    default:
      return null;
  }
}

const XATTR_SCHILY = "SCHILY.xattr.";
const XATTR_LIBARCHIVE = "LIBARCHIVE.xattr.";

/** apply pax records (global first, then per-entry) over the header fields */
function applyPax(e: TarEntry, h: RawHeader, pax: Map<string, Uint8Array>, name: string): void {
  for (const [key, raw] of pax) {
    switch (key) {
      case "path":
        e.name = paxString(raw);
        break;
      case "linkpath":
        e.linkname = paxString(raw);
        break;
      case "size": {
        const v = Number(paxString(raw));
        if (!Number.isSafeInteger(v) || v < 0) throw err(`invalid pax size "${paxString(raw)}" for "${name}"`);
        e.size = v;
        break;
      }
      case "uid":
      case "gid":
      case "SCHILY.devmajor":
      case "SCHILY.devminor": {
        const v = Number(paxString(raw));
        if (!Number.isSafeInteger(v) || v < 0) throw err(`invalid pax ${key} "${paxString(raw)}" for "${name}"`);
        if (key === "uid") e.uid = v;
        else if (key === "gid") e.gid = v;
        else if (key === "SCHILY.devmajor") e.devmajor = v;
        else e.devminor = v;
        break;
      }
      case "uname":
        e.uname = paxString(raw);
        break;
      case "gname":
        e.gname = paxString(raw);
        break;
      case "mtime":
      case "atime": {
        const t = parsePaxTime(paxString(raw));
        if (!t) throw err(`invalid pax ${key} "${paxString(raw)}" for "${name}"`);
        if (key === "mtime") {
          e.mtime = t[0] + t[1] / 1e9;
          if (t[1]) e.mtimeNsec = t[1];
          else delete e.mtimeNsec;
        } else {
          e.atime = t[0] + t[1] / 1e9;
          if (t[1]) e.atimeNsec = t[1];
        }
        break;
      }
      default:
        if (key.startsWith(XATTR_SCHILY)) {
          // GNU tar and Go's archive/tar store the raw value bytes (binary-safe thanks to the length prefix)
          (e.xattrs ??= {})[key.slice(XATTR_SCHILY.length)] = raw.slice();
        } else if (key.startsWith(XATTR_LIBARCHIVE)) {
          // libarchive: name is URL-encoded, value base64 (libarchive archive_write_set_format_pax.c)
          let xname: string;
          try {
            xname = decodeURIComponent(key.slice(XATTR_LIBARCHIVE.length));
          } catch {
            throw err(`invalid pax key "${key}" for "${name}": bad %-escape`);
          }
          (e.xattrs ??= {})[xname] = new Uint8Array(Buffer.from(paxString(raw), "base64"));
        } else if (key.startsWith("GNU.sparse.")) {
          throw err(`sparse file "${name}" is not supported`);
        }
      // ctime, comment, hdrcharset, charset and vendor keys are ignored
    }
  }
  void h;
}

/**
 * Read a tar stream entry by entry. Throws EngineError("invalid_argument") on corrupt or truncated input
 * (message names the entry), e.g. `tar: truncated entry "usr/bin/x": expected 1000 bytes, got 12`.
 * End of archive: a zero block (the second one is not required; GNU tar warns but accepts a lone one) or
 * a clean EOF between entries. EOF inside a header, metadata or body is an error.
 */
export async function* readTar(source: TarSource | TarFile, opts: ReadTarOptions = {}): AsyncGenerator<TarRecord> {
  const input = new Input(source);
  const split = opts.split;
  input.split = split;
  const maxMeta = opts.maxMetaSize ?? 16 << 20;
  // totals, not just per header: a run of metadata entries without a real entry (or of 'g' headers)
  // must not add up past the cap either
  let pendingMeta = 0;
  let globalMeta = 0;
  const stats = opts.stats;
  let globalPax: Map<string, Uint8Array> | null = null;
  let pax: Map<string, Uint8Array> | null = null;
  let longName: string | null = null;
  let longLink: string | null = null;
  let lastName = "";
  /** the body state of the entry handed out last; `live` turns false once the reader moves on */
  let cur: { remaining: number; padding: number; name: string; size: number; live: boolean } | null = null;
  let finished = false;

  const where = () => (lastName ? ` at offset ${input.offset - BLOCK} (after "${lastName}")` : ` at offset ${input.offset - BLOCK}`);

  /** finishBody without a turn when what is left of the entry is in the current chunk: true if done */
  const finishBodyNow = (c: NonNullable<typeof cur>): boolean => {
    const n = c.remaining + c.padding;
    if (input.buf.length - input.pos < n) return false;
    if (split) {
      if (c.remaining > 0) split.body(c.remaining);
      if (c.padding > 0) split.raw(input.buf.subarray(input.pos + c.remaining, input.pos + n));
    }
    input.pos += n;
    c.remaining = 0;
    c.padding = 0;
    return true;
  };

  const finishBody = async (c: NonNullable<typeof cur>): Promise<void> => {
    if (c.remaining > 0) {
      const n = await input.skip(c.remaining, true);
      c.remaining -= n;
      if (c.remaining > 0) throw err(`truncated entry "${c.name}": expected ${c.size} bytes, got ${c.size - c.remaining}`);
    }
    if (c.padding > 0) {
      const n = await input.skip(c.padding);
      c.padding -= n;
      if (c.padding > 0 && !opts.eofInPadding) throw err(`truncated archive: eof in the padding after "${c.name}"`);
    }
  };

  async function* body(c: NonNullable<typeof cur>): AsyncGenerator<Uint8Array> {
    if (!c.live) throw new EngineError("failed_precondition", oneLine(`tar: body of "${c.name}" read after the reader moved on`));
    while (c.remaining > 0) {
      if (input.pos === input.buf.length && !(await input.fill())) {
        throw err(`truncated entry "${c.name}": expected ${c.size} bytes, got ${c.size - c.remaining}`);
      }
      const avail = input.buf.length - input.pos;
      const n = Math.min(avail, c.remaining);
      const chunk = input.buf.subarray(input.pos, input.pos + n);
      input.pos += n;
      c.remaining -= n;
      split?.body(n);
      yield chunk;
      if (!c.live) throw new EngineError("failed_precondition", oneLine(`tar: body of "${c.name}" read after the reader moved on`));
    }
  }

  try {
    for (;;) {
      if (cur) {
        cur.live = false;
        if (!finishBodyNow(cur)) await finishBody(cur);
        cur = null;
      }
      if (stats) stats.bytes = input.offset;
      const blk = input.blockNow() ?? (await input.block());
      if (typeof blk === "number") {
        if (blk === 0) {
          // clean EOF without the end marker: accepted like GNU tar, unless metadata was pending
          if (pax || longName !== null || longLink !== null)
            throw err(`truncated archive: eof after extended header${lastName ? ` (after "${lastName}")` : ""}`);
          finished = true;
          return;
        }
        throw err(`truncated archive: eof inside a header at offset ${input.offset - blk}${lastName ? ` (after "${lastName}")` : ""}`);
      }
      if (isZeroBlock(blk)) {
        finished = true;
        if (opts.drain ?? true) await input.drain();
        else await input.release();
        if (stats) stats.bytes = input.offset;
        return;
      }
      let h: RawHeader;
      try {
        h = parseHeader(blk, where);
      } catch (e) {
        if (input.offset === BLOCK && e instanceof EngineError && /checksum/.test(e.message)) {
          throw err(`not a tar archive (bad header checksum at offset 0)`);
        }
        throw e;
      }
      const flag = h.typeflag;
      // metadata entries: their data describes the next real entry
      if (flag === "x" || flag === "g" || flag === "L" || flag === "K" || flag === "X") {
        const label = flag === "L" || flag === "K" ? "gnu long name" : "pax header";
        if (h.size > maxMeta) throw err(`${label} of ${h.size} bytes exceeds the ${maxMeta}-byte limit${where()}`);
        if (flag === "g") globalMeta += h.size;
        else pendingMeta += h.size;
        if (pendingMeta > maxMeta || globalMeta > maxMeta) throw err(`extended headers add up to more than the ${maxMeta}-byte limit${where()}`);
        const data = await input.readExact(h.size);
        if (typeof data === "number") throw err(`truncated archive: eof inside ${label}${where()}`);
        if ((await input.skip(pad(h.size))) < pad(h.size)) throw err(`truncated archive: eof inside ${label}${where()}`);
        if (flag === "x" || flag === "X") {
          const m = parsePax(data, lastName);
          if (pax) for (const [k, v] of m) pax.set(k, v);
          else pax = m;
        } else if (flag === "g") {
          const m = parsePax(data, lastName);
          globalPax ??= new Map();
          for (const [k, v] of m) globalPax.set(k, v);
        } else {
          const end = data.indexOf(0);
          const s = new TextDecoder().decode(end < 0 ? data : data.subarray(0, end));
          if (flag === "L") longName = s;
          else longLink = s;
        }
        continue;
      }
      if (flag === "V") {
        // GNU volume label: not a file
        await input.skip(h.size + pad(h.size));
        pax = null;
        longName = longLink = null;
        continue;
      }
      const rawName = longName ?? h.name;
      const type = typeOf(flag, pax?.has("path") ? paxString(pax.get("path")!) : rawName);
      if (type === null) {
        const shown = flag.charCodeAt(0) >= 0x20 && flag.charCodeAt(0) < 0x7f ? `'${flag}'` : `0x${flag.charCodeAt(0).toString(16)}`;
        if (flag === "S") throw err(`sparse file "${rawName}" is not supported`);
        throw err(`unsupported entry type ${shown} for "${rawName}"${where()}`);
      }
      const e: TarEntry = {
        name: rawName,
        type,
        mode: h.mode & 0o7777,
        uid: h.uid,
        gid: h.gid,
        size: h.size,
        mtime: h.mtime,
      };
      if (h.uname) e.uname = h.uname;
      if (h.gname) e.gname = h.gname;
      if (h.atime !== undefined) e.atime = h.atime;
      const link = longLink ?? h.linkname;
      if (link) e.linkname = link;
      if (type === "char" || type === "block") {
        e.devmajor = h.devmajor;
        e.devminor = h.devminor;
      }
      if (globalPax) applyPax(e, h, globalPax, rawName);
      if (pax) applyPax(e, h, pax, rawName);
      pax = null;
      longName = longLink = null;
      pendingMeta = 0;

      e.name = normalizeName(e.name);
      if (e.type === "hardlink" && e.linkname) e.linkname = normalizeName(e.linkname);
      // only regular files (and GNU dumpdirs, whose data is skipped) have data; for the other types the
      // size field is ignored, as POSIX says for header-only types and Go's archive/tar does
      const dataSize = e.type === "file" || flag === "D" ? e.size : 0;
      if (e.type !== "file") e.size = 0;
      lastName = e.name;
      const c = { remaining: e.type === "file" ? dataSize : 0, padding: pad(dataSize), name: e.name, size: dataSize, live: true };
      if (e.type !== "file") c.padding += dataSize;
      cur = c;
      if (split) {
        split.entry(e.name, e.type === "dir");
        if (c.remaining > 0) split.file(e.name, c.remaining);
      }
      if (stats) stats.entries++;
      yield new ReaderRecord(e, c.remaining > 0 ? body(c) : emptyBody(c), c, input);
    }
  } finally {
    if (cur) cur.live = false;
    if (!finished) await input.release();
  }
}

/** a TarRecord whose bodyNow reads the reader's current chunk (a class: no closure per entry) */
class ReaderRecord implements TarRecord {
  constructor(
    readonly entry: TarEntry,
    readonly body: AsyncIterable<Uint8Array>,
    private readonly c: { remaining: number; size: number; live: boolean },
    private readonly input: Input,
  ) {}

  bodyNow(): Uint8Array | undefined {
    const { c, input } = this;
    if (!c.live || input.buf.length - input.pos < c.remaining) return undefined;
    const chunk = input.buf.subarray(input.pos, input.pos + c.remaining);
    input.pos += c.remaining;
    c.remaining = 0;
    input.split?.body(chunk.length);
    return chunk;
  }

  /** the body's place in a file source, passed over without reading it; undefined: not a file source, or not here */
  bodyAt(): { fd: number; offset: number } | undefined {
    const { c, input } = this;
    const f = input.file;
    if (!f || !c.live || c.remaining === 0 || c.remaining !== c.size) return undefined;
    const offset = input.offset;
    if (!input.skipUnread(c.remaining)) return undefined; // the file ends inside it: `body` says so
    c.remaining = 0;
    return { fd: f.fd, offset };
  }
}

// biome-ignore lint/correctness/useYield: an empty body yields nothing; it only checks the reader has not moved on
async function* emptyBody(c: { live: boolean; name: string }): AsyncGenerator<Uint8Array> {
  if (!c.live) throw new EngineError("failed_precondition", oneLine(`tar: body of "${c.name}" read after the reader moved on`));
}
