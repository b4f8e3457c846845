/**
 * src/net — container networking: network drivers behind one contract (driver.ts: bridge/ — a Linux
 * bridge per network, veth pairs into the containers' network namespaces, outbound NAT —, null.ts and
 * host.ts for `--network none|host`; modes.ts decides what a NetworkMode means), and, the same for every
 * driver, NetworkManager's records, IPAM, published ports, and the renderers for /etc/hosts and
 * /etc/resolv.conf.
 *
 * May import: ffi (netlink, flock), lib (errors, atomic-write), oci types. Imported by: engine only.
 *
 * Invariants:
 * - Everything is configured over netlink from TypeScript: links, addresses and routes over rtnetlink
 *   (src/ffi/netlink.ts), NAT and published ports over nf_tables (src/ffi/nftables.ts). No host tools.
 * - Records live in `<root>/network/<name>.json`, changed only under the store's flock; an address is
 *   recorded before its veth exists and freed only after the veth is gone, so a crash can leak a
 *   record (reclaimed by `release`/`releaseStale`) but never hand one address out twice.
 * - The default bridge is one device for every berth root on the host: a root whose record is new
 *   adopts the subnet the bridge already carries, addresses on it are also leased host-wide
 *   (leases.ts), and berth's table stays while the default bridge exists.
 * - berth touches only its own links (the networks' bridges and the `veth*` host ends it recorded) and
 *   its own nftables table; other software's links, tables and chains are never changed.
 * - A container's netns is entered only by the main thread, only for socket(2) (ffi/netlink.ts).
 *
 * Engine usage (all synchronous except reservePorts):
 *   const nets = new NetworkManager({ root });          // root = berth's state root
 *   networkMode(mode).attach                            // what the container's NetworkMode means (modes.ts)
 *   create:   nets.checkHost(driver)                    // attach "endpoint": e.g. nf_tables usable, else a clear error
 *             await nets.reservePorts(id, specs)         // -p/-P, BEFORE the container starts: port in use → error
 *   beforeStart(pid) hook (PID 1 waits before exec):
 *     "endpoint":        const ep = nets.connect(pid, name, { containerId: id, ip?, mac? })
 *                        → { ip, mac, gateway, prefixLen, subnet, bridge, hostVeth, ifName, ports }
 *     "loopback" (none): nothing (the runtime brings lo up; nets.setupNone(pid) does it for another netns)
 *     "host", "container": nothing (the runtime shares that namespace)
 *   start failed after reservePorts/connect, `rm`, or the monitor died: nets.release(id) (idempotent)
 *   engine start-up / `network prune`: nets.releaseStale((id) => containerExists(id))
 *   /etc/hosts, /etc/resolv.conf, --link variables: renderHosts, renderResolvConf, linkEnv (pure)
 */
// The drivers: each file registers itself (driver.ts). Keep these specifiers string literals so
// `bun build --compile` bundles them; a new driver is its file plus one line here. They come first:
// registration order is the order drivers are listed in.
import "./bridge/driver.ts";
import "./null.ts";
import "./host.ts";
import { randomBytes } from "../lib/ids.ts";
import { mark } from "../lib/trace.ts";
import { statSync } from "node:fs";
import { join } from "node:path";
import { EngineError, SyscallError, wrap } from "../lib/errors.ts";
import { NetlinkSocket, RT_TABLE_MAIN, listAddrs, listRoutes } from "../ffi/index.ts";
import { applyOps } from "./ops.ts";
import {
  allocate,
  chooseSubnet,
  broadcastOf,
  contains,
  defaultGateway,
  findOverlap,
  formatSubnet,
  ipToU32,
  parseSubnet,
  poolSubnets,
  type Subnet,
} from "./ipam.ts";
import { DEFAULT_TABLE, addPorts, removePorts, type PortMapping } from "./nat.ts";
import { collides, type PortBinding, type PortSpec } from "./ports.ts";
import { NetworkStore, type NetworkRecord } from "./store.ts";
import { claimLease, dropLeases, LEASE_DIR } from "./leases.ts";
import { isEndpointDriver, networkDriver, type DriverContext, type DriverEndpoint, type EndpointDriver, type NetworkDriver } from "./driver.ts";
import { DEFAULT_NETWORK, isReservedNetworkName } from "./modes.ts";
import { planLoopback } from "./null.ts";

export type { NetworkRecord, EndpointRecord } from "./store.ts";
export { endpointId } from "./store.ts";
export type { NetOp } from "./ops.ts";
export type { EndpointPlan } from "./bridge/plan.ts";
export {
  registerNetworkDriver,
  networkDrivers,
  creatableDriver,
  networkDriver,
  type NetworkDriver,
  type EndpointDriver,
  type NetworkDriverRegistration,
  type DriverContext,
  type DriverEndpoint,
  type Attach,
} from "./driver.ts";
export { DEFAULT_NETWORK, networkMode, joinsNetworks, predefinedNetworks, isReservedNetworkName, type NetworkMode } from "./modes.ts";
export {
  renderHosts,
  renderResolvConf,
  parseAddHost,
  withHostsEntry,
  withoutHostsEntry,
  linkEnv,
  type LinkEnvInput,
  type HostsInput,
  type HostEntry,
  type LinkEntry,
  type ResolvOptions,
} from "./hosts.ts";
export { parseSubnet, parseAddressPools, formatSubnet, macFromIp } from "./ipam.ts";
export { parsePortSpec, specsFromExposed, formatPortBinding, bindingAddrs, hostPortText, type PortSpec, type PortBinding, type Proto } from "./ports.ts";
export { startDnsServer, startDnsRelay, bindDnsRelaySocket, EMBEDDED_DNS_IP, type DnsServer, type DnsServerOptions } from "./dns.ts";

/** docker's default network is a bridge network */
export const DEFAULT_NETWORK_DRIVER = "bridge";
export const DEFAULT_BRIDGE = "berth0";
export const DEFAULT_MTU = 1500;

function mappings(bs: PortBinding[], target: string): PortMapping[] {
  return bs.map((b) => ({ hostIp: b.hostIp, hostPort: b.hostPort, proto: b.proto, target, containerPort: b.containerPort }));
}

function portTaken(b: PortBinding): EngineError {
  return new EngineError("already_exists", `bind for ${b.hostIp || "0.0.0.0"}:${b.hostPort}/${b.proto} failed: port is already allocated`);
}

/** bind the spec's host address and port (0 = let the kernel pick); the socket is returned open */
async function probePort(spec: PortSpec): Promise<{ port: number; sock: { close(): void } }> {
  const hostname = spec.hostIp || "0.0.0.0";
  try {
    if (spec.proto === "udp") {
      const u = await Bun.udpSocket({ hostname, port: spec.hostPort });
      return { port: u.port, sock: { close: () => u.close() } };
    }
    const l = Bun.listen({ hostname, port: spec.hostPort, socket: { data() {} } });
    return { port: l.port, sock: { close: () => l.stop(true) } };
  } catch (e) {
    const code = (e as { code?: string }).code;
    if (code === "EADDRINUSE") throw portTaken({ ...spec });
    if (code === "EADDRNOTAVAIL")
      throw new EngineError("invalid_argument", `host address ${spec.hostIp} of published port ${spec.hostPort} is not an address of this host`);
    throw wrap(`bind ${hostname}:${spec.hostPort}/${spec.proto}`, e);
  }
}

export interface NetworkManagerOptions {
  /** berth's state root; records go to <root>/network */
  root: string;
  /** bridge device of the default network (tests pass a unique name) */
  defaultBridge?: string;
  /** force the default network's subnet instead of choosing one from the pools */
  defaultSubnet?: string;
  /** nftables table holding berth's rules */
  natTable?: string;
  /** host-wide leases of default-bridge addresses (tests pass a temp dir) */
  leaseDir?: string;
  mtu?: number;
  /** where user networks without --subnet get theirs (docker's default-address-pools); default docker's */
  addressPools?: { base: Subnet; size: number }[];
}

export interface ConnectOptions {
  /** full 64-hex container id; recorded with the address */
  containerId: string;
  /** --ip */
  ip?: string;
  /** --mac-address; default derived from the IP like docker's 02:42:… */
  mac?: string;
  /** interface name in the container; default the lowest free eth<N> */
  ifName?: string;
  /** names resolvable on this network by the embedded DNS (user networks): name, aliases, short id */
  names?: string[];
  /** the namespace's lo is up already (berth's shim made it): no need to set it up again */
  loUp?: boolean;
}

export interface Endpoint {
  network: string;
  ip: string;
  mac: string;
  gateway: string;
  prefixLen: number;
  subnet: string;
  bridge: string;
  hostVeth: string;
  ifName: string;
  /** published ports now forwarded to this endpoint (only on the container's first bridge network) */
  ports: PortBinding[];
  /** the network's id and driver as its record had them (docker's network events name them) */
  networkId?: string;
  networkDriver?: string;
}

/** an endpoint prepared (address recorded, bridge and NAT there) and not yet joined: NetworkManager.prepare */
export type PreparedEndpoint = DriverEndpoint & { subnet: string; internal?: boolean; driver: EndpointDriver; networkId?: string; networkDriver?: string };

export interface CreateNetworkOptions {
  subnet?: string;
  gateway?: string;
  internal?: boolean;
  /** a registered driver whose containers get endpoints (default bridge) */
  driver?: string;
  labels?: Record<string, string>;
  attachable?: boolean;
}

export class NetworkManager {
  readonly store: NetworkStore;
  private readonly defaultBridge: string;
  private readonly table: string;
  private readonly mtu: number;
  private readonly leaseDir: string;
  private readonly drivers = new Map<string, NetworkDriver>();

  constructor(private readonly opts: NetworkManagerOptions) {
    this.leaseDir = opts.leaseDir ?? LEASE_DIR;
    this.store = new NetworkStore(opts.root);
    this.defaultBridge = opts.defaultBridge ?? DEFAULT_BRIDGE;
    this.table = opts.natTable ?? DEFAULT_TABLE;
    this.mtu = opts.mtu ?? DEFAULT_MTU;
  }

  /** the driver instance for `name` (one per manager, made on first use with this manager's settings) */
  driver(name: string): NetworkDriver {
    let d = this.drivers.get(name);
    if (!d) {
      const ctx: DriverContext = { natTable: this.table, defaultBridge: this.defaultBridge, mtu: this.mtu };
      d = networkDriver(name).create(ctx);
      this.drivers.set(name, d);
    }
    return d;
  }

  /** the driver of a network that containers join (internal error for a record naming another kind) */
  private endpointDriver(name: string): EndpointDriver {
    const d = this.driver(name);
    if (!isEndpointDriver(d)) throw new EngineError("internal", `network driver ${JSON.stringify(name)} makes no endpoints`);
    return d;
  }

  /** fail early (before any container starts) when `driver`'s networks cannot work on this host */
  checkHost(driver = DEFAULT_NETWORK_DRIVER): void {
    this.endpointDriver(driver).checkHost();
  }

  list(): NetworkRecord[] {
    return this.store.list();
  }

  /** throws not_found */
  inspect(name: string): NetworkRecord {
    const rec = name === DEFAULT_NETWORK ? this.store.withLock(() => this.defaultLocked()) : this.store.get(name);
    if (!rec) throw new EngineError("not_found", `network ${name} not found`);
    return rec;
  }

  /** `network create`: record only; the bridge appears on first connect. Throws already_exists, invalid_argument, failed_precondition. */
  create(name: string, o: CreateNetworkOptions = {}): NetworkRecord {
    if (isReservedNetworkName(name)) throw new EngineError("invalid_argument", `network name "${name}" is reserved`);
    const id = randomBytes(32).toString("hex");
    const driver = o.driver ?? DEFAULT_NETWORK_DRIVER;
    return this.store.withLock(() => {
      if (this.store.get(name)) throw new EngineError("already_exists", `network with name ${name} already exists`);
      return this.newRecordLocked(name, id, driver, o);
    });
  }

  /**
   * Connect the container whose PID 1 is `pid` to `network`: allocate an address, make sure the bridge
   * and NAT exist, create the veth pair with its peer in /proc/<pid>/ns/net, configure it. On failure
   * everything this call made is undone and the first error is thrown.
   */
  connect(pid: number, network: string, o: ConnectOptions): Endpoint {
    this.refuseHostNetns(`/proc/${pid}/ns/net`, pid);
    return this.join(pid, this.prepare(network, o), o);
  }

  /**
   * connect()'s first half, which needs no process yet: the address allocated and recorded, the bridge
   * and NAT made sure of (a start does it before its clone, so that the child's mounts overlap the
   * join). An endpoint prepared and never joined is freed like any other: disconnect, rm, releaseStale.
   */
  prepare(network: string, o: ConnectOptions): PreparedEndpoint {
    using host = new NetlinkSocket();
    return this.store.withLock(() => {
      mark("net: locked");
      const rec = network === DEFAULT_NETWORK ? this.defaultLocked() : this.store.get(network);
      mark("net: record read");
      if (!rec) throw new EngineError("not_found", `network ${network} not found`);
      // eth0 on the first network, eth1 on the second…: the lowest name this container does not use yet
      const others = this.store.list().filter((r) => r.name !== rec.name);
      const used = new Set(
        others.flatMap((r) =>
          Object.values(r.endpoints)
            .filter((e) => e.containerId === o.containerId)
            .map((e) => e.ifName),
        ),
      );
      let ifName = o.ifName;
      for (let i = 0; ifName === undefined; i++) if (!used.has(`eth${i}`)) ifName = `eth${i}`;
      if (Object.values(rec.endpoints).some((e) => e.containerId === o.containerId)) {
        throw new EngineError("already_exists", `container ${o.containerId.slice(0, 12)} is already connected to network ${network}`);
      }
      const driver = this.endpointDriver(rec.driver);
      driver.ensureNetwork(host, rec);
      sweepLingering(driver, host, rec, Date.now() - LINGER_MS);
      mark("net: bridge, NAT checked");
      const ip = this.allocateLocked(rec, o.containerId, o.ip);
      const hasGateway = [rec, ...others].some((r) => !r.internal && Object.values(r.endpoints).some((e) => e.containerId === o.containerId));
      const p = driver.planEndpoint(rec, { ip, ifName, ...(o.mac ? { mac: o.mac } : {}), defaultRoute: !hasGateway, loUp: o.loUp });
      rec.endpoints[ip] = {
        containerId: o.containerId,
        // docker's EndpointID: 64 hex, new with every connect (each start)
        id: randomBytes(32).toString("hex"),
        hostVeth: p.hostVeth,
        ifName,
        mac: p.mac,
        ...(o.names?.length ? { names: o.names } : {}),
      };
      this.store.put(rec, false);
      mark("net: address recorded");
      return { ...p, subnet: rec.subnet, internal: rec.internal, driver, networkId: rec.id, networkDriver: rec.driver };
    });
  }

  /** connect()'s second half: the prepared endpoint's veth into /proc/<pid>/ns/net, configured; its ports */
  join(pid: number, plan: PreparedEndpoint, o: ConnectOptions): Endpoint {
    const nsPath = `/proc/${pid}/ns/net`;
    const network = plan.network;
    using host = new NetlinkSocket();
    let ports: PortBinding[] = [];
    try {
      plan.driver.join(host, plan, nsPath);
      mark("net: endpoint joined");
      if (!plan.internal) ports = this.forwardPorts(o.containerId, plan.ip);
    } catch (e) {
      const err = wrap(`connect container ${o.containerId.slice(0, 12)} to network ${network}`, e);
      const cleanup: unknown[] = [];
      try {
        plan.driver.leave(host, [plan]);
      } catch (c) {
        cleanup.push(c);
      }
      try {
        this.freeLocked(network, (ip, ep) => ip === plan.ip && ep.containerId === o.containerId);
      } catch (c) {
        cleanup.push(c);
      }
      if (cleanup.length) throw new AggregateError([err, ...cleanup], `${err.message}. error during cleanup: ${cleanup.map(String).join("; ")}`);
      throw err;
    }
    const { ops: _ops, internal: _internal, driver: _driver, ...ep } = plan;
    return { ...ep, ports };
  }

  /**
   * Reserve host ports for `containerId` before its container starts: random ports are picked, each
   * port is test-bound on the host (a listener already there → refused), and checked against every
   * other container's reservation (berth's DNAT is invisible to bind(2)). The probe sockets stay open
   * until the reservation is recorded, so two concurrent runs cannot be handed the same random port.
   * Throws already_exists naming the port. connect() later points the ports at the container.
   */
  async reservePorts(containerId: string, specs: PortSpec[]): Promise<PortBinding[]> {
    if (specs.length === 0) return [];
    const probes: { close(): void }[] = [];
    try {
      const bindings: PortBinding[] = [];
      for (const spec of specs) {
        const { port, sock } = await probePort(spec);
        probes.push(sock);
        bindings.push({ ...spec, hostPort: port });
      }
      for (let i = 0; i < bindings.length; i++) {
        for (let j = 0; j < i; j++) if (collides(bindings[i]!, bindings[j]!)) throw portTaken(bindings[i]!);
      }
      this.store.withLock(() => {
        const all = this.store.getPorts();
        for (const [id, r] of Object.entries(all)) {
          if (id === containerId) continue;
          for (const b of bindings) if (r.bindings.some((x) => collides(x, b))) throw portTaken(b);
        }
        all[containerId] = { bindings: [...(all[containerId]?.bindings ?? []), ...bindings] };
        this.store.putPorts(all);
      });
      return bindings;
    } finally {
      for (const p of probes) p.close();
    }
  }

  /** `berth port`: the container's published ports */
  ports(containerId: string): PortBinding[] {
    return this.store.getPorts()[containerId]?.bindings ?? [];
  }

  /** `--network none` (the null driver) for the namespace of `pid`: loopback up, nothing else */
  setupNone(pid: number): void {
    const nsPath = `/proc/${pid}/ns/net`;
    this.refuseHostNetns(nsPath, pid);
    using host = new NetlinkSocket();
    applyOps(host, planLoopback(), nsPath);
  }

  /**
   * take the container off one network: host veth deleted (its peer goes with it), address freed.
   * `exited`: the container's processes are all gone (its exit, a failed start), so its network
   * namespace dies and the kernel deletes the pair itself; the veth is only noted (`lingering`)
   */
  disconnect(containerId: string, network: string, o: { exited?: boolean } = {}, known?: NetworkRecord): void {
    // (`known`: the record as the caller just read it; freeLocked reads it again under the lock)
    const rec = known ?? (network === DEFAULT_NETWORK ? this.store.withLock(() => this.defaultLocked()) : this.store.get(network));
    if (!rec) throw new EngineError("not_found", `network ${network} not found`);
    const eps = Object.values(rec.endpoints).filter((e) => e.containerId === containerId);
    if (eps.length === 0) throw new EngineError("not_found", `container ${containerId.slice(0, 12)} is not connected to network ${network}`);
    this.unforwardPorts(
      containerId,
      Object.keys(rec.endpoints).filter((ip) => rec.endpoints[ip]!.containerId === containerId),
    );
    if (!o.exited) this.leave(rec, eps);
    this.freeLocked(network, (_, ep) => ep.containerId === containerId, o.exited ? eps.map((e) => e.hostVeth) : []);
  }

  /** the embedded DNS names of `containerId` on every network: `rename(old)` returns the new list (container rename) */
  renameEndpoints(containerId: string, rename: (names: string[]) => string[]): void {
    this.store.withLock(() => {
      for (const rec of this.store.list()) {
        let changed = false;
        for (const ep of Object.values(rec.endpoints)) {
          if (ep.containerId !== containerId || !ep.names) continue;
          ep.names = rename(ep.names);
          changed = true;
        }
        if (changed) this.store.put(rec, false);
      }
    });
  }

  /** everything `containerId` holds on every network (container removal, crash recovery); idempotent */
  release(containerId: string): void {
    this.releaseWhere((id) => id === containerId);
  }

  /** release endpoints whose container is no longer known to the engine */
  releaseStale(isKnown: (containerId: string) => boolean): void {
    this.releaseWhere((id) => !isKnown(id));
  }

  /**
   * `network rm`: refused while containers are connected; the driver deletes what the network is on the
   * host (bridge: the device, the network's NAT chains, and berth's table with the last network).
   */
  remove(name: string): void {
    using host = new NetlinkSocket();
    this.store.withLock(() => {
      const rec = this.store.get(name);
      if (!rec) throw new EngineError("not_found", `network ${name} not found`);
      const n = Object.keys(rec.endpoints).length;
      if (n > 0)
        throw new EngineError("failed_precondition", `network ${name} has ${n} active endpoint${n === 1 ? "" : "s"}`, {
          hint: "remove or disconnect its containers first",
        });
      sweepLingering(this.endpointDriver(rec.driver), host, rec, Infinity);
      this.endpointDriver(rec.driver).deleteNetwork(
        host,
        rec,
        this.store.list().every((r) => r.name === name),
      );
      this.store.remove(name);
    });
  }

  /** `network prune`: remove every user network without endpoints; returns their names */
  /** remove the unused networks that `match` selects (docker's prune filters) */
  prune(match: (rec: NetworkRecord) => boolean = () => true): string[] {
    const removed: string[] = [];
    for (const rec of this.store.list()) {
      if (rec.name === DEFAULT_NETWORK || Object.keys(rec.endpoints).length > 0 || !match(rec)) continue;
      try {
        this.remove(rec.name);
        removed.push(rec.name);
      } catch (e) {
        if (!(e instanceof EngineError && (e.kind === "failed_precondition" || e.kind === "not_found"))) throw e; // raced with a connect or another prune
      }
    }
    return removed;
  }

  // ------------------------------------------------------------------------------------------------

  private releaseWhere(match: (containerId: string) => boolean): void {
    this.unpublishWhere(match);
    const victims = this.store.list().flatMap((rec) =>
      Object.values(rec.endpoints)
        .filter((e) => match(e.containerId))
        .map((e) => ({ rec, e })),
    );
    if (victims.length === 0) return;
    // links first, addresses second: an address is never free while a veth could still carry it
    for (const rec of new Set(victims.map((v) => v.rec)))
      this.leave(
        rec,
        victims.filter((v) => v.rec === rec).map((v) => v.e),
      );
    for (const name of new Set(victims.map((v) => v.rec.name))) this.freeLocked(name, (_, ep) => match(ep.containerId));
  }

  /** point a reservation's ports at `ip` (first bridge network wins; later connects leave them) */
  private forwardPorts(containerId: string, ip: string): PortBinding[] {
    return this.store.withLock(() => {
      const all = this.store.getPorts();
      const r = all[containerId];
      if (!r || r.target) return [];
      try {
        addPorts(this.table, mappings(r.bindings, ip));
      } catch (e) {
        // the map already has the key: another berth root on this host publishes the same port
        if (e instanceof SyscallError && e.code === "EEXIST") {
          const list = r.bindings.map((b) => `${b.hostIp || "0.0.0.0"}:${b.hostPort}/${b.proto}`).join(", ");
          throw new EngineError("already_exists", `bind for ${list} failed: a port is already published by another berth root on this host`, { cause: e });
        }
        throw e;
      }
      r.target = ip;
      this.store.putPorts(all);
      return r.bindings;
    });
  }

  /** the ports stop pointing at `ips` (disconnect); the reservation stays for a later connect */
  private unforwardPorts(containerId: string, ips: string[]): void {
    this.store.withLock(() => {
      const all = this.store.getPorts();
      const r = all[containerId];
      if (!r?.target || !ips.includes(r.target)) return;
      removePorts(this.table, mappings(r.bindings, r.target));
      delete r.target;
      this.store.putPorts(all);
    });
  }

  private unpublishWhere(match: (containerId: string) => boolean): void {
    this.store.withLock(() => {
      const all = this.store.getPorts();
      const ids = Object.keys(all).filter(match);
      if (ids.length === 0) return;
      for (const id of ids) {
        const r = all[id]!;
        if (r.target) removePorts(this.table, mappings(r.bindings, r.target));
        delete all[id];
      }
      this.store.putPorts(all);
    });
  }

  /** the endpoints' interfaces go, through the network's driver */
  private leave(rec: NetworkRecord, eps: NetworkRecord["endpoints"][string][]): void {
    using host = new NetlinkSocket();
    this.endpointDriver(rec.driver).leave(host, eps);
  }

  private freeLocked(network: string, match: (ip: string, ep: NetworkRecord["endpoints"][string]) => boolean, linger: string[] = []): void {
    this.store.withLock(() => {
      const rec = this.store.get(network);
      if (!rec) return;
      const freed: { ip: string; containerId: string }[] = [];
      for (const [ip, ep] of Object.entries(rec.endpoints)) {
        if (match(ip, ep)) {
          delete rec.endpoints[ip];
          freed.push({ ip, containerId: ep.containerId });
        }
      }
      if (freed.length === 0) return;
      if (linger.length) {
        const at = Date.now();
        rec.lingering = [...(rec.lingering ?? []), ...linger.map((hostVeth) => ({ hostVeth, at }))];
      }
      this.store.put(rec, false);
      if (rec.name === DEFAULT_NETWORK) dropLeases(rec.bridge, freed, this.opts.root, this.leaseDir);
    });
  }

  /**
   * The lowest free address (or --ip) of `rec`, under the store lock. On the default network the
   * address must also be free of other berth roots sharing the bridge (leases.ts).
   */
  private allocateLocked(rec: NetworkRecord, containerId: string, requested?: string): string {
    const subnet = parseSubnet(rec.subnet);
    const elsewhere: string[] = [];
    for (;;) {
      const ip = allocate(subnet, rec.gateway, [...Object.keys(rec.endpoints), ...elsewhere], requested);
      if (rec.name !== DEFAULT_NETWORK) return ip;
      if (claimLease(rec.bridge, ip, { root: this.opts.root, containerId }, (root) => join(root, "network", `${DEFAULT_NETWORK}.json`), this.leaseDir))
        return ip;
      if (requested)
        throw new EngineError("already_exists", `address ${ip} is already in use on ${rec.subnet} (by another berth root sharing bridge ${rec.bridge})`);
      elsewhere.push(ip);
    }
  }

  /**
   * The default network's record, created on first use: the subnet is chosen against the host's routes
   * — unless the bridge device already carries an address (another berth root on this host made it,
   * or this root's record was lost), whose subnet is adopted: one bridge, one subnet, instead of each
   * root stacking a new /16 on the shared bridge.
   */
  private defaultLocked(): NetworkRecord {
    const rec = this.store.get(DEFAULT_NETWORK);
    if (rec) return rec;
    const driver = this.endpointDriver(DEFAULT_NETWORK_DRIVER);
    const id = randomBytes(32).toString("hex");
    let adopted = driver.carriedSubnet(driver.deviceName(id, true));
    if (adopted && this.opts.defaultSubnet && this.opts.defaultSubnet !== adopted) adopted = undefined;
    return this.newRecordLocked(DEFAULT_NETWORK, id, DEFAULT_NETWORK_DRIVER, { subnet: adopted ?? this.opts.defaultSubnet }, adopted !== undefined);
  }

  private newRecordLocked(name: string, id: string, driverName: string, o: CreateNetworkOptions, adopt = false): NetworkRecord {
    const bridge = this.endpointDriver(driverName).deviceName(id, name === DEFAULT_NETWORK);
    const routes = adopt ? [] : this.hostRoutes();
    const others = this.store.list().map((r) => ({ name: r.name, subnet: parseSubnet(r.subnet) }));
    let subnet;
    if (o.subnet) {
      subnet = parseSubnet(o.subnet);
      const clash = findOverlap(subnet, routes, others);
      if (clash) throw new EngineError("failed_precondition", `subnet ${o.subnet} overlaps ${clash}`);
    } else {
      subnet = chooseSubnet(
        routes,
        others.map((x) => x.subnet),
        this.opts.addressPools?.length && name !== DEFAULT_NETWORK ? poolSubnets(this.opts.addressPools) : undefined,
      );
    }
    let gateway = defaultGateway(subnet);
    if (o.gateway) {
      const g = ipToU32(o.gateway);
      if (!contains(subnet, g) || g === subnet.network || g === broadcastOf(subnet)) {
        throw new EngineError("invalid_argument", `gateway ${o.gateway} is not a host address of subnet ${formatSubnet(subnet)}`);
      }
      gateway = o.gateway;
    }
    const rec: NetworkRecord = {
      name,
      id,
      driver: driverName,
      bridge,
      subnet: formatSubnet(subnet),
      gateway,
      internal: o.internal ?? false,
      mtu: this.mtu,
      createdAt: new Date().toISOString(),
      ...(o.labels && Object.keys(o.labels).length ? { labels: { ...o.labels } } : {}),
      ...(o.attachable ? { attachable: true } : {}),
      endpoints: {},
    };
    this.store.put(rec);
    return rec;
  }

  /**
   * Prefixes in use on the host: main-table route destinations plus the subnet of every IPv4 address
   * (an address on a link that is down has no route yet, but will when the link comes up — docker0
   * without containers is the usual case). berth's own bridges match their own records anyway.
   */
  private hostRoutes(): string[] {
    using s = new NetlinkSocket();
    const routes = listRoutes(s)
      .filter((r) => r.table === RT_TABLE_MAIN)
      .map((r) => r.dst);
    const addrs = listAddrs(s)
      .filter((a) => a.address && a.prefixLen > 0)
      .map((a) => `${a.address}/${a.prefixLen}`);
    return [...routes, ...addrs];
  }

  /** configuring "the container" in berth's own netns would rewrite the host's network */
  private refuseHostNetns(nsPath: string, pid: number): void {
    let target;
    try {
      target = statSync(nsPath);
    } catch {
      // rethrown as not_found: the process (and with it its namespace) is gone
      throw new EngineError("not_found", `network namespace of pid ${pid} not found (${nsPath})`);
    }
    const own = statSync("/proc/self/ns/net");
    if (target.ino === own.ino && target.dev === own.dev) {
      throw new EngineError("failed_precondition", `pid ${pid} shares berth's network namespace; refusing to configure it as a container`);
    }
  }
}

/** how long an exited container's veth is left to the kernel before a connect deletes it (see NetworkRecord.lingering) */
const LINGER_MS = 2000;

/** delete the lingering veths noted before `before` (still there: their namespace is kept open); the caller writes `rec` */
function sweepLingering(driver: EndpointDriver, host: NetlinkSocket, rec: NetworkRecord, before: number): void {
  if (!rec.lingering?.length) return;
  const old = rec.lingering.filter((l) => l.at <= before);
  if (old.length === 0) return;
  driver.leave(host, old);
  const left = rec.lingering.filter((l) => l.at > before);
  if (left.length) rec.lingering = left;
  else delete rec.lingering;
}
