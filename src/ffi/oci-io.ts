/**
 * The libc calls an OCI runtime needs that node lacks: passing a file descriptor over a unix socket
 * (SCM_RIGHTS), as it hands the pty master to the --console-socket of its caller (runc's utils.SendFd:
 * the payload is the pty's name, the fd rides in the control message); mkfifo(3) for the exec fifo;
 * ioprio_set(2) for process.ioPriority.
 */
import { T, lazyLib, fail, keep, ptr } from "./_core.ts";

const lib = lazyLib({
  socket: { args: [T.i32, T.i32, T.i32], returns: T.i32 },
  connect: { args: [T.i32, T.ptr, T.u32], returns: T.i32 },
  sendmsg: { args: [T.i32, T.ptr, T.i32], returns: T.i64 },
  close: { args: [T.i32], returns: T.i32 },
  mkfifo: { args: [T.ptr, T.u32], returns: T.i32 },
  syscall: { args: [T.i64, T.i64, T.i64, T.i64], returns: T.i64 },
} as const);

/** mkfifo(3); the mode is not reduced by the umask (chmod after) */
export function mkfifo(path: string, mode: number): void {
  const p = Buffer.from(path + "\0");
  const rc = lib().mkfifo(ptr(p), mode);
  keep(p);
  if (rc !== 0) fail("mkfifo", [path]);
}

const SYS_ioprio_set = process.arch === "arm64" ? 30 : 251;
const IOPRIO_CLASSES: Record<string, number> = { IOPRIO_CLASS_RT: 1, IOPRIO_CLASS_BE: 2, IOPRIO_CLASS_IDLE: 3 };

/** ioprio_set(IOPRIO_WHO_PROCESS, pid, class << 13 | priority) */
export function ioprioSet(pid: number, cls: string, priority: number): void {
  const c = IOPRIO_CLASSES[cls];
  if (c === undefined) throw new Error(`unknown ioPriority class ${JSON.stringify(cls)}`);
  if (Number(lib().syscall(SYS_ioprio_set, 1, pid, (c << 13) | priority)) < 0) fail("ioprio_set", [`pid ${pid}`]);
}

const AF_UNIX = 1,
  SOCK_STREAM = 1,
  SOCK_CLOEXEC = 0o2000000,
  SOL_SOCKET = 1,
  SCM_RIGHTS = 1;

/** connect to the unix socket at `path` and send `fd` with `name` as the message's bytes */
export function sendFdTo(path: string, fd: number, name: string): void {
  const s = lib().socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (s < 0) fail("socket", [path]);
  try {
    // struct sockaddr_un { sa_family_t sun_family; char sun_path[108]; }
    const addr = Buffer.alloc(110);
    addr.writeUInt16LE(AF_UNIX, 0);
    const p = Buffer.from(path);
    if (p.length >= 108) throw new Error(`console socket path too long: ${path}`);
    p.copy(addr, 2);
    if (lib().connect(s, addr, 2 + p.length + 1) !== 0) fail("connect", [path]);
    const data = Buffer.from(name);
    // struct iovec { void *base; size_t len; }
    const iov = new BigUint64Array([BigInt(ptr(data)), BigInt(data.length)]);
    // struct cmsghdr { size_t len; int level; int type; } + int fd, padded to 8: CMSG_SPACE(4) = 24
    const cmsg = Buffer.alloc(24);
    cmsg.writeBigUInt64LE(20n, 0); // CMSG_LEN(4)
    cmsg.writeInt32LE(SOL_SOCKET, 8);
    cmsg.writeInt32LE(SCM_RIGHTS, 12);
    cmsg.writeInt32LE(fd, 16);
    // struct msghdr { name, namelen(+pad), iov, iovlen, control, controllen, flags(+pad) }
    const msg = new BigUint64Array([0n, 0n, BigInt(ptr(iov)), 1n, BigInt(ptr(cmsg)), 24n, 0n]);
    const sent = Number(lib().sendmsg(s, msg, 0));
    keep(data, iov, cmsg); // reached by the kernel only through the addresses in msg and iov
    if (sent < 0) fail("sendmsg", [path]);
  } finally {
    lib().close(s);
  }
}
