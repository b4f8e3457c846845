/**
 * The Engine API's network routes (moby api/swagger.yaml "Network" tag) over the engine's network calls,
 * the ones `berth network` makes. A berth network has one IPv4 subnet; what it cannot do (IPv6, driver
 * options, several IPAM pools) is refused with a message naming it, never silently dropped.
 */
import { EngineError } from "../../lib/errors.ts";
import type { Route } from "../types.ts";
import { filtersParam } from "./_params.ts";

type Body = Record<string, unknown>;

async function objectBody(req: { json<T>(): Promise<T | undefined> }): Promise<Body> {
  const body = await req.json<Body>();
  if (body === undefined || body === null) return {};
  if (typeof body !== "object" || Array.isArray(body)) throw new EngineError("invalid_argument", "the request body must be a JSON object");
  return body;
}

function stringMap(o: unknown, what: string): Record<string, string> {
  if (o === undefined || o === null) return {};
  if (typeof o !== "object" || Array.isArray(o) || Object.values(o).some((v) => typeof v !== "string"))
    throw new EngineError("invalid_argument", `${what} must be an object of strings`);
  return o as Record<string, string>;
}

/** IPAM.Config: at most one pool, IPv4, with Subnet (and Gateway) */
function ipamPool(ipam: unknown): { subnet?: string; gateway?: string } {
  if (ipam === undefined || ipam === null) return {};
  const i = ipam as { Driver?: string; Config?: { Subnet?: string; Gateway?: string; IPRange?: string; AuxiliaryAddresses?: unknown }[] | null };
  if (i.Driver && i.Driver !== "default")
    throw new EngineError("not_implemented", `IPAM driver "${i.Driver}" is not supported: berth has the default one only`);
  const pools = i.Config ?? [];
  if (pools.length > 1) throw new EngineError("not_implemented", "berth networks have one IPv4 subnet: pass one IPAM pool");
  const p = pools[0];
  if (!p) return {};
  if (p.Subnet?.includes(":")) throw new EngineError("not_implemented", `IPv6 subnet ${p.Subnet} is not supported by berth networks`);
  if (p.IPRange && p.IPRange !== p.Subnet)
    throw new EngineError("not_implemented", `ip-range ${p.IPRange} is not supported: addresses come from the whole subnet`);
  if (p.AuxiliaryAddresses && Object.keys(p.AuxiliaryAddresses).length)
    throw new EngineError("not_implemented", "auxiliary addresses are not supported by berth networks");
  return { ...(p.Subnet ? { subnet: p.Subnet } : {}), ...(p.Gateway ? { gateway: p.Gateway } : {}) };
}

/** driver options berth's bridge gives anyway (so an explicit one is no reason to refuse) */
const HARMLESS_OPTIONS = new Set(["com.docker.network.bridge.enable_icc", "com.docker.network.bridge.enable_ip_masquerade"]);

export const routes: Route[] = [
  {
    method: "GET",
    path: "/networks",
    handler(req, { engine }) {
      return { json: engine.networkList(filtersParam(req)) };
    },
  },
  {
    method: "POST",
    path: "/networks/create",
    async handler(req, { engine }) {
      const b = await objectBody(req);
      const name = typeof b.Name === "string" ? b.Name : "";
      if (!name) throw new EngineError("invalid_argument", "network name is required (Name)");
      if (b.EnableIPv6 === true) throw new EngineError("not_implemented", "IPv6 is not supported by berth networks");
      if (b.Ingress === true || b.ConfigOnly === true || (b.Scope && b.Scope !== "local"))
        throw new EngineError("not_implemented", "swarm networks (ingress, config-only, swarm scope) are not supported by berth");
      const options = stringMap(b.Options, "Options");
      const odd = Object.entries(options).filter(([k, v]) => !(HARMLESS_OPTIONS.has(k) && v === "true"));
      if (odd.length) throw new EngineError("not_implemented", `network driver options are not supported by berth: ${odd.map(([k]) => k).join(", ")}`);
      const rec = engine.containers.networks.create(name, {
        ...ipamPool(b.IPAM),
        internal: b.Internal === true,
        driver: typeof b.Driver === "string" && b.Driver ? b.Driver : "bridge",
        labels: stringMap(b.Labels, "Labels"),
        attachable: b.Attachable === true,
      });
      return { status: 201, json: { Id: rec.id, Warning: "" } };
    },
  },
  {
    method: "POST",
    path: "/networks/prune",
    async handler(req, { engine }) {
      const svc = engine.containers;
      const removed = svc.networks.prune(svc.isKnownContainer, filtersParam(req));
      return { json: { NetworksDeleted: removed } };
    },
  },
  {
    method: "GET",
    path: "/networks/{id}",
    handler(req, { engine }) {
      return { json: engine.networkInspect(req.params.id!) };
    },
  },
  {
    method: "DELETE",
    path: "/networks/{id}",
    handler(req, { engine }) {
      const svc = engine.containers;
      svc.networks.remove(req.params.id!, svc.isKnownContainer);
      return { status: 204, empty: true };
    },
  },
  {
    method: "POST",
    path: "/networks/{id}/connect",
    async handler(req, { engine }) {
      const b = await objectBody(req);
      if (typeof b.Container !== "string" || !b.Container) throw new EngineError("invalid_argument", "Container is required: the container to connect");
      const ep = (b.EndpointConfig ?? {}) as { Aliases?: string[] | null; IPAMConfig?: { IPv4Address?: string; IPv6Address?: string } | null };
      if (ep.IPAMConfig?.IPv6Address) throw new EngineError("not_implemented", "IPv6 addresses are not supported by berth networks");
      await engine.containers.connectNetwork(b.Container, req.params.id!, {
        aliases: (ep.Aliases ?? []).filter((a) => typeof a === "string" && a),
        ...(ep.IPAMConfig?.IPv4Address ? { ip: ep.IPAMConfig.IPv4Address } : {}),
      });
      return { status: 200, empty: true };
    },
  },
  {
    method: "POST",
    path: "/networks/{id}/disconnect",
    async handler(req, { engine }) {
      const b = await objectBody(req);
      if (typeof b.Container !== "string" || !b.Container) throw new EngineError("invalid_argument", "Container is required: the container to disconnect");
      engine.containers.disconnectNetwork(b.Container, req.params.id!, b.Force === true);
      return { status: 200, empty: true };
    },
  },
];
