/**
 * What a container's NetworkMode means, decided in this one place from the driver registry (docker's
 * container.NetworkMode IsHost / IsNone / IsContainer / IsUserDefined): the engine asks `networkMode`
 * and branches on `attach`, never on the mode's spelling.
 *
 *   "bridge", "default", a user network   attach "endpoint": the network's driver joins it (driver.ts)
 *   "none", "host" (predefined networks)   attach "loopback" / "host": their drivers (null.ts, host.ts)
 *   "container:<ref>"                      attach "container": <ref>'s network namespace, no driver
 */
import { networkDrivers, type Attach } from "./driver.ts";

/** docker's name for the default network */
export const DEFAULT_NETWORK = "bridge";

export type NetworkMode =
  /** joins `network` (and any further networks of the record) through its driver */
  | { attach: "endpoint"; network: string }
  /** a predefined network: its driver decides the namespace, nothing is joined */
  | { attach: Exclude<Attach, "endpoint">; network: string; driver: string }
  /** shares the network namespace (and /etc/hosts, resolv.conf) of container `container` */
  | { attach: "container"; container: string };

const CONTAINER = "container:";

export function networkMode(mode: string): NetworkMode {
  if (mode.startsWith(CONTAINER)) return { attach: "container", container: mode.slice(CONTAINER.length) };
  const pre = predefinedNetworks().find((p) => p.name === mode);
  if (pre && pre.attach !== "endpoint") return { attach: pre.attach, network: pre.name, driver: pre.driver };
  return { attach: "endpoint", network: mode === "default" ? DEFAULT_NETWORK : mode };
}

/** true when the mode joins networks through a driver (bridge, a user network), as opposed to none,
 * host and container:<ref> */
export function joinsNetworks(mode: string): boolean {
  return networkMode(mode).attach === "endpoint";
}

/** the networks every root has without `network create`, from the drivers that declare one (none, host) */
export function predefinedNetworks(): { name: string; driver: string; attach: Attach }[] {
  return networkDrivers().flatMap((d) => (d.predefined ? [{ name: d.predefined.network, driver: d.name, attach: d.attach }] : []));
}

/** names `network create` refuses: the predefined networks, the default network and its alias */
export function isReservedNetworkName(name: string): boolean {
  return name === DEFAULT_NETWORK || name === "default" || predefinedNetworks().some((p) => p.name === name);
}
