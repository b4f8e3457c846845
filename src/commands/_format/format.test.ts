/** the CLI's renderers: docker's tabwriter, ps's rows, info's text, events' line */
import { expect, test } from "bun:test";
import { renderDockerTable } from "./table.ts";
import { portsColumn, psRows } from "./ps.ts";
import { renderInfo } from "./info.ts";
import { renderEvent } from "./events.ts";
import type { ContainerSummary, EventMessage, SystemInfo } from "../../engine/index.ts";

test("docker's tabwriter: minwidth 10, padding 3", () => {
  expect(renderDockerTable(["CONTAINER ID", "IMAGE", "NAMES"], [["abc", "busybox", "x"]])).toBe("CONTAINER ID   IMAGE     NAMES\nabc            busybox   x\n");
});

test("ps's PORTS column, as docker's CLI prints it: ranges of same-number and exposed ports, then the mappings", () => {
  expect(
    portsColumn([
      { IP: "127.0.0.1", PrivatePort: 53, PublicPort: 5353, Type: "udp" },
      { IP: "0.0.0.0", PrivatePort: 80, PublicPort: 8080, Type: "tcp" },
      { IP: "::", PrivatePort: 80, PublicPort: 8080, Type: "tcp" },
      { PrivatePort: 7000, Type: "tcp" },
    ]),
  ).toBe("7000/tcp, 127.0.0.1:5353->53/udp, 0.0.0.0:8080->80/tcp, [::]:8080->80/tcp");
  // the same number on both sides: a range per address (seen from docker 28.2.2's CLI)
  expect(
    portsColumn([
      { IP: "::", PrivatePort: 81, PublicPort: 81, Type: "tcp" },
      { IP: "0.0.0.0", PrivatePort: 80, PublicPort: 80, Type: "tcp" },
      { IP: "0.0.0.0", PrivatePort: 81, PublicPort: 81, Type: "tcp" },
      { IP: "::", PrivatePort: 80, PublicPort: 80, Type: "tcp" },
      { PrivatePort: 9000, Type: "tcp" },
      { PrivatePort: 9002, Type: "tcp" },
    ]),
  ).toBe("9000/tcp, 0.0.0.0:80-81->80-81/tcp, [::]:80-81->80-81/tcp, 9002/tcp"); // a range cut short is listed when cut
  expect(portsColumn([])).toBe("");
});

test("ps rows from a ContainerSummary: truncation, quoting, sizes, names", () => {
  const c: ContainerSummary = {
    Id: "a".repeat(64),
    Names: ["/web"],
    Image: "sha256:" + "b".repeat(64),
    ImageID: "sha256:" + "b".repeat(64),
    Command: "sh -c 'sleep 1000; echo done'",
    Created: Date.parse("2024-01-01T00:00:00Z") / 1000,
    Ports: [],
    Labels: { a: "1", b: "2" },
    State: "running",
    Status: "Up 2 seconds",
    HostConfig: { NetworkMode: "bridge" },
    NetworkSettings: { Networks: { bridge: { Aliases: null, IPAddress: "", MacAddress: "" } } },
    Mounts: [],
  };
  const [r] = psRows([c], false, Date.parse("2024-01-01T00:00:03.5Z"));
  expect(r).toMatchObject({
    ID: "a".repeat(12),
    Image: "b".repeat(12),
    Command: '"sh -c \'sleep 1000; …"',
    CreatedAt: "2024-01-01 00:00:00 +0000 UTC",
    RunningFor: "3 seconds ago",
    Size: "0B",
    Names: "web",
    Labels: "a=1,b=2",
    Networks: "bridge",
  });
  const [full] = psRows([{ ...c, SizeRw: 0, SizeRootFs: 2048 }], true);
  expect(full).toMatchObject({ ID: c.Id, Image: c.Image, Command: JSON.stringify(c.Command), Size: "0B (virtual 2.05kB)" });
});

test("info text: docker's layout and labels", () => {
  const i = {
    Containers: 3,
    ContainersRunning: 1,
    ContainersPaused: 0,
    ContainersStopped: 2,
    Images: 4,
    ServerVersion: "0.1.0",
    Driver: "overlay",
    DriverStatus: [["Backing Filesystem", "extfs"]],
    LoggingDriver: "json-file",
    CgroupDriver: "cgroupfs",
    CgroupVersion: "1",
    Plugins: { Volume: ["local"], Network: ["bridge", "host", "none"], Log: ["json-file"] },
    KernelVersion: "6.18.0",
    OperatingSystem: "Debian",
    OSType: "linux",
    Architecture: "x86_64",
    NCPU: 2,
    MemTotal: 2 * 1024 ** 3,
    Name: "h",
    ID: "x",
    DockerRootDir: "/var/lib/berth",
    Debug: false,
    ExperimentalBuild: false,
    LiveRestoreEnabled: false,
  } as unknown as SystemInfo;
  const t = renderInfo(i);
  expect(t).toStartWith("Server:\n Containers: 3\n  Running: 1\n  Paused: 0\n  Stopped: 2\n Images: 4\n");
  for (const l of [
    " Storage Driver: overlay\n  Backing Filesystem: extfs\n",
    " Cgroup Version: 1\n",
    "  Network: bridge host none\n",
    " Total Memory: 2GiB\n",
    " Docker Root Dir: /var/lib/berth\n",
  ])
    expect(t).toContain(l);
});

test("events' text line: nanoseconds, attributes sorted", () => {
  const c: EventMessage = {
    Type: "container",
    Action: "die",
    Actor: { ID: "abc123", Attributes: { name: "web", image: "busybox", tier: "front", exitCode: "1" } },
    scope: "local",
    time: 1,
    timeNano: 1_700_000_000_123_456_800,
  };
  expect(renderEvent(c)).toMatch(/^2023-11-14T22:13:20\.\d{9}Z container die abc123 \(exitCode=1, image=busybox, name=web, tier=front\)$/);
  // the JSON's digits (what docker's CLI prints from the same event), not the float's binary value (…123456768)
  expect(renderEvent({ ...c, timeNano: 1_796_647_831_918_416_000 })).toStartWith("2026-12-07T12:50:31.918416000Z ");
});
