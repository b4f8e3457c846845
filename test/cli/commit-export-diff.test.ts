/**
 * `diff`, `commit`, `export` and `history` through the real CLI, on a busybox image imported from
 * Debian's busybox-static (scripts/busybox-rootfs.sh). Root only: containers need namespaces, mounts
 * and cgroups. Every container is removed; `system check` must be clean at the end.
 */
import { describe, expect, test } from "bun:test";
import { execFileSync } from "node:child_process";
import { lstatSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync } from "node:fs";
import { join } from "node:path";
import { berthArgv, type CliResult, busyboxRoot } from "../helpers/cli.ts";
import { rootEnabled } from "../helpers/root.ts";
import { readTar } from "../../src/tar/index.ts";

const { root, run } = busyboxRoot("commit");
const ok = (r: CliResult) => expect(r).toMatchObject({ exitCode: 0 });
const sfx = Math.random().toString(36).slice(2, 8);

async function tarNames(bytes: Uint8Array): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for await (const rec of readTar(new Blob([bytes]).stream())) {
    let body = "";
    if (rec.entry.type === "file" && rec.entry.size < 4096) body = await new Response(rec.body as unknown as ReadableStream).text();
    else
      for await (const _ of rec.body) {
      }
    out.set(rec.entry.name.replace(/\/$/, ""), body);
  }
  return out;
}

describe.skipIf(!rootEnabled)("diff, commit, export, history", () => {
  test("a stopped container's changes: diff lists them, commit makes an image that has them", async () => {
    const name = `c-${sfx}`;
    ok(await run(["run", "--name", name, "busybox", "sh", "-c", "mkdir -p /data && echo hello > /data/new.txt && echo more >> /etc/group && rm /etc/passwd"]));
    const d = await run(["diff", name]);
    ok(d);
    const lines = d.stdout.trim().split("\n");
    for (const l of ["A /data", "A /data/new.txt", "C /etc", "C /etc/group", "D /etc/passwd"]) expect(lines).toContain(l);

    const c = await run([
      "commit",
      "-m",
      "my message",
      "-a",
      "Tester <t@example.invalid>",
      "-c",
      "ENV FOO=bar",
      "-c",
      'CMD ["cat", "/data/new.txt"]',
      "-c",
      "WORKDIR /data",
      "-c",
      "USER 0",
      "-c",
      "EXPOSE 8080",
      "-c",
      "LABEL a=b",
      "-c",
      'ENTRYPOINT ["/bin/busybox"]',
      name,
      `committed-${sfx}:v1`,
    ]);
    ok(c);
    expect(c.stdout).toMatch(/^sha256:[0-9a-f]{64}\n$/);
    const ins = JSON.parse((await run(["image", "inspect", `committed-${sfx}:v1`])).stdout)[0];
    expect(ins.Id).toBe(c.stdout.trim());
    expect(ins.Author).toBe("Tester <t@example.invalid>");
    expect(ins.Comment).toBe("my message");
    expect(ins.Config).toMatchObject({
      Env: expect.arrayContaining(["FOO=bar"]),
      Cmd: ["cat", "/data/new.txt"],
      Entrypoint: ["/bin/busybox"],
      WorkingDir: "/data",
      User: "0",
      ExposedPorts: { "8080/tcp": {} },
      Labels: { a: "b" },
    });
    expect(ins.RootFS.Layers.length).toBe(2);

    // the committed image runs and sees the changes
    const r = await run([
      "run",
      "--rm",
      "--entrypoint",
      "",
      `committed-${sfx}:v1`,
      "sh",
      "-c",
      "cat /data/new.txt; tail -1 /etc/group; test -e /etc/passwd && echo passwd-present || echo passwd-gone; pwd",
    ]);
    expect(r).toMatchObject({ exitCode: 0, stdout: "hello\nmore\npasswd-gone\n/data\n" });

    const h = await run(["history", "--no-trunc", `committed-${sfx}:v1`]);
    ok(h);
    const hl = h.stdout.trim().split("\n");
    expect(hl.length).toBe(3); // header + commit + import
    expect(hl[1]).toContain(ins.Id);
    expect(hl[1]).toContain("my message");
    expect(hl[2]).toContain("berth import");
    expect((await run(["history", "-q", `committed-${sfx}:v1`])).stdout.trim().split("\n").length).toBe(2);

    // export: the whole filesystem with the changes applied
    const out = join(root, "export.tar");
    ok(await run(["export", "-o", out, name]));
    const names = await tarNames(readFileSync(out));
    expect(names.get("data/new.txt")).toBe("hello\n");
    expect(names.get("etc/group")).toContain("more\n");
    expect(names.has("etc/passwd")).toBe(false);
    expect(names.has("bin/busybox")).toBe(true);
    expect([...names.keys()].some((n) => n.includes(".wh."))).toBe(false);
    ok(await run(["rm", name]));
  });

  test("commit of a running container pauses it and leaves it running; export to stdout", async () => {
    const name = `r-${sfx}`;
    ok(await run(["run", "-d", "--name", name, "busybox", "sh", "-c", "echo live > /live.txt; sleep 300"]));
    for (let i = 0; i < 100 && !(await run(["diff", name])).stdout.includes("/live.txt"); i++) await Bun.sleep(50);
    const c = await run(["container", "commit", name, `running-${sfx}`]);
    ok(c);
    const st = JSON.parse((await run(["inspect", name])).stdout)[0].State;
    expect(st.Status).toBe("running");
    const r = await run(["run", "--rm", `running-${sfx}`, "cat", "/live.txt"]);
    expect(r).toMatchObject({ exitCode: 0, stdout: "live\n" });
    const proc = Bun.spawn([...berthArgv(["--root", root, "export", name])], { stdout: "pipe", stderr: "pipe" });
    const [bytes, err, code] = await Promise.all([new Response(proc.stdout).arrayBuffer(), new Response(proc.stderr).text(), proc.exited]);
    expect({ code, err }).toEqual({ code: 0, err: "" });
    const names = await tarNames(new Uint8Array(bytes));
    expect(names.get("live.txt")).toBe("live\n");
    expect([...names.keys()].some((n) => n.startsWith("proc/") || n.startsWith("sys/"))).toBe(false);
    ok(await run(["rm", "-f", name]));
  });

  test("commit of an untouched container: an empty layer (the engine's mount points are not changes)", async () => {
    const name = `fresh-${sfx}`;
    ok(await run(["run", "--name", name, "busybox", "true"]));
    expect((await run(["diff", name])).stdout).toBe("");
    ok(await run(["commit", name, `fresh-${sfx}:1`]));
    const out = join(root, `fresh-${sfx}.tar`);
    ok(await run(["save", "-o", out, `fresh-${sfx}:1`]));
    const manifest = JSON.parse(Bun.spawnSync(["tar", "-xOf", out, "manifest.json"]).stdout.toString());
    const layer = manifest[0].Layers.at(-1);
    const blob = Bun.spawnSync(["tar", "-xOf", out, layer]).stdout;
    const names = await tarNames(Bun.gunzipSync(new Uint8Array(blob)));
    expect([...names.keys()]).toEqual([]);
    ok(await run(["rm", name]));
    ok(await run(["rmi", `fresh-${sfx}:1`]));
  });

  test("errors name the container; the store stays clean", async () => {
    const r = await run(["commit", `nope-${sfx}`]);
    expect(r.exitCode).not.toBe(0);
    expect(r.stderr).toContain(`nope-${sfx}`);
    expect((await run(["diff", `nope-${sfx}`])).exitCode).not.toBe(0);
    expect((await run(["export", "-o", join(root, "x.tar"), `nope-${sfx}`])).exitCode).not.toBe(0);
    const chk = await run(["system", "check"]);
    expect(chk).toMatchObject({ exitCode: 0 });
  });

  test("-o and cp's destination never replace a device, pipe, directory or link (as root: the host's /dev/null)", async () => {
    const name = `o-${sfx}`;
    ok(await run(["create", "--name", name, "--network", "none", "busybox", "true"]));
    const dir = join(root, `targets-${sfx}`);
    mkdirSync(dir);
    const dev = join(dir, "null"); // a null device of the test's own, as /dev/null is
    execFileSync("mknod", ["-m", "666", dev, "c", "1", "3"]);
    const fifo = join(dir, "fifo");
    execFileSync("mkfifo", [fifo]);
    const link = join(dir, "link");
    symlinkSync(dev, link);
    const cases: [string, string][] = [
      [dev, "a character device file"],
      [fifo, "a named pipe (FIFO)"],
      [dir, "a directory"],
      [link, "a symbolic link directly"],
    ];
    for (const [target, kind] of cases) {
      // docker 28's CLI words, exit 1
      expect(await run(["export", "-o", target, name])).toMatchObject({ exitCode: 1, stderr: `berth: failed to export container: cannot write to ${kind}\n` });
      expect(await run(["save", "-o", target, "busybox"])).toMatchObject({ exitCode: 1, stderr: `berth: failed to save image: cannot write to ${kind}\n` });
    }
    for (const target of [dev, link]) {
      const r = await run(["cp", `${name}:/etc/passwd`, target]);
      expect(r).toMatchObject({
        exitCode: 1,
        stderr: `berth: invalid output path: ${JSON.stringify(target)} must be a directory or a regular file: got a device\n`,
      });
    }
    expect(statSync(dev).isCharacterDevice()).toBe(true);
    expect(lstatSync(fifo).isFIFO()).toBe(true);
    expect(lstatSync(link).isSymbolicLink()).toBe(true);
    expect(readdirSync(dir).sort()).toEqual(["fifo", "link", "null"]); // no temp file left
    ok(await run(["rm", name]));
    rmSync(dir, { recursive: true });
  });
});
