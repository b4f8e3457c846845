/**
 * A container's networking, between its record and src/net: what create checks and reserves, what the
 * runtime's beforeStart hook wires (the shim's child waits on its sync pipe meanwhile, so the network
 * is complete before the container's first instruction), what exit and `rm` release, and docker's
 * NetworkSettings / PORTS views.
 *
 * Lifetimes: host ports are reserved at create and released at `rm` (docker reserves them at start;
 * reserving early is what refuses a port in use before anything runs). Addresses and veths live from
 * the hook to the container's exit: every exit path (normal exit, failed start, a reconciled dead
 * supervisor, `rm -f`) calls detachAll or release, both idempotent, and a crash between the address
 * record and the veth leaves a record that the next start, `rm`, `network rm` or `prune` reclaims.
 *
 * What a NetworkMode means (joins networks, none, host, container:<ref>) is decided by src/net's
 * networkMode from the driver registry; the functions here branch on its `attach`, never on the spelling.
 */
import { existsSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { EngineError } from "../../lib/errors.ts";
import { overwriteInPlace, replaceFile } from "../../lib/atomic-write.ts";
import { shortId } from "../../lib/ids.ts";
import { mark } from "../../lib/trace.ts";
import {
  DEFAULT_NETWORK,
  DEFAULT_NETWORK_DRIVER,
  joinsNetworks,
  networkMode,
  formatPortBinding,
  bindingAddrs,
  hostPortText,
  linkEnv,
  parseAddHost,
  parsePortSpec,
  renderHosts,
  specsFromExposed,
  withHostsEntry,
  withoutHostsEntry,
  startDnsRelay,
  bindDnsRelaySocket,
  EMBEDDED_DNS_IP,
  type Endpoint,
  type NetworkRecord,
  type LinkEntry,
  type PortBinding,
  type PortSpec,
  type PreparedEndpoint,
  endpointId,
} from "../../net/index.ts";
import { startTcp6Proxy } from "../../net/proxy.ts";
import { closeFd } from "../../ffi/container-io.ts";
import { listeningTcp6Socket } from "../../ffi/handoff.ts";
import type { NetworkService } from "../network.ts";
import { parseLink } from "./create-config.ts";
import { resolvConf } from "./oci-spec.ts";
import type { ContainerConfigFile, EndpointSettings } from "./types.ts";

export { networkMode };

/** the mode joins networks through a driver (bridge, a user network), unlike none, host, container:<ref> */
export const isBridgeMode = joinsNetworks;

/** what prepare() needs to know about the linked containers (running, with an address) */
export interface LinkedContainer {
  id: string;
  name: string;
  alias: string;
  cfg: ContainerConfigFile;
}

/** the network a record's NetworkMode names ("default" is docker's other word for bridge); the mode
 * itself for none, host and container:<ref> */
export function primaryNetwork(cfg: ContainerConfigFile): string {
  const m = networkMode(cfg.HostConfig.NetworkMode);
  return m.attach === "endpoint" ? m.network : cfg.HostConfig.NetworkMode;
}

/** networks to join at start, primary first */
export function endpointsOf(cfg: ContainerConfigFile): Record<string, EndpointSettings> {
  if (!isBridgeMode(primaryNetwork(cfg))) return {};
  return cfg.Berth.Networks ?? { [primaryNetwork(cfg)]: { Aliases: null, IPAddress: "", MacAddress: "" } };
}

/** every port the container publishes: -p, plus -P's exposed ports not published explicitly */
export function portSpecs(cfg: ContainerConfigFile): PortSpec[] {
  const specs: PortSpec[] = [];
  for (const [key, bs] of Object.entries(cfg.HostConfig.PortBindings ?? {})) {
    const [port, proto = "tcp"] = key.split("/");
    for (const b of bs) {
      // the API's HostPort "0" (testcontainers, docker-py) is docker's "any free port", as an empty one
      const hostPort = b.HostPort === "0" ? "" : (b.HostPort ?? "");
      specs.push(...parsePortSpec(`${b.HostIp ? b.HostIp + ":" : ""}${hostPort}${b.HostIp || hostPort ? ":" : ""}${port}/${proto}`));
    }
  }
  if (cfg.HostConfig.PublishAllPorts) {
    const done = new Set(Object.keys(cfg.HostConfig.PortBindings ?? {}));
    specs.push(...specsFromExposed(Object.keys(cfg.Config.ExposedPorts ?? {}).filter((k) => !done.has(k.includes("/") ? k : `${k}/tcp`))));
  }
  return specs;
}

/** a container dir that exists is known; one without config.json only while young (a create in flight) */
export function containerKnown(containersRoot: string, id: string): boolean {
  const dir = join(containersRoot, id);
  if (existsSync(join(dir, "config.json"))) return true;
  try {
    return Date.now() - statSync(dir).mtimeMs < 60_000;
  } catch {
    return false; // no directory: not a container
  }
}

/**
 * create: network and linked containers exist, nf_tables usable, host ports reserved (a port in use
 * fails here, before anything starts). Returns the record's NetworkMode with a user network's name
 * resolved; the caller releases `id` if create fails later.
 */
export async function checkAndReserve(
  nets: NetworkService,
  cfg: Pick<ContainerConfigFile, "Id" | "HostConfig" | "Config"> & { Berth: Pick<ContainerConfigFile["Berth"], "Networks"> },
  resolveContainer: (ref: string) => string,
  isKnown: (id: string) => boolean,
): Promise<void> {
  const mode = networkMode(cfg.HostConfig.NetworkMode);
  if (mode.attach === "container") {
    resolveContainer(mode.container);
    return;
  }
  if (mode.attach !== "endpoint") return;
  // the drivers of the networks joined (the default network's record may not exist yet: not resolved here)
  const drivers = new Set<string>();
  for (const net of Object.keys(cfg.Berth.Networks ?? {})) {
    drivers.add(net !== DEFAULT_NETWORK ? nets.resolve(net).driver : DEFAULT_NETWORK_DRIVER);
  }
  if (drivers.size === 0) drivers.add(DEFAULT_NETWORK_DRIVER);
  for (const l of cfg.HostConfig.Links ?? []) {
    const { name } = parseLink(l);
    try {
      resolveContainer(name);
    } catch {
      // docker's words for any failure to find the linked container
      throw new EngineError("not_found", `could not get container for ${name}`);
    }
  }
  for (const d of drivers) nets.mgr.checkHost(d);
  const specs = portSpecs(cfg as ContainerConfigFile);
  if (specs.length === 0) return;
  try {
    await nets.mgr.reservePorts(cfg.Id, specs);
  } catch (e) {
    if (!(e instanceof EngineError && e.kind === "already_exists")) throw e;
    // a reservation may belong to a container that no longer exists (crash mid-create): reclaim, retry once
    nets.mgr.releaseStale(isKnown);
    await nets.mgr.reservePorts(cfg.Id, specs);
  }
}

/**
 * take the container off every network it is on (exit, failed start); returns their names. Its port
 * reservation stays for the next start. `exited`: none of its processes is left (net/ disconnect)
 */
export function detachAll(nets: NetworkService, id: string, o: { exited?: boolean } = {}): Pick<NetworkRecord, "name" | "id" | "driver">[] {
  const touched: Pick<NetworkRecord, "name" | "id" | "driver">[] = [];
  for (const rec of nets.mgr.store.list()) {
    if (!Object.values(rec.endpoints).some((e) => e.containerId === id)) continue;
    try {
      nets.mgr.disconnect(id, rec.name, o, rec);
    } catch (e) {
      if (!(e instanceof EngineError && e.kind === "not_found")) throw e;
    }
    touched.push({ name: rec.name, id: rec.id, driver: rec.driver });
  }
  for (const n of touched) nets.stopDns(n.name);
  return touched;
}

/** `rm`: addresses, veths, ports, everything */
export function releaseAll(nets: NetworkService, id: string): void {
  const touched = nets.mgr.store
    .list()
    .filter((r) => Object.values(r.endpoints).some((e) => e.containerId === id))
    .map((r) => r.name);
  nets.mgr.release(id);
  for (const n of touched) nets.stopDns(n);
}

/** the env docker adds for each --link (before Config.Env, which wins on a clash) */
export function linkVariables(nets: NetworkService, cfg: ContainerConfigFile, linked: LinkedContainer[]): { env: string[]; hosts: LinkEntry[] } {
  const env: string[] = [];
  const hosts: LinkEntry[] = [];
  for (const l of linked) {
    const ip = addressOn(nets, primaryNetwork(cfg), l.id);
    if (!ip) throw new EngineError("failed_precondition", `cannot link to /${l.name}: it is not on network ${primaryNetwork(cfg)}`);
    env.push(
      ...linkEnv({ alias: l.alias, containerName: cfg.Name.slice(1), ip, exposed: Object.keys(l.cfg.Config.ExposedPorts ?? {}), env: l.cfg.Config.Env }),
    );
    hosts.push({ ip, alias: l.alias, name: l.name, shortId: shortId(l.id) });
  }
  return { env, hosts };
}

function addressOn(nets: NetworkService, network: string, id: string): string | undefined {
  const rec = network === DEFAULT_NETWORK ? nets.mgr.store.get(DEFAULT_NETWORK) : nets.mgr.store.list().find((r) => r.name === network);
  return Object.entries(rec?.endpoints ?? {}).find(([, e]) => e.containerId === id)?.[0];
}

/**
 * A bridge-mode start's network work that needs no process, done before the clone: leftovers of a
 * crashed earlier start detached (`fresh`: none can exist, the container was created by this process), then every network's endpoint prepared (primary first, so it gets
 * eth0 and the default route): address recorded, bridge and NAT made sure of. The child's mounts then
 * overlap the joins in wire(). On error what was prepared is undone; prepared endpoints of a start
 * that fails later go with its detachNetworks (afterExit).
 */
export function prepareWire(nets: NetworkService, cfg: ContainerConfigFile, o: { fresh?: boolean } = {}): PreparedEndpoint[] {
  const id = cfg.Id;
  if (!o.fresh) detachAll(nets, id); // leftovers of a crashed earlier start
  mark("net: leftovers detached");
  const prepared: PreparedEndpoint[] = [];
  try {
    for (const [net, es] of Object.entries(endpointsOf(cfg))) {
      const names = net !== DEFAULT_NETWORK ? [...new Set([cfg.Name.slice(1), ...(es.Aliases ?? []), shortId(id)])] : undefined;
      // (a start: the namespace will be the shim's, whose child brings lo up)
      prepared.push(nets.mgr.prepare(net, { containerId: id, ip: es.IPAddress || undefined, mac: es.MacAddress || undefined, names, loUp: true }));
    }
  } catch (e) {
    try {
      detachAll(nets, id);
    } catch {} // the prepare's error is the one to report; what stays is reclaimed by rm or releaseStale
    throw e;
  }
  return prepared;
}

/**
 * The beforeStart hook's work for a bridge-mode container: join every prepared endpoint (prepareWire),
 * start user networks' DNS, then write /etc/hosts and resolv.conf with the address (the shim binds them
 * after the hook). On error everything joined is undone.
 */
/** `stopRelay` ends what this process serves for the container: the 127.0.0.11 relay and the [::] port proxies */
export async function wire(
  nets: NetworkService,
  cfg: ContainerConfigFile,
  pid: number,
  links: LinkEntry[],
  prepared: PreparedEndpoint[],
  o: { relayFd?: boolean } = {},
): Promise<{
  endpoints: Endpoint[];
  stopRelay?: () => void;
  relay?: { fd: number; upstream: string };
  proxies?: { fd: number; target: string; port: number }[];
}> {
  const id = cfg.Id;
  const eps: Endpoint[] = [];
  let dnsOk = true;
  let relay: { stop(): void } | undefined;
  const proxies: { stop(): void }[] = [];
  const nativeProxies: { fd: number; target: string; port: number }[] = [];
  try {
    for (const plan of prepared) {
      const net = plan.network;
      const user = net !== DEFAULT_NETWORK;
      eps.push(nets.mgr.join(pid, plan, { containerId: id }));
      if (user) {
        // a DNS server that cannot start (e.g. port 53 on the gateway taken by a host resolver bound to
        // 0.0.0.0) costs name resolution, not the container: it gets the host's resolvers instead
        try {
          await nets.ensureDns(net);
        } catch (e) {
          // the first user network's server is the one in resolv.conf
          if (!eps.slice(0, -1).some((ep) => ep.network !== DEFAULT_NETWORK)) dnsOk = false;
          nets.log.warn(`container ${shortId(id)}: no name resolution on network ${net}: ${(e as Error).message}`);
        }
      }
    }
    // docker's 127.0.0.11 in the container (libnetwork starts it for any non-default network the
    // container joins), relayed to the first user network's server; if that cannot be set up the
    // container gets that network's gateway address in resolv.conf instead
    const primary = eps[0];
    const dnsEp = eps.find((ep) => ep.network !== DEFAULT_NETWORK);
    // for the native monitor: the relay and the proxies as plain fds it inherits (runtime/monitor.c)
    let relayFd: { fd: number; upstream: string } | undefined;
    if (dnsEp && dnsOk && o.relayFd) {
      try {
        relayFd = { fd: bindDnsRelaySocket(`/proc/${pid}/ns/net`), upstream: dnsEp.gateway };
        relay = { stop: () => closeFd(relayFd!.fd) };
      } catch (e) {
        nets.log.warn(`container ${shortId(id)}: no resolver on ${EMBEDDED_DNS_IP}, using ${dnsEp.gateway}: ${(e as Error).message}`);
      }
    } else if (dnsEp && dnsOk) {
      try {
        relay = await startDnsRelay({ netnsPath: `/proc/${pid}/ns/net`, upstream: `${dnsEp.gateway}:53` });
      } catch (e) {
        nets.log.warn(`container ${shortId(id)}: no resolver on ${EMBEDDED_DNS_IP}, using ${dnsEp.gateway}: ${(e as Error).message}`);
      }
    }
    mark("net: connected");
    writeNetworkFiles(cfg, primary, links, dnsOk, !!relay, dnsEp);
    mark("net: hosts, resolv.conf written");
    // one line per further network, as docker writes them
    if (eps.length > 1)
      rewriteBound(
        cfg.HostsPath,
        eps.slice(1).reduce((t, ep) => withHostsEntry(t, ep.ip, [cfg.Config.Hostname]), readFileSync(cfg.HostsPath, "utf8")),
      );
    // docker binds [::] too for a port published on every address: a userland proxy to the container's
    // IPv4 address (its docker-proxy); a port IPv6 cannot have costs IPv6 only
    for (const ep of eps) {
      for (const b of ep.ports) {
        if (b.hostIp !== "" || b.proto !== "tcp") continue;
        try {
          if (o.relayFd) {
            const fd = listeningTcp6Socket(b.hostPort);
            nativeProxies.push({ fd, target: ep.ip, port: b.containerPort });
            proxies.push({ stop: () => closeFd(fd) });
          } else proxies.push(startTcp6Proxy({ hostPort: b.hostPort, target: ep.ip, targetPort: b.containerPort }));
        } catch (e) {
          nets.log.warn(`container ${shortId(id)}: port ${b.hostPort} not published on [::]: ${(e as Error).message}`);
        }
      }
    }
    if (o.relayFd) {
      // served by the native monitor (it inherits the fds); nothing for this process to stop
      return { endpoints: eps, ...(relayFd ? { relay: relayFd } : {}), proxies: nativeProxies };
    }
    const stops = [...(relay ? [relay] : []), ...proxies];
    return {
      endpoints: eps,
      ...(stops.length
        ? {
            stopRelay: () => {
              for (const x of stops) x.stop();
            },
          }
        : {}),
    };
  } catch (e) {
    for (const p of proxies) p.stop();
    relay?.stop();
    // the join's error is the one to report; endpoints a failed detach leaves are reclaimed by the next
    // start's detachAll, `rm` or releaseStale
    try {
      detachAll(nets, id);
    } catch {}
    throw e;
  }
}

/**
 * `network connect` / `disconnect` of a running container: its /etc/hosts gains or loses the line of
 * that network's address, rewritten in place (the file is bind-mounted: a rename would not be seen).
 */
export function updateHostsLine(cfg: ContainerConfigFile, change: { add: string } | { remove: string }): void {
  const text = readFileSync(cfg.HostsPath, "utf8");
  overwriteInPlace(cfg.HostsPath, "add" in change ? withHostsEntry(text, change.add, [cfg.Config.Hostname]) : withoutHostsEntry(text, change.remove));
}

/** /etc/hosts with the container's address and links; resolv.conf pointing at a user network's DNS */
export function writeNetworkFiles(
  cfg: ContainerConfigFile,
  ep: Endpoint | undefined,
  links: LinkEntry[],
  embeddedDns = true,
  relayed = false,
  dnsEp = ep,
): void {
  const h = cfg.HostConfig;
  const extra = (h.ExtraHosts ?? []).map((x) => parseAddHost(x, ep?.gateway));
  rewriteBound(cfg.HostsPath, renderHosts({ hostname: cfg.Config.Hostname, ip: ep?.ip, extraHosts: extra, links }));
  const user = dnsEp && dnsEp.network !== DEFAULT_NETWORK && embeddedDns;
  rewriteBound(cfg.ResolvConfPath, containerResolvConf(cfg, user ? (relayed ? EMBEDDED_DNS_IP : dnsEp.gateway) : undefined));
}

/**
 * A file the starting container may have bound already (the runtime's child mounts while the network is
 * wired, runtime/spawn.ts): rewritten in place, as docker does, so the bind sees the new text; a file
 * that is not there yet is created
 */
function rewriteBound(path: string, text: string): void {
  try {
    overwriteInPlace(path, text);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw e;
    replaceFile(path, text);
  }
}

/** the container's resolv.conf: `server` (a user network's resolver) first; 127.0.0.11 adds docker's ndots:0 unless the user gave options */
function containerResolvConf(cfg: ContainerConfigFile, server: string | undefined): string {
  const h = cfg.HostConfig;
  let hostResolv = "";
  try {
    hostResolv = readFileSync("/etc/resolv.conf", "utf8");
  } catch {} // no host resolv.conf: docker's defaults apply
  const dns = server ? [server, ...h.Dns] : h.Dns;
  const options = server === EMBEDDED_DNS_IP && !h.DnsOptions.length ? ["ndots:0"] : h.DnsOptions;
  return resolvConf(hostResolv, { dns, search: h.DnsSearch, options, hostNetwork: false });
}

/** whether a running container's resolv.conf already names docker's embedded resolver */
export function usesEmbeddedDns(cfg: ContainerConfigFile): boolean {
  try {
    return readFileSync(cfg.ResolvConfPath, "utf8")
      .split("\n")
      .some((l) => l.trim() === `nameserver ${EMBEDDED_DNS_IP}`);
  } catch {
    return false; // no file (removed under us): the caller writes a new one
  }
}

/**
 * `network connect` of a running container to its first user network: resolv.conf switches to docker's
 * 127.0.0.11 (ndots:0), rewritten in place (the file is bind-mounted: a rename would not be seen)
 */
export function switchToEmbeddedDns(cfg: ContainerConfigFile): void {
  overwriteInPlace(cfg.ResolvConfPath, containerResolvConf(cfg, EMBEDDED_DNS_IP));
}

let ipv6: boolean | undefined;
/** the host has IPv6 on (the [::] listeners of wire() can exist) */
export function hostHasIpv6(): boolean {
  if (ipv6 === undefined) {
    try {
      ipv6 = readFileSync("/proc/sys/net/ipv6/conf/all/disable_ipv6", "utf8").trim() === "0";
    } catch {
      ipv6 = false; // no IPv6 in this kernel
    }
  }
  return ipv6;
}

/** docker's "80/tcp" → [{HostIp, HostPort}] of the ports actually bound */
export function portMap(
  cfg: ContainerConfigFile,
  bindings: PortBinding[],
  running: boolean,
  v6 = hostHasIpv6(),
): Record<string, { HostIp: string; HostPort: string }[] | null> {
  const out: Record<string, { HostIp: string; HostPort: string }[] | null> = {};
  for (const k of Object.keys(cfg.Config.ExposedPorts ?? {})) out[k.includes("/") ? k : `${k}/tcp`] = null;
  if (!running) return out;
  for (const b of bindings)
    for (const ip of bindingAddrs(b, v6)) (out[`${b.containerPort}/${b.proto}`] ??= [])!.push({ HostIp: ip, HostPort: String(b.hostPort) });
  return out;
}

/** `berth port` lines; `container` is the name the user gave, for docker's message */
export function portLines(bindings: PortBinding[], filter?: string, container = "container", v6 = hostHasIpv6()): string[] {
  let bs = bindings;
  if (filter) {
    const [p, proto = "tcp"] = filter.split("/");
    bs = bs.filter((b) => String(b.containerPort) === p && b.proto === proto);
    // docker/cli: the port and the container as given ("No public port '81' published for web")
    if (bs.length === 0) throw new EngineError("not_found", `No public port '${filter}' published for ${container}`);
    return bs.flatMap((b) => bindingAddrs(b, v6).map((ip) => hostPortText(ip, b.hostPort)));
  }
  return [...bs].sort((a, b) => a.containerPort - b.containerPort).flatMap((b) => formatPortBinding(b, v6));
}

/** docker's NetworkSettings for inspect, from the live endpoint records */
export function networkSettings(nets: NetworkService, cfg: ContainerConfigFile, running: boolean, pid: number): Record<string, unknown> {
  const id = cfg.Id;
  const mode = primaryNetwork(cfg);
  const bindings = safe(() => nets.mgr.ports(id), []);
  const networks: Record<string, unknown> = {};
  let primary: Record<string, unknown> | undefined;
  const recs = isBridgeMode(mode) ? safe(() => nets.mgr.store.list(), []) : [];
  const eps = endpointsOf(cfg);
  for (const [net, es] of Object.entries(eps)) {
    const rec = recs.find((r) => r.name === net);
    const found = rec && running ? Object.entries(rec.endpoints).find(([, e]) => e.containerId === id) : undefined;
    const prefix = rec ? Number(rec.subnet.split("/")[1]) : 0;
    const entry = {
      IPAMConfig: es.IPAddress ? { IPv4Address: es.IPAddress } : null,
      Links: net === DEFAULT_NETWORK && cfg.HostConfig.Links?.length ? cfg.HostConfig.Links : null,
      Aliases: es.Aliases,
      MacAddress: found ? found[1].mac : "",
      DriverOpts: null,
      // docker 28's gateway priority (--network name=N,gw-priority=…, which berth does not take): 0
      GwPriority: 0,
      NetworkID: rec?.id ?? "",
      EndpointID: found ? endpointId(rec!, found[0], found[1]) : "",
      Gateway: found ? rec!.gateway : "",
      IPAddress: found ? found[0] : "",
      IPPrefixLen: found ? prefix : 0,
      IPv6Gateway: "",
      GlobalIPv6Address: "",
      GlobalIPv6PrefixLen: 0,
      DNSNames: found?.[1].names ?? null,
    };
    networks[net] = entry;
    primary ??= entry;
  }
  if (!isBridgeMode(mode))
    networks[mode] = {
      IPAMConfig: null,
      Links: null,
      Aliases: null,
      MacAddress: "",
      DriverOpts: null,
      // docker 28's gateway priority (--network name=N,gw-priority=…, which berth does not take): 0
      GwPriority: 0,
      // host and none: the root's id for that network (container:<ref> joins none)
      NetworkID: safe(() => nets.predefined().find((p) => p.name === mode)?.id ?? "", ""),
      EndpointID: "",
      Gateway: "",
      IPAddress: "",
      IPPrefixLen: 0,
      IPv6Gateway: "",
      GlobalIPv6Address: "",
      GlobalIPv6PrefixLen: 0,
      DNSNames: null,
    };
  const top = mode === DEFAULT_NETWORK && primary ? primary : undefined;
  return {
    Bridge: "",
    SandboxID: running && pid ? id : "",
    SandboxKey: running && pid ? `/proc/${pid}/ns/net` : "",
    Ports: portMap(cfg, bindings, running),
    HairpinMode: false,
    LinkLocalIPv6Address: "",
    LinkLocalIPv6PrefixLen: 0,
    SecondaryIPAddresses: null,
    SecondaryIPv6Addresses: null,
    EndpointID: (top?.EndpointID as string) ?? "",
    Gateway: (top?.Gateway as string) ?? "",
    GlobalIPv6Address: "",
    GlobalIPv6PrefixLen: 0,
    IPAddress: (top?.IPAddress as string) ?? "",
    IPPrefixLen: (top?.IPPrefixLen as number) ?? 0,
    IPv6Gateway: "",
    MacAddress: (top?.MacAddress as string) ?? "",
    Networks: networks,
  };
}

/** inspect shows what it can: a network store that cannot be read (removed root, torn record) shows as none */
function safe<T>(fn: () => T, dflt: T): T {
  try {
    return fn();
  } catch {
    return dflt; // see above: inspect shows what it can
  }
}
