/**
 * docker's json-file log format: one JSON object per line,
 *   {"log":"hello\n","stream":"stdout","time":"2024-01-01T12:00:00.123456789Z"}
 * Output is split at newlines (a partial line is kept until its newline or the end of the stream, and
 * lines longer than 16 KiB are split, as moby's json-file driver does).
 */
import { closeSync, openSync, readSync, fstatSync, writeSync, constants } from "node:fs";
import { EngineError } from "../../lib/errors.ts";

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

export class JsonLogWriter {
  private fd: number;
  private partial: Record<StreamName, string> = { stdout: "", stderr: "" };
  private dec: Record<StreamName, TextDecoder> = { stdout: new TextDecoder(), stderr: new TextDecoder() };
  constructor(path: string) {
    this.fd = openSync(path, constants.O_WRONLY | constants.O_CREAT | constants.O_APPEND | 0o2000000, 0o640);
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

  private append(s: string): void {
    const b = Buffer.from(s);
    let off = 0;
    while (off < b.length) off += writeSync(this.fd, b, off, b.length - off);
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
    const mult = { ns: 1e-6, us: 1e-3, "µs": 1e-3, ms: 1, s: 1000, m: 60000, h: 3600000 }[d[2]!]!;
    return now - Number(d[1]) * mult;
  }
  if (/^\d+(\.\d+)?$/.test(s)) return Number(s) * 1000;
  const t = Date.parse(/[zZ]|[+-]\d\d:?\d\d$/.test(s) || !s.includes("T") && !/\d\d:\d\d/.test(s) ? s : s + "Z");
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
