/**
 * The fds a container's stdio is made of: pipe2(2) and close(2) (node:fs has neither a pipe call nor a
 * close for foreign fds that cannot throw on EBADF), isatty(3), and fcntl(2) for O_NONBLOCK.
 */
import { T, lazyLib, fail, errno } from "./_core.ts";

const lib = lazyLib({
  pipe2: { args: [T.ptr, T.i32], returns: T.i32 },
  close: { args: [T.i32], returns: T.i32 },
  isatty: { args: [T.i32], returns: T.i32 },
  fcntl: { args: [T.i32, T.i32, T.i32], returns: T.i32 },
} as const);

export const O_CLOEXEC = 0o2000000;
export const O_NONBLOCK = 0o4000;
const F_GETFL = 3;
const F_SETFL = 4;

/** pipe2(2) → [readFd, writeFd] */
export function pipe2(flags = O_CLOEXEC): [number, number] {
  const fds = new Int32Array(2);
  if (lib().pipe2(fds, flags) !== 0) fail("pipe2");
  return [fds[0]!, fds[1]!];
}

/** close(2); EBADF is ignored (the fd is gone, which is what the caller wants) */
export function closeFd(fd: number): void {
  if (lib().close(fd) !== 0 && errno() !== 9) fail("close", [`fd ${fd}`]);
}

export function isatty(fd: number): boolean {
  return lib().isatty(fd) === 1;
}

export function setNonBlocking(fd: number, on: boolean): void {
  const fl = lib().fcntl(fd, F_GETFL, 0);
  if (fl < 0) fail("fcntl", [`fd ${fd}`]);
  if (lib().fcntl(fd, F_SETFL, on ? fl | O_NONBLOCK : fl & ~O_NONBLOCK) < 0) fail("fcntl", [`fd ${fd}`]);
}

// --- terminals: the pty a `-t` container gets and the user's terminal in raw mode -----------------

const tty = lazyLib({
  posix_openpt: { args: [T.i32], returns: T.i32 },
  grantpt: { args: [T.i32], returns: T.i32 },
  unlockpt: { args: [T.i32], returns: T.i32 },
  ptsname_r: { args: [T.i32, T.ptr, T.u64], returns: T.i32 },
  open: { args: [T.ptr, T.i32, T.u32], returns: T.i32 },
  ioctl: { args: [T.i32, T.u64, T.ptr], returns: T.i32 },
  tcgetattr: { args: [T.i32, T.ptr], returns: T.i32 },
  tcsetattr: { args: [T.i32, T.i32, T.ptr], returns: T.i32 },
  cfmakeraw: { args: [T.ptr], returns: T.void },
} as const);

const O_RDWR = 2;
const O_NOCTTY = 0o400;
const TIOCGWINSZ = 0x5413;
const TIOCSWINSZ = 0x5414;
const TCSANOW = 0;
/** sizeof(struct termios) on Linux/glibc is 60; 64 leaves room */
const TERMIOS_SIZE = 64;

/** a new pty pair: master (close-on-exec, kept by the supervisor) and slave (handed to the container) */
export function openPty(): { master: number; slave: number; name: string } {
  const L = tty();
  const master = L.posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (master < 0) fail("posix_openpt", ["/dev/ptmx"]);
  try {
    if (L.grantpt(master) !== 0) fail("grantpt");
    if (L.unlockpt(master) !== 0) fail("unlockpt");
    const buf = Buffer.alloc(128);
    if (L.ptsname_r(master, buf, buf.length) !== 0) fail("ptsname_r");
    const name = buf.toString("utf8", 0, buf.indexOf(0));
    const path = Buffer.from(name + "\0");
    const slave = L.open(path, O_RDWR | O_NOCTTY | O_CLOEXEC, 0);
    if (slave < 0) fail("open", [name]);
    return { master, slave, name };
  } catch (e) {
    closeFd(master);
    throw e;
  }
}

/** struct winsize {rows, cols, xpixel, ypixel} as u16 × 4 */
export function getWinsize(fd: number): { rows: number; cols: number } | null {
  const ws = new Uint16Array(4);
  if (tty().ioctl(fd, TIOCGWINSZ, ws) !== 0) return null;
  return { rows: ws[0]!, cols: ws[1]! };
}

export function setWinsize(fd: number, size: { rows: number; cols: number }): void {
  const ws = new Uint16Array([size.rows, size.cols, 0, 0]);
  if (tty().ioctl(fd, TIOCSWINSZ, ws) !== 0) fail("ioctl", [`TIOCSWINSZ fd ${fd}`]);
}

/** put `fd`'s terminal in raw mode; returns a function that restores the saved settings */
export function makeRaw(fd: number): () => void {
  const saved = new Uint8Array(TERMIOS_SIZE);
  if (tty().tcgetattr(fd, saved) !== 0) fail("tcgetattr", [`fd ${fd}`]);
  const raw = saved.slice();
  tty().cfmakeraw(raw);
  if (tty().tcsetattr(fd, TCSANOW, raw) !== 0) fail("tcsetattr", [`fd ${fd}`]);
  let restored = false;
  return () => {
    if (restored) return;
    restored = true;
    tty().tcsetattr(fd, TCSANOW, saved);
  };
}

const fdops = lazyLib({
  dup2: { args: [T.i32, T.i32], returns: T.i32 },
  open: { args: [T.ptr, T.i32, T.u32], returns: T.i32 },
} as const);

/** point fd `target` at /dev/null (a detached monitor leaving its spawner's pipe) */
export function redirectToDevNull(target: number): void {
  const path = Buffer.from("/dev/null\0");
  const fd = fdops().open(path, O_RDWR | O_CLOEXEC, 0);
  if (fd < 0) fail("open", ["/dev/null"]);
  if (fdops().dup2(fd, target) < 0) fail("dup2", [`fd ${target}`]);
  closeFd(fd);
}

const prctlLib = lazyLib({ prctl: { args: [T.i32, T.ptr, T.u64, T.u64, T.u64], returns: T.i32 } } as const);
const PR_SET_NAME = 15;

/** the calling thread's name as `ps -e`/`top` show it (prctl(2) PR_SET_NAME; 15 bytes kept) */
export function setThreadName(name: string): void {
  const b = Buffer.from(name.slice(0, 15) + "\0");
  if (prctlLib().prctl(PR_SET_NAME, b, 0, 0, 0) !== 0) fail("prctl", ["PR_SET_NAME"]);
}
