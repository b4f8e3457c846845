/** the CLI's renderers: docker's tabwriter, ps's status words, info's text, events' line */
import { expect, test } from "bun:test";
import { renderDockerTable } from "./table.ts";
import { statusText } from "./ps.ts";
import { renderInfo } from "./info.ts";
import { renderEvent } from "./events.ts";
import { initialState } from "../../engine/containers/types.ts";
import type { SystemInfo } from "../../engine/system.ts";
import type { BerthEvent } from "../../engine/events.ts";

test("docker's tabwriter: minwidth 10, padding 3", () => {
  expect(renderDockerTable(["CONTAINER ID", "IMAGE", "NAMES"], [["abc", "busybox", "x"]])).toBe("CONTAINER ID   IMAGE     NAMES\nabc            busybox   x\n");
});

test("status words", () => {
  const now = Date.parse("2024-01-01T00:00:10Z");
  const i = (state: object) => ({ cfg: {} as never, state: { ...initialState(), ...state } });
  expect(statusText(i({ Status: "running", StartedAt: "2024-01-01T00:00:08.123456789Z" }), now)).toBe("Up 1 second");
  expect(statusText(i({ Status: "stopped", ExitCode: 0, FinishedAt: "2024-01-01T00:00:07Z" }), now)).toBe("Exited (0) 3 seconds ago");
  expect(statusText(i({ Status: "created" }), now)).toBe("Created");
});

test("info text: docker's layout and labels", () => {
  const i = {
    Containers: 3, ContainersRunning: 1, ContainersPaused: 0, ContainersStopped: 2, Images: 4, ServerVersion: "0.1.0", Driver: "overlay",
    DriverStatus: [["Backing Filesystem", "extfs"]], LoggingDriver: "json-file", CgroupDriver: "cgroupfs", CgroupVersion: "1",
    Plugins: { Volume: ["local"], Network: ["bridge", "host", "none"], Log: ["json-file"] }, KernelVersion: "6.18.0", OperatingSystem: "Debian",
    OSType: "linux", Architecture: "x86_64", NCPU: 2, MemTotal: 2 * 1024 ** 3, Name: "h", ID: "x", DockerRootDir: "/var/lib/berth",
    Debug: false, ExperimentalBuild: false, LiveRestoreEnabled: false,
  } as unknown as SystemInfo;
  const t = renderInfo(i);
  expect(t).toStartWith("Server:\n Containers: 3\n  Running: 1\n  Paused: 0\n  Stopped: 2\n Images: 4\n");
  for (const l of [" Storage Driver: overlay\n  Backing Filesystem: extfs\n", " Cgroup Version: 1\n", "  Network: bridge host none\n", " Total Memory: 2.00GiB\n", " Docker Root Dir: /var/lib/berth\n"]) expect(t).toContain(l);
});

test("events' text line: nanoseconds, attributes sorted", () => {
  const c: BerthEvent = { Type: "container", Action: "die", Actor: { ID: "abc123", Attributes: { name: "web", image: "busybox", tier: "front", exitCode: "1" } }, scope: "local", time: 1, timeNano: 1_700_000_000_123_456_789 };
  expect(renderEvent(c)).toMatch(/^2023-11-14T22:13:20\.\d{9}Z container die abc123 \(exitCode=1, image=busybox, name=web, tier=front\)$/);
});
