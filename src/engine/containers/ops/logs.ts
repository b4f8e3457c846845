/** `logs`: the json-file log of a container, filtered, tailed and followed */
import { EngineError } from "../../../lib/errors.ts";
import { entryTime, logFiles, logInode, parseLogConfig, parseTimeArg, readLogFrom, type LogEntry } from "../logs.ts";
import { isActive } from "../types.ts";
import type { ContainerDeps } from "./deps.ts";
import { refreshState } from "./state.ts";

/**
 * docker's `logs`: entries filtered by --since/--until, the last --tail, then (with follow) new
 * entries until the container stops.
 */
export async function logs(
  d: ContainerDeps,
  ref: string,
  o: { follow?: boolean; tail?: string; since?: string; until?: string; onEntry(e: LogEntry): void; signal?: AbortSignal },
): Promise<void> {
  const id = d.store.resolve(ref);
  const cfg = d.store.readConfig(id);
  const since = o.since ? parseTimeArg(o.since) : undefined;
  const until = o.until ? parseTimeArg(o.until) : undefined;
  const keep = (e: LogEntry) => {
    const t = entryTime(e);
    return (since === undefined || t >= since) && (until === undefined || t <= until);
  };
  const lo = parseLogConfig(cfg.HostConfig.LogConfig);
  if (lo.driver === "none") throw new EngineError("failed_precondition", `configured logging driver does not support reading`);
  // rotated files first, oldest first (--log-opt max-file)
  let entries: LogEntry[] = [];
  for (const f of logFiles(cfg.LogPath, lo.maxFile).slice(0, -1)) entries.push(...readLogFrom(f, 0).entries);
  let inode = logInode(cfg.LogPath);
  let { entries: live, next } = readLogFrom(cfg.LogPath, 0);
  entries = [...entries, ...live].filter(keep);
  const tail = o.tail === undefined || o.tail === "all" ? -1 : Number(o.tail);
  if (o.tail !== undefined && o.tail !== "all" && !/^-?\d+$/.test(o.tail)) throw new EngineError("invalid_argument", `invalid value for "tail": "${o.tail}"`);
  if (tail >= 0) entries = tail === 0 ? [] : entries.slice(-tail);
  for (const e of entries) o.onEntry(e);
  if (!o.follow) return;
  while (!o.signal?.aborted) {
    let active: boolean;
    try {
      active = isActive(refreshState(d, id).Status);
    } catch {
      active = false; // removed: print what is there, then end
    }
    const now = logInode(cfg.LogPath);
    if (now !== inode) {
      // rotated under us: the rest of the old file (now .1, or gone when max-file is 1), then the new one
      if (lo.maxFile > 1) for (const e of readLogFrom(`${cfg.LogPath}.1`, next).entries) if (keep(e)) o.onEntry(e);
      inode = now;
      next = 0;
    }
    const r = readLogFrom(cfg.LogPath, next);
    next = r.next;
    for (const e of r.entries) if (keep(e)) o.onEntry(e);
    if (!active) return;
    if (until !== undefined && d.clock.now() > until) return;
    await d.clock.sleep(100);
  }
}
