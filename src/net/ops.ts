/**
 * The imperative half of "plan, then act" (STYLE §5) for every network driver: the NetOp vocabulary the
 * drivers' planners emit (bridge/plan.ts, null.ts) and applyOps, which performs a list over rtnetlink.
 * Host ops go through a socket in berth's own netns; `ns-*` ops through a socket opened inside the
 * container's netns (openSocketInNetns: the main thread enters the netns only for socket(2), see
 * src/ffi/netlink.ts).
 */
import { closeSync, openSync, writeFileSync } from "node:fs";
import { EngineError, SyscallError } from "../lib/errors.ts";
import { type NetlinkSocket, addAddress, addRoute, createBridge, createVethPair, openSocketInNetns, requireLink, setMac, setUp } from "../ffi/index.ts";

export type NetOp =
  /** host: a Linux bridge */
  | { op: "create-bridge"; bridge: string; mtu: number; mac: string }
  /** host: pin the bridge's MAC (a bridge made before berth pinned it, or by someone else) */
  | { op: "bridge-mac"; bridge: string; mac: string }
  /** host: the gateway address on the bridge */
  | { op: "bridge-address"; bridge: string; cidr: string }
  /** host: set a link up */
  | { op: "host-up"; name: string }
  /** host: let a bridge port send frames back out the port they came in on (a container reaching
   *  its own published port through a host address; with br_netfilter that frame is bridged) */
  | { op: "hairpin"; name: string }
  /** host: veth pair; the peer is created directly in the container netns, named ifName; the host end up */
  | { op: "create-veth"; hostVeth: string; ifName: string; mac: string; mtu: number; bridge: string }
  /** container netns: set a link up */
  | { op: "ns-up"; name: string }
  /** container netns: address on a link */
  | { op: "ns-address"; name: string; cidr: string }
  /** container netns: default route */
  | { op: "ns-default-route"; gateway: string; name: string };

const isExists = (e: unknown) => e instanceof SyscallError && e.code === "EEXIST";

/**
 * Apply `ops` in order. `netnsPath` is the container's /proc/<pid>/ns/net; it is opened lazily, only
 * when an op needs it. EEXIST on the bridge and its address is tolerated (a concurrent run made them);
 * everything else propagates.
 */
export function applyOps(host: NetlinkSocket, ops: NetOp[], netnsPath?: string): void {
  let ns: NetlinkSocket | undefined;
  const inNs = () => {
    if (!netnsPath) throw new EngineError("internal", "network plan needs a container network namespace");
    return (ns ??= openSocketInNetns(netnsPath));
  };
  // a link's index, looked up once per socket for the whole list (a veth's peer is made by name in
  // the netns: each ns-op would ask for the same index again)
  const indexes = new Map<NetlinkSocket, Map<string, number>>();
  const index = (s: NetlinkSocket, name: string): number => {
    let m = indexes.get(s);
    if (!m) indexes.set(s, (m = new Map()));
    let i = m.get(name);
    if (i === undefined) m.set(name, (i = requireLink(s, name).index));
    return i;
  };
  try {
    for (const op of ops) {
      switch (op.op) {
        case "create-bridge":
          try {
            createBridge(host, op.bridge, { mtu: op.mtu, mac: op.mac });
          } catch (e) {
            if (!isExists(e)) throw e;
          }
          break;
        case "bridge-mac":
          setMac(host, index(host, op.bridge), op.mac);
          break;
        case "bridge-address":
          try {
            addAddress(host, index(host, op.bridge), op.cidr);
          } catch (e) {
            if (!isExists(e)) throw e;
          }
          break;
        case "hairpin":
          // sysfs rather than RTM_SETLINK/IFLA_PROTINFO (AF_BRIDGE): one write, same kernel switch
          // (br_sysfs_if.c hairpin_mode ↔ IFLA_BRPORT_MODE)
          writeFileSync(`/sys/class/net/${op.name}/brport/hairpin_mode`, "1");
          break;
        case "host-up":
          setUp(host, index(host, op.name));
          break;
        case "create-veth": {
          const master = index(host, op.bridge);
          if (!netnsPath) throw new EngineError("internal", "veth plan needs a container network namespace");
          const fd = openSync(netnsPath, "r");
          try {
            // the host end up as it is made (its peer cannot be: veth_open refuses ENOTCONN until the
            // pair is linked, after the peer's own configuration)
            createVethPair(host, op.hostVeth, op.ifName, { netnsFd: fd, mac: op.mac, mtu: op.mtu }, { mtu: op.mtu, master, up: true });
          } finally {
            closeSync(fd);
          }
          break;
        }
        case "ns-up": {
          const s = inNs();
          setUp(s, index(s, op.name));
          break;
        }
        case "ns-address": {
          const s = inNs();
          addAddress(s, index(s, op.name), op.cidr);
          break;
        }
        case "ns-default-route": {
          const s = inNs();
          addRoute(s, { gateway: op.gateway, oif: index(s, op.name) });
          break;
        }
      }
    }
  } finally {
    ns?.close();
  }
}
