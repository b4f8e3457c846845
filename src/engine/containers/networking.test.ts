import { describe, expect, test } from "bun:test";
import type { PortBinding } from "../../net/index.ts";
import { endpointsOf, portLines, portMap, portSpecs, primaryNetwork } from "./networking.ts";
import type { ContainerConfigFile } from "./types.ts";

function cfg(over: {
  mode?: string;
  bindings?: Record<string, { HostIp: string; HostPort: string }[]>;
  exposed?: string[];
  all?: boolean;
  networks?: ContainerConfigFile["Berth"]["Networks"];
}): ContainerConfigFile {
  return {
    Config: { ExposedPorts: Object.fromEntries((over.exposed ?? []).map((e) => [e, {}])) },
    HostConfig: { NetworkMode: over.mode ?? "bridge", PortBindings: over.bindings ?? {}, PublishAllPorts: over.all ?? false },
    Berth: { Networks: over.networks },
  } as unknown as ContainerConfigFile;
}

const b = (containerPort: number, hostPort: number, hostIp = "", proto: "tcp" | "udp" = "tcp"): PortBinding => ({ containerPort, hostPort, hostIp, proto });

describe("container networking, pure half", () => {
  test("port specs from the record: -p as given, -P adds the exposed ports not published", () => {
    const c = cfg({
      bindings: { "80/tcp": [{ HostIp: "127.0.0.1", HostPort: "8080" }], "53/udp": [{ HostIp: "", HostPort: "" }] },
      exposed: ["80/tcp", "53/udp", "9000/tcp"],
      all: true,
    });
    expect(portSpecs(c)).toEqual([
      { hostIp: "127.0.0.1", hostPort: 8080, containerPort: 80, proto: "tcp" },
      { hostIp: "", hostPort: 0, containerPort: 53, proto: "udp" },
      { hostIp: "", hostPort: 0, containerPort: 9000, proto: "tcp" },
    ]);
    expect(portSpecs(cfg({ exposed: ["9000/tcp"] }))).toEqual([]);
  });

  test("PORTS column, inspect's Ports and `berth port`, docker's formats", () => {
    const c = cfg({ exposed: ["80/tcp", "7000/tcp", "53/udp"] });
    const bs = [b(80, 8080), b(53, 5353, "127.0.0.1", "udp")];
    expect(portMap(c, bs, true, false)).toEqual({
      "80/tcp": [{ HostIp: "0.0.0.0", HostPort: "8080" }],
      "7000/tcp": null,
      "53/udp": [{ HostIp: "127.0.0.1", HostPort: "5353" }],
    });
    expect(portLines(bs, undefined, "c", false)).toEqual(["53/udp -> 127.0.0.1:5353", "80/tcp -> 0.0.0.0:8080"]);
    expect(portLines(bs, "80", "c", false)).toEqual(["0.0.0.0:8080"]);
    // where the host has IPv6, a TCP port on every address is on [::] too (the start binds it there)
    expect(portMap(c, bs, true, true)["80/tcp"]).toEqual([
      { HostIp: "0.0.0.0", HostPort: "8080" },
      { HostIp: "::", HostPort: "8080" },
    ]);
    expect(portLines(bs, undefined, "c", true)).toEqual(["53/udp -> 127.0.0.1:5353", "80/tcp -> 0.0.0.0:8080", "80/tcp -> [::]:8080"]);
    expect(portLines(bs, "80", "c", true)).toEqual(["0.0.0.0:8080", "[::]:8080"]);
    expect(() => portLines(bs, "81/tcp")).toThrow("No public port '81/tcp' published");
  });

  test("endpoints: the primary network first; modes that share a namespace have none", () => {
    expect(primaryNetwork(cfg({ mode: "default" }))).toBe("bridge");
    expect(endpointsOf(cfg({}))).toEqual({ bridge: { Aliases: null, IPAddress: "", MacAddress: "" } });
    expect(endpointsOf(cfg({ mode: "host" }))).toEqual({});
    expect(endpointsOf(cfg({ mode: "container:x" }))).toEqual({});
    const nets = { n1: { Aliases: ["a"], IPAddress: "", MacAddress: "" }, n2: { Aliases: null, IPAddress: "10.0.0.9", MacAddress: "" } };
    expect(Object.keys(endpointsOf(cfg({ mode: "n1", networks: nets })))).toEqual(["n1", "n2"]);
  });
});
