/**
 * Snapshot changes as data (`berth diff`) and as an OCI layer (commit, build, export of diffs).
 *
 * overlay: the upper dir *is* the diff. 0/0 character devices become `.wh.NAME`, directories carrying
 * trusted.overlay.opaque=y get a `.wh..wh..opq` entry right after their own entry, and overlay's private
 * `trusted.overlay.*` xattrs (origin, impure, …) are not exported.
 * vfs: the snapshot tree is compared with its parent's: an entry is changed when its type, mode, owner or
 * device differ, and for non-directories also size or mtime (docker's archive.changes statDifferent);
 * deleted paths become `.wh.` whiteouts of the topmost deleted path only.
 * `changes()` follows docker: A added, C changed, D deleted; a directory is C when its own attributes
 * changed or anything inside it did; paths are absolute ("/etc/passwd") and in pre-order.
 * Hardlinked inodes are emitted once as files and then as hardlink entries to the first path.
 */
import { closeSync, lstatSync, openSync, readdirSync, readlinkSync, readSync, type BigIntStats } from "node:fs";
import type { EntryType, TarEntry, TarRecord } from "../tar/types.ts";
import { lgetxattr, llistxattr } from "../ffi/fs.ts";
import { OVERLAY_OPAQUE_XATTR, WHITEOUT_OPAQUE, WHITEOUT_PREFIX } from "./apply.ts";

export interface Change {
  kind: "A" | "C" | "D";
  /** absolute path inside the container, "/etc/passwd" */
  path: string;
}

const CHUNK = 1 << 20;

function typeOf(st: BigIntStats): EntryType | null {
  if (st.isFile()) return "file";
  if (st.isDirectory()) return "dir";
  if (st.isSymbolicLink()) return "symlink";
  if (st.isCharacterDevice()) return "char";
  if (st.isBlockDevice()) return "block";
  if (st.isFIFO()) return "fifo";
  return null; // sockets are not archived (GNU tar: "socket ignored")
}

function isWhiteout(st: BigIntStats): boolean {
  return st.isCharacterDevice() && st.rdev === 0n;
}

function isOpaque(abs: string): boolean {
  const v = lgetxattr(abs, OVERLAY_OPAQUE_XATTR);
  return v !== null && v.length === 1 && v[0] === 0x79; // "y"
}

function splitDev(rdev: bigint): [number, number] {
  const major = Number(((rdev >> 8n) & 0xfffn) | ((rdev >> 32n) & ~0xfffn));
  const minor = Number((rdev & 0xffn) | ((rdev >> 12n) & ~0xffn));
  return [major, minor];
}

function xattrsOf(abs: string): Record<string, Uint8Array> | undefined {
  let out: Record<string, Uint8Array> | undefined;
  for (const name of llistxattr(abs)) {
    if (name.startsWith("trusted.overlay.")) continue;
    const v = lgetxattr(abs, name);
    if (v !== null) (out ??= {})[name] = v;
  }
  return out;
}

async function* fileBody(abs: string, size: number): AsyncIterable<Uint8Array> {
  const fd = openSync(abs, "r");
  try {
    let left = size;
    while (left > 0) {
      const buf = new Uint8Array(Math.min(CHUNK, left));
      const n = readSync(fd, buf, 0, buf.length, null);
      if (n === 0) throw new Error(`read ${JSON.stringify(abs)}: file shrank while archiving`);
      left -= n;
      yield n === buf.length ? buf : buf.subarray(0, n);
    }
  } finally {
    closeSync(fd);
  }
}

async function* empty(): AsyncIterable<Uint8Array> {}

/** a TarRecord for the node at `abs`, archived as `name`; `links` maps dev:ino → first archived name */
function recordOf(name: string, abs: string, st: BigIntStats, links: Map<string, string>): TarRecord | null {
  const type = typeOf(st);
  if (!type) return null;
  const sec = Number(st.mtimeNs / 1_000_000_000n),
    nsec = Number(st.mtimeNs % 1_000_000_000n);
  const entry: TarEntry = {
    name,
    type,
    mode: Number(st.mode) & 0o7777,
    uid: Number(st.uid),
    gid: Number(st.gid),
    size: 0,
    mtime: sec + nsec / 1e9,
    mtimeNsec: nsec,
  };
  if (type !== "dir" && st.nlink > 1n) {
    const key = `${st.dev}:${st.ino}`;
    const first = links.get(key);
    if (first !== undefined) return { entry: { ...entry, type: "hardlink", linkname: first }, body: empty() };
    links.set(key, name);
  }
  if (type === "file") entry.size = Number(st.size);
  if (type === "symlink") entry.linkname = readlinkSync(abs);
  if (type === "char" || type === "block") [entry.devmajor, entry.devminor] = splitDev(st.rdev);
  const x = xattrsOf(abs);
  if (x) entry.xattrs = x;
  return { entry, body: type === "file" ? fileBody(abs, entry.size) : empty() };
}

function whiteoutRecord(name: string, st?: BigIntStats): TarRecord {
  const e: TarEntry = { name, type: "file", mode: 0, uid: 0, gid: 0, size: 0, mtime: st ? Number(st.mtimeNs / 1_000_000_000n) : 0 };
  return { entry: e, body: empty() };
}

function join(rel: string, name: string): string {
  return rel === "" ? name : `${rel}/${name}`;
}

function dirOf(rel: string): string {
  const i = rel.lastIndexOf("/");
  return i < 0 ? "" : rel.slice(0, i);
}

function baseOf(rel: string): string {
  return rel.slice(rel.lastIndexOf("/") + 1);
}

/** the overlay upper dir as an OCI layer */
export async function* overlayDiff(upper: string): AsyncIterable<TarRecord> {
  const links = new Map<string, string>();
  async function* walk(rel: string): AsyncIterable<TarRecord> {
    const dir = rel === "" ? upper : `${upper}/${rel}`;
    for (const name of readdirSync(dir).sort()) {
      const r = join(rel, name),
        abs = `${dir}/${name}`;
      const st = lstatSync(abs, { bigint: true });
      if (isWhiteout(st)) {
        yield whiteoutRecord(join(rel, WHITEOUT_PREFIX + name), st);
        continue;
      }
      const rec = recordOf(r, abs, st, links);
      if (!rec) continue;
      yield rec;
      if (st.isDirectory()) {
        if (isOpaque(abs)) yield whiteoutRecord(join(r, WHITEOUT_OPAQUE), st);
        yield* walk(r);
      }
    }
  }
  yield* walk("");
}

/** does `rel` exist in the merged lower stack? (stops at whiteouts and opaque directories) */
function inLowers(rel: string, lowers: string[]): boolean {
  for (const lower of lowers) {
    const st = lstatSync(`${lower}/${rel}`, { bigint: true, throwIfNoEntry: false });
    if (st) return !isWhiteout(st);
    // an opaque parent in this layer hides everything further down
    let p = dirOf(rel);
    for (;;) {
      const pst = lstatSync(p === "" ? lower : `${lower}/${p}`, { bigint: true, throwIfNoEntry: false });
      if (pst?.isDirectory() && p !== "" && isOpaque(`${lower}/${p}`)) return false;
      if (p === "") break;
      p = dirOf(p);
    }
  }
  return false;
}

export async function overlayChanges(upper: string, lowers: string[]): Promise<Change[]> {
  const out: Change[] = [];
  const walk = (rel: string, hidden: boolean) => {
    const dir = rel === "" ? upper : `${upper}/${rel}`;
    for (const name of readdirSync(dir).sort()) {
      const r = join(rel, name),
        abs = `${dir}/${name}`;
      const st = lstatSync(abs, { bigint: true });
      if (isWhiteout(st)) {
        if (!hidden && inLowers(r, lowers)) out.push({ kind: "D", path: "/" + r });
        continue;
      }
      const existed = !hidden && inLowers(r, lowers);
      out.push({ kind: existed ? "C" : "A", path: "/" + r });
      if (st.isDirectory()) walk(r, hidden || !existed || isOpaque(abs));
    }
  };
  walk("", false);
  return out;
}

function differs(l: BigIntStats, u: BigIntStats, lAbs: string, uAbs: string): boolean {
  if (l.mode !== u.mode || l.uid !== u.uid || l.gid !== u.gid || l.rdev !== u.rdev) return true;
  if (u.isDirectory()) return false;
  if (l.size !== u.size || l.mtimeNs !== u.mtimeNs) return true;
  return u.isSymbolicLink() && readlinkSync(lAbs) !== readlinkSync(uAbs);
}

/**
 * compare the tree `upper` with `lower` (the parent's tree; undefined = empty). `descend(rel)` (rel
 * without the leading "/") may answer false for a directory present in both trees that the caller
 * knows holds no change anywhere below it (btrfs: from the subvolume's changed inodes); it is then
 * neither compared nor walked.
 */
export async function treeChanges(lower: string | undefined, upper: string, descend?: (rel: string) => boolean): Promise<Change[]> {
  const out: Change[] = [];
  const addAll = (rel: string, abs: string) => {
    for (const name of readdirSync(abs).sort()) {
      const r = join(rel, name),
        a = `${abs}/${name}`;
      out.push({ kind: "A", path: "/" + r });
      if (lstatSync(a).isDirectory()) addAll(r, a);
    }
  };
  const cmp = (rel: string): boolean => {
    const uDir = rel === "" ? upper : `${upper}/${rel}`;
    const lDir = lower === undefined ? undefined : rel === "" ? lower : `${lower}/${rel}`;
    const names = new Set(readdirSync(uDir));
    if (lDir) for (const n of readdirSync(lDir)) names.add(n);
    let changed = false;
    for (const name of [...names].sort()) {
      const r = join(rel, name),
        uAbs = `${uDir}/${name}`,
        lAbs = lDir && `${lDir}/${name}`;
      const u = lstatSync(uAbs, { bigint: true, throwIfNoEntry: false });
      const l = lAbs ? lstatSync(lAbs, { bigint: true, throwIfNoEntry: false }) : undefined;
      if (!u) {
        out.push({ kind: "D", path: "/" + r });
        changed = true;
      } else if (!l) {
        out.push({ kind: "A", path: "/" + r });
        if (u.isDirectory()) addAll(r, uAbs);
        changed = true;
      } else if (u.isDirectory() && l.isDirectory()) {
        if (descend && !descend(r)) continue;
        const at = out.length;
        const inner = cmp(r);
        if (inner || differs(l, u, lAbs!, uAbs)) {
          out.splice(at, 0, { kind: "C", path: "/" + r });
          changed = true;
        }
      } else if (differs(l, u, lAbs!, uAbs)) {
        out.push({ kind: "C", path: "/" + r });
        if (u.isDirectory()) addAll(r, uAbs);
        changed = true;
      }
    }
    return changed;
  };
  cmp("");
  return out;
}

/** the vfs or btrfs snapshot's changes against its parent tree as an OCI layer (descend: see treeChanges) */
export async function* treeDiff(lower: string | undefined, upper: string, descend?: (rel: string) => boolean): AsyncIterable<TarRecord> {
  const links = new Map<string, string>();
  const changes = await treeChanges(lower, upper, descend);
  // a type change (dir → file) needs the lower subtree gone: a plain entry replaces it on apply
  for (const c of changes) {
    const rel = c.path.slice(1);
    if (c.kind === "D") {
      yield whiteoutRecord(join(dirOf(rel), WHITEOUT_PREFIX + baseOf(rel)));
      continue;
    }
    const abs = `${upper}/${rel}`;
    const rec = recordOf(rel, abs, lstatSync(abs, { bigint: true }), links);
    if (rec) yield rec;
  }
}
