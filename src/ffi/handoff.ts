/**
 * What handing a running container over to the native monitor needs from libc (engine/containers
 * ops/native-monitor.ts): fds that survive execve (F_SETFD 0), execve(2) itself — the Bun process is
 * replaced in place, keeping its pid and its children — and sockets made with socket(2) + bind(2) whose
 * fds the native side can inherit (Bun's own sockets do not expose theirs): the 127.0.0.11 relay's UDP
 * socket and the [::] port proxies' listening sockets.
 */
import { T, cstr, cstrArray, errno, fail, keep, lazyLib } from "./_core.ts";

const lib = lazyLib({
  fcntl: { args: [T.i32, T.i32, T.i32], returns: T.i32 },
  execve: { args: [T.ptr, T.ptr, T.ptr], returns: T.i32 },
  socket: { args: [T.i32, T.i32, T.i32], returns: T.i32 },
  bind: { args: [T.i32, T.ptr, T.u32], returns: T.i32 },
  close: { args: [T.i32], returns: T.i32 },
  setsockopt: { args: [T.i32, T.i32, T.i32, T.ptr, T.u32], returns: T.i32 },
  listen: { args: [T.i32, T.i32], returns: T.i32 },
} as const);

const F_SETFD = 2;
const AF_INET = 2;
const SOCK_DGRAM = 2;
const SOCK_CLOEXEC = 0o2000000;

/** the fd stays open across execve */
export function keepAcrossExec(fd: number): void {
  if (lib().fcntl(fd, F_SETFD, 0) < 0) fail("fcntl", [`fd ${fd}`]);
}

/** replace this process with `argv` (argv[0] is the path); returns only by throwing the execve error */
export function execve(argv: string[], env: Record<string, string | undefined>): never {
  const a = cstrArray(argv);
  const e = cstrArray(Object.entries(env).flatMap(([k, v]) => (v === undefined ? [] : [`${k}=${v}`])));
  const path = cstr(argv[0]!);
  lib().execve(path, a.array, e.array);
  keep(a.keep, e.keep); // the strings the arrays point at (execve returns only on failure)
  fail("execve", [argv[0]!], errno());
}

/** a UDP socket bound to ip:port in this thread's network namespace (O_CLOEXEC; keepAcrossExec to pass it on) */
export function boundUdpSocket(ip: string, port: number): number {
  const fd = lib().socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) fail("socket");
  const sa = new Uint8Array(16);
  sa[0] = AF_INET; // sin_family, little-endian u16
  sa[2] = port >> 8;
  sa[3] = port & 0xff;
  sa.set(ip.split(".").map(Number), 4);
  if (lib().bind(fd, sa, 16) !== 0) {
    const e = errno();
    lib().close(fd);
    fail("bind", [`${ip}:${port}`], e);
  }
  return fd;
}

const AF_INET6 = 10;
const SOCK_STREAM = 1;

/** a TCP socket listening on [::]:port, IPv6 only (docker-proxy's [::] side, net/proxy.ts), O_CLOEXEC */
export function listeningTcp6Socket(port: number): number {
  const fd = lib().socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) fail("socket");
  const one = new Int32Array([1]);
  const sa = new Uint8Array(28); // sockaddr_in6: family, port (BE), flowinfo, :: , scope id
  sa[0] = AF_INET6;
  sa[2] = port >> 8;
  sa[3] = port & 0xff;
  const step = (what: string, rc: number) => {
    if (rc === 0) return;
    const e = errno();
    lib().close(fd);
    fail(what, [`[::]:${port}`], e);
  };
  step("setsockopt", lib().setsockopt(fd, 41 /* IPPROTO_IPV6 */, 26 /* IPV6_V6ONLY */, one, 4));
  step("setsockopt", lib().setsockopt(fd, 1 /* SOL_SOCKET */, 2 /* SO_REUSEADDR */, one, 4));
  step("bind", lib().bind(fd, sa, 28));
  step("listen", lib().listen(fd, 128));
  return fd;
}
