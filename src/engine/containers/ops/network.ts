/** `network connect` / `disconnect` of a container, and its published ports (through ../networking.ts) */
import { EngineError } from "../../../lib/errors.ts";
import { shortId } from "../../../lib/ids.ts";
import * as netw from "../networking.ts";
import { isActive } from "../types.ts";
import type { ContainerDeps } from "./deps.ts";
import { netEvent, refreshState } from "./state.ts";

/** `network connect`: recorded for later starts; a running container gets the interface now */
export async function connectNetwork(d: ContainerDeps, ref: string, network: string, o: { aliases: string[]; ip?: string }): Promise<void> {
  const id = d.store.resolve(ref);
  const net = d.networks.resolve(network).name;
  const cfg = d.store.readConfig(id);
  const mode = netw.primaryNetwork(cfg);
  if (!netw.isBridgeMode(mode))
    throw new EngineError("failed_precondition", `container sharing network namespace with another container or host cannot be connected to any other network`);
  const eps = netw.endpointsOf(cfg);
  if (eps[net]) throw new EngineError("already_exists", `endpoint with name ${cfg.Name.slice(1)} already exists in network ${net}`);
  if ((o.aliases.length || o.ip) && net === "bridge")
    throw new EngineError("invalid_argument", "network-scoped alias and user specified IP address are supported only for containers in user defined networks");
  const es = { Aliases: o.aliases.length ? o.aliases : null, IPAddress: o.ip ?? "", MacAddress: "" };
  const st = refreshState(d, id);
  if (isActive(st.Status) && st.Pid) {
    const names = net === "bridge" ? undefined : [...new Set([cfg.Name.slice(1), ...o.aliases, shortId(id)])];
    const ep = d.networks.mgr.connect(st.Pid, net, { containerId: id, ip: o.ip, names });
    netEvent(d, "connect", net, id);
    try {
      netw.updateHostsLine(cfg, { add: ep.ip });
    } catch (e) {
      d.log.warn(`container ${shortId(id)}: /etc/hosts not updated: ${(e as Error).message}`);
    }
    const dns = await d.networks.ensureDns(net).then(
      () => true,
      (e: Error) => {
        d.log.warn(`network ${net}: no name resolution: ${e.message}`);
        return false;
      },
    );
    // docker's embedded resolver for a container that joins its first user network while it runs
    if (dns && net !== "bridge" && !netw.usesEmbeddedDns(cfg)) {
      try {
        await d.networks.startRelay(net, st.Pid, ep.gateway, id);
        netw.switchToEmbeddedDns(cfg);
      } catch (e) {
        d.log.warn(`container ${shortId(id)}: no resolver on 127.0.0.11: ${(e as Error).message}`);
      }
    }
  }
  d.store.withLock(id, () => {
    const cur = d.store.readConfig(id);
    d.store.writeConfig({ ...cur, Berth: { ...cur.Berth, Networks: { ...netw.endpointsOf(cur), [net]: es } } });
  });
}

/** `network disconnect` */
export function disconnectNetwork(d: ContainerDeps, ref: string, network: string, force: boolean): void {
  const id = d.store.resolve(ref);
  const net = d.networks.resolve(network).name;
  const cfg = d.store.readConfig(id);
  const eps = netw.endpointsOf(cfg);
  if (!eps[net] && !force) throw new EngineError("not_found", `container ${id} is not connected to network ${net}`);
  const ip = Object.entries(d.networks.mgr.inspect(net).endpoints).find(([, e]) => e.containerId === id)?.[0];
  try {
    d.networks.mgr.disconnect(id, net);
    if (ip) netEvent(d, "disconnect", net, id);
  } catch (e) {
    if (!(e instanceof EngineError && e.kind === "not_found")) throw e;
  }
  if (ip && isActive(refreshState(d, id).Status)) {
    try {
      netw.updateHostsLine(cfg, { remove: ip });
    } catch (e) {
      d.log.warn(`container ${shortId(id)}: /etc/hosts not updated: ${(e as Error).message}`);
    }
  }
  d.networks.stopDns(net);
  if (!eps[net]) return;
  d.store.withLock(id, () => {
    const cur = d.store.readConfig(id);
    const rest = { ...netw.endpointsOf(cur) };
    delete rest[net];
    // with its last network gone the container keeps only lo, as under docker, until connected again
    d.store.writeConfig({ ...cur, Berth: { ...cur.Berth, Networks: rest } });
  });
}

/** published ports (`berth port`, ps) */
export function ports(d: ContainerDeps, id: string) {
  return d.networks.mgr.ports(id);
}
