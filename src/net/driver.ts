/**
 * The network-driver contract (libnetwork's driverapi.Driver) and the registry of drivers. A driver
 * owns what a network of its kind is on the host (bridge: a Linux bridge, its NAT; macvlan would be a
 * parent link) and how one container's endpoint is made in the container's network namespace. What every
 * driver shares stays with NetworkManager (index.ts): the records and their lock, IPAM (subnets,
 * addresses, the default network's host-wide leases), port publishing and the embedded DNS names.
 *
 * Every driver says how a container attached through it gets its network namespace (`attach`):
 *   "endpoint"  a namespace of its own, with one interface per network, made by join() (bridge)
 *   "loopback"  a namespace of its own with loopback only (null: docker's `--network none`)
 *   "host"      the host's namespace (host: `--network host`)
 * The last two need no links; they are drivers so that the engine asks this table, never the mode's
 * spelling (modes.ts). `container:<ref>` is not a driver: it joins another container's namespace, and
 * modes.ts says so in the same place.
 *
 * Lifecycle of an endpoint driver's network (NetworkManager calls; records are written by the manager):
 *   network create    deviceName(id, name)            the device the record names (no device yet)
 *   every connect     ensureNetwork(host, rec)        under the store lock: the device and its NAT exist
 *                     planEndpoint(rec, e)            under the lock: names, MAC, the ops (pure)
 *                     join(host, plan, nsPath)        outside the lock: the interface in the container
 *   disconnect, exit  leave(host, endpoints)          the interfaces go (idempotent: gone already is fine)
 *   network rm        deleteNetwork(host, rec, last)  the device and its NAT; `last`: no network left
 * Errors: unavailable when the host cannot run the driver (checkHost), already_exists when a device of
 * the name exists and is not the driver's, SyscallError from netlink otherwise.
 */
import { EngineError } from "../lib/errors.ts";
import type { NetlinkSocket } from "../ffi/index.ts";
import type { NetOp } from "./ops.ts";
import type { EndpointRecord, NetworkRecord } from "./store.ts";

export type Attach = "endpoint" | "loopback" | "host";

/** settings a driver gets from the NetworkManager that creates it */
export interface DriverContext {
  /** berth's nftables table (NAT, published ports) */
  natTable: string;
  /** the default network's device (docker's --bridge) */
  defaultBridge: string;
  mtu: number;
}

export interface NetworkDriver {
  /** docker's driver name: `network ls` DRIVER, `network create --driver` */
  readonly name: string;
  readonly attach: Attach;
}

/** a driver whose containers get an interface per network (bridge; macvlan and ipvlan would be others) */
export interface EndpointDriver extends NetworkDriver {
  readonly attach: "endpoint";
  /** fail early (at container create, before anything runs) when the host cannot run this driver */
  checkHost(): void;
  /** the device a new network's record names (the default network's is the configured one) */
  deviceName(id: string, isDefault: boolean): string;
  /** the subnet `device` already carries, for a default network whose record is new to adopt */
  carriedSubnet(device: string): string | undefined;
  /** make the network's host side exist (device up with the gateway address, NAT); idempotent */
  ensureNetwork(host: NetlinkSocket, rec: NetworkRecord): void;
  /** one endpoint as plain data: the host-side name, MAC and the ops that make it */
  planEndpoint(rec: NetworkRecord, e: { ip: string; ifName: string; mac?: string; defaultRoute: boolean; loUp?: boolean }): DriverEndpoint;
  /** make a planned endpoint in the container's namespace `nsPath` */
  join(host: NetlinkSocket, plan: DriverEndpoint, nsPath: string): void;
  /** remove endpoints' interfaces; ones already gone (with their namespace) are fine */
  leave(host: NetlinkSocket, endpoints: Pick<EndpointRecord, "hostVeth">[]): void;
  /** `network rm`: the device and its rules; `last` when no network is left in this root */
  deleteNetwork(host: NetlinkSocket, rec: NetworkRecord, last: boolean): void;
}

/** what planEndpoint decided; NetworkManager records it before join() acts on it */
export interface DriverEndpoint {
  network: string;
  bridge: string;
  hostVeth: string;
  ifName: string;
  ip: string;
  prefixLen: number;
  gateway: string;
  mac: string;
  mtu: number;
  ops: NetOp[];
}

export interface NetworkDriverRegistration {
  name: string;
  attach: Attach;
  /** `network create --driver <name>` may make networks of it */
  creatable: boolean;
  /** the one network of this driver every root has without `network create` (docker's host and none);
   * its id and creation time are the root's own (NetworkStore.predefined) */
  predefined?: { network: string };
  create(ctx: DriverContext): NetworkDriver;
}

const drivers = new Map<string, NetworkDriverRegistration>();

/** called once at the end of each driver file */
export function registerNetworkDriver(r: NetworkDriverRegistration): void {
  if (drivers.has(r.name)) throw new EngineError("internal", `network driver ${JSON.stringify(r.name)}: registered twice`);
  drivers.set(r.name, r);
}

/** every registered network driver, in registration order */
export function networkDrivers(): NetworkDriverRegistration[] {
  return [...drivers.values()];
}

/**
 * The registration `network create --driver <name>` uses; docker's error for a driver it does not have
 * (invalid_argument), with the creatable ones in the hint.
 */
export function creatableDriver(name: string): NetworkDriverRegistration {
  const r = drivers.get(name);
  if (r?.creatable) return r;
  const names = networkDrivers()
    .filter((d) => d.creatable)
    .map((d) => d.name);
  throw new EngineError("invalid_argument", `plugin "${name}" not found`, {
    hint: `berth has the ${names.join(", ")} driver${names.length === 1 ? "" : "s"} only`,
  });
}

/** the registration of `name`; internal when a record names a driver this build does not have */
export function networkDriver(name: string): NetworkDriverRegistration {
  const r = drivers.get(name);
  if (!r) throw new EngineError("internal", `network driver ${JSON.stringify(name)}: not registered`);
  return r;
}

export function isEndpointDriver(d: NetworkDriver): d is EndpointDriver {
  return d.attach === "endpoint";
}
