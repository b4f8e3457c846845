/**
 * The bridge network driver (libnetwork's drivers/bridge): a Linux bridge per network, a veth pair per
 * container endpoint with its peer moved into the container's namespace, and the network's outbound NAT
 * in berth's nftables table. The device appears on the first join (planBridge → applyOps), not at
 * `network create`, and is brought back by the next join after a reboot removed it.
 */
import { randomBytes } from "../../lib/ids.ts";
import { mark } from "../../lib/trace.ts";
import { EngineError } from "../../lib/errors.ts";
import { AF_INET, NetlinkSocket, deleteLinkByName, linkByName, listAddrs } from "../../ffi/index.ts";
import { formatSubnet, ipToU32 } from "../ipam.ts";
import { ensureNat, removeNat, removeTable, checkNetfilter } from "../nat.ts";
import { applyOps } from "../ops.ts";
import { registerNetworkDriver, type DriverContext, type DriverEndpoint, type EndpointDriver } from "../driver.ts";
import type { EndpointRecord, NetworkRecord } from "../store.ts";
import { bridgeNameFor, hostVethName, planBridge, planEndpoint, type BridgeObserved } from "./plan.ts";

export function observeBridge(s: NetlinkSocket, bridge: string): BridgeObserved {
  const l = linkByName(s, bridge);
  if (!l) return { exists: false, up: false, addrs: [] };
  if (l.kind !== "bridge") {
    throw new EngineError("already_exists", `network interface "${bridge}" exists and is not a bridge (${l.kind ?? "device"})`);
  }
  const addrs = listAddrs(s, AF_INET)
    .filter((a) => a.index === l.index && a.address)
    .map((a) => `${a.address}/${a.prefixLen}`);
  return { exists: true, up: l.up, addrs, mac: l.mac };
}

export class BridgeDriver implements EndpointDriver {
  readonly name = "bridge";
  readonly attach = "endpoint" as const;

  constructor(private readonly ctx: DriverContext) {}

  checkHost(): void {
    checkNetfilter();
  }

  deviceName(id: string, isDefault: boolean): string {
    return isDefault ? this.ctx.defaultBridge : bridgeNameFor(id);
  }

  /** the subnet of the bridge's first IPv4 address (another berth root on this host made the bridge, or
   * this root's record was lost): one bridge, one subnet, instead of each root stacking a new /16 on it */
  carriedSubnet(device: string): string | undefined {
    using s = new NetlinkSocket();
    const a = observeBridge(s, device).addrs[0];
    if (!a) return undefined;
    const [ip, len] = a.split("/");
    const n = (ipToU32(ip!) & (Number(len) === 0 ? 0 : (0xffffffff << (32 - Number(len))) >>> 0)) >>> 0;
    return formatSubnet({ network: n, prefixLen: Number(len) });
  }

  ensureNetwork(host: NetlinkSocket, rec: NetworkRecord): void {
    applyOps(host, planBridge(rec, observeBridge(host, rec.bridge)));
    mark("net: bridge observed");
    ensureNat(this.ctx.natTable, rec);
  }

  planEndpoint(rec: NetworkRecord, e: { ip: string; ifName: string; mac?: string; defaultRoute: boolean; loUp?: boolean }): DriverEndpoint {
    return planEndpoint(rec, { ...e, hostVeth: hostVethName(randomBytes(4)) });
  }

  join(host: NetlinkSocket, plan: DriverEndpoint, nsPath: string): void {
    applyOps(host, plan.ops, nsPath);
  }

  leave(host: NetlinkSocket, endpoints: Pick<EndpointRecord, "hostVeth">[]): void {
    for (const { hostVeth } of endpoints) {
      // the veth may already be gone with the container's netns; deleteLinkByName says false then
      if (/^veth[0-9a-f]{7}$/.test(hostVeth)) deleteLinkByName(host, hostVeth);
    }
  }

  deleteNetwork(host: NetlinkSocket, rec: NetworkRecord, last: boolean): void {
    deleteLinkByName(host, rec.bridge);
    removeNat(this.ctx.natTable, rec.bridge);
    // the table is shared by every berth root on the host: it goes with the last network only while
    // no default bridge (which any root's default network uses) is left
    if (last && !linkByName(host, this.ctx.defaultBridge)) removeTable(this.ctx.natTable);
  }
}

registerNetworkDriver({ name: "bridge", attach: "endpoint", creatable: true, create: (ctx) => new BridgeDriver(ctx) });
