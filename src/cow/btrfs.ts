/**
 * The btrfs driver (moby's btrfs graphdriver / containerd's btrfs snapshotter): every snapshot's fs/ is a
 * btrfs subvolume. A snapshot with a parent is BTRFS_IOC_SNAP_CREATE_V2 of the parent's subvolume, which
 * shares every extent with it until written (copy-on-write at block level, no union filesystem, no copy
 * up of whole files); without a parent it is an empty subvolume. commit() sets BTRFS_SUBVOL_RDONLY on the
 * subvolume, so a committed layer cannot change under its children; views are read-only snapshots.
 * remove() destroys the subvolume with BTRFS_IOC_SNAP_DESTROY_V2 (nested subvolumes a container made
 * inside its rootfs first, deepest first), then deletes the directory around it.
 *
 * Mounts are binds of the subvolume directory, "rw" for active snapshots and "ro" for views, exactly like
 * vfs; the runtime performs them. Layers unpack straight into the subvolume with whiteouts applied as
 * deletions (apply.ts "delete"). diff/changes compare the tree with the parent's subvolume as vfs does
 * (diff.ts treeDiff, docker's naive diff), but walk only the directories that hold an inode changed
 * since the snapshot was taken, which the subvolume's own B-tree lists (changedDirs).
 *
 * The driver refuses to start unless its root is on btrfs (statfs f_type BTRFS_SUPER_MAGIC): snapshots
 * cannot cross filesystems, and subvolume ioctls fail with ENOTTY anywhere else.
 */
import { closeSync, constants, existsSync, lstatSync, openSync, readdirSync } from "node:fs";
import type { SnapshotKind, Usage } from "./driver.ts";
import { EngineError, SyscallError } from "../lib/errors.ts";
import {
  BTRFS_FIRST_FREE_OBJECTID,
  BTRFS_INODE_EXTREF_KEY,
  BTRFS_INODE_ITEM_KEY,
  BTRFS_INODE_REF_KEY,
  BTRFS_SUBVOL_RDONLY,
  BTRFS_SUPER_MAGIC,
  fsType,
  inoLookup,
  isSubvolume,
  snapCreate,
  snapDestroy,
  snapDestroyV2,
  subvolCreate,
  subvolGetFlags,
  subvolInfo,
  subvolSetFlags,
  treeSearch,
} from "../ffi/btrfs.ts";
import { syncfs } from "../ffi/cow-fs.ts";
import { WholeTreeDriver, diskUsage } from "./_base.ts";
import { removeTree } from "./remove-tree.ts";
import { orList, registerDriver, registeredDrivers } from "./registry.ts";

/** the nearest existing directory at or above `path` */
function existingAncestor(path: string): string {
  let p = path;
  while (p !== "/" && !existsSync(p)) p = p.slice(0, p.lastIndexOf("/")) || "/";
  return p;
}

/** why snapshots under `root` cannot be btrfs subvolumes: it is not (or would not be created) on btrfs */
function notOnBtrfs(root: string): string | undefined {
  const at = existingAncestor(root);
  const type = fsType(at);
  return type === BTRFS_SUPER_MAGIC ? undefined : `${root} is not on a btrfs filesystem (${at} has f_type 0x${type.toString(16)})`;
}

/** `root` when it is (or would be created) on btrfs; a one-line failed_precondition otherwise */
function requireBtrfs(root: string): string {
  if (!root.startsWith("/")) return root; // BaseDriver refuses relative roots with its own message
  const why = notOnBtrfs(root);
  if (why) {
    throw new EngineError("failed_precondition", `btrfs storage driver: ${why}`, {
      hint: `point --root at a btrfs mount, or set BERTH_STORAGE_DRIVER to ${orList(
        registeredDrivers()
          .filter((d) => !d.requires.filesystem)
          .map((d) => d.name),
      )}`,
    });
  }
  return root;
}

export class BtrfsDriver extends WholeTreeDriver {
  readonly name = "btrfs" as const;

  constructor(root: string) {
    super(requireBtrfs(root));
  }

  /** fs/ is made by populate() as a subvolume, and btrfs needs no work/ */
  protected override makeDirs(): void {}

  protected async populate(id: number, chain: number[], kind: SnapshotKind): Promise<void> {
    const d = this.dir(id);
    const flags = kind === "view" ? BTRFS_SUBVOL_RDONLY : 0n;
    if (chain.length) {
      snapCreate(`${this.dir(chain[0]!)}/fs`, d, "fs", flags);
      return;
    }
    subvolCreate(d, "fs");
    if (flags) subvolSetFlags(`${d}/fs`, flags);
  }

  protected override sealCommitted(id: number): void {
    const fs = `${this.dir(id)}/fs`;
    subvolSetFlags(fs, subvolGetFlags(fs) | BTRFS_SUBVOL_RDONLY);
  }

  protected override destroy(d: string): void {
    const fs = `${d}/fs`;
    if (isSubvolume(fs)) destroySubvolume(fs);
    removeTree(d);
  }

  /** a subvolume goes by ioctl, on this thread */
  protected override async destroyAsync(d: string): Promise<void> {
    this.destroy(d);
  }

  /**
   * diff and changes compare trees like vfs, but walk only directories that hold a changed inode (see
   * changedDirs): the rest of the tree is still the parent's, block for block.
   */
  protected override changedDirs(upper: string, lower: string): ((rel: string) => boolean) | undefined {
    return descendInto(upper, lower);
  }

  /**
   * Bytes this snapshot adds to its parent: all of fs/ without a parent; with one, the allocated size
   * of what was added or changed against the parent (docker's `SizeRw`), since everything else shares
   * the parent's extents. Without quota groups btrfs has no cheaper exclusive-size figure.
   */
  override async usage(keyOrName: string): Promise<Usage> {
    const meta = this.readMeta();
    const rec = this.get(meta, keyOrName);
    const fs = `${this.dir(rec.id)}/fs`;
    const parent = this.chain(meta, rec.parent)[0];
    if (parent === undefined) return diskUsage(fs);
    let size = 0,
      inodes = 0,
      apparent = 0;
    const seen = new Set<bigint>();
    const { treeChanges } = await import("./diff.ts");
    for (const c of await treeChanges(`${this.dir(parent)}/fs`, fs, descendInto(fs, `${this.dir(parent)}/fs`))) {
      if (c.kind === "D") continue;
      const st = lstatSync(`${fs}${c.path}`, { bigint: true });
      if (seen.has(st.ino)) continue;
      seen.add(st.ino);
      inodes++;
      if (!st.isDirectory()) {
        size += Number(st.blocks) * 512;
        apparent += Number(st.size);
      }
    }
    return { size, inodes, apparent };
  }
}

/**
 * destroy the subvolume whose root is `path`. SNAP_DESTROY refuses (ENOTEMPTY) while nested subvolumes
 * live inside it, e.g. ones a container created in its rootfs; those go first, deepest first.
 */
function destroySubvolume(path: string): void {
  const cut = path.lastIndexOf("/");
  const dir = path.slice(0, cut),
    name = path.slice(cut + 1);
  try {
    destroyByName(dir, name);
  } catch (e) {
    if (!(e instanceof SyscallError && e.code === "ENOTEMPTY")) throw e;
    if (subvolGetFlags(path) & BTRFS_SUBVOL_RDONLY) subvolSetFlags(path, subvolGetFlags(path) & ~BTRFS_SUBVOL_RDONLY);
    for (const nested of nestedSubvolumes(path)) destroySubvolume(nested);
    destroyByName(dir, name);
  }
}

function destroyByName(dir: string, name: string): void {
  try {
    snapDestroyV2(dir, name);
  } catch (e) {
    // SNAP_DESTROY_V2 is Linux ≥5.7; older kernels answer ENOTTY for the unknown request
    if (!(e instanceof SyscallError && e.code === "ENOTTY")) throw e;
    snapDestroy(dir, name);
  }
}

/** roots of subvolumes directly nested in the subvolume at `root` (not descending into them) */
function nestedSubvolumes(root: string): string[] {
  const dev = lstatSync(root).dev;
  const out: string[] = [];
  const walk = (d: string) => {
    for (const n of readdirSync(d)) {
      const p = `${d}/${n}`;
      const st = lstatSync(p);
      if (!st.isDirectory()) continue;
      if (st.ino === BTRFS_FIRST_FREE_OBJECTID && st.dev !== dev) out.push(p);
      else if (st.dev === dev) walk(p);
    }
  };
  walk(root);
  return out;
}

const S_IFMT = 0o170000,
  S_IFDIR = 0o040000;
/** search buffer for the one-inode lookups: one leaf (the largest item possible with the default 16 KiB nodesize) plus the header */
const POINT_LOOKUP = 16 * 1024 + 32;

/**
 * The directories of the snapshot subvolume `fs` that can differ from the subvolume it was snapshotted
 * from, as a `descend` predicate for treeChanges; undefined (walk everything) when the kernel won't tell.
 *
 * Why this is complete: every change to a snapshot rewrites an inode item in its tree in a transaction
 * after the snapshot's own (otransid): a written, chmod'ed, chown'ed, touched, xattr'ed or newly linked
 * inode gets a new ctime, and a directory that gains, loses or renames an entry gets a new mtime and
 * size. An item rewritten later lives in a tree block of a later generation, so TREE_SEARCH with
 * min_transid = otransid + 1 sees every one of them (and then some: unchanged items sharing those
 * blocks, filtered out by the item's own transid). A changed directory must be compared; a changed
 * file makes the directories holding its names (INODE_REF / INODE_EXTREF keys) be compared; their
 * ancestors are walked to reach them. Everything else is shared with the parent and is skipped.
 * syncfs first: inode updates wait in btrfs' delayed-inode cache until a transaction commits, and the
 * search only reads the B-tree.
 *
 * Reading rewrites inode items too (atime, relatime's first read after a change), so an inode whose item
 * equals the one `parentFs` (the snapshot's source) has under the same number, transid and atime aside,
 * is not a change: ctime, mtime, size, mode, owner, nlink and the change counter (sequence) all match.
 */
export function changedDirs(fs: string, parentFs: string): Set<string> | undefined {
  try {
    const fd = openSync(fs, constants.O_RDONLY | constants.O_DIRECTORY | 0o2000000);
    try {
      syncfs(fd);
    } finally {
      closeSync(fd);
    }
    const { treeid, otransid } = subvolInfo(fs);
    const parentTree = subvolInfo(parentFs).treeid;
    const MAX = (1n << 64n) - 1n;
    const dirInos = new Set<bigint>(),
      fileInos: bigint[] = [];
    const touched: { ino: bigint; item: Uint8Array }[] = [];
    treeSearch(
      fs,
      { treeid, min: [BigInt(BTRFS_FIRST_FREE_OBJECTID), BTRFS_INODE_ITEM_KEY, 0n], max: [MAX, BTRFS_INODE_ITEM_KEY, MAX], minTransid: otransid + 1n },
      (it) => {
        if (it.type !== BTRFS_INODE_ITEM_KEY) return;
        const v = new DataView(it.data.buffer, it.data.byteOffset, it.data.byteLength);
        if (v.getBigUint64(8, true) > otransid) touched.push({ ino: it.objectid, item: it.data }); // btrfs_inode_item.transid (offset: 8)
      },
    );
    for (const { ino, item } of touched) {
      let before: Uint8Array | undefined;
      treeSearch(
        parentFs,
        { treeid: parentTree, min: [ino, BTRFS_INODE_ITEM_KEY, 0n], max: [ino, BTRFS_INODE_ITEM_KEY, 0n] },
        (it) => void (before = it.data),
        POINT_LOOKUP,
      );
      if (before && sameButAtime(before, item)) continue;
      const mode = new DataView(item.buffer, item.byteOffset, item.byteLength).getUint32(52, true); // .mode (offset: 52)
      if ((mode & S_IFMT) === S_IFDIR) dirInos.add(ino);
      else fileInos.push(ino);
    }
    for (const ino of fileInos) {
      treeSearch(
        fs,
        { treeid, min: [ino, BTRFS_INODE_REF_KEY, 0n], max: [ino, BTRFS_INODE_EXTREF_KEY, MAX] },
        (it) => {
          // INODE_REF: key offset = the parent directory; INODE_EXTREF (many links): parent_objectid
          // (offset: 0 - length: 8), index (8 - 8), name_len (16 - 2), name (18), repeated
          if (it.type === BTRFS_INODE_REF_KEY) dirInos.add(it.offset);
          else if (it.type === BTRFS_INODE_EXTREF_KEY) {
            const v = new DataView(it.data.buffer, it.data.byteOffset, it.data.byteLength);
            for (let at = 0; at + 18 <= it.data.length; at += 18 + v.getUint16(at + 16, true)) dirInos.add(v.getBigUint64(at, true));
          }
        },
        POINT_LOOKUP,
      );
    }
    const dirs = new Set<string>([""]);
    for (const ino of dirInos) {
      let rel: string;
      try {
        rel = inoLookup(fs, treeid, ino).replace(/\/$/, "");
      } catch (e) {
        if (e instanceof SyscallError && e.code === "ENOENT") continue; // deleted since: its parent changed too
        throw e;
      }
      for (let p = rel; p !== "" && !dirs.has(p); p = p.includes("/") ? p.slice(0, p.lastIndexOf("/")) : "") dirs.add(p);
    }
    return dirs;
  } catch (e) {
    // not root (TREE_SEARCH needs CAP_SYS_ADMIN), a kernel without GET_SUBVOL_INFO, or an item larger
    // than POINT_LOOKUP (nodesize > 16 KiB): walk it all
    if (e instanceof SyscallError && ["EPERM", "ENOTTY", "EOPNOTSUPP", "EOVERFLOW"].includes(e.code)) return undefined;
    throw e;
  }
}

/**
 * struct btrfs_inode_item (160 bytes) minus what reading changes: transid (offset: 8 - length: 8) and
 * atime (offset: 112 - length: 12)
 */
function sameButAtime(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== 160 || b.length !== 160) return false;
  for (let i = 0; i < 160; i++) {
    if ((i >= 8 && i < 16) || (i >= 112 && i < 124)) continue;
    if (a[i] !== b[i]) return false;
  }
  return true;
}

function descendInto(fs: string, parentFs: string): ((rel: string) => boolean) | undefined {
  const dirs = changedDirs(fs, parentFs);
  return dirs && ((rel) => dirs.has(rel));
}

declare module "./driver.ts" {
  interface StorageDrivers {
    btrfs: BtrfsDriver;
  }
}

registerDriver({
  name: "btrfs",
  description: "btrfs subvolumes: every snapshot a copy-on-write snapshot of its parent's subvolume",
  priority: 2,
  requires: { root: true, filesystem: "btrfs" },
  usable: notOnBtrfs,
  create: (root) => new BtrfsDriver(root),
});
