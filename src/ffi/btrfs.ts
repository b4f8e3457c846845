/**
 * btrfs subvolume ioctls (<linux/btrfs.h>, btrfs-progs' `btrfs subvolume create|snapshot|delete` and
 * `btrfs property set ro` are these calls): create an empty subvolume, snapshot one (writable, or
 * read-only with BTRFS_SUBVOL_RDONLY), read and set its flags, destroy it. The storage driver
 * src/cow/btrfs.ts builds on them.
 *
 * Every call takes an fd: the *directory that will hold* (or holds) the subvolume plus its one-component
 * name, and for a snapshot also an fd on the *source subvolume's root*. The fds are opened O_DIRECTORY
 * here and closed before returning. Subvolume deletion is asynchronous in the kernel: the name is gone
 * when SNAP_DESTROY returns, the cleaner thread frees the extents later.
 */
import { closeSync, constants, lstatSync, openSync, statfsSync } from "node:fs";
import { EngineError } from "../lib/errors.ts";
import { T, lazyLib, fail } from "./_core.ts";

const lib = lazyLib({
  ioctl: { args: [T.i32, T.u64, T.ptr], returns: T.i32 },
} as const);

// <linux/magic.h>
export const BTRFS_SUPER_MAGIC = 0x9123683e;

// <linux/btrfs.h> (btrfs_tree.h for the object id)
export const BTRFS_IOCTL_MAGIC = 0x94;
export const BTRFS_PATH_NAME_MAX = 4087;
export const BTRFS_SUBVOL_NAME_MAX = 4039;
export const BTRFS_SUBVOL_RDONLY = 1n << 1n;
/** inode number of every subvolume's root directory */
export const BTRFS_FIRST_FREE_OBJECTID = 256;

// <linux/btrfs_tree.h> item key types
export const BTRFS_INODE_ITEM_KEY = 1;
export const BTRFS_INODE_REF_KEY = 12;
export const BTRFS_INODE_EXTREF_KEY = 13;

/** _IOC(dir, type, nr, size) for the asm-generic encoding (x86_64, arm64, riscv64) */
function ioc(dir: number, nr: number, size: number): number {
  return ((dir << 30) >>> 0) + (size << 16) + (BTRFS_IOCTL_MAGIC << 8) + nr;
}
const _IOW = (nr: number, size: number) => ioc(1, nr, size);
const _IOR = (nr: number, size: number) => ioc(2, nr, size);
const _IOWR = (nr: number, size: number) => ioc(3, nr, size);

export const VOL_ARGS_SIZE = 4096;
export const VOL_ARGS_V2_SIZE = 4096;

export const BTRFS_IOC_SNAP_DESTROY = _IOW(15, VOL_ARGS_SIZE); // struct btrfs_ioctl_vol_args
export const BTRFS_IOC_SNAP_CREATE_V2 = _IOW(23, VOL_ARGS_V2_SIZE); // struct btrfs_ioctl_vol_args_v2
export const BTRFS_IOC_SUBVOL_CREATE_V2 = _IOW(24, VOL_ARGS_V2_SIZE);
export const BTRFS_IOC_SUBVOL_GETFLAGS = _IOR(25, 8); // __u64
export const BTRFS_IOC_SUBVOL_SETFLAGS = _IOW(26, 8); // __u64
export const BTRFS_IOC_SNAP_DESTROY_V2 = _IOW(63, VOL_ARGS_V2_SIZE); // Linux ≥5.7
export const SEARCH_ARGS_V2_SIZE = 112; // struct btrfs_ioctl_search_args_v2 without buf[]
export const INO_LOOKUP_ARGS_SIZE = 4096;
export const GET_SUBVOL_INFO_ARGS_SIZE = 504;
export const BTRFS_IOC_TREE_SEARCH_V2 = _IOWR(17, SEARCH_ARGS_V2_SIZE); // CAP_SYS_ADMIN
export const BTRFS_IOC_INO_LOOKUP = _IOWR(18, INO_LOOKUP_ARGS_SIZE);
export const BTRFS_IOC_GET_SUBVOL_INFO = _IOR(60, GET_SUBVOL_INFO_ARGS_SIZE); // Linux ≥4.18

function checkName(name: string, max: number): Uint8Array {
  const b = new TextEncoder().encode(name);
  if (!name || name === "." || name === ".." || name.includes("/") || name.includes("\0") || b.length > max) {
    throw new EngineError("invalid_argument", `btrfs subvolume name ${JSON.stringify(name)}: must be one path component of at most ${max} bytes`);
  }
  return b;
}

/**
 * struct btrfs_ioctl_vol_args (4096 bytes):
 *   __s64 fd                              (offset: 0 - length: 8)
 *   char  name[BTRFS_PATH_NAME_MAX + 1]   (offset: 8 - length: 4088)
 */
export function volArgs(fd: number, name: string): Uint8Array {
  const buf = new Uint8Array(VOL_ARGS_SIZE);
  new DataView(buf.buffer).setBigInt64(0, BigInt(fd), true);
  buf.set(checkName(name, BTRFS_PATH_NAME_MAX), 8);
  return buf;
}

/**
 * struct btrfs_ioctl_vol_args_v2 (4096 bytes):
 *   __s64 fd                                   (offset: 0 - length: 8)    source subvolume (snapshots)
 *   __u64 transid                              (offset: 8 - length: 8)    out: transid of an async create
 *   __u64 flags                                (offset: 16 - length: 8)   BTRFS_SUBVOL_RDONLY, …
 *   union { {__u64 size; qgroup_inherit *}; __u64 unused[4]; }
 *                                              (offset: 24 - length: 32)  zero: no qgroup inheritance
 *   union { char name[BTRFS_SUBVOL_NAME_MAX + 1]; __u64 devid; __u64 subvolid; }
 *                                              (offset: 56 - length: 4040)
 */
export function volArgsV2(fd: number, flags: bigint, name: string): Uint8Array {
  const buf = new Uint8Array(VOL_ARGS_V2_SIZE);
  const v = new DataView(buf.buffer);
  v.setBigInt64(0, BigInt(fd), true);
  v.setBigUint64(16, flags, true);
  buf.set(checkName(name, BTRFS_SUBVOL_NAME_MAX), 56);
  return buf;
}

const O_DIR = constants.O_RDONLY | constants.O_DIRECTORY | 0o2000000; /* O_CLOEXEC */

function withDir<R>(path: string, fn: (fd: number) => R): R {
  const fd = openSync(path, O_DIR);
  try {
    return fn(fd);
  } finally {
    closeSync(fd);
  }
}

/** failure is -1 only: GET_SUBVOL_INFO returns 1 on success (the leftover of a btrfs_search_slot
 * "not an exact match" in fs/btrfs/ioctl.c; libbtrfsutil checks `< 0` too) */
function ioctl(fd: number, request: number, arg: Uint8Array, what: string, paths: string[]): void {
  if (lib().ioctl(fd, request, arg) < 0) fail("ioctl", [what, ...paths]);
}

/** `btrfs subvolume create DIR/NAME`: a new empty subvolume */
export function subvolCreate(dir: string, name: string): void {
  withDir(dir, (fd) => ioctl(fd, BTRFS_IOC_SUBVOL_CREATE_V2, volArgsV2(0, 0n, name), "BTRFS_IOC_SUBVOL_CREATE_V2", [`${dir}/${name}`]));
}

/** `btrfs subvolume snapshot [-r] SOURCE DIR/NAME`; SOURCE must be a subvolume's root directory */
export function snapCreate(source: string, dir: string, name: string, flags = 0n): void {
  withDir(source, (src) =>
    withDir(dir, (fd) => ioctl(fd, BTRFS_IOC_SNAP_CREATE_V2, volArgsV2(src, flags, name), "BTRFS_IOC_SNAP_CREATE_V2", [source, `${dir}/${name}`])),
  );
}

/** `btrfs subvolume delete DIR/NAME` (SNAP_DESTROY_V2 by name). ENOTEMPTY while it holds nested subvolumes. */
export function snapDestroyV2(dir: string, name: string): void {
  withDir(dir, (fd) => ioctl(fd, BTRFS_IOC_SNAP_DESTROY_V2, volArgsV2(0, 0n, name), "BTRFS_IOC_SNAP_DESTROY_V2", [`${dir}/${name}`]));
}

/** the same through the original SNAP_DESTROY, for kernels before 5.7 */
export function snapDestroy(dir: string, name: string): void {
  withDir(dir, (fd) => ioctl(fd, BTRFS_IOC_SNAP_DESTROY, volArgs(0, name), "BTRFS_IOC_SNAP_DESTROY", [`${dir}/${name}`]));
}

/** flags of the subvolume whose root is `path` (BTRFS_SUBVOL_RDONLY) */
export function subvolGetFlags(path: string): bigint {
  const out = new BigUint64Array(1);
  withDir(path, (fd) => ioctl(fd, BTRFS_IOC_SUBVOL_GETFLAGS, new Uint8Array(out.buffer), "BTRFS_IOC_SUBVOL_GETFLAGS", [path]));
  return out[0]!;
}

/** `btrfs property set PATH ro true|false`: only BTRFS_SUBVOL_RDONLY can be changed */
export function subvolSetFlags(path: string, flags: bigint): void {
  const arg = new BigUint64Array([flags]);
  withDir(path, (fd) => ioctl(fd, BTRFS_IOC_SUBVOL_SETFLAGS, new Uint8Array(arg.buffer), "BTRFS_IOC_SUBVOL_SETFLAGS", [path]));
}

/** statfs(2) f_type of the filesystem holding `path` */
export function fsType(path: string): number {
  return Number(statfsSync(path, { bigint: true }).type);
}

/** is `path` (not followed) the root directory of a btrfs subvolume? */
export function isSubvolume(path: string): boolean {
  const st = lstatSync(path, { throwIfNoEntry: false });
  return !!st && st.isDirectory() && st.ino === BTRFS_FIRST_FREE_OBJECTID && fsType(path) === BTRFS_SUPER_MAGIC;
}

export interface SubvolInfo {
  /** the subvolume's tree id (what TREE_SEARCH and INO_LOOKUP take) */
  treeid: bigint;
  /** the transaction that created it (a snapshot: the snapshot's transaction) */
  otransid: bigint;
  /** the subvolume root's current generation */
  generation: bigint;
}

/**
 * BTRFS_IOC_GET_SUBVOL_INFO on the subvolume holding `path`. struct btrfs_ioctl_get_subvol_info_args
 * (504 bytes), the fields read here:
 *   __u64 treeid       (offset: 0 - length: 8)
 *   __u64 generation   (offset: 280 - length: 8)
 *   __u64 otransid     (offset: 352 - length: 8)
 */
export function subvolInfo(path: string): SubvolInfo {
  const buf = new Uint8Array(GET_SUBVOL_INFO_ARGS_SIZE);
  withDir(path, (fd) => ioctl(fd, BTRFS_IOC_GET_SUBVOL_INFO, buf, "BTRFS_IOC_GET_SUBVOL_INFO", [path]));
  const v = new DataView(buf.buffer);
  return { treeid: v.getBigUint64(0, true), generation: v.getBigUint64(280, true), otransid: v.getBigUint64(352, true) };
}

/**
 * BTRFS_IOC_INO_LOOKUP: the path of directory inode `objectid` relative to the root of subvolume
 * `treeid` ("" for the root, "a/b/" otherwise, with the trailing slash the kernel writes).
 * struct btrfs_ioctl_ino_lookup_args (4096 bytes):
 *   __u64 treeid                           (offset: 0 - length: 8)
 *   __u64 objectid                         (offset: 8 - length: 8)
 *   char  name[BTRFS_INO_LOOKUP_PATH_MAX]  (offset: 16 - length: 4080)  out, NUL-terminated
 */
export function inoLookup(path: string, treeid: bigint, objectid: bigint): string {
  const buf = new Uint8Array(INO_LOOKUP_ARGS_SIZE);
  const v = new DataView(buf.buffer);
  v.setBigUint64(0, treeid, true);
  v.setBigUint64(8, objectid, true);
  withDir(path, (fd) => ioctl(fd, BTRFS_IOC_INO_LOOKUP, buf, "BTRFS_IOC_INO_LOOKUP", [path, `inode ${objectid}`]));
  const name = buf.subarray(16);
  return new TextDecoder().decode(name.subarray(0, name.indexOf(0)));
}

export interface SearchKey {
  treeid: bigint;
  min: [objectid: bigint, type: number, offset: bigint];
  max: [objectid: bigint, type: number, offset: bigint];
  /** only items in tree blocks written in this transaction or later */
  minTransid?: bigint;
}

export interface SearchItem {
  /** generation of the tree block holding the item */
  transid: bigint;
  objectid: bigint;
  type: number;
  offset: bigint;
  data: Uint8Array;
}

const U64_MAX = (1n << 64n) - 1n;

/**
 * BTRFS_IOC_TREE_SEARCH_V2 over the key range [min, max] (keys compare as (objectid, type, offset)
 * tuples, so a range spanning objectids returns every type in between), batch after batch until the
 * range is exhausted. `path`: any file on the filesystem. Needs CAP_SYS_ADMIN. `bufSize` bounds one batch;
 * it must hold the largest single item (a leaf: 16 KiB by default) or the kernel answers EOVERFLOW.
 *
 * struct btrfs_ioctl_search_args_v2 = struct btrfs_ioctl_search_key (104 bytes) + buf_size + buf[]:
 *   __u64 tree_id        (offset: 0 - length: 8)
 *   __u64 min_objectid   (offset: 8 - length: 8)
 *   __u64 max_objectid   (offset: 16 - length: 8)
 *   __u64 min_offset     (offset: 24 - length: 8)
 *   __u64 max_offset     (offset: 32 - length: 8)
 *   __u64 min_transid    (offset: 40 - length: 8)
 *   __u64 max_transid    (offset: 48 - length: 8)
 *   __u32 min_type       (offset: 56 - length: 4)
 *   __u32 max_type       (offset: 60 - length: 4)
 *   __u32 nr_items       (offset: 64 - length: 4)   in: at most; out: returned
 *   (unused)             (offset: 68 - length: 36)
 *   __u64 buf_size       (offset: 104 - length: 8)
 *   __u64 buf[]          (offset: 112)             items, each a struct btrfs_ioctl_search_header:
 *     __u64 transid (0) · __u64 objectid (8) · __u64 offset (16) · __u32 type (24) · __u32 len (28) · data (32)
 */
export function treeSearch(path: string, key: SearchKey, onItem: (item: SearchItem) => void, bufSize = 64 * 1024): void {
  const BUF = bufSize;
  const args = new Uint8Array(SEARCH_ARGS_V2_SIZE + BUF);
  const v = new DataView(args.buffer);
  let [objectid, type, offset] = key.min;
  withDir(path, (fd) => {
    for (;;) {
      args.fill(0, 0, SEARCH_ARGS_V2_SIZE);
      v.setBigUint64(0, key.treeid, true);
      v.setBigUint64(8, objectid, true);
      v.setBigUint64(16, key.max[0], true);
      v.setBigUint64(24, offset, true);
      v.setBigUint64(32, key.max[2], true);
      v.setBigUint64(40, key.minTransid ?? 0n, true);
      v.setBigUint64(48, U64_MAX, true);
      v.setUint32(56, type, true);
      v.setUint32(60, key.max[1], true);
      v.setUint32(64, 0xffffffff, true);
      v.setBigUint64(104, BigInt(BUF), true);
      ioctl(fd, BTRFS_IOC_TREE_SEARCH_V2, args, "BTRFS_IOC_TREE_SEARCH_V2", [path]);
      const n = v.getUint32(64, true);
      if (n === 0) return;
      let at = SEARCH_ARGS_V2_SIZE;
      for (let i = 0; i < n; i++) {
        const len = v.getUint32(at + 28, true);
        objectid = v.getBigUint64(at + 8, true);
        offset = v.getBigUint64(at + 16, true);
        type = v.getUint32(at + 24, true);
        onItem({ transid: v.getBigUint64(at, true), objectid, type, offset, data: args.slice(at + 32, at + 32 + len) });
        at += 32 + len;
      }
      // continue right after the last key returned
      if (offset < U64_MAX) offset++;
      else if (type < 255) {
        type++;
        offset = 0n;
      } else if (objectid < U64_MAX) {
        objectid++;
        type = 0;
        offset = 0n;
      } else return;
      if (objectid > key.max[0] || (objectid === key.max[0] && (type > key.max[1] || (type === key.max[1] && offset > key.max[2])))) return;
    }
  });
}
