/**
 * `info`, `container prune` and `system prune` through the CLI on a busybox root of their own. Root
 * only (containers). The prompt is answered through stdin, as a user would.
 */
import { describe, expect, test } from "bun:test";
import { type CliResult, busyboxRoot } from "../helpers/cli.ts";
import { rootEnabled } from "../helpers/root.ts";

const { root, run } = busyboxRoot("system");
const ok = (r: CliResult) => expect(r).toMatchObject({ exitCode: 0 });
const sfx = Math.random().toString(36).slice(2, 8);

describe.skipIf(!rootEnabled)("info and prune", () => {
  test("info: docker's text sections and --format over the Engine API field names", async () => {
    ok(await run(["run", "-d", "--network", "none", "--name", `up-${sfx}`, "busybox", "sleep", "60"]));
    const r = await run(["info"]);
    ok(r);
    expect(r.stdout).toStartWith("Client:\n Version:    ");
    for (const l of [
      "\nServer:\n Containers: 1\n  Running: 1\n  Paused: 0\n  Stopped: 0\n Images: 1\n",
      " Storage Driver: overlay\n",
      " Cgroup Driver: cgroupfs\n",
      ` Docker Root Dir: ${root}\n`,
      " OSType: linux\n",
    ]) {
      expect(r.stdout).toContain(l);
    }
    const f = await run(["system", "info", "--format", "{{.Containers}} {{.ContainersRunning}} {{.Driver}} {{.OSType}} {{.ClientInfo.Context}}"]);
    expect(f).toMatchObject({ exitCode: 0, stdout: "1 1 overlay linux default\n" });
    const j = JSON.parse((await run(["info", "-f", "json"])).stdout);
    expect(j).toMatchObject({ Containers: 1, Images: 1, DockerRootDir: root, LoggingDriver: "json-file" });
    ok(await run(["rm", "-f", `up-${sfx}`]));
  });

  test("container prune: asks first (EOF or 'n' keeps everything), filters by label, keeps running ones", async () => {
    ok(await run(["run", "-d", "--network", "none", "--name", `live-${sfx}`, "busybox", "sleep", "60"]));
    ok(await run(["create", "--network", "none", "--name", `a-${sfx}`, "--label", "tier=web", "busybox", "true"]));
    ok(await run(["run", "--network", "none", "--name", `b-${sfx}`, "busybox", "true"]));
    const names = async () => (await run(["ps", "-a", "--format", "{{.Names}}"])).stdout.trim().split("\n").sort();
    const all = [`a-${sfx}`, `b-${sfx}`, `live-${sfx}`];

    const eof = await run(["container", "prune"]);
    expect(eof).toMatchObject({ exitCode: 0 });
    expect(eof.stdout).toBe("WARNING! This will remove all stopped containers.\nAre you sure you want to continue? [y/N] ");
    expect(await names()).toEqual(all);
    ok(await run(["container", "prune"], { stdin: "n\n" }));
    expect(await names()).toEqual(all);

    const byLabel = await run(["container", "prune", "--filter", "label=tier=web"], { stdin: "y\n" });
    ok(byLabel);
    expect(byLabel.stdout).toMatch(/Deleted Containers:\n[0-9a-f]{64}\n\nTotal reclaimed space: /);
    expect(await names()).toEqual([`b-${sfx}`, `live-${sfx}`]);

    const bad = await run(["container", "prune", "-f", "--filter", "until=someday"]);
    expect(bad.exitCode).toBe(1); // docker: the daemon refuses the filter
    expect(bad.stderr).toContain('failed to parse value as time or duration: "someday"');

    ok(await run(["container", "prune", "-f"]));
    expect(await names()).toEqual([`live-${sfx}`]);
    ok(await run(["rm", "-f", `live-${sfx}`]));
  });

  test("system prune -f: stopped containers, unused networks and dangling images go; used ones stay", async () => {
    const net = `pn${sfx}`;
    ok(await run(["network", "create", net]));
    ok(await run(["run", "--network", "none", "--name", `s-${sfx}`, "busybox", "true"]));
    ok(await run(["run", "-d", "--network", "none", "--name", `keep-${sfx}`, "busybox", "sleep", "60"]));
    ok(await run(["run", "--network", "none", "--name", `anon-${sfx}`, "-v", "/data", "-v", `named-${sfx}:/n`, "busybox", "true"]));
    const r = await run(["system", "prune", "-f", "--volumes"]);
    ok(r);
    expect(r.stdout).toContain("Deleted Containers:\n");
    expect(r.stdout).toContain(`Deleted Networks:\n${net}\n`);
    expect(r.stdout).toMatch(/Total reclaimed space: \S+\n$/);
    // the anonymous volume of the pruned container goes, the named one stays (docker ≥ 23)
    expect(r.stdout).toMatch(/Deleted Volumes:\n[0-9a-f]{64}\n/);
    expect((await run(["volume", "ls", "-q"])).stdout).toBe(`named-${sfx}\n`);
    ok(await run(["volume", "rm", `named-${sfx}`]));
    expect((await run(["ps", "-a", "--format", "{{.Names}}"])).stdout).toBe(`keep-${sfx}\n`);
    expect((await run(["network", "ls", "--format", "{{.Name}}"])).stdout).not.toContain(net);
    expect((await run(["images", "-q"])).stdout.trim()).not.toBe("");
    ok(await run(["rm", "-f", `keep-${sfx}`]));
    // image prune filters: only the labelled image goes; until= in the past keeps everything
    ok(await run(["run", "--network", "none", "--name", `lab-${sfx}`, "busybox", "true"]));
    ok(await run(["commit", "-c", "LABEL tier=old", `lab-${sfx}`, `old-${sfx}:1`]));
    ok(await run(["rm", `lab-${sfx}`]));
    expect((await run(["image", "prune", "-a", "-f", "--filter", "label=nothing=here"])).stdout).toBe("Total reclaimed space: 0B\n");
    expect((await run(["image", "prune", "-a", "-f", "--filter", "until=2000-01-01T00:00:00Z"])).stdout).toBe("Total reclaimed space: 0B\n");
    const pruned = await run(["image", "prune", "-a", "-f", "--filter", "label=tier=old"]);
    expect(pruned.stdout).toContain(`untagged: old-${sfx}:1`);
    expect((await run(["images", "--format", "{{.Repository}}"])).stdout).toBe("busybox\n");
    // image and build-cache prune ask the same way: without an answer nothing goes
    for (const cmd of [
      ["image", "prune", "-a"],
      ["builder", "prune"],
    ]) {
      const r2 = await run(cmd);
      expect(r2).toMatchObject({ exitCode: 0 });
      expect(r2.stdout).toEndWith("Are you sure you want to continue? [y/N] ");
    }
    expect((await run(["images", "-q"])).stdout.trim()).not.toBe("");
    const check = await run(["system", "check"]);
    ok(check);
  });
});
