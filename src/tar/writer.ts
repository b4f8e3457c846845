/**
 * Streaming tar writer. Emits a plain ustar header when the entry fits one and a pax 'x' header before
 * it otherwise (names > ustar's 100/155 split, link targets > 100 bytes, sizes ≥ 8 GiB, ids ≥ 8^7,
 * sub-second or negative mtimes, non-ASCII-safe lengths, xattrs as SCHILY.xattr.*), which is what GNU
 * tar --format=pax and Go's archive/tar (docker, containerd) produce and read.
 *
 * Small pieces (headers, padding, small bodies) are gathered into one buffer so the sink sees few large
 * writes; large body chunks pass through without a copy. The sink is awaited for every write it gets,
 * which is how backpressure reaches the producer.
 */
import { EngineError } from "../lib/errors.ts";
import { BLOCK, formatHeader, formatPax, formatPaxTime, octalMax, splitTime, splitUstarName, utf8Bytes, type HeaderFields } from "./header.ts";
import type { EntryType, TarEntry, TarRecord } from "./types.ts";

export type TarSink = (chunk: Uint8Array) => void | Promise<void>;

const TYPEFLAG: Record<EntryType, string> = {
  file: "0",
  hardlink: "1",
  symlink: "2",
  char: "3",
  block: "4",
  dir: "5",
  fifo: "6",
};

const GATHER = 64 * 1024;
const ZEROS = new Uint8Array(BLOCK * 2);

function invalid(msg: string): EngineError {
  return new EngineError("invalid_argument", `tar: ${msg}`);
}

/** the pax records an entry needs (empty when plain ustar holds it) and the header to write */
export function planHeader(entry: TarEntry): { pax: [string, string | Uint8Array][]; header: HeaderFields } {
  const pax: [string, string | Uint8Array][] = [];
  const type = entry.type;
  const flag = TYPEFLAG[type];
  if (flag === undefined) throw invalid(`unknown entry type "${String(type)}" for "${entry.name}"`);
  let name = entry.name;
  if (type === "dir" && !name.endsWith("/")) name += "/"; // the convention GNU tar and docker follow
  const nameBytes = utf8Bytes(name);
  if (!splitUstarName(nameBytes)) pax.push(["path", name]);
  const link = entry.linkname ?? "";
  if (utf8Bytes(link).length > 100) pax.push(["linkpath", link]);
  const size = type === "file" ? entry.size : 0;
  if (!Number.isSafeInteger(size) || size < 0) throw invalid(`invalid size ${entry.size} for "${entry.name}"`);
  if (size > octalMax(12)) pax.push(["size", String(size)]);
  for (const k of ["uid", "gid"] as const) {
    const v = entry[k];
    if (!Number.isSafeInteger(v) || v < 0) throw invalid(`invalid ${k} ${v} for "${entry.name}"`);
    if (v > octalMax(8)) pax.push([k, String(v)]);
  }
  const [msec, mns] = entry.mtimeNsec !== undefined ? [Math.floor(entry.mtime), entry.mtimeNsec] : splitTime(entry.mtime);
  if (!Number.isFinite(msec)) throw invalid(`invalid mtime for "${entry.name}"`);
  if (mns !== 0 || msec < 0 || msec > octalMax(12)) pax.push(["mtime", formatPaxTime(msec, mns)]);
  if (entry.atime !== undefined) {
    const [asec, ans] = entry.atimeNsec !== undefined ? [Math.floor(entry.atime), entry.atimeNsec] : splitTime(entry.atime);
    pax.push(["atime", formatPaxTime(asec, ans)]);
  }
  for (const k of ["uname", "gname"] as const) {
    const v = entry[k];
    if (v && (utf8Bytes(v).length > 32 || /[^\x20-\x7e]/.test(v))) pax.push([k, v]);
  }
  if (type === "char" || type === "block") {
    if ((entry.devmajor ?? 0) > octalMax(8)) pax.push(["SCHILY.devmajor", String(entry.devmajor)]);
    if ((entry.devminor ?? 0) > octalMax(8)) pax.push(["SCHILY.devminor", String(entry.devminor)]);
  }
  if (entry.xattrs) {
    for (const key of Object.keys(entry.xattrs).sort()) pax.push(["SCHILY.xattr." + key, entry.xattrs[key]]);
  }
  const header: HeaderFields = {
    name,
    mode: entry.mode,
    uid: entry.uid,
    gid: entry.gid,
    size,
    mtime: msec,
    typeflag: flag,
    linkname: link,
    uname: entry.uname,
    gname: entry.gname,
    devmajor: entry.devmajor,
    devminor: entry.devminor,
  };
  // truncated fallbacks for readers that ignore pax: the last bytes of the name are the most telling
  if (pax.some(([k]) => k === "path")) header.name = name.length > 100 ? fitTail(name, 100) : name;
  if (pax.some(([k]) => k === "uname")) header.uname = asciiFit(entry.uname ?? "", 32);
  if (pax.some(([k]) => k === "gname")) header.gname = asciiFit(entry.gname ?? "", 32);
  return { pax, header };
}

function fitTail(s: string, max: number): string {
  let t = s;
  while (utf8Bytes(t).length > max) t = t.slice(1);
  return t;
}

function asciiFit(s: string, max: number): string {
  return s.replace(/[^\x20-\x7e]/g, "_").slice(0, max);
}

export class TarWriter {
  private pending: Uint8Array = new Uint8Array(GATHER);
  private fill = 0;
  private finished = false;
  private busy = false;
  private paxSeq = 0;
  /** bytes written so far */
  bytes = 0;

  constructor(private readonly sink: TarSink) {}

  private async emit(chunk: Uint8Array): Promise<void> {
    this.bytes += chunk.length;
    if (chunk.length < GATHER / 4) {
      if (this.fill + chunk.length > GATHER) await this.flush();
      this.pending.set(chunk, this.fill);
      this.fill += chunk.length;
      return;
    }
    await this.flush();
    await this.sink(chunk);
  }

  /** hand gathered bytes to the sink; a fresh buffer follows because the sink may keep the old one */
  async flush(): Promise<void> {
    if (this.fill === 0) return;
    const out = this.pending.subarray(0, this.fill);
    this.pending = new Uint8Array(GATHER);
    this.fill = 0;
    await this.sink(out);
  }

  /**
   * Append one entry. `body` must yield exactly `entry.size` bytes for files (and nothing for other
   * types); a mismatch throws EngineError("invalid_argument") and leaves the archive unusable.
   */
  async add(entry: TarEntry, body?: AsyncIterable<Uint8Array> | Uint8Array): Promise<void> {
    if (this.finished) throw new EngineError("failed_precondition", `tar: add "${entry.name}" after finish`);
    if (this.busy) throw new EngineError("failed_precondition", `tar: add "${entry.name}" while another add is running`);
    this.busy = true;
    try {
      const { pax, header } = planHeader(entry);
      if (pax.length) {
        const data = formatPax(pax);
        const base = header.name.replace(/\/$/, "").split("/").pop() ?? "x";
        // GNU tar names these "%d/PaxHeaders/%f"; the name is informational only
        const paxName = fitTail(`PaxHeaders.${this.paxSeq++}/${base}`, 100);
        await this.emit(
          formatHeader({
            name: paxName,
            mode: 0o644,
            uid: 0,
            gid: 0,
            size: data.length,
            mtime: header.mtime >= 0 && header.mtime <= octalMax(12) ? header.mtime : 0,
            typeflag: "x",
          }),
        );
        await this.emit(data);
        await this.emitPadding(data.length);
      }
      await this.emit(formatHeader(header));
      const size = header.size;
      let written = 0;
      if (body !== undefined) {
        if (body instanceof Uint8Array) {
          if (body.length !== size) throw invalid(`body of "${entry.name}" is ${body.length} bytes, header says ${size}`);
          if (size) await this.emit(body);
          written = size;
        } else {
          for await (const chunk of body) {
            if (chunk.length === 0) continue;
            if (written + chunk.length > size) throw invalid(`body of "${entry.name}" is longer than its size ${size}`);
            await this.emit(chunk);
            written += chunk.length;
          }
        }
      }
      if (written !== size) throw invalid(`body of "${entry.name}" is ${written} bytes, header says ${size}`);
      await this.emitPadding(size);
    } finally {
      this.busy = false;
    }
  }

  private async emitPadding(size: number): Promise<void> {
    const r = size % BLOCK;
    if (r) await this.emit(ZEROS.subarray(0, BLOCK - r));
  }

  /** write the end-of-archive marker (two zero blocks) and flush */
  async finish(): Promise<void> {
    if (this.finished) return;
    await this.emit(ZEROS);
    this.finished = true;
    await this.flush();
  }
}

/**
 * Records → tar bytes as a pull-driven ReadableStream: the next record is read only when the consumer
 * wants more, so a slow consumer holds back the producer (and the files it reads from disk).
 */
export function tarStream(records: AsyncIterable<TarRecord>): ReadableStream<Uint8Array> {
  let wake: (() => void) | null = null;
  let running: Promise<void> | null = null;
  let ctrl!: ReadableStreamDefaultController<Uint8Array>;
  let cancelled = false;
  const run = async () => {
    const w = new TarWriter(async (chunk) => {
      if (cancelled) throw new EngineError("unavailable", "tar: output stream cancelled");
      ctrl.enqueue(chunk);
      if ((ctrl.desiredSize ?? 0) <= 0) await new Promise<void>((r) => (wake = r));
    });
    try {
      for await (const { entry, body } of records) {
        await w.add(entry, body);
        if (cancelled) return;
      }
      await w.finish();
      ctrl.close();
    } catch (e) {
      if (!cancelled) ctrl.error(e);
    }
  };
  return new ReadableStream<Uint8Array>(
    {
      start(c) {
        ctrl = c;
      },
      pull() {
        if (!running) running = run();
        const w = wake;
        wake = null;
        w?.();
      },
      cancel() {
        cancelled = true;
        const w = wake;
        wake = null;
        w?.();
      },
    },
    { highWaterMark: 4 },
  );
}
