/**
 * Outbound NAT, forwarding guards and published ports for bridge networks, in berth's own nftables
 * table (`table ip berth`), written over NETLINK_NETFILTER from TypeScript (src/ffi/nftables.ts): no
 * `nft` or `iptables` binary. Every change is one nf_tables batch, applied atomically by the kernel.
 *
 * nftables rather than iptables: a table of our own is the unit of ownership (iptables chains live in
 * shared tables), and both docker (iptables-nft) and podman (netavark nftables) coexist with it.
 *
 * Ownership: berth only creates, flushes or deletes objects inside its own table. Other tables
 * (docker's and podman's, firewalld's) are never listed, flushed or touched. Each network has its
 * own base chains named after its bridge, so removing one network is deleting its chains; the table
 * goes with the last network (index.ts).
 *
 * Layout (what `nft list table ip berth` shows):
 *   map pm_any  proto . port → container ip . port      published on every local address
 *   map pm_ip   host ip . proto . port → ip . port      published on one host address
 *   chain prerouting (nat, dstnat)   fib daddr type local dnat … @pm_any;  dnat … @pm_ip
 *   chain output     (nat, -100)     the same, for connections from the host itself (127.0.0.1 too)
 *   chain post_<br>  (nat, srcnat)   ip saddr <subnet> oifname != <br> masquerade
 *                                    oifname <br> ip saddr 127.0.0.0/8 masquerade
 *                                    ip saddr <subnet> oifname <br> ct status dnat masquerade   (hairpin)
 *   chain fwd_<br>   (filter)        --internal: drop everything entering or leaving <br>
 *   chain guard_<br> (filter, raw)   iifname <br> ip daddr 127.0.0.0/8 drop
 *
 * Published ports use kernel DNAT (maps: adding/removing a container's ports is adding/deleting
 * elements by key, no rule handles) rather than a userland proxy: no process has to live per
 * container, and containers see real client addresses. 127.0.0.1 works through route_localnet on
 * the bridge plus the loopback masquerade (docker's userland-proxy=false setup); guard_<br> keeps
 * containers from reaching the host's 127.0.0.1-only services through that (CVE-2020-8558).
 *
 * Caveat: a DROP verdict in someone else's forward chain (docker sets the iptables FORWARD policy to
 * DROP) still drops berth's forwarded packets — an accept in our table cannot override another base
 * chain. berth does not edit foreign rules.
 */
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { EngineError, SyscallError } from "../lib/errors.ts";
import {
  NETLINK_NETFILTER,
  NFPROTO_IPV4,
  NF_DROP,
  NF_INET_FORWARD,
  NF_INET_LOCAL_OUT,
  NF_INET_POST_ROUTING,
  NF_INET_PRE_ROUTING,
  NFT_CMP_EQ,
  NFT_CMP_NEQ,
  NFT_META_IIFNAME,
  NFT_META_L4PROTO,
  NFT_META_OIFNAME,
  NFT_PAYLOAD_NETWORK_HEADER,
  NFT_PAYLOAD_TRANSPORT_HEADER,
  NFT_REG32_01,
  NFT_REG32_02,
  NFT_REG_1,
  NFT_CT_STATUS,
  IPS_DST_NAT,
  NetlinkSocket,
  NftBatch,
  TYPE_INET_PROTOCOL,
  TYPE_INET_SERVICE,
  TYPE_IPADDR,
  concatType,
  ifnameBytes,
  nftChainExists,
  nftChainsExist,
  nftExpr as x,
} from "../ffi/index.ts";
import { ipToU32, maskOf, parseSubnet } from "./ipam.ts";

export const DEFAULT_TABLE = "berth";
const IP_FORWARD = "/proc/sys/net/ipv4/ip_forward";
const RTN_LOCAL = 2;
const IPPROTO = { tcp: 6, udp: 17 } as const;

/** where a successful check is remembered until the next boot (tmpfs, root only) */
const NETFILTER_SEEN = "/run/berth/nf_tables-answered";

/**
 * fail early when the kernel has no nf_tables (module missing, or no CAP_NET_ADMIN). Once it has
 * answered, a marker on /run says so until the next boot: every `create` need not ask again (a module
 * unloaded later still fails the start, in ensureNat)
 */
export function checkNetfilter(): void {
  if (existsSync(NETFILTER_SEEN)) return;
  try {
    using s = new NetlinkSocket(NETLINK_NETFILTER);
    nftChainExists(s, NFPROTO_IPV4, DEFAULT_TABLE, "prerouting");
    try {
      mkdirSync(dirname(NETFILTER_SEEN), { recursive: true, mode: 0o700 });
      closeSync(openSync(NETFILTER_SEEN, "w", 0o600));
    } catch {} // a shortcut only: the next create asks the kernel again
  } catch (e) {
    throw new EngineError("unavailable", `bridge networking needs nf_tables: ${e instanceof Error ? e.message : String(e)}`, {
      cause: e,
      hint: "load the nf_tables module (modprobe nf_tables) and run as root, or use --network none or host",
    });
  }
}

/** nft identifiers: letters, digits, underscore */
export function chainSuffix(bridge: string): string {
  return bridge.replace(/[^a-zA-Z0-9_]/g, "_");
}

export interface NatNetwork {
  bridge: string;
  subnet: string;
  internal: boolean;
}

const u32be = (v: number) => new Uint8Array([v >>> 24, (v >>> 16) & 255, (v >>> 8) & 255, v & 255]);

/** `ip saddr|daddr <cidr>` (offset 12 / 16 of the IPv4 header) */
function ipIn(offset: 12 | 16, cidr: string): Uint8Array[] {
  const s = parseSubnet(cidr);
  return [
    x.payload(NFT_REG_1, NFT_PAYLOAD_NETWORK_HEADER, offset, 4),
    x.bitwise(NFT_REG_1, NFT_REG_1, u32be(maskOf(s.prefixLen)), new Uint8Array(4)),
    x.cmp(NFT_CMP_EQ, NFT_REG_1, u32be(s.network)),
  ];
}

const ifname = (key: number, op: number, name: string) => [x.meta(key, NFT_REG_1), x.cmp(op, NFT_REG_1, ifnameBytes(name))];

/** the shared objects: port maps and the two DNAT chains (idempotent: created if missing, chains rewritten) */
export function addPortObjects(b: NftBatch, table: string): NftBatch {
  const service = concatType(TYPE_INET_PROTOCOL, TYPE_INET_SERVICE);
  const target = concatType(TYPE_IPADDR, TYPE_INET_SERVICE);
  b.newTable(table)
    .newMap(table, "pm_any", { keyType: service, keyLen: 8, dataType: target, dataLen: 8, id: 1 })
    .newMap(table, "pm_ip", { keyType: concatType(TYPE_IPADDR, TYPE_INET_PROTOCOL, TYPE_INET_SERVICE), keyLen: 12, dataType: target, dataLen: 8, id: 2 });
  const chains = [
    ["prerouting", NF_INET_PRE_ROUTING],
    ["output", NF_INET_LOCAL_OUT],
  ] as const;
  for (const [name, hooknum] of chains) {
    b.newChain(table, name, { type: "nat", hooknum, priority: -100 }).flushChain(table, name);
    // fib daddr type local dnat ip to meta l4proto . th dport map @pm_any
    b.newRule(table, name, [
      x.fibDaddrType(NFT_REG_1),
      x.cmp(NFT_CMP_EQ, NFT_REG_1, x.u32(RTN_LOCAL)),
      x.meta(NFT_META_L4PROTO, NFT_REG_1),
      x.payload(NFT_REG32_01, NFT_PAYLOAD_TRANSPORT_HEADER, 2, 2),
      x.lookup("pm_any", NFT_REG_1, NFT_REG_1),
      x.dnat(NFT_REG_1, NFT_REG32_01),
    ]);
    // dnat ip to ip daddr . meta l4proto . th dport map @pm_ip
    b.newRule(table, name, [
      x.payload(NFT_REG_1, NFT_PAYLOAD_NETWORK_HEADER, 16, 4),
      x.meta(NFT_META_L4PROTO, NFT_REG32_01),
      x.payload(NFT_REG32_02, NFT_PAYLOAD_TRANSPORT_HEADER, 2, 2),
      x.lookup("pm_ip", NFT_REG_1, NFT_REG_1),
      x.dnat(NFT_REG_1, NFT_REG32_01),
    ]);
  }
  return b;
}

/** one network's chains, rewritten from scratch inside the same transaction */
export function addNetworkObjects(b: NftBatch, table: string, n: NatNetwork): NftBatch {
  const sfx = chainSuffix(n.bridge);
  const [post, fwd, guard] = [`post_${sfx}`, `fwd_${sfx}`, `guard_${sfx}`];
  b.newChain(table, post, { type: "nat", hooknum: NF_INET_POST_ROUTING, priority: 100 })
    .newChain(table, fwd, { type: "filter", hooknum: NF_INET_FORWARD, priority: 0 })
    .newChain(table, guard, { type: "filter", hooknum: NF_INET_PRE_ROUTING, priority: -300 })
    .flushChain(table, post)
    .flushChain(table, fwd)
    .flushChain(table, guard);
  b.newRule(table, guard, [...ifname(NFT_META_IIFNAME, NFT_CMP_EQ, n.bridge), ...ipIn(16, "127.0.0.0/8"), x.verdict(NF_DROP)]);
  if (n.internal) {
    b.newRule(table, fwd, [...ifname(NFT_META_IIFNAME, NFT_CMP_EQ, n.bridge), ...ifname(NFT_META_OIFNAME, NFT_CMP_NEQ, n.bridge), x.verdict(NF_DROP)]);
    b.newRule(table, fwd, [...ifname(NFT_META_OIFNAME, NFT_CMP_EQ, n.bridge), ...ifname(NFT_META_IIFNAME, NFT_CMP_NEQ, n.bridge), x.verdict(NF_DROP)]);
  } else {
    b.newRule(table, post, [...ipIn(12, n.subnet), ...ifname(NFT_META_OIFNAME, NFT_CMP_NEQ, n.bridge), x.masq()]);
    b.newRule(table, post, [...ifname(NFT_META_OIFNAME, NFT_CMP_EQ, n.bridge), ...ipIn(12, "127.0.0.0/8"), x.masq()]);
    // a container reaching a published port (its own or a neighbour's) through a host address comes
    // back out of the same bridge after DNAT; unmasqueraded, the target would answer it directly and
    // the client would drop a reply from the wrong address
    // (matched on the source subnet, not iifname: with br_netfilter loaded, as docker and podman leave
    // it, a DNATed frame to the same bridge is bridged and the IPv4 postrouting hook sees no input device)
    b.newRule(table, post, [
      ...ipIn(12, n.subnet),
      ...ifname(NFT_META_OIFNAME, NFT_CMP_EQ, n.bridge),
      x.ct(NFT_CT_STATUS, NFT_REG_1),
      x.bitwise(NFT_REG_1, NFT_REG_1, x.u32(IPS_DST_NAT), new Uint8Array(4)),
      x.cmp(NFT_CMP_NEQ, NFT_REG_1, new Uint8Array(4)),
      x.masq(),
    ]);
  }
  return b;
}

export interface PortMapping {
  hostIp: string;
  hostPort: number;
  proto: "tcp" | "udp";
  target: string;
  containerPort: number;
}

/** map keys/data as registers hold them: each field in a 4-byte slot, network byte order */
export function portElement(m: PortMapping): { set: string; key: Uint8Array; data: Uint8Array } {
  const svc = new Uint8Array(8);
  svc[0] = IPPROTO[m.proto];
  svc[4] = m.hostPort >>> 8;
  svc[5] = m.hostPort & 255;
  const data = new Uint8Array(8);
  data.set(u32be(ipToU32(m.target)), 0);
  data[4] = m.containerPort >>> 8;
  data[5] = m.containerPort & 255;
  if (!m.hostIp) return { set: "pm_any", key: svc, data };
  const key = new Uint8Array(12);
  key.set(u32be(ipToU32(m.hostIp)), 0);
  key.set(svc, 4);
  return { set: "pm_ip", key, data };
}

/** the network's chains and the shared port chain exist (one transaction creates them all) */
export function natInstalled(table: string, bridge: string): boolean {
  using s = new NetlinkSocket(NETLINK_NETFILTER);
  const sfx = chainSuffix(bridge);
  return nftChainsExist(s, NFPROTO_IPV4, table, [`post_${sfx}`, `guard_${sfx}`, "prerouting"]);
}

/**
 * Install a network's rules unless they are there, turn on IPv4 forwarding and route_localnet. The
 * check is a GETCHAIN (~0.1 ms); the rewrite happens on first use, after a reboot, or after someone
 * flushed the ruleset. `force` rewrites regardless.
 */
export function ensureNat(table: string, n: NatNetwork, force = false): void {
  if (force || !natInstalled(table, n.bridge)) {
    using s = new NetlinkSocket(NETLINK_NETFILTER);
    addNetworkObjects(addPortObjects(new NftBatch(), table), table, n).commit(s);
  }
  if (!n.internal) enableIpForward();
  enableRouteLocalnet(n.bridge);
}

export function addPorts(table: string, ms: PortMapping[]): void {
  if (ms.length === 0) return;
  using s = new NetlinkSocket(NETLINK_NETFILTER);
  const b = new NftBatch();
  for (const m of ms) {
    const e = portElement(m);
    b.newElems(table, e.set, [{ key: e.key, data: e.data }]);
  }
  b.commit(s);
}

/** delete the elements one by one: one already gone (ENOENT) must not keep the others */
export function removePorts(table: string, ms: PortMapping[]): void {
  using s = new NetlinkSocket(NETLINK_NETFILTER);
  for (const m of ms) {
    const e = portElement(m);
    try {
      new NftBatch().delElems(table, e.set, [e.key]).commit(s);
    } catch (err) {
      if (!(err instanceof SyscallError && err.code === "ENOENT")) throw err;
    }
  }
}

/** remove a network's chains (the table itself goes with the last network: removeTable) */
export function removeNat(table: string, bridge: string): void {
  using s = new NetlinkSocket(NETLINK_NETFILTER);
  const sfx = chainSuffix(bridge);
  const b = new NftBatch();
  for (const c of [`post_${sfx}`, `fwd_${sfx}`, `guard_${sfx}`]) {
    if (nftChainExists(s, NFPROTO_IPV4, table, c)) b.delChain(table, c);
  }
  b.commit(s);
}

export function removeTable(table: string): void {
  using s = new NetlinkSocket(NETLINK_NETFILTER);
  try {
    new NftBatch().delTable(table).commit(s);
  } catch (err) {
    if (!(err instanceof SyscallError && err.code === "ENOENT")) throw err;
  }
}

/** let 127.0.0.1 DNATed traffic leave through this bridge (guarded by guard_<bridge>, above) */
export function enableRouteLocalnet(bridge: string): void {
  const p = `/proc/sys/net/ipv4/conf/${bridge}/route_localnet`;
  if (readFileSync(p, "utf8").trim() !== "1") writeFileSync(p, "1\n");
}

/** net.ipv4.ip_forward=1 (host-wide, as docker does); never turned off again, other software may rely on it */
export function enableIpForward(): void {
  if (readFileSync(IP_FORWARD, "utf8").trim() !== "1") writeFileSync(IP_FORWARD, "1\n");
}
