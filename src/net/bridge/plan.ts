/**
 * Plan, then act (STYLE §5): what to create for a bridge network's device and for one container's
 * endpoint on it, worked out as plain data from the records and what netlink observed. ../ops.ts applies
 * the list; the unit tests read it.
 */
import { macFromIp, parseSubnet } from "../ipam.ts";
import type { NetOp } from "../ops.ts";
import type { DriverEndpoint } from "../driver.ts";
import type { NetworkRecord } from "../store.ts";

/** what netlink saw of the bridge before planning */
export interface BridgeObserved {
  exists: boolean;
  up: boolean;
  /** IPv4 addresses on it, "a.b.c.d/len" */
  addrs: string[];
  mac?: string;
}

export function gatewayCidr(net: NetworkRecord): string {
  return `${net.gateway}/${parseSubnet(net.subnet).prefixLen}`;
}

/**
 * Bring the bridge to: exists, has a fixed MAC derived from the gateway address (docker's choice: a
 * bridge left to itself takes its lowest port's MAC, which changes as containers come and go, and the
 * attached containers then send to a gateway MAC that is gone until their ARP entries expire), carries
 * the gateway address, up. Empty when it already is.
 */
export function planBridge(net: NetworkRecord, seen: BridgeObserved): NetOp[] {
  const ops: NetOp[] = [];
  const mac = macFromIp(net.gateway);
  if (!seen.exists) ops.push({ op: "create-bridge", bridge: net.bridge, mtu: net.mtu, mac });
  else if (seen.mac !== undefined && seen.mac !== mac) ops.push({ op: "bridge-mac", bridge: net.bridge, mac });
  const cidr = gatewayCidr(net);
  if (!seen.addrs.includes(cidr)) ops.push({ op: "bridge-address", bridge: net.bridge, cidr });
  if (!seen.up) ops.push({ op: "host-up", name: net.bridge });
  return ops;
}

/** the bridge's endpoint plan is the driver seam's (net/driver.ts DriverEndpoint) */
export type EndpointPlan = DriverEndpoint;

/** `veth` + 7 hex, like docker's host-side names; IFNAMSIZ is 16 with the NUL, so 11 is safe */
export function hostVethName(random: Uint8Array): string {
  return "veth" + Buffer.from(random).toString("hex").slice(0, 7);
}

/**
 * One container endpoint: veth pair into the container netns, lo (unless `loUp`) and ifName up with the address, and
 * a default route through the gateway unless the network is internal or `defaultRoute` is false.
 */
export function planEndpoint(
  net: NetworkRecord,
  e: { ip: string; hostVeth: string; ifName: string; mac?: string; defaultRoute?: boolean; loUp?: boolean },
): EndpointPlan {
  const prefixLen = parseSubnet(net.subnet).prefixLen;
  const mac = e.mac ?? macFromIp(e.ip);
  const ops: NetOp[] = [
    // berth's networks are IPv4-only: no IPv6 on the container's interface, as docker does there
    { op: "create-veth", hostVeth: e.hostVeth, ifName: e.ifName, mac, mtu: net.mtu, bridge: net.bridge, ipv6: false },
    { op: "hairpin", name: e.hostVeth },
    // lo: already up in a namespace berth's shim made (runtime/shim.c lo_up), else brought up here
    ...(e.loUp ? [] : [{ op: "ns-up", name: "lo" } as const]),
    { op: "ns-address", name: e.ifName, cidr: `${e.ip}/${prefixLen}` },
    { op: "ns-up", name: e.ifName },
  ];
  // one default route per netns: the container's first non-internal network provides it (docker's
  // rule when no gateway priority is given); a second RTM_NEWROUTE default would fail with EEXIST
  if (!net.internal && e.defaultRoute !== false) ops.push({ op: "ns-default-route", gateway: net.gateway, name: e.ifName });
  return { network: net.name, bridge: net.bridge, hostVeth: e.hostVeth, ifName: e.ifName, ip: e.ip, prefixLen, gateway: net.gateway, mac, mtu: net.mtu, ops };
}

/** docker names a user network's bridge br-<12 hex of its id>; the default network's is fixed */
export function bridgeNameFor(id: string): string {
  return "br-" + id.slice(0, 12);
}
