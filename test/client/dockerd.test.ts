/**
 * The berth client speaks docker's public Engine API, not berth's: the same verbs against Debian's
 * dockerd (20.10, API 1.41, so the version is negotiated down) on a socket of the test's own (no bridge,
 * no iptables, containers on --network none). busybox reaches it through `berth load` of a `berth save`.
 * Root only; skipped where dockerd is not installed (scripts/deps.sh installs docker.io).
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { berth, importBusybox, tempRoot, waitUntil } from "../helpers/cli.ts";
import { rootEnabled } from "../helpers/root.ts";
import { ping } from "./_fixture.ts";

const haveDockerd = existsSync("/usr/sbin/dockerd");
const tr = rootEnabled && haveDockerd ? tempRoot("client-dockerd") : undefined;
const dir = tr?.path ?? "/nonexistent";
const sock = join(dir, "docker.sock");
const config = join(dir, "config");
const state: { proc?: ReturnType<typeof Bun.spawn> } = {};
const client = (args: string[], o: { stdin?: string } = {}) => berth(["-H", `unix://${sock}`, ...args], { ...o, env: { BERTH_CONFIG: config } });

beforeAll(async () => {
  if (!tr) return;
  mkdirSync(config, { recursive: true });
  const root = join(dir, "berth-root");
  mkdirSync(root, { recursive: true });
  await importBusybox(root);
  const tar = join(dir, "busybox.tar");
  const s = await berth(["--root", root, "save", "-o", tar, "busybox"]);
  if (s.exitCode !== 0) throw new Error(`save: ${s.stderr}`);
  const log = Bun.file(join(dir, "dockerd.log"));
  state.proc = Bun.spawn(
    [
      "/usr/sbin/dockerd",
      "-H",
      `unix://${sock}`,
      "--data-root",
      join(dir, "data"),
      "--exec-root",
      join(dir, "exec"),
      "--pidfile",
      join(dir, "dockerd.pid"),
      "--bridge=none",
      "--iptables=false",
      "--ip6tables=false",
      "--ip-masq=false",
    ],
    { stdout: log, stderr: log },
  );
  await waitUntil("dockerd answers /_ping", () => ping(sock), 60_000);
  const l = await client(["load", "-i", tar]);
  if (l.exitCode !== 0) throw new Error(`load: ${l.stderr}`);
}, 90_000);

afterAll(async () => {
  if (!tr) return;
  const ids = (await client(["ps", "-aq"])).stdout.split("\n").filter(Boolean);
  if (ids.length) await client(["rm", "-f", ...ids]);
  state.proc?.kill("SIGTERM");
  await state.proc?.exited;
  tr[Symbol.dispose]();
});

describe.skipIf(!tr)("the berth client against dockerd", () => {
  test("version negotiated down to the daemon's; info", async () => {
    const v = await client(["version"]);
    expect(v.exitCode).toBe(0);
    expect(v.stdout).toMatch(/API version: +1\.41 \(downgraded from 1\.44\)/);
    expect((await client(["info", "--format", "{{.Driver}}"])).exitCode).toBe(0);
  });

  test("run, -i, exec, logs, cp, ps, rm", async () => {
    const r = await client(["run", "--rm", "--network", "none", "busybox", "sh", "-c", "echo from dockerd; exit 5"]);
    expect({ out: r.stdout, code: r.exitCode }).toEqual({ out: "from dockerd\n", code: 5 });
    const i = await client(["run", "--rm", "-i", "--network", "none", "busybox", "cat"], { stdin: "piped\n" });
    expect(i).toMatchObject({ exitCode: 0, stdout: "piped\n" });
    expect((await client(["run", "-d", "--name", "dd1", "--network", "none", "busybox", "sh", "-c", "echo logged; sleep 60"])).exitCode).toBe(0);
    const e = await client(["exec", "dd1", "sh", "-c", "echo in; exit 4"]);
    expect({ out: e.stdout, code: e.exitCode }).toEqual({ out: "in\n", code: 4 });
    await waitUntil("the log line", async () => (await client(["logs", "dd1"])).stdout === "logged\n", 10_000);
    expect((await client(["ps", "--format", "{{.Names}} {{.Image}}"])).stdout).toBe("dd1 busybox\n");
    const f = join(dir, "to-copy.txt");
    await Bun.write(f, "copied\n");
    expect((await client(["cp", f, "dd1:/tmp/"])).exitCode).toBe(0);
    expect((await client(["exec", "dd1", "cat", "/tmp/to-copy.txt"])).stdout).toBe("copied\n");
    expect((await client(["cp", "dd1:/tmp/to-copy.txt", join(dir, "back.txt")])).exitCode).toBe(0);
    expect(await Bun.file(join(dir, "back.txt")).text()).toBe("copied\n");
    // dockerd archives the root as "/", "/bin", …: the whole content lands in the destination
    expect((await client(["cp", "dd1:/", join(dir, "dd1-root")])).exitCode).toBe(0);
    expect(await Bun.file(join(dir, "dd1-root/tmp/to-copy.txt")).text()).toBe("copied\n");
    expect((await client(["rm", "-f", "dd1"])).stdout).toBe("dd1\n");
    const gone = await client(["rm", "dd1"]);
    expect(gone).toMatchObject({ exitCode: 1, stderr: "Error response from daemon: No such container: dd1\n" });
  });
});
