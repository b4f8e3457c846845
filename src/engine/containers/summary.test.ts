import { expect, test } from "bun:test";
import { commandLine, listContainers, statusText, type SummaryDeps } from "./summary.ts";
import { Filters } from "../filters.ts";
import { hostHasIpv6 } from "./networking.ts";
import type { ContainerInfo, ContainerService } from "./service.ts";
import { initialState, type ContainerConfigFile, type ContainerStateFile } from "./types.ts";

test("status words (docker's State.String)", () => {
  const now = Date.parse("2024-01-01T00:00:10Z");
  const i = (state: object) => ({ cfg: {} as never, state: { ...initialState(), ...state } });
  expect(statusText(i({ Status: "running", StartedAt: "2024-01-01T00:00:08.123456789Z" }), now)).toBe("Up 1 second");
  expect(statusText(i({ Status: "running", StartedAt: "2024-01-01T00:00:08Z", Health: { Status: "starting" } }), now)).toBe("Up 2 seconds (health: starting)");
  expect(statusText(i({ Status: "paused", StartedAt: "2024-01-01T00:00:00Z" }), now)).toBe("Up 10 seconds (Paused)");
  expect(statusText(i({ Status: "stopped", ExitCode: 0, FinishedAt: "2024-01-01T00:00:07Z" }), now)).toBe("Exited (0) 3 seconds ago");
  expect(statusText(i({ Status: "stopped", ExitCode: 1, Restarting: true, FinishedAt: "2024-01-01T00:00:09Z" }), now)).toBe("Restarting (1) 1 second ago");
  expect(statusText(i({ Status: "created" }), now)).toBe("Created");
});

test("the daemon's Command: an argument with a space is quoted", () => {
  expect(commandLine({ Path: "sh", Args: ["-c", "exit 2"] } as ContainerConfigFile)).toBe("sh -c 'exit 2'");
  expect(commandLine({ Path: "sleep", Args: ["1"] } as ContainerConfigFile)).toBe("sleep 1");
});

// ------------------------------------------------------------ the list, over a stub service

function ctr(
  n: number,
  name: string,
  state: Partial<ContainerStateFile>,
  o: { labels?: Record<string, string>; image?: string; exposed?: string[] } = {},
): ContainerInfo {
  const cfg = {
    Id: `${n}`.repeat(64).slice(0, 64),
    Created: `2024-01-01T00:00:0${n}.123456789Z`,
    Path: "sh",
    Args: ["-c", "sleep 1"],
    Name: `/${name}`,
    Image: "sha256:" + "f".repeat(64),
    Config: { Image: o.image ?? "busybox", Labels: o.labels ?? {}, ExposedPorts: Object.fromEntries((o.exposed ?? []).map((e) => [e, {}])) },
    HostConfig: { NetworkMode: "bridge", PortBindings: {} },
    Mounts: [],
    Berth: { SnapshotKey: `k${n}`, Networks: { bridge: { Aliases: null, IPAddress: "", MacAddress: "" } } },
  } as unknown as ContainerConfigFile;
  return { cfg, state: { ...initialState(), ...state } };
}

const records = [
  ctr(1, "old", { Status: "stopped", ExitCode: 3, FinishedAt: "2024-01-01T00:00:05Z" }, { labels: { tier: "db" } }),
  ctr(2, "web", { Status: "running", StartedAt: "2024-01-01T00:00:02Z" }, { labels: { tier: "front" }, exposed: ["80/tcp", "53/udp"] }),
  ctr(3, "web-2", { Status: "created" }, { image: "alpine:3.20" }),
];

const deps: SummaryDeps = {
  containers: {
    list: (all: boolean) => records.filter((r) => all || r.state.Status === "running").toReversed(),
    ports: () => [{ containerPort: 80, hostPort: 8080, hostIp: "", proto: "tcp" }],
  } as unknown as ContainerService,
  snapshots: { usage: async (key: string) => ({ size: key === "k2" ? 4096 : 0, apparent: key === "k2" ? 1000 : 0 }) } as unknown as SummaryDeps["snapshots"],
  imageSizes: async () => new Map([["sha256:" + "f".repeat(64), 5000]]),
};

const names = async (q: Parameters<typeof listContainers>[1]) => (await listContainers(deps, q)).map((c) => c.Names[0]!.slice(1));
const f = (...flags: string[]) => Filters.fromFlags(flags, { strict: true });

test("list: running only by default; all, limit and the status/exited/before/since filters include the others", async () => {
  expect(await names({})).toEqual(["web"]);
  expect(await names({ all: true })).toEqual(["web-2", "web", "old"]);
  expect(await names({ limit: 1 })).toEqual(["web-2"]);
  expect(await names({ limit: 0 })).toEqual([]);
  expect(await names({ filters: f("status=exited") })).toEqual(["old"]);
  expect(await names({ filters: f("status=created", "status=running") })).toEqual(["web-2", "web"]);
  expect(await names({ filters: f("exited=3") })).toEqual(["old"]);
  expect(await names({ filters: f("before=web-2") })).toEqual(["web", "old"]);
  expect(await names({ filters: f("since=old", "before=web-2") })).toEqual(["web"]);
  expect(await names({ all: true, filters: f("name=^web") })).toEqual(["web-2", "web"]);
  expect(await names({ all: true, filters: f("label=tier") })).toEqual(["web", "old"]);
  expect(await names({ all: true, filters: f("label=tier=db") })).toEqual(["old"]);
  expect(await names({ all: true, filters: f("ancestor=alpine:3.20") })).toEqual(["web-2"]);
  expect(await names({ all: true, filters: f("ancestor=busybox:latest") })).toEqual(["web", "old"]);
  expect(await names({ all: true, filters: f("network=bridge", "health=none") })).toEqual(["web-2", "web", "old"]);
});

test("list: docker's filter errors", async () => {
  await expect(listContainers(deps, { filters: f("colour=red") })).rejects.toThrow("Invalid filter 'colour'");
  await expect(listContainers(deps, { filters: f("status=bogus") })).rejects.toThrow("Invalid filter 'status=bogus'");
  await expect(listContainers(deps, { filters: f("health=meh") })).rejects.toThrow("Unrecognised filter value for health: meh");
  await expect(listContainers(deps, { filters: f("before=nosuch") })).rejects.toThrow("No such container: nosuch");
});

test("a summary: docker's fields, ports of a running container, sizes on request", async () => {
  const [web] = await listContainers(deps, { size: true });
  expect(web).toMatchObject({
    Id: "2".repeat(64),
    Names: ["/web"],
    Image: "busybox",
    ImageID: "sha256:" + "f".repeat(64),
    Command: "sh -c 'sleep 1'",
    Created: Date.parse("2024-01-01T00:00:02Z") / 1000,
    Labels: { tier: "front" },
    State: "running",
    HostConfig: { NetworkMode: "bridge" },
    SizeRw: 1000,
    SizeRootFs: 6000,
    // on [::] too where the host has IPv6 (the start listens there), as docker 28 lists it
    Ports: [
      { IP: "0.0.0.0", PrivatePort: 80, PublicPort: 8080, Type: "tcp" },
      ...(hostHasIpv6() ? [{ IP: "::", PrivatePort: 80, PublicPort: 8080, Type: "tcp" }] : []),
      { PrivatePort: 53, Type: "udp" },
    ],
  });
  expect(web!.Status).toStartWith("Up ");
  expect((await listContainers(deps, {}))[0]!.SizeRw).toBeUndefined();
});
