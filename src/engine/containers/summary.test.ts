import { expect, test } from "bun:test";
import { commandLine, statusText } from "./summary.ts";
import { initialState, type ContainerConfigFile } from "./types.ts";

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
