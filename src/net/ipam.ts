/**
 * IPv4 address management, pure: subnets, the next free address, overlap checks, docker's default
 * pools and docker's IP-derived MAC. No I/O; src/net/store.ts persists the result under a lock.
 *
 * Invariants: the network address, the broadcast address and the gateway are never handed out;
 * an address is handed out at most once per network (callers pass every allocated address in `taken`).
 */
import { EngineError } from "../lib/errors.ts";

export interface Subnet {
  /** network address as an unsigned 32-bit number, host bits zero */
  network: number;
  prefixLen: number;
}

export function ipToU32(ip: string): number {
  const parts = ip.split(".");
  if (parts.length !== 4 || parts.some((p) => !/^\d{1,3}$/.test(p) || Number(p) > 255)) {
    throw new EngineError("invalid_argument", `invalid IPv4 address "${ip}"`);
  }
  return parts.reduce((acc, p) => ((acc << 8) | Number(p)) >>> 0, 0);
}

export function u32ToIp(v: number): string {
  return [v >>> 24, (v >>> 16) & 255, (v >>> 8) & 255, v & 255].join(".");
}

export function maskOf(prefixLen: number): number {
  return prefixLen === 0 ? 0 : (0xffffffff << (32 - prefixLen)) >>> 0;
}

/** "172.17.0.0/16" → Subnet; host bits must be zero, as docker requires for --subnet */
export function parseSubnet(cidr: string): Subnet {
  const m = /^([0-9.]+)\/(\d{1,2})$/.exec(cidr.trim());
  if (!m || Number(m[2]) > 32) throw new EngineError("invalid_argument", `invalid subnet "${cidr}": want a.b.c.d/len`);
  const ip = ipToU32(m[1]!);
  const prefixLen = Number(m[2]);
  const network = (ip & maskOf(prefixLen)) >>> 0;
  if (network !== ip) {
    throw new EngineError("invalid_argument", `invalid subnet "${cidr}": host bits are set`, {
      hint: `did you mean ${formatSubnet({ network, prefixLen })}?`,
    });
  }
  if (prefixLen > 30) throw new EngineError("invalid_argument", `invalid subnet "${cidr}": too small for a gateway and a container (need /30 or larger)`);
  return { network, prefixLen };
}

export function formatSubnet(s: Subnet): string {
  return `${u32ToIp(s.network)}/${s.prefixLen}`;
}

export function broadcastOf(s: Subnet): number {
  return (s.network | ~maskOf(s.prefixLen)) >>> 0;
}

export function contains(s: Subnet, ip: string | number): boolean {
  const v = typeof ip === "number" ? ip : ipToU32(ip);
  return (v & maskOf(s.prefixLen)) >>> 0 === s.network;
}

export function overlaps(a: Subnet, b: Subnet): boolean {
  const p = Math.min(a.prefixLen, b.prefixLen);
  return (a.network & maskOf(p)) >>> 0 === (b.network & maskOf(p)) >>> 0;
}

/** docker's default gateway: the first host address */
export function defaultGateway(s: Subnet): string {
  return u32ToIp(s.network + 1);
}

/** docker's default-address-pools: 172.17–31.0.0/16, then 192.168.0.0/16 cut into /20s */
export function* defaultPools(): Generator<Subnet> {
  for (let b = 17; b <= 31; b++) yield { network: ipToU32(`172.${b}.0.0`), prefixLen: 16 };
  for (let c = 0; c < 256; c += 16) yield { network: ipToU32(`192.168.${c}.0`), prefixLen: 20 };
}

/**
 * docker's `default-address-pools` written as "BASE/size,…" (NetworkSettings.addressPools): each base
 * subnet cut into networks of prefix length `size`, in order. Bad text is invalid_argument.
 */
export function parseAddressPools(text: string): { base: Subnet; size: number }[] {
  return text
    .split(",")
    .filter(Boolean)
    .map((p) => {
      const m = /^(.+\/\d+)\/(\d+)$/.exec(p.trim());
      if (!m) throw new EngineError("invalid_argument", `default address pool "${p}": want BASE/prefix/size, e.g. 10.10.0.0/16/24`);
      const base = parseSubnet(m[1]!);
      const size = Number(m[2]);
      if (size < base.prefixLen || size > 30)
        throw new EngineError("invalid_argument", `default address pool "${p}": size ${size} must be between ${base.prefixLen} and 30`);
      return { base, size };
    });
}

/** the networks a list of address pools yields, in docker's order (pool by pool, low to high) */
export function* poolSubnets(pools: { base: Subnet; size: number }[]): Generator<Subnet> {
  for (const { base, size } of pools) {
    const count = 2 ** (size - base.prefixLen);
    const step = 2 ** (32 - size);
    for (let i = 0; i < count; i++) yield { network: (base.network + i * step) >>> 0, prefixLen: size };
  }
}

/**
 * The first pool entry that overlaps neither a host route nor another network. `routes` are the
 * host's route destinations ("10.0.0.0/8"); the default route (/0) is ignored, since everything
 * "overlaps" it. Throws unavailable when every pool is taken.
 */
export function chooseSubnet(routes: string[], inUse: Subnet[], pools: Iterable<Subnet> = defaultPools()): Subnet {
  const busy = [...routes.map(routeSubnet).filter((s) => s.prefixLen > 0), ...inUse];
  for (const p of pools) {
    if (!busy.some((b) => overlaps(p, b))) return p;
  }
  throw new EngineError("unavailable", "no free subnet in the default address pools", {
    hint: "pass --subnet with a range that does not overlap the host's routes or other networks",
  });
}

/** a route destination, host bits masked off (the kernel may report "192.0.2.2/32" etc.) */
function routeSubnet(dst: string): Subnet {
  const [ip, len] = dst.split("/");
  const prefixLen = Number(len ?? 32);
  return { network: (ipToU32(ip!) & maskOf(prefixLen)) >>> 0, prefixLen };
}

/** the conflicting entry, if a user-chosen subnet overlaps a route or a network */
export function findOverlap(s: Subnet, routes: string[], networks: { name: string; subnet: Subnet }[]): string | undefined {
  for (const r of routes) {
    const rs = routeSubnet(r);
    if (rs.prefixLen > 0 && overlaps(s, rs)) return `host route or address ${r}`;
  }
  for (const n of networks) if (overlaps(s, n.subnet)) return `network "${n.name}" (${formatSubnet(n.subnet)})`;
  return undefined;
}

/**
 * The lowest free host address, or `requested` after checking it. Lowest-free keeps addresses small
 * and predictable like docker's; a reused address gets the same IP-derived MAC, so stale ARP entries
 * on the bridge still point at the right port.
 */
export function allocate(s: Subnet, gateway: string, taken: Iterable<string>, requested?: string): string {
  const used = new Set<number>([...taken].map(ipToU32));
  const gw = ipToU32(gateway);
  const bcast = broadcastOf(s);
  const net = formatSubnet(s);
  if (requested !== undefined) {
    const v = ipToU32(requested);
    if (!contains(s, v)) throw new EngineError("invalid_argument", `address ${requested} is not in subnet ${net}`);
    if (v === s.network || v === bcast) throw new EngineError("invalid_argument", `address ${requested} is the network or broadcast address of ${net}`);
    if (v === gw) throw new EngineError("already_exists", `address ${requested} is the gateway of ${net}`);
    if (used.has(v)) throw new EngineError("already_exists", `address ${requested} is already in use on ${net}`);
    return requested;
  }
  for (let v = s.network + 1; v < bcast; v++) {
    if (v !== gw && !used.has(v)) return u32ToIp(v);
  }
  throw new EngineError("unavailable", `no free address left in subnet ${net}`);
}

/** docker's MAC for an address: 02:42 (locally administered, unicast) followed by the 4 IP bytes */
export function macFromIp(ip: string): string {
  const v = ipToU32(ip);
  return ["02", "42", ...[v >>> 24, (v >>> 16) & 255, (v >>> 8) & 255, v & 255].map((b) => b.toString(16).padStart(2, "0"))].join(":");
}
