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
import { EngineError } from "../lib/errors.ts";
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
      const nano = BigInt(Date.now()) * 1_000_000n + BigInt(Math.floor((performance.now() % 1) * 1e6));
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
    } catch {}
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
      return;
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
        } catch {}
      }
      return { events, next: offset + end, inode: st.ino };
    } finally {
      closeSync(fd);
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
      return undefined;
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

const FILTER_KEYS = ["type", "event", "container", "image", "network", "volume", "label"];

/** docker's `events --filter`: the same key ORs its values, different keys AND */
export function parseEventFilters(filters: string[]): EventFilter {
  const by = new Map<string, string[]>();
  for (const f of filters) {
    const i = f.indexOf("=");
    if (i <= 0) throw new EngineError("invalid_argument", "bad format of filter (expected name=value)");
    const k = f.slice(0, i);
    if (!FILTER_KEYS.includes(k)) throw new EngineError("invalid_argument", `invalid filter '${k}'`);
    by.set(k, [...(by.get(k) ?? []), f.slice(i + 1)]);
  }
  const any = (k: string, pred: (v: string) => boolean) => !by.has(k) || by.get(k)!.some(pred);
  const actor = (e: BerthEvent, type: string, v: string) => e.Type === type && (e.Actor.ID === v || e.Actor.ID.startsWith(v) || e.Actor.Attributes.name === v);
  return {
    match: (e) =>
      any("type", (v) => e.Type === v) &&
      any("event", (v) => e.Action === v || e.Action.split(":")[0] === v) &&
      any("container", (v) => actor(e, "container", v)) &&
      any("image", (v) => (e.Type === "image" && (e.Actor.ID === v || e.Actor.Attributes.name === v)) || (e.Type === "container" && e.Actor.Attributes.image === v)) &&
      any("network", (v) => actor(e, "network", v)) &&
      any("volume", (v) => actor(e, "volume", v)) &&
      any("label", (v) => {
        const j = v.indexOf("=");
        return j < 0 ? v in e.Actor.Attributes : e.Actor.Attributes[v.slice(0, j)] === v.slice(j + 1);
      }),
  };
}
