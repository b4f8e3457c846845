/**
 * rtnetlink from TypeScript: a TLV message builder/parser over DataView, a NETLINK_ROUTE socket through
 * libc, and the link/address/route operations berth needs. No `ip` binary (issue 5). Evidence that the
 * messages below are accepted by this kernel: docs/bun-ffi.md §8 (q8_netlink.ts).
 *
 * Wire format (netlink(7), rtnetlink(7), <linux/netlink.h>, <linux/rtnetlink.h>, <linux/if_link.h>):
 * every message is an nlmsghdr followed by a family header (ifinfomsg / ifaddrmsg / rtmsg) and a run
 * of rtattr TLVs, each padded to 4 bytes. Host byte order (little-endian on the machines berth runs on)
 * except IPv4 addresses, which are 4 raw bytes in network order.
 *
 * Namespaces: a netlink socket stays bound to the network namespace it was created in. To work inside a
 * container's netns, `openRouteSocketIn(nsPath)` setns()es the CALLING thread (Bun's main JS thread) into
 * it, creates the socket and setns()es back in a `finally`. Only the main thread moves, and only for the
 * duration of socket(2): Bun's other threads (JIT, GC, I/O pool) keep the host netns, so nothing async
 * may run in between — and nothing does, the section is fully synchronous. CLONE_NEWNET may be joined by
 * a multithreaded process (setns(2); measured in bun-ffi.md §3), unlike CLONE_NEWUSER.
 */
import { closeSync, openSync } from "node:fs";
import { EngineError, SyscallError } from "../lib/errors.ts";
import { T, lazyLib, fail, retryEintr, strerror } from "./_core.ts";
import { errnoName } from "./errno.ts";

const lib = lazyLib({
  socket: { args: [T.i32, T.i32, T.i32], returns: T.i32 },
  setsockopt: { args: [T.i32, T.i32, T.i32, T.ptr, T.u32], returns: T.i32 },
  sendto: { args: [T.i32, T.ptr, T.u64, T.i32, T.ptr, T.u32], returns: T.i64 },
  recv: { args: [T.i32, T.ptr, T.u64, T.i32], returns: T.i64 },
  close: { args: [T.i32], returns: T.i32 },
  setns: { args: [T.i32, T.i32], returns: T.i32 },
} as const);

// <sys/socket.h>, <linux/netlink.h>
export const AF_UNSPEC = 0;
export const AF_INET = 2;
export const AF_NETLINK = 16;
export const SOCK_RAW = 3;
export const SOCK_CLOEXEC = 0o2000000;
export const NETLINK_ROUTE = 0;
export const NETLINK_NETFILTER = 12;
export const SOL_NETLINK = 270;
export const NETLINK_CAP_ACK = 10;
export const NETLINK_EXT_ACK = 11;
export const MSG_TRUNC = 0x20;
// <sched.h>
export const CLONE_NEWNET = 0x40000000;

// nlmsghdr.nlmsg_type control values
export const NLMSG_NOOP = 1;
export const NLMSG_ERROR = 2;
export const NLMSG_DONE = 3;
// nlmsghdr.nlmsg_flags
export const NLM_F_REQUEST = 0x01;
export const NLM_F_MULTI = 0x02;
export const NLM_F_ACK = 0x04;
export const NLM_F_ROOT = 0x100;
export const NLM_F_MATCH = 0x200;
export const NLM_F_DUMP = NLM_F_ROOT | NLM_F_MATCH;
export const NLM_F_REPLACE = 0x100;
export const NLM_F_EXCL = 0x200;
export const NLM_F_CREATE = 0x400;
export const NLM_F_APPEND = 0x800;
export const NLM_F_CAPPED = 0x100; // on NLMSG_ERROR: the echoed request was cut to its header
export const NLM_F_ACK_TLVS = 0x200; // on NLMSG_ERROR: extended-ack attributes follow
export const NLMSGERR_ATTR_MSG = 1;
export const NLA_F_NESTED = 1 << 15;
export const NLA_TYPE_MASK = ~(NLA_F_NESTED | (1 << 14)) & 0xffff;

// <linux/rtnetlink.h> message types
export const RTM_NEWLINK = 16;
export const RTM_DELLINK = 17;
export const RTM_GETLINK = 18;
export const RTM_NEWADDR = 20;
export const RTM_DELADDR = 21;
export const RTM_GETADDR = 22;
export const RTM_NEWROUTE = 24;
export const RTM_DELROUTE = 25;
export const RTM_GETROUTE = 26;

// <linux/if_link.h> IFLA_*
export const IFLA_ADDRESS = 1;
export const IFLA_IFNAME = 3;
export const IFLA_MTU = 4;
export const IFLA_LINK = 5;
export const IFLA_MASTER = 10;
export const IFLA_OPERSTATE = 16;
export const IFLA_LINKINFO = 18;
export const IFLA_NET_NS_PID = 19;
export const IFLA_NET_NS_FD = 28;
export const IFLA_INFO_KIND = 1;
export const IFLA_INFO_DATA = 2;
// <linux/veth.h>
export const VETH_INFO_PEER = 1;
// <linux/if.h>
export const IFF_UP = 0x1;
export const IFF_LOOPBACK = 0x8;
export const IFF_RUNNING = 0x40;
export const IFF_LOWER_UP = 0x10000;

// <linux/if_addr.h>
export const IFA_ADDRESS = 1;
export const IFA_LOCAL = 2;
export const IFA_LABEL = 3;
export const IFA_BROADCAST = 4;

// <linux/rtnetlink.h> RTA_*, rtmsg fields
export const RTA_DST = 1;
export const RTA_OIF = 4;
export const RTA_GATEWAY = 5;
export const RTA_PRIORITY = 6;
export const RTA_PREFSRC = 7;
export const RTA_TABLE = 15;
export const RT_TABLE_MAIN = 254;
export const RTPROT_KERNEL = 2;
export const RTPROT_BOOT = 3;
export const RTPROT_STATIC = 4;
export const RT_SCOPE_UNIVERSE = 0;
export const RT_SCOPE_LINK = 253;
export const RT_SCOPE_HOST = 254;
export const RTN_UNICAST = 1;
export const RTN_LOCAL = 2;

// ---------------------------------------------------------------------------------------------------
// TLV builder

/** NLMSG_ALIGN / RTA_ALIGN: attributes and messages start on 4-byte boundaries */
export const align4 = (n: number) => (n + 3) & ~3;

function concat(parts: Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let i = 0;
  for (const p of parts) {
    out.set(p, i);
    i += p.length;
  }
  return out;
}

/**
 * struct rtattr / nlattr (4 bytes) + payload, padded to 4:
 *   rta_len  (offset: 0 - length: 2)  header + payload, without the padding
 *   rta_type (offset: 2 - length: 2)
 * A nested attribute is an attribute whose payload is attributes (an array here).
 */
export function attr(type: number, payload: Uint8Array | Uint8Array[]): Uint8Array {
  const body = Array.isArray(payload) ? concat(payload) : payload;
  const out = new Uint8Array(align4(4 + body.length));
  const dv = new DataView(out.buffer);
  dv.setUint16(0, 4 + body.length, true);
  dv.setUint16(2, type, true);
  out.set(body, 4);
  return out;
}

export const attrStr = (type: number, s: string) => attr(type, new TextEncoder().encode(s + "\0"));
export const attrU32 = (type: number, v: number) => {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, v >>> 0, true);
  return attr(type, b);
};

/**
 * struct ifinfomsg (16 bytes):
 *   ifi_family (offset: 0 - length: 1)   ifi_type   (offset: 2 - length: 2)
 *   ifi_index  (offset: 4 - length: 4)   ifi_flags  (offset: 8 - length: 4)   ifi_change (offset: 12 - length: 4)
 */
export function ifinfomsg(index = 0, flags = 0, change = 0, family = AF_UNSPEC): Uint8Array {
  const b = new Uint8Array(16);
  const dv = new DataView(b.buffer);
  dv.setUint8(0, family);
  dv.setInt32(4, index, true);
  dv.setUint32(8, flags >>> 0, true);
  dv.setUint32(12, change >>> 0, true);
  return b;
}

/**
 * struct ifaddrmsg (8 bytes):
 *   ifa_family (offset: 0 - length: 1)   ifa_prefixlen (offset: 1 - length: 1)   ifa_flags (offset: 2 - length: 1)
 *   ifa_scope  (offset: 3 - length: 1)   ifa_index     (offset: 4 - length: 4)
 */
export function ifaddrmsg(family: number, prefixLen: number, index: number, scope = RT_SCOPE_UNIVERSE): Uint8Array {
  const b = new Uint8Array(8);
  const dv = new DataView(b.buffer);
  dv.setUint8(0, family);
  dv.setUint8(1, prefixLen);
  dv.setUint8(3, scope);
  dv.setUint32(4, index, true);
  return b;
}

/**
 * struct rtmsg (12 bytes):
 *   rtm_family (0,1) rtm_dst_len (1,1) rtm_src_len (2,1) rtm_tos (3,1)
 *   rtm_table  (4,1) rtm_protocol (5,1) rtm_scope  (6,1) rtm_type (7,1)   rtm_flags (offset: 8 - length: 4)
 */
export function rtmsg(f: { family?: number; dstLen?: number; table?: number; protocol?: number; scope?: number; type?: number } = {}): Uint8Array {
  const b = new Uint8Array(12);
  const dv = new DataView(b.buffer);
  dv.setUint8(0, f.family ?? AF_INET);
  dv.setUint8(1, f.dstLen ?? 0);
  dv.setUint8(4, f.table ?? RT_TABLE_MAIN);
  dv.setUint8(5, f.protocol ?? RTPROT_BOOT);
  dv.setUint8(6, f.scope ?? RT_SCOPE_UNIVERSE);
  dv.setUint8(7, f.type ?? RTN_UNICAST);
  return b;
}

/**
 * struct nlmsghdr (16 bytes) + body:
 *   nlmsg_len (offset: 0 - length: 4)  nlmsg_type (offset: 4 - length: 2)  nlmsg_flags (offset: 6 - length: 2)
 *   nlmsg_seq (offset: 8 - length: 4)  nlmsg_pid  (offset: 12 - length: 4)
 */
export function nlmsg(type: number, flags: number, seq: number, parts: Uint8Array[]): Uint8Array {
  const body = concat(parts);
  const out = new Uint8Array(16 + body.length);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, out.length, true);
  dv.setUint16(4, type, true);
  dv.setUint16(6, flags, true);
  dv.setUint32(8, seq >>> 0, true);
  dv.setUint32(12, 0, true);
  out.set(body, 16);
  return out;
}

// ---------------------------------------------------------------------------------------------------
// parser

export interface NlMsg {
  type: number;
  flags: number;
  seq: number;
  /** the bytes after the 16-byte header */
  body: Uint8Array;
}

/** split a datagram into messages; stops at a truncated tail */
export function parseMessages(buf: Uint8Array): NlMsg[] {
  const out: NlMsg[] = [];
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  let off = 0;
  while (off + 16 <= buf.length) {
    const len = dv.getUint32(off, true);
    if (len < 16 || off + len > buf.length) break;
    out.push({
      type: dv.getUint16(off + 4, true),
      flags: dv.getUint16(off + 6, true),
      seq: dv.getUint32(off + 8, true),
      body: buf.subarray(off + 16, off + len),
    });
    off += align4(len);
  }
  return out;
}

/** attributes of one level, keyed by type (flags masked off); the last one wins on duplicates */
export function parseAttrs(buf: Uint8Array): Map<number, Uint8Array> {
  const m = new Map<number, Uint8Array>();
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  let off = 0;
  while (off + 4 <= buf.length) {
    const len = dv.getUint16(off, true);
    if (len < 4 || off + len > buf.length) break;
    m.set(dv.getUint16(off + 2, true) & NLA_TYPE_MASK, buf.subarray(off + 4, off + len));
    off += align4(len);
  }
  return m;
}

const u32At = (b: Uint8Array | undefined) => (b && b.length >= 4 ? new DataView(b.buffer, b.byteOffset, 4).getUint32(0, true) : undefined);
const strOf = (b: Uint8Array | undefined) => (b ? new TextDecoder().decode(b).replace(/\0.*$/s, "") : undefined);
const macOf = (b: Uint8Array | undefined) => (b ? [...b].map((x) => x.toString(16).padStart(2, "0")).join(":") : undefined);
const ipOf = (b: Uint8Array | undefined) => (b && b.length === 4 ? [...b].join(".") : undefined);

// ---------------------------------------------------------------------------------------------------
// address helpers (IPv4 only; berth's networks are IPv4 like docker's default)

export function ipv4Bytes(ip: string): Uint8Array {
  const parts = ip.split(".");
  const nums = parts.map((p) => (/^\d{1,3}$/.test(p) ? Number(p) : NaN));
  if (nums.length !== 4 || nums.some((n) => !(n >= 0 && n <= 255))) {
    throw new EngineError("invalid_argument", `invalid IPv4 address "${ip}"`);
  }
  return new Uint8Array(nums);
}

function splitCidr(cidr: string): { ip: string; prefixLen: number } {
  const [ip, p] = cidr.split("/");
  const prefixLen = p === undefined ? 32 : /^\d{1,2}$/.test(p) ? Number(p) : NaN;
  if (!(prefixLen >= 0 && prefixLen <= 32)) throw new EngineError("invalid_argument", `invalid CIDR "${cidr}"`);
  return { ip: ip!, prefixLen };
}

export function macBytes(mac: string): Uint8Array {
  const parts = mac.split(":");
  if (parts.length !== 6 || parts.some((p) => !/^[0-9a-fA-F]{2}$/.test(p))) {
    throw new EngineError("invalid_argument", `invalid MAC address "${mac}"`);
  }
  return new Uint8Array(parts.map((p) => parseInt(p, 16)));
}

// ---------------------------------------------------------------------------------------------------
// dump records

export interface LinkInfo {
  index: number;
  name: string;
  flags: number;
  up: boolean;
  mtu?: number;
  mac?: string;
  master?: number;
  /** IFLA_INFO_KIND: "bridge", "veth", … (absent for physical devices) */
  kind?: string;
}

export interface AddrInfo {
  index: number;
  family: number;
  prefixLen: number;
  scope: number;
  /** IFA_LOCAL if present (the interface's own address), else IFA_ADDRESS */
  address?: string;
  label?: string;
}

export interface RouteInfo {
  family: number;
  /** "0.0.0.0/0" for a default route */
  dst: string;
  table: number;
  protocol: number;
  scope: number;
  type: number;
  gateway?: string;
  oif?: number;
  prefsrc?: string;
}

function parseLink(body: Uint8Array): LinkInfo {
  const dv = new DataView(body.buffer, body.byteOffset, body.byteLength);
  const index = dv.getInt32(4, true),
    flags = dv.getUint32(8, true);
  const a = parseAttrs(body.subarray(16));
  const li = a.get(IFLA_LINKINFO);
  return {
    index,
    flags,
    up: (flags & IFF_UP) !== 0,
    name: strOf(a.get(IFLA_IFNAME)) ?? "",
    mtu: u32At(a.get(IFLA_MTU)),
    mac: macOf(a.get(IFLA_ADDRESS)),
    master: u32At(a.get(IFLA_MASTER)),
    kind: li ? strOf(parseAttrs(li).get(IFLA_INFO_KIND)) : undefined,
  };
}

function parseAddr(body: Uint8Array): AddrInfo {
  const dv = new DataView(body.buffer, body.byteOffset, body.byteLength);
  const a = parseAttrs(body.subarray(8));
  return {
    family: dv.getUint8(0),
    prefixLen: dv.getUint8(1),
    scope: dv.getUint8(3),
    index: dv.getUint32(4, true),
    address: ipOf(a.get(IFA_LOCAL) ?? a.get(IFA_ADDRESS)),
    label: strOf(a.get(IFA_LABEL)),
  };
}

function parseRoute(body: Uint8Array): RouteInfo {
  const dv = new DataView(body.buffer, body.byteOffset, body.byteLength);
  const a = parseAttrs(body.subarray(12));
  const dstLen = dv.getUint8(1);
  return {
    family: dv.getUint8(0),
    dst: `${ipOf(a.get(RTA_DST)) ?? "0.0.0.0"}/${dstLen}`,
    table: u32At(a.get(RTA_TABLE)) ?? dv.getUint8(4),
    protocol: dv.getUint8(5),
    scope: dv.getUint8(6),
    type: dv.getUint8(7),
    gateway: ipOf(a.get(RTA_GATEWAY)),
    oif: u32At(a.get(RTA_OIF)),
    prefsrc: ipOf(a.get(RTA_PREFSRC)),
  };
}

// ---------------------------------------------------------------------------------------------------
// socket

const RECV_BUF = 65536;

/**
 * One netlink socket, synchronous request/reply. `request()` sends a message with NLM_F_ACK and reads
 * until the NLMSG_ERROR carrying the same sequence number: 0 is the ACK, a negative errno becomes a
 * SyscallError named after the request (`RTM_NEWLINK "veth1a2b3c4": File exists (EEXIST)`) with the
 * kernel's extended-ack text as the hint. `dump()` reads until NLMSG_DONE.
 */
export class NetlinkSocket implements Disposable {
  readonly fd: number;
  private seq = Math.floor(Math.random() * 0x7fffffff);
  private closed = false;
  private readonly rbuf = new Uint8Array(RECV_BUF);
  /** sockaddr_nl of the kernel (12 bytes): nl_family (0,2) nl_pad (2,2) nl_pid (4,4) = 0 nl_groups (8,4) */
  private static readonly KERNEL = (() => {
    const sa = new Uint8Array(12);
    new DataView(sa.buffer).setUint16(0, AF_NETLINK, true);
    return sa;
  })();

  constructor(protocol = NETLINK_ROUTE) {
    const fd = lib().socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, protocol);
    if (fd < 0) fail("socket", [`AF_NETLINK protocol ${protocol}`]);
    this.fd = fd;
    // Extended ACK (Linux 4.12) gives the kernel's reason for EINVAL/EOPNOTSUPP; CAP_ACK keeps error
    // replies small. Both are best effort: older kernels reject the option and errors stay bare.
    const one = new Int32Array([1]);
    lib().setsockopt(fd, SOL_NETLINK, NETLINK_EXT_ACK, one, 4);
    lib().setsockopt(fd, SOL_NETLINK, NETLINK_CAP_ACK, one, 4);
  }

  nextSeq(): number {
    this.seq = (this.seq + 1) >>> 0;
    return this.seq;
  }

  send(msg: Uint8Array, what: string): void {
    const n = retryEintr("sendto", [what], () => lib().sendto(this.fd, msg, msg.length, 0, NetlinkSocket.KERNEL, 12));
    if (n !== msg.length) throw new EngineError("internal", `sendto ${what}: short write (${n} of ${msg.length} bytes)`);
  }

  /** one datagram, parsed */
  recvMessages(what: string): NlMsg[] {
    const n = retryEintr("recv", [what], () => lib().recv(this.fd, this.rbuf, this.rbuf.length, MSG_TRUNC));
    if (n > this.rbuf.length) throw new EngineError("internal", `recv ${what}: netlink reply of ${n} bytes does not fit the buffer`);
    return parseMessages(this.rbuf.slice(0, n));
  }

  /** send `type` with NLM_F_REQUEST|NLM_F_ACK|flags; resolve on ACK, throw SyscallError on NLMSG_ERROR */
  request(type: number, flags: number, parts: Uint8Array[], what: string): void {
    const seq = this.nextSeq();
    this.send(nlmsg(type, NLM_F_REQUEST | NLM_F_ACK | flags, seq, parts), what);
    for (;;) {
      for (const m of this.recvMessages(what)) {
        if (m.seq !== seq) continue;
        if (m.type === NLMSG_ERROR) return checkError(m, what);
      }
    }
  }

  /** NLM_F_DUMP request; returns every reply message body of the wanted type */
  dump(type: number, header: Uint8Array, what: string): NlMsg[] {
    const seq = this.nextSeq();
    this.send(nlmsg(type, NLM_F_REQUEST | NLM_F_DUMP, seq, [header]), what);
    const out: NlMsg[] = [];
    for (;;) {
      for (const m of this.recvMessages(what)) {
        if (m.seq !== seq) continue;
        if (m.type === NLMSG_DONE) return out;
        if (m.type === NLMSG_ERROR) {
          checkError(m, what);
          return out;
        }
        out.push(m);
      }
    }
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    lib().close(this.fd);
  }

  [Symbol.dispose](): void {
    this.close();
  }
}

/**
 * struct nlmsgerr: error (offset: 0 - length: 4, negative errno or 0) + the request's nlmsghdr
 * (16 bytes, its body too unless NLM_F_CAPPED), then NLMSGERR_ATTR_* when NLM_F_ACK_TLVS.
 */
function checkError(m: NlMsg, what: string): void {
  const dv = new DataView(m.body.buffer, m.body.byteOffset, m.body.byteLength);
  const err = dv.getInt32(0, true);
  if (err === 0) return;
  const e = -err;
  let hint: string | undefined;
  if (m.flags & NLM_F_ACK_TLVS) {
    const origLen = m.flags & NLM_F_CAPPED ? 16 : dv.getUint32(4, true);
    hint = strOf(parseAttrs(m.body.subarray(4 + align4(origLen))).get(NLMSGERR_ATTR_MSG)) || undefined;
  }
  const [syscall, ...paths] = what.split(" ");
  throw new SyscallError(syscall!, e, errnoName(e), strerror(e), paths, hint ? { hint: `kernel: ${hint}` } : {});
}

// ---------------------------------------------------------------------------------------------------
// network namespaces

function setnsNet(fd: number, what: string): void {
  if (lib().setns(fd, CLONE_NEWNET) !== 0) fail("setns", [what]);
}

/**
 * A socket of `protocol` created inside the network namespace at `nsPath` (e.g. /proc/<pid>/ns/net).
 * The main thread enters the namespace only for socket(2) and is moved back in `finally` (header block
 * above). If moving back fails the process is left in the wrong netns: that is reported as an internal
 * error naming both, never swallowed.
 */
export function openSocketInNetns(nsPath: string, protocol = NETLINK_ROUTE): NetlinkSocket {
  return withNetns(
    nsPath,
    () => new NetlinkSocket(protocol),
    (s) => s.close(),
  );
}

/**
 * Run `fn` synchronously with the main thread in the network namespace at `nsPath`, then move it back.
 * Only for creating sockets (a socket keeps the namespace it was made in). `undo` releases what `fn`
 * made if moving back fails.
 */
export function withNetns<T>(nsPath: string, fn: () => T, undo?: (made: T) => void): T {
  const own = openSync("/proc/thread-self/ns/net", "r");
  let target: number | undefined;
  try {
    target = openSync(nsPath, "r");
    setnsNet(target, nsPath);
    let made: T | undefined;
    let first: unknown;
    let ok = false;
    try {
      made = fn();
      ok = true;
    } catch (e) {
      first = e;
    } finally {
      try {
        setnsNet(own, "/proc/thread-self/ns/net (restore)");
      } catch (e) {
        if (ok) undo?.(made as T);
        // biome-ignore lint/correctness/noUnsafeFinally: a thread left in the container's netns must fail loudly, whatever the work did
        throw new EngineError("internal", `restore the main thread's network namespace after entering ${nsPath}`, { cause: first ?? e });
      }
    }
    if (!ok) throw first;
    return made as T;
  } finally {
    if (target !== undefined) closeSync(target);
    closeSync(own);
  }
}

// ---------------------------------------------------------------------------------------------------
// operations (each takes the socket, so the same code works in the host and in a container netns)

export function listLinks(s: NetlinkSocket): LinkInfo[] {
  return s
    .dump(RTM_GETLINK, ifinfomsg(), "RTM_GETLINK dump")
    .filter((m) => m.type === RTM_NEWLINK)
    .map((m) => parseLink(m.body));
}

/** the link named `name`, or undefined when there is none (ENODEV is an answer, not an error) */
export function linkByName(s: NetlinkSocket, name: string): LinkInfo | undefined {
  const seq = s.nextSeq();
  const what = `RTM_GETLINK ${name}`;
  s.send(nlmsg(RTM_GETLINK, NLM_F_REQUEST, seq, [ifinfomsg(), attrStr(IFLA_IFNAME, name)]), what);
  for (;;) {
    for (const m of s.recvMessages(what)) {
      if (m.seq !== seq) continue;
      if (m.type === RTM_NEWLINK) return parseLink(m.body);
      if (m.type === NLMSG_ERROR) {
        const err = new DataView(m.body.buffer, m.body.byteOffset, 4).getInt32(0, true);
        if (err === -19 /* ENODEV */) return undefined;
        checkError(m, what);
        return undefined;
      }
    }
  }
}

export function requireLink(s: NetlinkSocket, name: string): LinkInfo {
  const l = linkByName(s, name);
  if (!l) throw new EngineError("not_found", `network interface "${name}" not found`);
  return l;
}

/**
 * A bridge given `mac` keeps it (the kernel marks it NET_ADDR_SET); without one it takes the lowest MAC
 * of its ports and changes whenever a port joins or leaves, leaving stale gateway entries in the ARP
 * caches of the containers already attached.
 */
export function createBridge(s: NetlinkSocket, name: string, opts: { mtu?: number; mac?: string } = {}): void {
  const attrs = [ifinfomsg(), attrStr(IFLA_IFNAME, name), attr(IFLA_LINKINFO, [attrStr(IFLA_INFO_KIND, "bridge")])];
  if (opts.mtu) attrs.push(attrU32(IFLA_MTU, opts.mtu));
  if (opts.mac) attrs.push(attr(IFLA_ADDRESS, macBytes(opts.mac)));
  s.request(RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, attrs, `RTM_NEWLINK ${name}`);
}

export interface VethPeerOptions {
  /** fd of the peer's target netns (IFLA_NET_NS_FD); the peer name is then looked up in that netns */
  netnsFd?: number;
  mac?: string;
  mtu?: number;
}

/**
 * One RTM_NEWLINK creates both ends: the host end `hostName` and the peer, which the kernel creates
 * directly in the namespace of `peer.netnsFd` (so a peer named eth0 never collides with the host's).
 * Nesting: ifinfomsg + IFLA_IFNAME + IFLA_LINKINFO{ IFLA_INFO_KIND "veth", IFLA_INFO_DATA{
 * VETH_INFO_PEER{ ifinfomsg, IFLA_IFNAME, IFLA_ADDRESS, IFLA_MTU, IFLA_NET_NS_FD } } }.
 */
export function createVethPair(
  s: NetlinkSocket,
  hostName: string,
  peerName: string,
  peer: VethPeerOptions = {},
  /** up: set up as it is made (IFF_UP in its ifinfomsg, applied by rtnl_configure_link once the pair
   *  is linked; the peer's own would fail ENOTCONN) */
  host: { mtu?: number; master?: number; up?: boolean } = {},
): void {
  const peerAttrs = [ifinfomsg(), attrStr(IFLA_IFNAME, peerName)];
  if (peer.mac) peerAttrs.push(attr(IFLA_ADDRESS, macBytes(peer.mac)));
  if (peer.mtu) peerAttrs.push(attrU32(IFLA_MTU, peer.mtu));
  if (peer.netnsFd !== undefined) peerAttrs.push(attrU32(IFLA_NET_NS_FD, peer.netnsFd));
  const attrs = [
    host.up ? ifinfomsg(0, IFF_UP, IFF_UP) : ifinfomsg(),
    attrStr(IFLA_IFNAME, hostName),
    attr(IFLA_LINKINFO, [attrStr(IFLA_INFO_KIND, "veth"), attr(IFLA_INFO_DATA, [attr(VETH_INFO_PEER, peerAttrs)])]),
  ];
  if (host.mtu) attrs.push(attrU32(IFLA_MTU, host.mtu));
  if (host.master) attrs.push(attrU32(IFLA_MASTER, host.master));
  s.request(RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, attrs, `RTM_NEWLINK ${hostName}`);
}

function setLink(s: NetlinkSocket, index: number, what: string, attrs: Uint8Array[], flags = 0, change = 0): void {
  s.request(RTM_NEWLINK, 0, [ifinfomsg(index, flags, change), ...attrs], `RTM_NEWLINK ${what}`);
}

export function setMaster(s: NetlinkSocket, index: number, masterIndex: number): void {
  setLink(s, index, `ifindex=${index}`, [attrU32(IFLA_MASTER, masterIndex)]);
}

export function setUp(s: NetlinkSocket, index: number, up = true): void {
  setLink(s, index, `ifindex=${index}`, [], up ? IFF_UP : 0, IFF_UP);
}

export function setMtu(s: NetlinkSocket, index: number, mtu: number): void {
  setLink(s, index, `ifindex=${index}`, [attrU32(IFLA_MTU, mtu)]);
}

export function setMac(s: NetlinkSocket, index: number, mac: string): void {
  setLink(s, index, `ifindex=${index}`, [attr(IFLA_ADDRESS, macBytes(mac))]);
}

/** the link must be down (EBUSY otherwise) */
export function rename(s: NetlinkSocket, index: number, name: string): void {
  setLink(s, index, name, [attrStr(IFLA_IFNAME, name)]);
}

/** move a link into the netns behind `netnsFd` (IFLA_NET_NS_FD) */
export function moveToNetns(s: NetlinkSocket, index: number, netnsFd: number): void {
  setLink(s, index, `ifindex=${index}`, [attrU32(IFLA_NET_NS_FD, netnsFd)]);
}

export function deleteLink(s: NetlinkSocket, index: number, what = `ifindex=${index}`): void {
  s.request(RTM_DELLINK, 0, [ifinfomsg(index)], `RTM_DELLINK ${what}`);
}

/** delete by name; false when no such link exists (already gone with its peer's netns) */
export function deleteLinkByName(s: NetlinkSocket, name: string): boolean {
  const l = linkByName(s, name);
  if (!l) return false;
  try {
    deleteLink(s, l.index, name);
  } catch (e) {
    if (e instanceof SyscallError && e.code === "ENODEV") return false;
    throw e;
  }
  return true;
}

/** IPv4 "a.b.c.d/len" on a link; IFA_LOCAL is the address, IFA_ADDRESS the same for non-p2p links */
export function addAddress(s: NetlinkSocket, index: number, cidr: string): void {
  const { ip, prefixLen } = splitCidr(cidr);
  const b = ipv4Bytes(ip);
  const attrs = [ifaddrmsg(AF_INET, prefixLen, index), attr(IFA_LOCAL, b), attr(IFA_ADDRESS, b)];
  if (prefixLen < 31) {
    const v = (ipToU32(ip) | (prefixLen === 0 ? 0xffffffff : (1 << (32 - prefixLen)) - 1)) >>> 0;
    attrs.push(attr(IFA_BROADCAST, new Uint8Array([v >>> 24, (v >>> 16) & 255, (v >>> 8) & 255, v & 255])));
  }
  s.request(RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL, attrs, `RTM_NEWADDR ${cidr}`);
}

function ipToU32(ip: string): number {
  const b = ipv4Bytes(ip);
  return ((b[0]! << 24) | (b[1]! << 16) | (b[2]! << 8) | b[3]!) >>> 0;
}

export function listAddrs(s: NetlinkSocket, family = AF_INET): AddrInfo[] {
  return s
    .dump(RTM_GETADDR, ifaddrmsg(family, 0, 0), "RTM_GETADDR dump")
    .filter((m) => m.type === RTM_NEWADDR)
    .map((m) => parseAddr(m.body))
    .filter((a) => family === AF_UNSPEC || a.family === family);
}

/**
 * A route in the main table: `dst` "0.0.0.0/0" (default) or a prefix; via `gateway` and/or out of
 * `oif`. A gateway-less route to a prefix is link-scoped, like the kernel's own connected routes.
 */
export function addRoute(s: NetlinkSocket, r: { dst?: string; gateway?: string; oif?: number }): void {
  const { ip, prefixLen } = splitCidr(r.dst ?? "0.0.0.0/0");
  const scope = r.gateway ? RT_SCOPE_UNIVERSE : RT_SCOPE_LINK;
  const attrs = [rtmsg({ dstLen: prefixLen, scope })];
  if (prefixLen > 0) attrs.push(attr(RTA_DST, ipv4Bytes(ip)));
  if (r.gateway) attrs.push(attr(RTA_GATEWAY, ipv4Bytes(r.gateway)));
  if (r.oif) attrs.push(attrU32(RTA_OIF, r.oif));
  s.request(RTM_NEWROUTE, NLM_F_CREATE | NLM_F_EXCL, attrs, `RTM_NEWROUTE ${r.dst ?? "default"}`);
}

/** all IPv4 routes of every table; callers filter (the main table is RT_TABLE_MAIN) */
export function listRoutes(s: NetlinkSocket, family = AF_INET): RouteInfo[] {
  return s
    .dump(RTM_GETROUTE, rtmsg({ family, table: 0, protocol: 0, type: 0 }), "RTM_GETROUTE dump")
    .filter((m) => m.type === RTM_NEWROUTE)
    .map((m) => parseRoute(m.body));
}

// ---------------------------------------------------------------------------------------------------
// nf_tables (NETLINK_NETFILTER): read-only existence checks. Rules are written by src/net/nat.ts;
// asking "is my chain there?" over netlink lets berth skip that work on the hot path.

// <linux/netfilter/nfnetlink.h>, <linux/netfilter/nf_tables.h>
export const NFNL_SUBSYS_NFTABLES = 10;
export const NFNETLINK_V0 = 0;
export const NFT_MSG_GETTABLE = 1;
export const NFT_MSG_NEWCHAIN = 3;
export const NFT_MSG_GETCHAIN = 4;
export const NFTA_TABLE_NAME = 1;
export const NFTA_CHAIN_TABLE = 1;
export const NFTA_CHAIN_NAME = 3;
export const NFPROTO_IPV4 = 2;

/**
 * struct nfgenmsg (4 bytes): nfgen_family (offset: 0 - length: 1), version (offset: 1 - length: 1),
 * res_id (offset: 2 - length: 2, big-endian)
 */
export function nfgenmsg(family: number, resId = 0): Uint8Array {
  const b = new Uint8Array(4);
  const dv = new DataView(b.buffer);
  dv.setUint8(0, family);
  dv.setUint8(1, NFNETLINK_V0);
  dv.setUint16(2, resId, false);
  return b;
}

/** do all of `chains` exist in nftables table `family table`? (ENOENT = no; needs a NETLINK_NETFILTER
 * socket) One datagram of GETCHAINs, one answer each (netlink_rcv_skb takes them in turn) */
export function nftChainsExist(s: NetlinkSocket, family: number, table: string, chains: string[]): boolean {
  const what = `NFT_MSG_GETCHAIN ${table}/${chains.join(",")}`;
  const type = (NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_GETCHAIN;
  const pending = new Set<number>();
  const msgs = chains.map((chain) => {
    const seq = s.nextSeq();
    pending.add(seq);
    return nlmsg(type, NLM_F_REQUEST, seq, [nfgenmsg(family), attrStr(NFTA_CHAIN_TABLE, table), attrStr(NFTA_CHAIN_NAME, chain)]);
  });
  const all = new Uint8Array(msgs.reduce((n, m) => n + m.length, 0));
  let at = 0;
  for (const m of msgs) {
    all.set(m, at);
    at += m.length;
  }
  s.send(all, what);
  let found = true;
  while (pending.size) {
    for (const m of s.recvMessages(what)) {
      if (!pending.has(m.seq)) continue;
      if (m.type === ((NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_NEWCHAIN)) pending.delete(m.seq);
      else if (m.type === NLMSG_ERROR) {
        pending.delete(m.seq);
        const err = new DataView(m.body.buffer, m.body.byteOffset, 4).getInt32(0, true);
        if (err !== -2 /* ENOENT */) checkError(m, what);
        found = false;
      }
    }
  }
  return found;
}

/** does chain `chain` exist in nftables table `family table`? */
export function nftChainExists(s: NetlinkSocket, family: number, table: string, chain: string): boolean {
  return nftChainsExist(s, family, table, [chain]);
}
