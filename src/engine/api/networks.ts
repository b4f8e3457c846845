/** The Engine API's network document (swagger `Network`, the same for list and inspect) */

/** one container on the network (swagger `EndpointResource`) */
export interface NetworkContainer {
  Name: string;
  EndpointID: string;
  MacAddress: string;
  IPv4Address: string;
  IPv6Address: string;
}

/** swagger `Network` (keys in docker's order) */
export interface Network {
  Name: string;
  Id: string;
  /** RFC 3339 (the predefined host and none networks: when the root first listed them) */
  Created: string;
  Scope: "local";
  Driver: string;
  /** docker 28 (API 1.47): every berth network is IPv4 */
  EnableIPv4: boolean;
  EnableIPv6: boolean;
  IPAM: { Driver: string; Options: Record<string, string> | null; Config: { Subnet: string; Gateway: string }[] | null };
  Internal: boolean;
  Attachable: boolean;
  Ingress: boolean;
  ConfigFrom: { Network: string };
  ConfigOnly: boolean;
  /** container id → endpoint; filled by inspect, empty in a listing (as docker's list is) */
  Containers: Record<string, NetworkContainer>;
  Options: Record<string, string>;
  Labels: Record<string, string>;
}

/** Go's zero time, docker's Created of a network that was never created */
export const ZERO_TIME = "0001-01-01T00:00:00Z";
