/**
 * Ptys allocated in a *container's* devpts instance, so the slave shows up inside as /dev/pts/N and
 * `tty` and ttyname(3) work there, as with docker: for `exec -t` from the running container's
 * /dev/pts, and for `run -t` from a detached devpts instance (new mount API) that the runtime attaches
 * at the new container's /dev/pts. The host-side pty helpers (openPty, winsize, raw mode) are in
 * container-io.ts.
 *
 * The ptmx is opened through /proc/<pid>/root with openat2(RESOLVE_IN_ROOT) so a symlink planted in the
 * container cannot send the open to a host file; the slave comes from TIOCGPTPEER on the master
 * (ioctl_tty(2), Linux ≥4.13), never from a path lookup.
 */
import { closeSync, openSync } from "node:fs";
import { T, lazyLib, cstr, ptr, fail, keep } from "./_core.ts";
import { mountDetached } from "./mount-api.ts";

const lib = lazyLib({
  syscall: { args: [T.i64, T.i64, T.ptr, T.ptr, T.u64], returns: T.i64 },
  ioctl: { args: [T.i32, T.u64, T.u64], returns: T.i32 },
} as const);
// the same symbol with a pointer third argument (ioctl is variadic; bun:ffi needs one signature each)
const libp = lazyLib({ ioctl: { args: [T.i32, T.u64, T.ptr], returns: T.i32 } } as const);

const SYS_openat2 = 437; // same on x86_64 and the generic table
const O_RDWR = 2,
  O_NOCTTY = 0o400,
  O_CLOEXEC = 0o2000000;
const RESOLVE_NO_MAGICLINKS = 0x02,
  RESOLVE_IN_ROOT = 0x10;
const TIOCSPTLCK = 0x40045431; // _IOW('T', 0x31, int)
const TIOCGPTN = 0x80045430; // _IOR('T', 0x30, unsigned int)
const TIOCGPTPEER = 0x5441; // _IO('T', 0x41)

export interface ContainerPty {
  master: number;
  slave: number;
  /** the slave's name inside the container, e.g. /dev/pts/0 */
  name: string;
}

/** open a new pty pair from the devpts under `rootDir` (e.g. /proc/<pid>/root of a container) */
export function openPtyInRoot(rootDir: string): ContainerPty {
  const dirfd = openSync(rootDir, "r");
  try {
    return openPtyAt(dirfd, "dev/pts/ptmx", `${rootDir}/dev/pts/ptmx`);
  } finally {
    closeSync(dirfd);
  }
}

export interface DevptsConsole extends ContainerPty {
  /** the detached devpts mount (fsmount fd) the pair belongs to; attach it at the container's /dev/pts */
  mountFd: number;
}

/** a fresh devpts instance as a detached mount (the options docker's containers get) and pty 0 in it */
export function openDevptsConsole(): DevptsConsole {
  const mountFd = mountDetached({
    type: "devpts",
    source: "devpts",
    target: "/dev/pts",
    options: ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"],
  });
  try {
    return { mountFd, ...openPtyAt(mountFd, "ptmx", "devpts/ptmx") };
  } catch (e) {
    closeSync(mountFd);
    throw e;
  }
}

function openPtyAt(dirfd: number, rel: string, shown: string): ContainerPty {
  let master = -1;
  try {
    const how = new BigUint64Array([BigInt(O_RDWR | O_NOCTTY | O_CLOEXEC), 0n, BigInt(RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS)]);
    const path = cstr(rel);
    master = Number(lib().syscall(SYS_openat2, dirfd, ptr(path), ptr(how), 24));
    keep(path, how);
    if (master < 0) fail("openat2", [shown]);
    const zero = new Int32Array(1);
    const unlocked = libp().ioctl(master, TIOCSPTLCK, zero);
    if (unlocked !== 0) fail("ioctl", ["TIOCSPTLCK"]);
    const n = new Uint32Array(1);
    if (libp().ioctl(master, TIOCGPTN, n) !== 0) fail("ioctl", ["TIOCGPTN"]);
    const slave = lib().ioctl(master, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (slave < 0) fail("ioctl", ["TIOCGPTPEER"]);
    return { master, slave, name: `/dev/pts/${n[0]}` };
  } catch (e) {
    if (master >= 0) closeSync(master);
    throw e;
  }
}
