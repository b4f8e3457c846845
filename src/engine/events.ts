/**
 * docker's event stream without a daemon: every berth process appends what it did to one JSON-lines
 * file under the root (<root>/events.jsonl), and `berth events` reads and follows it.
 *
 * Appends are one write(2) each, under a shared flock; when the file passes 1 MiB the appender that
 * notices takes the lock exclusively and keeps the newest half (tmp → rename), so the log stays small
 * (docker keeps its last 256 events in memory). A reader that sees the inode change reopens and skips what
 * it already printed (by timeNano).
 */
import { closeSync, constants, fstatSync, openSync, readFileSync, readSync, statSync, writeSync } from "node:fs";
import { join } from "node:path";
import { FileLock } from "../ffi/index.ts";
import { replaceFile } from "../lib/atomic-write.ts";
import { Filters } from "./filters.ts";
import type { EventMessage } from "./api/events.ts";

/** one line of the log: docker's event message (api/events.ts) */
export type BerthEvent = EventMessage;

const MAX_BYTES = 1024 * 1024;

export class EventLog {
  readonly path: string;
  private readonly lockPath: string;
  constructor(root: string) {
    this.path = join(root, "events.jsonl");
    this.lockPath = join(root, "events.lock");
  }

  /** record one event; never fails the operation it reports (a full disk costs the event, not the container) */
  emit(type: BerthEvent["Type"], action: string, id: string, attributes: Record<string, string> = {}): void {
    try {
      // the wall clock to the microsecond, one clock (Date's milliseconds plus the monotonic clock's
      // sub-millisecond part could step back within a millisecond); whole microseconds also survive the
      // float timeNano and its JSON exactly (a number past 2^53 keeps steps of 256 ns)
      const nano = BigInt(Math.round((performance.timeOrigin + performance.now()) * 1000)) * 1000n;
      const ev: BerthEvent = {
        ...(type === "container" || type === "image" ? { status: action, id, ...(attributes.image ? { from: attributes.image } : {}) } : {}),
        Type: type,
        Action: action,
        Actor: { ID: id, Attributes: sortKeys(attributes) },
        scope: "local",
        time: Number(nano / 1_000_000_000n),
        timeNano: Number(nano),
      };
      this.append(JSON.stringify(ev) + "\n");
    } catch {} // see above: a full disk costs the event, not the operation it reports
  }

  private append(line: string): void {
    let size: number;
    {
      using _ = FileLock.hold(this.lockPath, "shared");
      const fd = openSync(this.path, constants.O_WRONLY | constants.O_CREAT | constants.O_APPEND | 0o2000000, 0o600);
      try {
        const b = Buffer.from(line);
        writeSync(fd, b, 0, b.length);
        size = fstatSync(fd).size;
      } finally {
        closeSync(fd);
      }
    }
    if (size > MAX_BYTES) {
      using _ = FileLock.hold(this.lockPath, "exclusive");
      this.compact();
    }
  }

  /** keep the newest half, whole lines (exclusive lock held) */
  private compact(): void {
    let text: string;
    try {
      text = readFileSync(this.path, "utf8");
    } catch {
      return; // ENOENT: removed meanwhile, so nothing to compact
    }
    if (Buffer.byteLength(text) <= MAX_BYTES) return; // another appender compacted it
    const keep = text.slice(Math.floor(text.length / 2));
    replaceFile(this.path, keep.slice(keep.indexOf("\n") + 1), 0o600);
  }

  /** events from byte `offset` of the current file; `inode` tells a follower that the file was compacted */
  read(offset: number): { events: BerthEvent[]; next: number; inode: number | undefined } {
    let fd: number;
    try {
      fd = openSync(this.path, constants.O_RDONLY | 0o2000000);
    } catch {
      // ENOENT: no event recorded yet
      return { events: [], next: 0, inode: undefined };
    }
    try {
      const st = fstatSync(fd);
      if (st.size <= offset) return { events: [], next: offset, inode: st.ino };
      const buf = Buffer.alloc(st.size - offset);
      let got = 0;
      while (got < buf.length) {
        const n = readSync(fd, buf, got, buf.length - got, offset + got);
        if (n <= 0) break;
        got += n;
      }
      const end = buf.lastIndexOf(10, got - 1) + 1;
      const events: BerthEvent[] = [];
      for (const line of buf.subarray(0, end).toString("utf8").split("\n")) {
        if (!line) continue;
        try {
          events.push(JSON.parse(line));
        } catch {} // a torn line from a crash mid-append: skipped
      }
      return { events, next: offset + end, inode: st.ino };
    } finally {
      closeSync(fd);
    }
  }

  /** throws the filesystem's error when the log exists but may not be read (a non-root user) */
  checkReadable(): void {
    try {
      closeSync(openSync(this.path, constants.O_RDONLY | 0o2000000));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw e;
    }
  }

  inode(): number | undefined {
    return this.stat()?.ino;
  }

  /** where the log ends now (a follower that wants only new events starts here) */
  end(): { offset: number; inode: number | undefined } {
    const st = this.stat();
    return { offset: st?.size ?? 0, inode: st?.ino };
  }

  private stat() {
    try {
      return statSync(this.path);
    } catch {
      return undefined; // ENOENT: no event recorded yet
    }
  }
}

function sortKeys(o: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(o).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

// ------------------------------------------------------------------------------ filters

export interface EventFilter {
  match(e: BerthEvent): boolean;
}

export const EVENT_FILTERS = ["type", "event", "container", "image", "network", "volume", "label"] as const;

/** docker's `events --filter`: the same key ORs its values, different keys AND */
export function parseEventFilters(filters: Filters | readonly string[]): EventFilter {
  const by = (filters instanceof Filters ? filters : Filters.fromFlags(filters, { strict: true })).validate(EVENT_FILTERS);
  const any = (k: string, pred: (v: string) => boolean) => by.any(k, pred);
  const actor = (e: BerthEvent, type: string, v: string) => e.Type === type && (e.Actor.ID === v || e.Actor.ID.startsWith(v) || e.Actor.Attributes.name === v);
  return {
    match: (e) =>
      any("type", (v) => e.Type === v) &&
      any("event", (v) => e.Action === v || e.Action.split(":")[0] === v) &&
      any("container", (v) => actor(e, "container", v)) &&
      any(
        "image",
        (v) => (e.Type === "image" && (e.Actor.ID === v || e.Actor.Attributes.name === v)) || (e.Type === "container" && e.Actor.Attributes.image === v),
      ) &&
      any("network", (v) => actor(e, "network", v)) &&
      any("volume", (v) => actor(e, "volume", v)) &&
      any("label", (v) => {
        const j = v.indexOf("=");
        return j < 0 ? v in e.Actor.Attributes : e.Actor.Attributes[v.slice(0, j)] === v.slice(j + 1);
      }),
  };
}

export interface EventQuery {
  /** ms since the epoch: replay the log from this time (without it, only what happens from now on) */
  since?: number;
  /** ms since the epoch: stop after this time */
  until?: number;
  filters?: Filters;
  /** stops following */
  signal?: AbortSignal;
  /** how often the log is polled, ms */
  pollMs?: number;
}

/**
 * `GET /events`: the log's events that match, followed until `until` or the signal. A follower that
 * finds the log compacted (a new inode) starts it again and skips what it already yielded.
 */
export async function* followEvents(root: string, q: EventQuery = {}): AsyncGenerator<EventMessage> {
  const filter = parseEventFilters(q.filters ?? new Filters());
  const log = new EventLog(root);
  log.checkReadable();
  const { since, until } = q;
  // from the end (only what happens from now on), or from the start with since
  const start = since === undefined ? log.end() : { offset: 0, inode: log.inode() };
  let next = start.offset;
  let inode = start.inode;
  let lastNano = 0;
  let skipUpTo = -1; // after a compaction: what was already yielded
  while (!q.signal?.aborted) {
    if (log.inode() !== inode) {
      inode = log.inode();
      next = 0;
      skipUpTo = lastNano;
    }
    const r = log.read(next);
    next = r.next;
    for (const e of r.events) {
      if (e.timeNano <= skipUpTo) continue;
      if (since !== undefined && e.timeNano / 1e6 < since) continue;
      if (until !== undefined && e.timeNano / 1e6 > until) return;
      lastNano = e.timeNano;
      if (filter.match(e)) yield e;
    }
    if (until !== undefined && Date.now() > until) return;
    await Bun.sleep(q.pollMs ?? 100);
  }
}
