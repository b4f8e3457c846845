/**
 * What docker keeps in a container's init layer, below the container's own changes: the mount points
 * the engine creates (hostname, hosts, resolv.conf, /proc, /sys, /dev/…). berth creates them in the
 * container's writable layer when the image lacks them, so `diff` leaves them out and `commit` does not
 * pack them into the new layer (docker's commit of an untouched container is an empty layer). Pure.
 */
import type { TarRecord } from "../tar/index.ts";

const INIT_PATHS = new Set([
  "/.dockerenv",
  "/etc/hostname",
  "/etc/hosts",
  "/etc/resolv.conf",
  "/etc/mtab",
  "/proc",
  "/sys",
  "/dev",
  "/dev/pts",
  "/dev/shm",
  "/dev/console",
  "/dev/mqueue",
]);
/** directories that come with them: left out too when nothing else in them changed */
const INIT_PARENTS = ["/etc", "/dev"];

/** docker's `diff` view of a change list */
export function userChanges<T extends { kind: string; path: string }>(changes: T[]): T[] {
  const rest = changes.filter((c) => !(c.kind !== "D" && INIT_PATHS.has(c.path) && !INIT_PARENTS.includes(c.path)));
  return rest.filter((c) => !(c.kind !== "D" && INIT_PARENTS.includes(c.path) && !rest.some((o) => o.path.startsWith(c.path + "/"))));
}

const abs = (name: string) => "/" + name.replace(/^\.?\/+/, "").replace(/\/+$/, "");

/**
 * A layer diff (pre-order tar records) without the init paths. A parent directory (/etc, /dev) is held
 * back until something else inside it turns up, and dropped otherwise. Whiteouts always pass.
 */
export async function* withoutInitPaths(records: AsyncIterable<TarRecord>): AsyncGenerator<TarRecord> {
  let held: TarRecord | undefined;
  let heldPath = "";
  for await (const rec of records) {
    const p = abs(rec.entry.name);
    const whiteout = p.split("/").at(-1)!.startsWith(".wh.");
    if (held && !p.startsWith(heldPath + "/")) held = undefined; // nothing of its own inside: dropped
    if (!whiteout && INIT_PARENTS.includes(p) && rec.entry.type === "dir") {
      held = rec;
      heldPath = p;
      continue;
    }
    if (!whiteout && INIT_PATHS.has(p)) {
      for await (const _ of rec.body) {
      }
      continue;
    }
    if (held) {
      yield held;
      held = undefined;
    }
    yield rec;
  }
}
