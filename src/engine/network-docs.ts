/**
 * docker's Network documents (`GET /networks`, `GET /networks/{id}`), computed from the network
 * records, with the list's filters. The same document serves `network inspect` and plain `inspect`.
 */
import { endpointId, type NetworkRecord } from "../net/index.ts";
import type { Network, NetworkContainer } from "./api/networks.ts";
import type { ContainerService } from "./containers/service.ts";
import { Filters, invalidFilter, matchLabel } from "./filters.ts";

export const NETWORK_FILTERS = ["name", "driver", "id", "label", "type", "scope"] as const;

function document(r: NetworkRecord, containers: Record<string, NetworkContainer>): Network {
  return {
    Name: r.name,
    Id: r.id,
    Created: r.createdAt,
    Scope: "local",
    Driver: r.driver,
    EnableIPv4: true,
    EnableIPv6: false,
    IPAM: { Driver: "default", Options: null, Config: [{ Subnet: r.subnet, Gateway: r.gateway }] },
    Internal: r.internal,
    Attachable: r.attachable ?? false,
    Ingress: false,
    ConfigFrom: { Network: "" },
    ConfigOnly: false,
    Containers: containers,
    // dockerd's initBridgeDriver gives the default bridge these driver options (icc and masquerade on,
    // published ports on every address: what berth's bridge does, nat.ts); a user network lists the
    // options it was created with, which berth takes only where they say what it does anyway (none kept)
    Options:
      r.name === "bridge"
        ? {
            "com.docker.network.bridge.default_bridge": "true",
            "com.docker.network.bridge.enable_icc": "true",
            "com.docker.network.bridge.enable_ip_masquerade": "true",
            "com.docker.network.bridge.host_binding_ipv4": "0.0.0.0",
            "com.docker.network.bridge.name": r.bridge,
            "com.docker.network.driver.mtu": String(r.mtu),
          }
        : {},
    Labels: { ...r.labels },
  };
}

/** host and none: docker's predefined networks that have no record */
function predefined(p: { name: string; id: string; driver: string; createdAt: string }): Network {
  return {
    Name: p.name,
    Id: p.id,
    Created: p.createdAt,
    Scope: "local",
    Driver: p.driver,
    EnableIPv4: true,
    EnableIPv6: false,
    IPAM: { Driver: "default", Options: null, Config: null },
    Internal: false,
    Attachable: false,
    Ingress: false,
    ConfigFrom: { Network: "" },
    ConfigOnly: false,
    Containers: {},
    Options: {},
    Labels: {},
  };
}

/** `GET /networks/{id}`: by name, id or unique id prefix, with the containers on it; not_found otherwise */
export function inspectNetwork(svc: ContainerService, ref: string): Network {
  const nets = svc.networks;
  // host and none by name, id or unique id prefix, as the recorded networks (a name wins, as docker's)
  const all = nets.list();
  const pseudo =
    all.find((n) => n.name === ref && !n.record) ??
    (/^[0-9a-f]{1,64}$/.test(ref) && all.filter((n) => n.id.startsWith(ref)).length === 1 ? all.find((n) => n.id.startsWith(ref) && !n.record) : undefined);
  if (pseudo) return predefined(pseudo);
  const r = nets.resolve(ref);
  const ctrs: Record<string, NetworkContainer> = {};
  for (const [ip, e] of Object.entries(r.endpoints)) {
    let name = "";
    try {
      name = svc.store.readConfig(e.containerId).Name.slice(1);
    } catch {
      // the container went away while its endpoint is not reclaimed yet: shown without a name
    }
    ctrs[e.containerId] = { Name: name, EndpointID: endpointId(r, ip, e), MacAddress: e.mac, IPv4Address: `${ip}/${r.subnet.split("/")[1]}`, IPv6Address: "" };
  }
  return document(r, ctrs);
}

/** `GET /networks`: sorted by name; Containers are left empty, as in docker's list */
export function listNetworks(svc: ContainerService, filters: Filters = new Filters()): Network[] {
  filters.validate(NETWORK_FILTERS, "Invalid");
  return svc.networks
    .list()
    .filter(
      (n) =>
        filters.every("name", (v) => n.name.includes(v)) &&
        filters.every("driver", (v) => n.driver === v) &&
        filters.every("id", (v) => n.id.startsWith(v)) &&
        filters.every("label", (v) => matchLabel(n.record?.labels ?? {}, v)) &&
        // docker's type: builtin are the networks it predefines (bridge, host, none), custom the users'
        filters.any("type", (v) => {
          if (v !== "custom" && v !== "builtin") throw invalidFilter(`type=${v}`, "Invalid");
          return (v === "builtin") === ["bridge", "host", "none"].includes(n.name);
        }) &&
        filters.any("scope", (v) => v === "local"),
    )
    .map((n) => (n.record ? document(n.record, {}) : predefined(n)));
}
