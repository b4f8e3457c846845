/** Filesystem calls the layer appliers (src/cow) need beyond src/ffi/fs.ts. */
import { T, lazyLib, retryEintr, fail, cstr } from "./_core.ts";

const lib = lazyLib({
  syncfs: { args: [T.i32], returns: T.i32 },
  sync_file_range: { args: [T.i32, T.i64, T.i64, T.u32], returns: T.i32 },
  open: { args: [T.ptr, T.i32, T.u32], returns: T.i32 },
  close: { args: [T.i32], returns: T.i32 },
  ioctl: { args: [T.i32, T.u64, T.ptr], returns: T.i32 },
} as const);

/** syncfs(2): flush the whole filesystem holding `fd` (one call after a layer instead of fsync per file) */
export function syncfs(fd: number): void {
  retryEintr("syncfs", [`fd ${fd}`], () => lib().syncfs(fd));
}

const SYNC_FILE_RANGE_WRITE = 2;

/**
 * sync_file_range(fd, 0, 0, SYNC_FILE_RANGE_WRITE): start writing the file's dirty pages back without
 * waiting, so the syncfs(2) that ends a layer finds less left to do. Best effort: a failure (a
 * filesystem that refuses it) only means the later syncfs does all the work, so it is not reported.
 */
export function startWriteback(fd: number): void {
  lib().sync_file_range(fd, 0, 0, SYNC_FILE_RANGE_WRITE);
}

// <linux/fs.h>: _IOR('f', 1, long) and _IOW('f', 2, long); the kernel reads and writes an int
const FS_IOC_GETFLAGS = 0x80086601n;
const FS_IOC_SETFLAGS = 0x40086602n;
/** chattr's `T`: the directory is the top of unrelated hierarchies (ext2/3/4's Orlov allocator) */
export const FS_TOPDIR_FL = 0x00020000;
const O_RDONLY_DIRECTORY_CLOEXEC = 0o200000 | 0o2000000;

/**
 * Set the inode flags in `set` on directory `path` (FS_IOC_GETFLAGS, then FS_IOC_SETFLAGS only when one
 * is missing; ioctl_iflags(2)). Returns the flags it found. Throws SyscallError: ENOTTY / EOPNOTSUPP where
 * the filesystem has no such flags (tmpfs, xfs for FS_TOPDIR_FL, btrfs), EPERM for a directory of
 * another owner without CAP_FOWNER.
 */
export function addDirFlags(path: string, set: number): number {
  const p = cstr(path);
  const fd = lib().open(p, O_RDONLY_DIRECTORY_CLOEXEC, 0);
  if (fd < 0) fail("open", [path]);
  try {
    const flags = new Int32Array(2); // a long's room, as the ioctl's number says
    if (lib().ioctl(fd, FS_IOC_GETFLAGS, flags) !== 0) fail("ioctl FS_IOC_GETFLAGS", [path]);
    const found = flags[0]!;
    if ((found & set) !== set) {
      flags[0] = found | set;
      if (lib().ioctl(fd, FS_IOC_SETFLAGS, flags) !== 0) fail("ioctl FS_IOC_SETFLAGS", [path]);
    }
    return found;
  } finally {
    lib().close(fd);
  }
}
