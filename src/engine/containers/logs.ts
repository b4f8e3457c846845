/**
 * docker's json-file log format: one JSON object per line,
 *   {"log":"hello\n","stream":"stdout","time":"2024-01-01T12:00:00.123456789Z"}
 * Output is split at newlines (a partial line is kept until its newline or the end of the stream, and
 * lines longer than 16 KiB are split, as moby's json-file driver does).
 */
import { closeSync, existsSync, openSync, readSync, fstatSync, renameSync, statSync, unlinkSync, writeSync, constants } from "node:fs";
import { EngineError } from "../../lib/errors.ts";
import { parseRamSize } from "../../lib/human.ts";

const MAX_LINE = 16 * 1024;

/** RFC3339Nano in UTC with nine fractional digits (sub-ms from the monotonic clock) */
export function nowNano(): string {
  const t = performance.timeOrigin + performance.now();
  const ms = Math.floor(t);
  const sub = Math.floor((t - ms) * 1e6);
  const iso = new Date(ms).toISOString(); // 2024-01-01T12:00:00.123Z
  return `${iso.slice(0, 23)}${String(sub).padStart(6, "0")}Z`;
}

export type StreamName = "stdout" | "stderr";

/** --log-driver / --log-opt, as the writer and reader need them */
export interface LogOptions {
  /** "json-file" (default) or "none" (nothing kept; `logs` refuses) */
  driver: string;
  /** max-size in bytes: the file rotates before it would grow past it (undefined: never) */
  maxSize?: number;
  /** max-file: how many files are kept, the live one included (default 1: truncate in place) */
  maxFile: number;
}

const LOG_OPTS = new Set(["max-size", "max-file", "labels", "labels-regex", "env", "env-regex", "tag"]);

/** max-size: docker's units.RAMInBytes ("10m", "1g", "512k", plain bytes) */
function sizeOpt(v: string): number {
  try {
    return parseRamSize(v);
  } catch {
    throw new EngineError("invalid_argument", `invalid size: '${v}'`);
  }
}

/** HostConfig.LogConfig → LogOptions, with docker's errors for what the json-file driver does not know */
export function parseLogConfig(c: { Type: string; Config: Record<string, string> }): LogOptions {
  const driver = c.Type || "json-file";
  if (driver !== "json-file" && driver !== "none")
    throw new EngineError(
      "invalid_argument",
      `failed to create task for container: logger: no log driver named '${driver}' is registered (berth has json-file and none)`,
    );
  const o: LogOptions = { driver, maxFile: 1 };
  for (const [k, v] of Object.entries(c.Config ?? {})) {
    if (driver === "none") throw new EngineError("invalid_argument", `unknown log opt '${k}' for none log driver`);
    if (k === "compress") throw new EngineError("invalid_argument", "log opt 'compress' is not supported by berth yet");
    if (!LOG_OPTS.has(k)) throw new EngineError("invalid_argument", `unknown log opt '${k}' for json-file log driver`);
    if (k === "max-size") o.maxSize = v === "-1" ? undefined : sizeOpt(v);
    if (k === "max-file") {
      if (!/^\d+$/.test(v) || Number(v) < 1) throw new EngineError("invalid_argument", `max-file cannot be less than 1`);
      o.maxFile = Number(v);
    }
  }
  if (o.maxFile > 1 && o.maxSize === undefined) throw new EngineError("invalid_argument", "max-file cannot be set without max-size");
  return o;
}

/** the files of a rotated log, oldest first: path.N … path.1, path (those that exist) */
export function logFiles(path: string, maxFile = 10): string[] {
  const out: string[] = [];
  for (let i = Math.max(1, maxFile) - 1; i >= 1; i--) if (existsSync(`${path}.${i}`)) out.push(`${path}.${i}`);
  out.push(path);
  return out;
}

export class JsonLogWriter {
  private fd: number;
  private size: number;
  private partial: Record<StreamName, string> = { stdout: "", stderr: "" };
  private dec: Record<StreamName, TextDecoder> = { stdout: new TextDecoder(), stderr: new TextDecoder() };
  constructor(
    private readonly path: string,
    private readonly opts: Pick<LogOptions, "maxSize" | "maxFile"> = { maxFile: 1 },
  ) {
    this.fd = openSync(path, constants.O_WRONLY | constants.O_CREAT | constants.O_APPEND | 0o2000000, 0o640);
    this.size = fstatSync(this.fd).size;
  }

  write(stream: StreamName, chunk: Uint8Array): void {
    let text = this.partial[stream] + this.dec[stream].decode(chunk, { stream: true });
    let out = "";
    for (;;) {
      const nl = text.indexOf("\n");
      if (nl < 0 || nl >= MAX_LINE) {
        if (text.length >= MAX_LINE) {
          out += this.line(stream, text.slice(0, MAX_LINE));
          text = text.slice(MAX_LINE);
          continue;
        }
        break;
      }
      out += this.line(stream, text.slice(0, nl + 1));
      text = text.slice(nl + 1);
    }
    this.partial[stream] = text;
    if (out) this.append(out);
  }

  /** flush partial lines (end of the container's output) */
  flush(): void {
    let out = "";
    for (const s of ["stdout", "stderr"] as const) {
      const rest = this.partial[s] + this.dec[s].decode();
      if (rest) out += this.line(s, rest);
      this.partial[s] = "";
    }
    if (out) this.append(out);
  }

  close(): void {
    this.flush();
    closeSync(this.fd);
  }

  private line(stream: StreamName, log: string): string {
    return JSON.stringify({ log, stream, time: nowNano() }) + "\n";
  }

  /** `s` is whole JSON lines; with max-size the file rotates between lines, before one would overflow it */
  private append(s: string): void {
    const max = this.opts.maxSize;
    if (max === undefined) return this.writeOut(Buffer.from(s));
    let batch: Buffer[] = [];
    let batchLen = 0;
    for (let i = 0; i < s.length; ) {
      const nl = s.indexOf("\n", i);
      const line = Buffer.from(s.slice(i, nl < 0 ? s.length : nl + 1));
      i = nl < 0 ? s.length : nl + 1;
      if (this.size + batchLen > 0 && this.size + batchLen + line.length > max) {
        if (batchLen) this.writeOut(Buffer.concat(batch));
        batch = [];
        batchLen = 0;
        this.rotate();
      }
      batch.push(line);
      batchLen += line.length;
    }
    if (batchLen) this.writeOut(Buffer.concat(batch));
  }

  private writeOut(b: Buffer): void {
    let off = 0;
    while (off < b.length) off += writeSync(this.fd, b, off, b.length - off);
    this.size += b.length;
  }

  /** moby's json-file rotation: path → path.1 → … → path.(max-file − 1), the oldest dropped; with one file, truncate */
  private rotate(): void {
    closeSync(this.fd);
    const n = this.opts.maxFile;
    if (n > 1) {
      try {
        unlinkSync(`${this.path}.${n - 1}`);
      } catch {} // ENOENT: not rotated that far yet
      for (let i = n - 2; i >= 1; i--) {
        try {
          renameSync(`${this.path}.${i}`, `${this.path}.${i + 1}`);
        } catch {} // ENOENT: not rotated that far yet
      }
      renameSync(this.path, `${this.path}.1`);
    }
    this.fd = openSync(this.path, constants.O_WRONLY | constants.O_CREAT | constants.O_APPEND | constants.O_TRUNC | 0o2000000, 0o640);
    this.size = 0;
  }
}

export interface LogEntry {
  log: string;
  stream: StreamName;
  time: string;
}

/** docker's --since/--until: RFC3339 (with or without zone), unix seconds[.nanos], or a duration "10m" ago */
export function parseTimeArg(s: string, now = Date.now()): number {
  const d = /^(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)$/.exec(s);
  if (d) {
    const mult = { ns: 1e-6, us: 1e-3, µs: 1e-3, ms: 1, s: 1000, m: 60000, h: 3600000 }[d[2]!]!;
    return now - Number(d[1]) * mult;
  }
  if (/^\d+(\.\d+)?$/.test(s)) return Number(s) * 1000;
  const t = Date.parse(/[zZ]|[+-]\d\d:?\d\d$/.test(s) || (!s.includes("T") && !/\d\d:\d\d/.test(s)) ? s : s + "Z");
  if (Number.isNaN(t)) throw new EngineError("invalid_argument", `invalid value for "since": failed to parse value as time or duration: "${s}"`);
  return t;
}

/** entry time in ms (nanoseconds dropped) */
export function entryTime(e: LogEntry): number {
  return Date.parse(e.time.replace(/(\.\d{3})\d*Z$/, "$1Z"));
}

/** parse whole lines from a buffer; returns entries and the byte count consumed */
export function parseLogChunk(buf: Buffer): { entries: LogEntry[]; used: number } {
  const entries: LogEntry[] = [];
  let used = 0;
  for (;;) {
    const nl = buf.indexOf(10, used);
    if (nl < 0) break;
    const line = buf.subarray(used, nl).toString("utf8");
    used = nl + 1;
    if (!line) continue;
    try {
      entries.push(JSON.parse(line));
    } catch {
      // a torn line from a crash: skip it as docker does
    }
  }
  return { entries, used };
}

/** read a log file from byte `offset`; returns new entries and the next offset (partial lines left) */
export function readLogFrom(path: string, offset: number): { entries: LogEntry[]; next: number } {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | 0o2000000);
  } catch {
    // ENOENT: not written yet (or rotated away): nothing new
    return { entries: [], next: offset };
  }
  try {
    const size = fstatSync(fd).size;
    if (size <= offset) return { entries: [], next: offset };
    const buf = Buffer.alloc(size - offset);
    let got = 0;
    while (got < buf.length) {
      const n = readSync(fd, buf, got, buf.length - got, offset + got);
      if (n <= 0) break;
      got += n;
    }
    const { entries, used } = parseLogChunk(buf.subarray(0, got));
    return { entries, next: offset + used };
  } finally {
    closeSync(fd);
  }
}

/** the inode of the live log file (a change means it rotated under a follower) */
export function logInode(path: string): number | undefined {
  try {
    return statSync(path).ino;
  } catch {
    return undefined; // no live file (log driver none, or the container removed): nothing to follow
  }
}
