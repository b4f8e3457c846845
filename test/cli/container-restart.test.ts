/**
 * Restart policies under the detached monitor: on-failure:N, always, and what stops them (stop, kill,
 * rm -f), seen through ps, inspect and logs as a docker user would. Root only.
 */
import { describe, expect, test } from "bun:test";
import { type CliResult, busyboxRoot, waitUntil } from "../helpers/cli.ts";
import { rootEnabled } from "../helpers/root.ts";

const { run } = busyboxRoot("restart");
const ok = (r: CliResult) => expect(r).toMatchObject({ exitCode: 0 });
const sfx = Math.random().toString(36).slice(2, 8);
const net = ["--network", "none"];
const inspect = async (name: string, f: string) => (await run(["inspect", "-f", f, name])).stdout.trim();

const until = waitUntil;

describe.skipIf(!rootEnabled)("restart policies", () => {
  test("on-failure:2 runs three times, then stays exited with the code; exit 0 is not restarted", async () => {
    const name = `of-${sfx}`;
    ok(await run(["run", "-d", ...net, "--name", name, "--restart", "on-failure:2", "busybox", "sh", "-c", "echo run; exit 3"]));
    await until("two restarts", async () => (await inspect(name, "{{.RestartCount}} {{.State.Status}}")) === "2 exited");
    expect((await run(["logs", name])).stdout).toBe("run\nrun\nrun\n");
    expect(await inspect(name, "{{.State.ExitCode}} {{.HostConfig.RestartPolicy.Name}} {{.HostConfig.RestartPolicy.MaximumRetryCount}}")).toBe(
      "3 on-failure 2",
    );
    ok(await run(["rm", name]));

    const zero = `of0-${sfx}`;
    ok(await run(["run", "-d", ...net, "--name", zero, "--restart", "on-failure", "busybox", "true"]));
    await until("exit", async () => (await inspect(zero, "{{.State.Status}}")) === "exited");
    await Bun.sleep(300);
    expect(await inspect(zero, "{{.RestartCount}}")).toBe("0");
    ok(await run(["rm", zero]));
  });

  test("always: restarting shows in ps; rm without -f refuses it; stop ends it for good", async () => {
    const name = `al-${sfx}`;
    ok(await run(["run", "-d", ...net, "--name", name, "--restart", "always", "busybox", "sh", "-c", "echo up; exit 1"]));
    await until("a restarting status", async () => (await run(["ps", "--format", "{{.Names}} {{.Status}}"])).stdout.includes(`${name} Restarting (1) `));
    // the first exit shows as restarting before the policy's first restart counts (docker's RestartCount too)
    await until("a first restart", async () => Number(await inspect(name, "{{.RestartCount}}")) > 0);
    // inspect agrees with itself whichever phase of the cycle it catches
    expect(await inspect(name, "{{.State.Status}} {{.State.Restarting}}")).toMatch(/^(restarting true|running false)$/);
    const rm = await run(["rm", name]);
    if (rm.exitCode !== 0) expect(rm.stderr).toMatch(/container is (restarting|running)/);
    else throw new Error("rm removed a container under a restart policy");
    ok(await run(["stop", "-t", "1", name]));
    const count = await inspect(name, "{{.RestartCount}}");
    expect(Number(count)).toBeGreaterThan(0);
    await Bun.sleep(1500);
    expect(await inspect(name, "{{.State.Status}} {{.State.Restarting}} {{.RestartCount}}")).toBe(`exited false ${count}`);
    expect((await run(["ps", "-q"])).stdout).toBe("");
    // a manual start clears the stop: the policy applies again
    ok(await run(["start", name]));
    await until("a restart after start", async () => Number(await inspect(name, "{{.RestartCount}}")) > Number(count));
    ok(await run(["rm", "-f", name]));
    expect((await run(["ps", "-aq"])).stdout).toBe("");
  });

  test("kill of an always container keeps it down", async () => {
    const name = `k-${sfx}`;
    ok(await run(["run", "-d", ...net, "--name", name, "--restart", "always", "busybox", "sleep", "60"]));
    ok(await run(["kill", name]));
    await until("exit", async () => (await inspect(name, "{{.State.Status}}")) === "exited");
    await Bun.sleep(500);
    expect(await inspect(name, "{{.State.Status}} {{.RestartCount}}")).toBe("exited 0");
    ok(await run(["rm", name]));
  });
});
