/**
 * applyLayer: unpack a stream of TarRecords into a snapshot directory, safely and fast.
 *
 * Threat model (tar-slip, CVE-2018-15664 / CVE-2019-14271 classes): the layer is hostile, the tree it
 * lands in is ours and nobody else writes to it while we apply (the snapshot is not mounted in a
 * running container). So:
 *  - names are cleaned lexically relative to the root (docker's `filepath.Clean` + `Rel`); absolute names
 *    and `..` that climbs above the root are refused: invalid_argument
 *    `layer entry "../etc/passwd": path escapes the layer root`;
 *  - parent components are resolved one by one with lstat. A symlink met in a *parent* position is
 *    followed **inside the root**, like moby's `symlink.FollowSymlinkInScope` (an absolute target
 *    restarts at the root, `..` stops at the root, as under chroot). We chose containment over refusal
 *    because real images rely on it: a lower layer's `lib -> usr/lib` (merged /usr) followed by entries
 *    under `lib/…` must land in `usr/lib/…` for the vfs driver, exactly as docker's chrooted unpacker does.
 *  - the final component is never followed: it is removed (unless dir-on-dir) and created with calls that
 *    do not dereference (open O_EXCL|O_NOFOLLOW, mkdir, symlink, link(2) without AT_SYMLINK_FOLLOW,
 *    mknod, lchown, lsetxattr, utimensat AT_SYMLINK_NOFOLLOW);
 *  - hardlink targets are cleaned and resolved the same way, so they always name an inode already inside
 *    the root (a link "through" a symlink resolves in scope and simply finds nothing outside);
 *  - `trusted.overlay.*` xattrs in the archive are dropped: only `.wh.` entries may produce overlay
 *    metadata (a forged redirect/metacopy/opaque xattr would change what the merged view shows).
 *
 * Whiteouts (OCI image-spec layer.md): with `whiteouts: "overlay"`, `.wh.NAME` becomes a 0/0 character
 * device and `.wh..wh..opq` sets `trusted.overlay.opaque=y` on its directory (overlayfs.rst); with
 * `"delete"` (vfs, the layer is applied onto a copy of the parent) they delete from the tree. Both
 * apply only to what existed before this layer, whatever the entry order. `.wh..wh.*` aufs metadata is
 * skipped, as docker does.
 *
 * Speed: file bodies go out in ≤1 MiB sequential writes from a reused buffer; parent directories are
 * resolved once and cached; inside a directory this run created (empty at creation) nothing needs an
 * lstat before creating; there is no per-file fsync: one syncfs(2) at the end makes the whole layer
 * durable before the caller commits the snapshot (a crash before that leaves an active snapshot that
 * the engine discards, so per-file durability would buy nothing).
 *
 * Directory modes and mtimes are set at the end, after their contents (creating children changes a
 * directory's mtime; a 0555 directory would block its own children for a non-root caller).
 */
import {
  closeSync,
  constants,
  fchmodSync,
  fchownSync,
  linkSync,
  lstatSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  chmodSync,
  symlinkSync,
  writeSync,
  writevSync,
  readlinkSync,
  type Stats,
} from "node:fs";
import type { ApplyStats, BodyFile, BodyQueue } from "./driver.ts";
import type { TarEntry, TarRecord } from "../tar/types.ts";
import { EngineError, SyscallError, wrap } from "../lib/errors.ts";
import { removeTree } from "./remove-tree.ts";
import { futimens, lchown, lgetxattr, lsetxattr, lutimes, makedev, mknod, S_IFBLK, S_IFCHR, S_IFIFO } from "../ffi/fs.ts";
import { startWriteback, syncfs } from "../ffi/cow-fs.ts";
import { geteuid } from "../ffi/proc.ts";

export type WhiteoutMode = "overlay" | "delete";

export interface ApplyOptions {
  /** "overlay": native overlay whiteouts; "delete": remove whited-out paths (vfs) */
  whiteouts: WhiteoutMode;
  /** one syncfs(2) at the end (default true) */
  sync?: boolean;
  /** start the writeback of each file ≥ WRITEBACK_MIN when written (default: as `sync`); for a caller
   * that syncs the layer itself afterwards (driver.sync), as import does */
  writeback?: boolean;
  /**
   * Where regular files go (ffi/body-writer.ts: a native thread): the creation of a file whose parent
   * this function resolved inside the root (the same open(2) as here: O_EXCL|O_NOFOLLOW), the body's
   * chunks (which the caller keeps intact until the queue is done with them), its owner, mode and
   * times, then the close. Files with xattrs are written here (their xattrs follow the chown). Drained
   * before anything on disk is looked at again (LayerTree.settle), the directories' modes and the
   * syncfs.
   */
  bodies?: BodyQueue;
  /** file body bytes gathered per writev(2), default APPLY_WRITE_BUF (a caller whose chunks are views
   * of a ring gives less, and so needs a smaller ring) */
  writeBuf?: number;
}

export const WHITEOUT_PREFIX = ".wh.";
export const WHITEOUT_OPAQUE = ".wh..wh..opq";
export const OVERLAY_OPAQUE_XATTR = "trusted.overlay.opaque";
const MAX_SYMLINK_HOPS = 40; // the kernel's MAXSYMLINKS
const O_NOFOLLOW = constants.O_NOFOLLOW ?? 0o400000;
const O_CLOEXEC = 0o2000000;
/** a regular file is always a new inode, its last component never followed */
const FILE_FLAGS = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | O_NOFOLLOW | O_CLOEXEC;

function escapes(name: string): EngineError {
  return new EngineError("invalid_argument", `layer entry ${JSON.stringify(name)}: path escapes the layer root`);
}

/**
 * Clean an archive path relative to the layer root: "" is the root itself. Absolute names and `..`
 * above the root throw invalid_argument.
 */
export function cleanLayerPath(name: string, what = name): string {
  if (name.includes("\0")) throw new EngineError("invalid_argument", `layer entry ${JSON.stringify(what)}: NUL byte in name`);
  if (name.startsWith("/")) throw escapes(what);
  const out: string[] = [];
  for (const part of name.split("/")) {
    if (part === "" || part === ".") continue;
    if (part === "..") {
      if (out.length === 0) throw escapes(what);
      out.pop();
    } else out.push(part);
  }
  return out.join("/");
}

/** lexical clean where `..` stops at the root (chroot semantics, used for symlink targets in scope) */
function clampPath(path: string): string {
  const out: string[] = [];
  for (const part of path.split("/")) {
    if (part === "" || part === ".") continue;
    if (part === "..") out.pop();
    else out.push(part);
  }
  return out.join("/");
}

function dirnameOf(rel: string): string {
  const i = rel.lastIndexOf("/");
  return i < 0 ? "" : rel.slice(0, i);
}
function basenameOf(rel: string): string {
  return rel.slice(rel.lastIndexOf("/") + 1);
}

/** seconds + nanoseconds of an entry time; mtimeNsec is exact when the reader had it */
export function entryTime(sec: number, nsec?: number): [number, number] {
  return [Math.floor(sec), entryNsec(sec, nsec)];
}

/** the nanoseconds of entryTime */
function entryNsec(sec: number, nsec?: number): number {
  if (nsec !== undefined) return nsec;
  return Math.min(999_999_999, Math.max(0, Math.round((sec - Math.floor(sec)) * 1e9)));
}

class LayerTree {
  /** archive dir path → absolute real directory (verified: a directory, reached without leaving root) */
  private dirs = new Map<string, string>();
  /** absolute paths this run created */
  readonly created = new Set<string>();
  /** absolute directories this run created (they started empty) */
  readonly fresh = new Set<string>();
  /**
   * Absolute directories where a new file gets exactly the caller's uid and gid and the mode asked of
   * open(2) less the umask: the caller's gid, no S_ISGID (setgid inheritance and a `grpid` mount would
   * hand out the directory's group) and no default ACL (which replaces the umask). A file created there
   * for an entry that matches needs neither fchown nor fchmod (see applyLayer). Holds the root when it
   * qualifies and the directories this run made inside qualifying ones, until an entry gives them
   * another group or any xattr.
   */
  readonly plainDirs = new Set<string>();
  /**
   * Absolute paths of the regular files this run created through ApplyOptions.bodies (and hardlinks
   * to them): a hardlink to one is queued behind its creation (BodyQueue.link) instead of waiting
   * for the queue to drain and looking at the target on disk. A path leaves the set when it is
   * removed; the removal of a directory empties it (its files went too).
   */
  readonly queuedFiles = new Set<string>();

  constructor(
    readonly root: string,
    rootEmpty: boolean,
  ) {
    this.dirs.set("", root);
    if (rootEmpty) this.fresh.add(root);
    const st = lstatSync(root);
    if ((st.mode & S_ISGID) === 0 && st.gid === egid && !hasDefaultAcl(root)) this.plainDirs.add(root);
  }

  /** a directory this run just made with mkdir(2) in `parentAbs`: empty, and its group inherited */
  madeDir(parentAbs: string, abs: string): void {
    this.created.add(abs);
    this.fresh.add(abs);
    // mkdir(2) gives the caller's gid or, with S_ISGID / grpid, the parent's; S_ISGID and the default
    // ACL are inherited too: a directory made in a plain one is plain
    if (this.plainDirs.has(parentAbs)) this.plainDirs.add(abs);
  }

  /**
   * Called before the tree is looked at on disk (lstat, removal, a hardlink's target): the files
   * queued to ApplyOptions.bodies must be there by then (their creation is queued too).
   */
  settle: () => void = () => {};

  /** lstat unless we know the path cannot exist (inside a fresh dir and never created by us) */
  probe(parentAbs: string, abs: string): Stats | undefined {
    if (this.fresh.has(parentAbs) && !this.created.has(abs)) return undefined;
    this.settle();
    return lstatSync(abs, { throwIfNoEntry: false });
  }

  /** absolute real path of archive directory `rel` (already cleaned), creating missing components */
  resolveDir(rel: string, entryName: string, hops = 0): string {
    const hit = this.dirs.get(rel);
    if (hit !== undefined) return hit;
    const parentRel = dirnameOf(rel);
    const parentAbs = this.resolveDir(parentRel, entryName, hops);
    const abs = `${parentAbs}/${basenameOf(rel)}`;
    const st = this.probe(parentAbs, abs);
    if (!st) {
      mkdirSync(abs, 0o755);
      this.madeDir(parentAbs, abs);
      this.dirs.set(rel, abs);
      return abs;
    }
    if (st.isDirectory()) {
      this.dirs.set(rel, abs);
      return abs;
    }
    if (st.isSymbolicLink()) {
      if (hops >= MAX_SYMLINK_HOPS) throw new EngineError("invalid_argument", `layer entry ${JSON.stringify(entryName)}: too many levels of symbolic links`);
      const target = readlinkSync(abs);
      const parentReal = parentAbs === this.root ? "" : parentAbs.slice(this.root.length + 1);
      const inScope = clampPath(target.startsWith("/") ? target : `${parentReal}/${target}`);
      const real = this.resolveDir(inScope, entryName, hops + 1);
      this.dirs.set(rel, real);
      return real;
    }
    throw new EngineError("invalid_argument", `layer entry ${JSON.stringify(entryName)}: parent ${JSON.stringify(rel)} is not a directory`);
  }

  /** remove an existing node; cached directory resolutions may point into it, so drop them */
  remove(abs: string, st: Stats): void {
    this.settle();
    removeTree(abs, st);
    this.created.delete(abs);
    this.fresh.delete(abs);
    this.plainDirs.delete(abs);
    this.queuedFiles.delete(abs);
    if (st.isDirectory()) this.queuedFiles.clear();
    if (st.isDirectory() || st.isSymbolicLink()) {
      this.dirs.clear();
      this.dirs.set("", this.root);
    }
  }

  rememberDir(rel: string, abs: string): void {
    this.dirs.set(rel, abs);
  }
}

/** only root may give files other owners (CAP_CHOWN); others keep their own */
// who we are, read by applyLayer's first call rather than at import (the engine loads this module
// without unpacking anything)
let euid = -1;
let canChown = false;
let egid = -1;
let idsRead = false;
function readIds(): void {
  if (idsRead) return;
  euid = geteuid();
  canChown = euid === 0;
  egid = process.getegid?.() ?? -1;
  idsRead = true;
}
const S_ISGID = 0o2000;
const POSIX_ACL_DEFAULT = "system.posix_acl_default";

/**
 * The bits open(2) strips from a new file's mode. Read from /proc/self/status (Linux ≥ 4.7): umask(2)
 * can only be read by setting it, which races with other threads creating files.
 */
function currentUmask(): number {
  try {
    const m = /^Umask:\s*([0-7]+)$/m.exec(readFileSync("/proc/self/status", "utf8"));
    if (m) return Number.parseInt(m[1]!, 8);
  } catch {
    // no procfs: unknown, so every file gets its fchmod (below)
  }
  return 0o777;
}

function hasDefaultAcl(dir: string): boolean {
  try {
    return lgetxattr(dir, POSIX_ACL_DEFAULT) !== null;
  } catch (err) {
    // a filesystem without xattrs has no ACLs; anything else: assume one
    return !(err instanceof SyscallError && (err.code === "EOPNOTSUPP" || err.code === "ENOTSUP"));
  }
}

/** after setOwner/setXattrs on directory `abs` for entry `e`: is it still plain (LayerTree.plainDirs)? */
function keepPlain(tree: LayerTree, abs: string, e: TarEntry): void {
  if ((canChown && e.gid !== egid) || (e.xattrs && Object.keys(e.xattrs).length)) tree.plainDirs.delete(abs);
}

function setOwner(abs: string, e: TarEntry): void {
  if (canChown) lchown(abs, e.uid, e.gid);
}

function setXattrs(abs: string, e: TarEntry): void {
  if (!e.xattrs) return;
  for (const [k, v] of Object.entries(e.xattrs)) {
    if (k.startsWith("trusted.overlay.")) continue;
    try {
      lsetxattr(abs, k, v);
    } catch (err) {
      // like docker: a filesystem without xattrs or a namespace we may not write (trusted.* as non-root,
      // user.* on a symlink) is not fatal for the layer
      if (err instanceof SyscallError && (err.code === "EOPNOTSUPP" || err.code === "ENOTSUP" || err.code === "EPERM")) continue;
      throw err;
    }
  }
}

function setTimes(abs: string, e: TarEntry): void {
  const m = entryTime(e.mtime, e.mtimeNsec);
  const a = e.atime !== undefined ? entryTime(e.atime, e.atimeNsec) : m;
  lutimes(abs, a, m);
}

/**
 * File body bytes gathered into one writev(2): also the most of the source's chunks applyLayer holds
 * on to at once (a caller that recycles chunk memory, as the pull's gzip ring does, sizes it from this)
 */
export const APPLY_WRITE_BUF = 1 << 20;

/** files at least this large start their writeback when written (sync_file_range), see applyLayer */
const WRITEBACK_MIN = 256 << 10;
/**
 * the same for a file written through ApplyOptions.bodies, whose sync_file_range runs on that
 * thread: the 1 GB bench tarball's syncfs 0.34 → 0.13–0.18 s, the unpack +0.02–0.07 s (16 and 32 KiB
 * slowed the unpack more, 256 KiB left the syncfs as it was; 2 interleaved rounds on a fresh ext4)
 */
const QUEUED_WRITEBACK_MIN = 64 << 10;

function writeAll(fd: number, data: Uint8Array): void {
  let off = 0;
  while (off < data.length) off += writeSync(fd, data, off, data.length - off);
}

/** write `total` bytes from `chunks` in order: one write(2) or writev(2), more only after a short write */
function writeAllv(fd: number, chunks: Uint8Array[], total: number): void {
  let n = chunks.length === 1 ? writeSync(fd, chunks[0]!) : writevSync(fd, chunks);
  if (n === total) return;
  for (const c of chunks) {
    if (n >= c.length) {
      n -= c.length;
      continue;
    }
    writeAll(fd, n ? c.subarray(n) : c);
    n = 0;
  }
}

/** unpack `records` into `root` (a snapshot's fs/ directory). Errors name the entry. */
export async function applyLayer(root: string, records: AsyncIterable<TarRecord>, opts: ApplyOptions): Promise<ApplyStats> {
  readIds();
  const rootEntries = readdirSync(root);
  const umask = currentUmask();
  const tree = new LayerTree(root, rootEntries.length === 0);
  const deferredDirs: { abs: string; entry: TarEntry }[] = [];
  const opaque = new Set<string>();
  let entries = 0;
  let size = 1024; // end-of-archive blocks
  let diskSize = 0;
  const bodies = opts.bodies;
  if (bodies) tree.settle = () => bodies.drain();
  const bodyFile: BodyFile = { chown: false, uid: 0, gid: 0, chmod: -1, writeback: false, atime: 0, atimeNsec: 0, mtime: 0, mtimeNsec: 0 };
  const gather = opts.writeBuf ?? APPLY_WRITE_BUF;

  for await (const rec of records) {
    const e = rec.entry;
    entries++;
    size += 512 + Math.ceil(e.size / 512) * 512;
    if (e.type === "file") diskSize += e.size;
    else if (e.type === "symlink") diskSize += Buffer.byteLength(e.linkname ?? "");
    const name = cleanLayerPath(e.name);
    try {
      const base = basenameOf(name);
      if (base.startsWith(WHITEOUT_PREFIX)) {
        applyWhiteout(tree, name, base, e, opts.whiteouts, opaque);
        continue;
      }
      if (name === "") {
        if (e.type !== "dir") throw new EngineError("invalid_argument", `layer entry ${JSON.stringify(e.name)}: the layer root must be a directory`);
        setOwner(root, e);
        setXattrs(root, e);
        keepPlain(tree, root, e);
        deferredDirs.push({ abs: root, entry: e });
        continue;
      }
      const parentAbs = tree.resolveDir(dirnameOf(name), e.name);
      const abs = `${parentAbs}/${base}`;
      const existing = tree.probe(parentAbs, abs);
      if (existing) {
        if (existing.isDirectory() && e.type === "dir") {
          setOwner(abs, e);
          setXattrs(abs, e);
          tree.rememberDir(name, abs);
          tree.created.add(abs); // a layer entry: opaque pruning and whiteouts must keep it
          deferredDirs.push({ abs, entry: e });
          continue;
        }
        tree.remove(abs, existing);
      }
      switch (e.type) {
        case "dir":
          mkdirSync(abs, 0o700);
          tree.madeDir(parentAbs, abs);
          tree.rememberDir(name, abs);
          setOwner(abs, e);
          setXattrs(abs, e);
          keepPlain(tree, abs, e);
          deferredDirs.push({ abs, entry: e });
          break;
        case "file": {
          // created with its permission bits (O_EXCL: a new inode, so the umask is all that can strip
          // them), owned by the caller: fchmod and fchown follow only where that is not already right
          if (bodies && !e.xattrs) {
            // the same open(2) on the queue's thread (-1: its file), or here when the thread is behind or the path too long for it
            const fd = !bodies.behind?.() && bodies.create(abs, e.mode & 0o777, e.name) ? -1 : openQueued(abs, e.mode & 0o777, bodies);
            tree.created.add(abs);
            tree.queuedFiles.add(abs);
            let size = 0;
            try {
              // the whole body at once when the reader holds it (most files: no turn of the event loop)
              const whole = rec.bodyNow?.();
              // else, from a tarball file, by its place in the file: copied there in the kernel
              const at = whole === undefined ? rec.bodyAt?.() : undefined;
              if (whole !== undefined) {
                if (whole.length) bodies.write(fd, whole, e.name);
                size = whole.length;
              } else if (at) {
                bodies.copy(fd, at.fd, at.offset, e.size, e.name);
                size = e.size;
              } else
                for await (const chunk of rec.body) {
                  bodies.write(fd, chunk, e.name);
                  size += chunk.length;
                }
            } catch (err) {
              bodies.finish(fd, e.name, null); // its close is queued all the same
              throw err;
            }
            bodies.finish(fd, e.name, fillBodyFile(bodyFile, e, size, tree.plainDirs.has(parentAbs), umask, opts));
            break;
          }
          const fd = openSync(abs, FILE_FLAGS, e.mode & 0o777);
          tree.created.add(abs);
          try {
            // the reader's chunks are subarrays of the source's: write them as they are, gathered
            // into one writev(2) per ≤1 MiB, never copied
            let pending: Uint8Array[] = [];
            let used = 0;
            for await (const chunk of rec.body) {
              if (used && used + chunk.length > gather) {
                writeAllv(fd, pending, used);
                pending = [];
                used = 0;
              }
              pending.push(chunk);
              used += chunk.length;
            }
            if (used) writeAllv(fd, pending, used);
            // a large file's pages start going to disk now, while the layer goes on
            if (e.size >= WRITEBACK_MIN && (opts.writeback ?? opts.sync !== false)) startWriteback(fd);
            // chmod after chown: chown clears setuid/setgid on regular files
            const plain = tree.plainDirs.has(parentAbs);
            if (canChown && (!plain || e.uid !== euid || e.gid !== egid)) fchownSync(fd, e.uid, e.gid);
            if (!plain || e.mode & (0o7000 | umask)) fchmodSync(fd, e.mode & 0o7777);
            // the times last: nothing writes to the file after this (xattrs change ctime only)
            const m = entryTime(e.mtime, e.mtimeNsec);
            futimens(fd, e.atime !== undefined ? entryTime(e.atime, e.atimeNsec) : m, m);
          } finally {
            closeSync(fd);
          }
          // xattrs after chown too: chown drops security.capability
          setXattrs(abs, e);
          break;
        }
        case "symlink":
          symlinkSync(e.linkname ?? "", abs);
          tree.created.add(abs);
          setOwner(abs, e);
          setXattrs(abs, e);
          setTimes(abs, e);
          break;
        case "hardlink": {
          const target = cleanLayerPath(e.linkname ?? "", e.name);
          if (target === "") throw new EngineError("invalid_argument", `layer entry ${JSON.stringify(e.name)}: hardlink to the layer root`);
          const tAbs = `${tree.resolveDir(dirnameOf(target), e.name)}/${basenameOf(target)}`;
          // a file this run queued is a regular file by the time the queue reaches this link: link it
          // there (the 1 GB bench tarball's 236 hardlinks each drained the queue: 0.5 s of this
          // thread's time waiting, with the thread idle after each)
          if (bodies?.link && tree.queuedFiles.has(tAbs) && bodies.link(tAbs, abs, e.name)) {
            tree.created.add(abs);
            tree.queuedFiles.add(abs);
            break;
          }
          tree.settle();
          const tst = lstatSync(tAbs, { throwIfNoEntry: false });
          if (!tst)
            throw new EngineError(
              "invalid_argument",
              `layer entry ${JSON.stringify(e.name)}: hardlink target ${JSON.stringify(e.linkname)} is not in the layer`,
            );
          if (tst.isDirectory())
            throw new EngineError("invalid_argument", `layer entry ${JSON.stringify(e.name)}: hardlink target ${JSON.stringify(e.linkname)} is a directory`);
          linkSync(tAbs, abs); // link(2) does not follow a symlink target on Linux
          tree.created.add(abs);
          break;
        }
        case "char":
        case "block":
        case "fifo": {
          const fmt = e.type === "char" ? S_IFCHR : e.type === "block" ? S_IFBLK : S_IFIFO;
          mknod(abs, fmt | (e.mode & 0o777), e.type === "fifo" ? 0n : makedev(e.devmajor ?? 0, e.devminor ?? 0));
          tree.created.add(abs);
          setOwner(abs, e);
          chmodSync(abs, e.mode & 0o7777); // a device or fifo we just made: chmod cannot be redirected
          setXattrs(abs, e);
          setTimes(abs, e);
          break;
        }
        default:
          throw new EngineError("invalid_argument", `layer entry ${JSON.stringify(e.name)}: unsupported type ${JSON.stringify(e.type)}`);
      }
    } catch (err) {
      if (err instanceof EngineError && err.message.startsWith("layer entry ")) throw err;
      throw wrap(`layer entry ${JSON.stringify(e.name)}`, err);
    }
  }

  bodies?.drain();
  if (opts.whiteouts === "delete") for (const dir of opaque) pruneLower(tree, dir);
  else for (const dir of opaque) lsetxattr(dir, OVERLAY_OPAQUE_XATTR, new TextEncoder().encode("y"));

  for (const { abs, entry } of deferredDirs) {
    const st = lstatSync(abs, { throwIfNoEntry: false });
    if (!st?.isDirectory()) continue; // replaced later in the layer
    chmodSync(abs, entry.mode & 0o7777);
    setTimes(abs, entry);
  }

  if (opts.sync !== false) {
    const fd = openSync(root, constants.O_RDONLY | constants.O_DIRECTORY | O_CLOEXEC);
    try {
      syncfs(fd);
    } finally {
      closeSync(fd);
    }
  }
  return { size, diskSize, entries };
}

/**
 * open(2) of a queued file on this thread (BodyQueue.create said no): its descriptor stays open until
 * the queue reaches its FINISH, so with too many open at once (EMFILE) the queue is drained once
 */
function openQueued(abs: string, mode: number, bodies: BodyQueue): number {
  try {
    return openSync(abs, FILE_FLAGS, mode);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "EMFILE") throw err;
    bodies.drain();
    return openSync(abs, FILE_FLAGS, mode);
  }
}

/** `f` filled in for a queued file: what the synchronous path in applyLayer does to it */
function fillBodyFile(f: BodyFile, e: TarEntry, size: number, plain: boolean, umask: number, opts: ApplyOptions): BodyFile {
  f.chown = canChown && (!plain || e.uid !== euid || e.gid !== egid);
  f.uid = e.uid;
  f.gid = e.gid;
  f.chmod = !plain || e.mode & (0o7000 | umask) ? e.mode & 0o7777 : -1;
  f.writeback = size >= QUEUED_WRITEBACK_MIN && (opts.writeback ?? opts.sync !== false);
  f.mtime = Math.floor(e.mtime);
  f.mtimeNsec = entryNsec(e.mtime, e.mtimeNsec);
  f.atime = e.atime !== undefined ? Math.floor(e.atime) : f.mtime;
  f.atimeNsec = e.atime !== undefined ? entryNsec(e.atime, e.atimeNsec) : f.mtimeNsec;
  return f;
}

function applyWhiteout(tree: LayerTree, name: string, base: string, e: TarEntry, mode: WhiteoutMode, opaque: Set<string>): void {
  const dirRel = dirnameOf(name);
  if (base === WHITEOUT_OPAQUE) {
    opaque.add(tree.resolveDir(dirRel, e.name));
    return;
  }
  if (base.startsWith(WHITEOUT_PREFIX + WHITEOUT_PREFIX)) return; // aufs metadata (.wh..wh.plnk, …)
  const hidden = base.slice(WHITEOUT_PREFIX.length);
  if (hidden === "" || hidden === "." || hidden === "..")
    throw new EngineError("invalid_argument", `layer entry ${JSON.stringify(e.name)}: invalid whiteout name`);
  const parentAbs = tree.resolveDir(dirRel, e.name);
  const abs = `${parentAbs}/${hidden}`;
  if (tree.created.has(abs)) return; // whiteouts hide lower layers only, never this layer's own entries
  const st = tree.probe(parentAbs, abs);
  if (st) tree.remove(abs, st);
  if (mode === "overlay") {
    mknod(abs, S_IFCHR, 0n); // overlayfs whiteout: character device 0/0
    tree.created.add(abs);
    setOwner(abs, e);
  }
}

/** vfs opaque directory: delete everything below `dir` that this layer did not create */
function pruneLower(tree: LayerTree, dir: string): void {
  for (const child of readdirSync(dir)) {
    const abs = `${dir}/${child}`;
    const st = lstatSync(abs);
    if (!tree.created.has(abs)) tree.remove(abs, st);
    else if (st.isDirectory() && !tree.fresh.has(abs)) pruneLower(tree, abs);
  }
}
