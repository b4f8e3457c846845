/**
 * Health checks as a docker user sees them: --health-* flags and a Dockerfile HEALTHCHECK, the status in
 * ps, State.Health in inspect, ps --filter health=, a probe over its timeout. Root only.
 */
import { describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { type CliResult, busyboxRoot, waitUntil } from "../helpers/cli.ts";
import { rootEnabled } from "../helpers/root.ts";

const { run } = busyboxRoot("health");
const ok = (r: CliResult) => expect(r).toMatchObject({ exitCode: 0 });
const sfx = Math.random().toString(36).slice(2, 8);
const net = ["--network", "none"];
const status = async (name: string) => (await run(["ps", "-a", "--filter", `name=^${name}$`, "--format", "{{.Status}}"])).stdout.trim();

const until = waitUntil;

describe.skipIf(!rootEnabled)("health checks", () => {
  test("--health-cmd: starting, unhealthy after the retries, healthy once the probe passes; ps filter; inspect", async () => {
    const name = `hc-${sfx}`;
    ok(
      await run([
        "run",
        "-d",
        ...net,
        "--name",
        name,
        "--health-cmd",
        "cat /tmp/ok",
        "--health-interval",
        "100ms",
        "--health-retries",
        "2",
        "busybox",
        "sleep",
        "60",
      ]),
    );
    expect(await status(name)).toMatch(/^Up .* \((health: starting|unhealthy)\)$/);
    await until("unhealthy", async () => (await status(name)).endsWith("(unhealthy)"));
    expect((await run(["ps", "-q", "--filter", "health=unhealthy"])).stdout.trim()).not.toBe("");
    ok(await run(["exec", name, "sh", "-c", "echo fine > /tmp/ok"]));
    await until("healthy", async () => (await status(name)).endsWith("(healthy)"));
    const h = JSON.parse((await run(["inspect", "-f", "{{json .State.Health}}", name])).stdout);
    expect(h.Status).toBe("healthy");
    expect(h.FailingStreak).toBe(0);
    expect(h.Log.length).toBeLessThanOrEqual(5);
    expect(h.Log.at(-1)).toMatchObject({ ExitCode: 0, Output: "fine\n" });
    expect(JSON.parse((await run(["inspect", "-f", "{{json .Config.Healthcheck}}", name])).stdout)).toEqual({
      Test: ["CMD-SHELL", "cat /tmp/ok"],
      Interval: 100_000_000,
      Retries: 2,
    });
    expect((await run(["ps", "-q", "--filter", "health=unhealthy"])).stdout).toBe("");
    ok(await run(["rm", "-f", name]));
  });

  test("a Dockerfile HEALTHCHECK applies; --no-healthcheck turns it off; a probe over its timeout fails", async () => {
    const ctx = mkdtempSync("/tmp/berth-test-hc-");
    try {
      writeFileSync(`${ctx}/Dockerfile`, 'FROM busybox\nHEALTHCHECK --interval=100ms --timeout=5s --retries=1 CMD ["true"]\n');
      ok(await run(["build", "-q", "-t", `hcimg-${sfx}`, ctx]));
      ok(await run(["run", "-d", ...net, "--name", `hi-${sfx}`, `hcimg-${sfx}`, "sleep", "60"]));
      await until("healthy from the image's check", async () => (await status(`hi-${sfx}`)).endsWith("(healthy)"));
      ok(await run(["run", "-d", ...net, "--name", `hn-${sfx}`, "--no-healthcheck", `hcimg-${sfx}`, "sleep", "60"]));
      await Bun.sleep(400);
      expect(await status(`hn-${sfx}`)).toMatch(/^Up [^(]*$/);
      ok(
        await run([
          "run",
          "-d",
          ...net,
          "--name",
          `ht-${sfx}`,
          "--health-cmd",
          "sleep 5",
          "--health-interval",
          "100ms",
          "--health-timeout",
          "200ms",
          "--health-retries",
          "1",
          "busybox",
          "sleep",
          "60",
        ]),
      );
      await until("unhealthy by timeout", async () => (await status(`ht-${sfx}`)).endsWith("(unhealthy)"));
      const log = JSON.parse((await run(["inspect", "-f", "{{json .State.Health.Log}}", `ht-${sfx}`])).stdout);
      expect(log.at(-1)).toMatchObject({ ExitCode: -1, Output: "Health check exceeded timeout (0.2s)" });
      ok(await run(["rm", "-f", `hi-${sfx}`, `hn-${sfx}`, `ht-${sfx}`]));
      ok(await run(["rmi", `hcimg-${sfx}`]));
    } finally {
      rmSync(ctx, { recursive: true, force: true });
    }
  });
});
