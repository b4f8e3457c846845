/** Filesystem calls node:fs lacks: flock, mount/umount, xattrs on symlinks, mknod of devices. */
import { T, lazyLib, cstr, cstrOrNull, ptrOrNull, errno, fail, retryEintr } from "./_core.ts";
import { E } from "./errno.ts";

const lib = lazyLib({
  flock: { args: [T.i32, T.i32], returns: T.i32 },
  mount: { args: [T.ptr, T.ptr, T.ptr, T.u64, T.ptr], returns: T.i32 },
  umount2: { args: [T.ptr, T.i32], returns: T.i32 },
  mknod: { args: [T.ptr, T.u32, T.u64], returns: T.i32 },
  lsetxattr: { args: [T.ptr, T.ptr, T.ptr, T.u64, T.i32], returns: T.i32 },
  lgetxattr: { args: [T.ptr, T.ptr, T.ptr, T.u64], returns: T.i64 },
  llistxattr: { args: [T.ptr, T.ptr, T.u64], returns: T.i64 },
  lchown: { args: [T.ptr, T.u32, T.u32], returns: T.i32 },
  utimensat: { args: [T.i32, T.ptr, T.ptr, T.i32], returns: T.i32 },
  futimens: { args: [T.i32, T.ptr], returns: T.i32 },
} as const);

// <sys/file.h>
export const LOCK_SH = 1;
export const LOCK_EX = 2;
export const LOCK_NB = 4;
export const LOCK_UN = 8;

// <sys/mount.h> / <linux/mount.h>
export const MS_RDONLY = 1;
export const MS_NOSUID = 2;
export const MS_NODEV = 4;
export const MS_NOEXEC = 8;
export const MS_REMOUNT = 32;
export const MS_BIND = 4096;
export const MS_MOVE = 8192;
export const MS_REC = 16384;
export const MS_PRIVATE = 1 << 18;
export const MS_SLAVE = 1 << 19;
export const MNT_DETACH = 2;

// <sys/stat.h>
export const S_IFCHR = 0o020000;
export const S_IFBLK = 0o060000;
export const S_IFIFO = 0o010000;

// <fcntl.h>
export const AT_FDCWD = -100;
export const AT_SYMLINK_NOFOLLOW = 0x100;

/** flock(2); with LOCK_NB returns false instead of blocking when the lock is held elsewhere */
export function flock(fd: number, op: number): boolean {
  for (;;) {
    if (lib().flock(fd, op) === 0) return true;
    const e = errno();
    if (e === E.EINTR) continue;
    if (e === E.EAGAIN && op & LOCK_NB) return false;
    fail("flock", [`fd ${fd}`], e);
  }
}

export function mount(source: string | null, target: string, fstype: string | null, flags: number, data: string | null = null): void {
  const s = cstrOrNull(source),
    t = cstr(target),
    f = cstrOrNull(fstype),
    d = cstrOrNull(data);
  if (lib().mount(ptrOrNull(s), t, ptrOrNull(f), flags, ptrOrNull(d)) !== 0) fail("mount", [source ?? fstype ?? "none", target]);
}

export function umount2(target: string, flags = 0): void {
  const t = cstr(target);
  if (lib().umount2(t, flags) !== 0) fail("umount2", [target]);
}

/** makedev(3) for the glibc encoding */
export function makedev(major: number, minor: number): bigint {
  const M = BigInt(major),
    m = BigInt(minor);
  return ((M & 0xfffn) << 8n) | ((M & ~0xfffn) << 32n) | (m & 0xffn) | ((m & ~0xffn) << 12n);
}

export function mknod(path: string, mode: number, dev: bigint = 0n): void {
  const p = cstr(path);
  if (lib().mknod(p, mode, dev) !== 0) fail("mknod", [path]);
}

export function lsetxattr(path: string, name: string, value: Uint8Array, flags = 0): void {
  const p = cstr(path),
    n = cstr(name);
  const v = value.length ? value : new Uint8Array(1);
  if (lib().lsetxattr(p, n, v, value.length, flags) !== 0) fail("lsetxattr", [path, name]);
}

/** returns null when the attribute is absent (ENODATA) */
export function lgetxattr(path: string, name: string): Uint8Array | null {
  const p = cstr(path),
    n = cstr(name);
  let size = 256;
  for (;;) {
    const buf = new Uint8Array(size);
    const rc = Number(lib().lgetxattr(p, n, buf, size));
    if (rc >= 0) return buf.subarray(0, rc);
    const e = errno();
    if (e === E.ENODATA) return null;
    if (e === 34 /* ERANGE */ && size < 1 << 20) {
      size *= 4;
      continue;
    }
    fail("lgetxattr", [path, name], e);
  }
}

export function llistxattr(path: string): string[] {
  const p = cstr(path);
  let size = 1024;
  for (;;) {
    const buf = new Uint8Array(size);
    const rc = Number(lib().llistxattr(p, buf, size));
    if (rc >= 0) return Buffer.from(buf.subarray(0, rc)).toString("latin1").split("\0").filter(Boolean);
    const e = errno();
    if (e === E.EOPNOTSUPP) return [];
    if (e === 34 /* ERANGE */ && size < 1 << 20) {
      size *= 4;
      continue;
    }
    fail("llistxattr", [path], e);
  }
}

export function lchown(path: string, uid: number, gid: number): void {
  const p = cstr(path);
  retryEintr("lchown", [path], () => lib().lchown(p, uid, gid));
}

let futimensTs: BigInt64Array | undefined;

/** futimens(3) (glibc's utimensat refuses the NULL path it stands for): set atime/mtime (seconds + nanoseconds) of an open file */
export function futimens(fd: number, atime: [number, number], mtime: [number, number]): void {
  // one buffer for every call (applyLayer makes one per file; the call is synchronous)
  const ts = (futimensTs ??= new BigInt64Array(4)); // 2 × struct timespec (16 bytes each)
  ts[0] = BigInt(atime[0]);
  ts[1] = BigInt(atime[1]);
  ts[2] = BigInt(mtime[0]);
  ts[3] = BigInt(mtime[1]);
  if (lib().futimens(fd, ts) !== 0) fail("futimens", [`fd ${fd}`]);
}

/** set atime/mtime (seconds + nanoseconds) on a path without following a final symlink */
export function lutimes(path: string, atime: [number, number], mtime: [number, number]): void {
  const p = cstr(path);
  const ts = new BigInt64Array([BigInt(atime[0]), BigInt(atime[1]), BigInt(mtime[0]), BigInt(mtime[1])]); // 2 × struct timespec (16 bytes each)
  if (lib().utimensat(AT_FDCWD, p, ts, AT_SYMLINK_NOFOLLOW) !== 0) fail("utimensat", [path]);
}
