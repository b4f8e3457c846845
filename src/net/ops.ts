/**
 * The imperative half of "plan, then act" (STYLE §5) for every network driver: the NetOp vocabulary the
 * drivers' planners emit (bridge/plan.ts, null.ts) and applyOps, which performs a list over rtnetlink.
 * Host ops go through a socket in berth's own netns; `ns-*` ops through a socket opened inside the
 * container's netns (withNetns: the main thread enters the netns only for socket(2) and, for an
 * IPv4-only veth, the open(2) of its default disable_ipv6; see src/ffi/netlink.ts).
 */
import { closeSync, openSync, readSync, writeFileSync, writeSync } from "node:fs";
import { EngineError, SyscallError } from "../lib/errors.ts";
import { NetlinkSocket, addAddress, addRoute, createBridge, createVethPair, requireLink, setMac, setUp, withNetns } from "../ffi/index.ts";

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
  /** host: veth pair; the peer is created directly in the container netns, named ifName; the host end up.
   *  `ipv6: false`: IPv6 off on the peer (disable_ipv6), as docker has it on an IPv4-only network */
  | { op: "create-veth"; hostVeth: string; ifName: string; mac: string; mtu: number; bridge: string; ipv6?: boolean }
  /** container netns: set a link up */
  | { op: "ns-up"; name: string }
  /** container netns: address on a link */
  | { op: "ns-address"; name: string; cidr: string }
  /** container netns: default route */
  | { op: "ns-default-route"; gateway: string; name: string };

const isExists = (e: unknown) => e instanceof SyscallError && e.code === "EEXIST";

const DEFAULT_DISABLE_IPV6 = "/proc/sys/net/ipv6/conf/default/disable_ipv6";

/**
 * Apply `ops` in order. `netnsPath` is the container's /proc/<pid>/ns/net; it is opened lazily, only
 * when an op needs it. EEXIST on the bridge and its address is tolerated (a concurrent run made them);
 * everything else propagates.
 */
export function applyOps(host: NetlinkSocket, ops: NetOp[], netnsPath?: string): void {
  let ns: NetlinkSocket | undefined;
  // the namespace's net.ipv6.conf.default.disable_ipv6, open for writing, and its value (null: a kernel
  // without IPv6 or a sysctl we may not write, nothing to turn off). A /proc/sys/net file belongs to the
  // namespace it was opened in
  let v6: { fd: number; was: string } | null | undefined;
  // one trip into the namespace for what the list needs there: its rtnetlink socket, and with an IPv4-only
  // veth that file
  const enter = (wantV6: boolean) => {
    if (!netnsPath) throw new EngineError("internal", "network plan needs a container network namespace");
    if (ns && (!wantV6 || v6 !== undefined)) return;
    const had = ns;
    const made = withNetns(
      netnsPath,
      () => {
        const s = had ?? new NetlinkSocket();
        if (!wantV6 || v6 !== undefined) return { s, fd: undefined };
        try {
          return { s, fd: openSync(DEFAULT_DISABLE_IPV6, "r+") };
        } catch (e) {
          // no IPv6 in this kernel (ENOENT), or a /proc/sys this process may not write (EROFS under a
          // read-only /proc/sys, EACCES): the interface keeps IPv6 rather than the start failing
          const code = (e as NodeJS.ErrnoException).code;
          if (code === "ENOENT" || code === "EROFS" || code === "EACCES" || code === "EPERM") return { s, fd: null };
          if (!had) s.close();
          throw e;
        }
      },
      (m) => {
        if (!had) m.s.close();
        if (typeof m.fd === "number") closeSync(m.fd);
      },
    );
    ns = made.s;
    if (made.fd === null) v6 = null;
    else if (made.fd !== undefined) {
      const buf = Buffer.alloc(8);
      v6 = { fd: made.fd, was: buf.toString("latin1", 0, readSync(made.fd, buf, 0, buf.length, 0)).trim() || "0" };
    }
  };
  const inNs = () => {
    enter(false);
    return ns!;
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
          // docker (libnetwork's setIPv6 of an interface without an IPv6 address) turns IPv6 off on the
          // container's interface of an IPv4-only network. Set through the namespace's default while
          // the peer is made, the interface is born with it: the kernel never gives it a link-local
          // address, never runs DAD or MLD on it (and lo, which exists already, keeps ::1)
          if (op.ipv6 === false) enter(true);
          const dflt = op.ipv6 === false ? v6 : undefined;
          const fd = openSync(netnsPath, "r");
          try {
            if (dflt) writeSync(dflt.fd, "1", 0); // at offset 0 each time: a sysctl ignores a write further in
            // the host end up as it is made (its peer cannot be: veth_open refuses ENOTCONN until the
            // pair is linked, after the peer's own configuration)
            createVethPair(host, op.hostVeth, op.ifName, { netnsFd: fd, mac: op.mac, mtu: op.mtu }, { mtu: op.mtu, master, up: true });
          } finally {
            closeSync(fd);
            if (dflt) writeSync(dflt.fd, dflt.was, 0);
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
    if (v6) closeSync(v6.fd);
  }
}
