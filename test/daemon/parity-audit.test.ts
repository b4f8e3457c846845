/**
 * The docker CLI on berth's daemon, where it printed a placeholder or failed on a field dockerd always
 * sends: inspect's HostConfig fields, ps {{.Size}}, volume ls's Size and Links, network ls's IPv4,
 * system df's Images row over shared layers, top's C column. Root only; containers on --network none.
 */
import { describe, expect, test } from "bun:test";
import { rootEnabled } from "../helpers/root.ts";
import { humanSize } from "../../src/lib/human.ts";

/** units.HumanSize (4 digits), as docker prints system df (pinned against docker's in src/lib/human.test.ts) */
const human4 = (n: number) => humanSize(n, 4);
import { waitUntil } from "../helpers/cli.ts";
import { apiDaemon, dockerBin } from "./_api-daemon.ts";
import { existsSync } from "node:fs";

const d = apiDaemon("daemon-parity-audit");
const ok = (r: { exitCode: number; stderr: string; stdout: string }) => {
  if (r.exitCode !== 0) throw new Error(`exit ${r.exitCode}: ${r.stderr}${r.stdout}`);
  return r.stdout;
};
const tag = Math.random().toString(36).slice(2, 7);
const run = (args: string[]) => d.docker(["run", "--pull=never", "--network", "none", ...args]);

describe.skipIf(!rootEnabled || !existsSync(dockerBin))("docker CLI → berth daemon: real values", () => {
  test("inspect -f on HostConfig fields berth does not set reads docker's zero values (it failed: map has no entry for key)", async () => {
    ok(await d.docker(["create", "--pull=never", "--network", "none", "--name", `hc${tag}`, "busybox", "true"]));
    expect(
      ok(
        await d.docker([
          "inspect",
          "-f",
          "{{.HostConfig.CpuQuota}} {{.HostConfig.BlkioWeight}} {{.HostConfig.CgroupnsMode}} {{.HostConfig.OomScoreAdj}}",
          `hc${tag}`,
        ]),
      ),
    ).toBe("0 0 private 0\n");
    ok(await d.docker(["rm", `hc${tag}`]));
  });

  test("ps --format {{.Size}} asks for sizes: the writable layer's bytes, 0B for a container that wrote nothing", async () => {
    ok(await run(["--name", `w${tag}`, "busybox", "sh", "-c", "head -c 5000 /dev/zero > /five"]));
    ok(await run(["--name", `i${tag}`, "busybox", "true"]));
    const rows = ok(await d.docker(["ps", "-a", "--filter", `name=${tag}`, "--format", "{{.Names}} {{.Size}}"]));
    expect(rows).toMatch(new RegExp(`^w${tag} 5kB \\(virtual [\\d.]+MB\\)$`, "m"));
    expect(rows).toMatch(new RegExp(`^i${tag} 0B \\(virtual [\\d.]+MB\\)$`, "m"));
    ok(await d.docker(["rm", `w${tag}`, `i${tag}`]));
  });

  test("volume ls: Size and Links are N/A as from dockerd (Size printed -1B); network ls {{.IPv4}} is true", async () => {
    ok(await d.docker(["volume", "create", `v${tag}`]));
    expect(ok(await d.docker(["volume", "ls", "--filter", `name=v${tag}`, "--format", "{{.Name}} {{.Size}} {{.Links}}"]))).toBe(`v${tag} N/A N/A\n`);
    ok(await d.docker(["volume", "rm", `v${tag}`]));
    const nets = ok(await d.docker(["network", "ls", "--format", "{{.Name}} {{.IPv4}} {{.IPv6}}"])).split("\n");
    expect(nets).toContain("bridge true false");
  });

  test("system df counts busybox's layer once when a committed image shares it", async () => {
    ok(await run(["--name", `c${tag}`, "busybox", "sh", "-c", "head -c 300000 /dev/urandom > /blob"]));
    ok(await d.docker(["commit", `c${tag}`, `derived${tag}:1`]));
    ok(await d.docker(["rm", `c${tag}`]));
    const derived = Number(ok(await d.docker(["image", "inspect", "-f", "{{.Size}}", `derived${tag}:1`])).trim());
    const row = ok(await d.docker(["system", "df", "--format", "{{.Type}} {{.Size}}"]))
      .split("\n")
      .find((l) => l.startsWith("Images "));
    expect(row).toBe(`Images ${human4(derived)}`);
    ok(await d.docker(["rmi", `derived${tag}:1`]));
  });

  test("top's C column is the process's CPU use (it was 0)", async () => {
    ok(await run(["-d", "--name", `spin${tag}`, "busybox", "sh", "-c", "while :; do :; done"]));
    await waitUntil(
      "top shows the spinning shell's CPU",
      async () => {
        const line = ok(await d.docker(["top", `spin${tag}`]))
          .split("\n")
          .find((l) => l.includes("while"));
        return Number(line?.trim().split(/\s+/)[3] ?? 0) > 0;
      },
      15_000,
    );
    ok(await d.docker(["rm", "-f", `spin${tag}`]));
  });
});
