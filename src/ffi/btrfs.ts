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
import { T, lazyLib, ptr, fail } from "./_core.ts";

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

/** _IOC(dir, type, nr, size) for the asm-generic encoding (x86_64, arm64, riscv64) */
function ioc(dir: number, nr: number, size: number): number {
  return ((dir << 30) >>> 0) + (size << 16) + (BTRFS_IOCTL_MAGIC << 8) + nr;
}
const _IOW = (nr: number, size: number) => ioc(1, nr, size);
const _IOR = (nr: number, size: number) => ioc(2, nr, size);

export const VOL_ARGS_SIZE = 4096;
export const VOL_ARGS_V2_SIZE = 4096;

export const BTRFS_IOC_SNAP_DESTROY = _IOW(15, VOL_ARGS_SIZE); // struct btrfs_ioctl_vol_args
export const BTRFS_IOC_SNAP_CREATE_V2 = _IOW(23, VOL_ARGS_V2_SIZE); // struct btrfs_ioctl_vol_args_v2
export const BTRFS_IOC_SUBVOL_CREATE_V2 = _IOW(24, VOL_ARGS_V2_SIZE);
export const BTRFS_IOC_SUBVOL_GETFLAGS = _IOR(25, 8); // __u64
export const BTRFS_IOC_SUBVOL_SETFLAGS = _IOW(26, 8); // __u64
export const BTRFS_IOC_SNAP_DESTROY_V2 = _IOW(63, VOL_ARGS_V2_SIZE); // Linux ≥5.7

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

function ioctl(fd: number, request: number, arg: Uint8Array, what: string, paths: string[]): void {
  if (lib().ioctl(fd, request, ptr(arg)) !== 0) fail("ioctl", [what, ...paths]);
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
