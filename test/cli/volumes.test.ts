/**
 * docker's volumes through the real CLI: `volume` verbs, -v NAME:/ctr (created on first use, copy-up of
 * the image's content), anonymous volumes (-v /ctr, an image's VOLUME) and their removal with the
 * container. Checked from inside containers. Root only; one temp berth root, removed afterwards.
 */
import { describe, expect, test } from "bun:test";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { type CliResult, busyboxRoot } from "../helpers/cli.ts";
import { rootEnabled } from "../helpers/root.ts";

const { root, run } = busyboxRoot("vol");
const sfx = Math.random().toString(36).slice(2, 8);
const uniq = (n: string) => `${n}-${sfx}`;
const ok = (r: CliResult) => {
  expect({ exitCode: r.exitCode, stderr: r.stderr }).toMatchObject({ exitCode: 0 });
  return r.stdout;
};
const ctr = (args: string[]) => run(["run", "--network", "none", ...args]);

describe.skipIf(!rootEnabled)("volume verbs", () => {
  test("create prints the name; ls, -q, filters, --format; inspect's docker shape", async () => {
    const v = uniq("lsvol");
    expect(ok(await run(["volume", "create", "--label", "team=a", v]))).toBe(`${v}\n`);
    const anon = ok(await run(["volume", "create"])).trim();
    expect(anon).toMatch(/^[0-9a-f]{64}$/);
    const table = ok(await run(["volume", "ls"]));
    expect(table.split("\n")[0]).toBe("DRIVER    VOLUME NAME");
    expect(table).toContain(`local     ${v}\n`);
    expect(ok(await run(["volume", "ls", "-q", "--filter", "label=team=a"]))).toBe(`${v}\n`);
    expect(ok(await run(["volume", "ls", "-q", "--filter", `name=${v}`]))).toBe(`${v}\n`);
    expect(ok(await run(["volume", "ls", "--format", "{{.Name}} {{.Driver}} {{.Labels}}", "--filter", "label=team"]))).toBe(`${v} local team=a\n`);
    const [info] = JSON.parse(ok(await run(["volume", "inspect", v])));
    expect(Object.keys(info)).toEqual(["CreatedAt", "Driver", "Labels", "Mountpoint", "Name", "Options", "Scope"]);
    expect(info).toMatchObject({ Driver: "local", Labels: { team: "a" }, Name: v, Scope: "local", Mountpoint: join(root, "volumes", v, "_data") });
    expect(ok(await run(["volume", "inspect", "-f", "{{.Name}}", v]))).toBe(`${v}\n`);
    const miss = await run(["volume", "inspect", uniq("nosuch")]);
    expect(miss.exitCode).toBe(1);
    expect(miss.stderr).toBe(`berth: get ${uniq("nosuch")}: no such volume\n`);
    expect(ok(await run(["volume", "rm", v, anon]))).toBe(`${v}\n${anon}\n`);
    expect(existsSync(join(root, "volumes", v))).toBe(false);
    expect((await run(["volume", "rm", v])).exitCode).toBe(1);
    ok(await run(["volume", "rm", "-f", v]));
  });

  test("bad names and drivers are refused", async () => {
    const r = await run(["volume", "create", "-bad"]);
    expect(r.exitCode).not.toBe(0);
    const r2 = await run(["volume", "create", "a/b"]);
    expect(r2).toMatchObject({ exitCode: 1 });
    expect(r2.stderr).toContain("includes invalid characters for a local volume name");
    expect((await run(["volume", "create", "-d", "nfs", uniq("x")])).exitCode).toBe(1);
    expect((await run(["volume", "create", "-o", "type=tmpfs", uniq("x")])).stderr).toContain("not supported by berth yet");
  });
});

describe.skipIf(!rootEnabled)("volumes in containers", () => {
  test("a named volume is created on first use and its data outlives the container", async () => {
    const v = uniq("data");
    ok(await ctr(["--rm", "-v", `${v}:/data`, "busybox", "sh", "-c", "echo persisted > /data/f"]));
    expect(ok(await run(["volume", "ls", "-q", "--filter", `name=${v}`]))).toBe(`${v}\n`);
    expect(ok(await ctr(["--rm", "-v", `${v}:/other`, "busybox", "cat", "/other/f"]))).toBe("persisted\n");
    ok(await run(["volume", "rm", v]));
  });

  test(":ro refuses writes; the data stays readable", async () => {
    const v = uniq("rovol");
    ok(await ctr(["--rm", "-v", `${v}:/d`, "busybox", "sh", "-c", "echo x > /d/f"]));
    const r = await ctr(["--rm", "-v", `${v}:/d:ro`, "busybox", "sh", "-c", "cat /d/f; echo y > /d/g && echo wrote || echo refused"]);
    expect(ok(r)).toBe("x\nrefused\n");
    expect(r.stderr).toContain("Read-only file system");
    ok(await run(["volume", "rm", v]));
  });

  test("copy-up: a new volume over an image directory gets its content; nocopy skips it", async () => {
    const v = uniq("etc");
    expect(ok(await ctr(["--rm", "-v", `${v}:/etc`, "busybox", "sh", "-c", "grep -c ^root: /etc/passwd"]))).toBe("1\n");
    expect(existsSync(join(root, "volumes", v, "_data", "passwd"))).toBe(true);
    const n = uniq("nocopy");
    // nocopy: only the mount points of berth's own /etc files, none of the image's
    expect(ok(await ctr(["--rm", "-v", `${n}:/etc:nocopy`, "busybox", "ls", "-A", "/etc"]))).toBe("hostname\nhosts\nresolv.conf\n");
    // a volume that is not empty is not copied into again
    ok(await ctr(["--rm", "-v", `${v}:/etc`, "busybox", "sh", "-c", "rm /etc/passwd"]));
    expect(ok(await ctr(["--rm", "-v", `${v}:/etc`, "busybox", "sh", "-c", "test -e /etc/passwd && echo copied || echo kept"]))).toBe("kept\n");
    ok(await run(["volume", "rm", v, n]));
  });

  test("copy-up keeps ownership and modes", async () => {
    const img = `own-${sfx}`;
    const mk = uniq("mk");
    ok(
      await ctr([
        "--name",
        mk,
        "busybox",
        "sh",
        "-c",
        "mkdir -p /owned/sub && echo hi > /owned/sub/f && chown 1234:5678 /owned/sub/f && chmod 0640 /owned/sub/f && chown 99:98 /owned && chmod 2751 /owned && chmod 1777 /owned/sub",
      ]),
    );
    ok(await run(["commit", mk, img]));
    ok(await run(["rm", mk]));
    const v = uniq("own");
    const out = ok(await ctr(["--rm", "-v", `${v}:/owned`, img, "stat", "-c", "%n %u:%g %a", "/owned", "/owned/sub", "/owned/sub/f"]));
    expect(out).toBe("/owned 99:98 2751\n/owned/sub 0:0 1777\n/owned/sub/f 1234:5678 640\n");
    ok(await run(["volume", "rm", v]));
    ok(await run(["rmi", img]));
  });

  test("volume rm of a volume in use is refused with docker's wording, exit 1", async () => {
    const v = uniq("busy");
    const id = ok(await run(["create", "--network", "none", "-v", `${v}:/d`, "busybox", "true"])).trim();
    const r = await run(["volume", "rm", v]);
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toBe(`berth: remove ${v}: volume is in use - [${id}]\n`);
    expect(ok(await run(["volume", "ls", "-q", "--filter", "dangling=false", "--filter", `name=${v}`]))).toBe(`${v}\n`);
    // rm -v takes anonymous volumes only: the named one stays
    ok(await run(["rm", "-v", id]));
    expect(ok(await run(["volume", "ls", "-q", "--filter", "dangling=true", "--filter", `name=${v}`]))).toBe(`${v}\n`);
    ok(await run(["volume", "rm", v]));
  });

  test("inspect lists volume mounts in docker's shape", async () => {
    const v = uniq("insp");
    const id = ok(await run(["create", "--network", "none", "-v", `${v}:/named:ro`, "-v", "/anon", "busybox", "true"])).trim();
    const mounts = JSON.parse(ok(await run(["inspect", "-f", "{{json .Mounts}}", id])));
    const named = mounts.find((m: { Destination: string }) => m.Destination === "/named");
    const anon = mounts.find((m: { Destination: string }) => m.Destination === "/anon");
    expect(named).toMatchObject({ Type: "volume", Name: v, Source: join(root, "volumes", v, "_data"), Driver: "local", RW: false, Propagation: "" });
    expect(anon).toMatchObject({ Type: "volume", Driver: "local", RW: true, Propagation: "" });
    expect(anon.Name).toMatch(/^[0-9a-f]{64}$/);
    expect(anon.Source).toBe(join(root, "volumes", anon.Name, "_data"));
    const [vi] = JSON.parse(ok(await run(["volume", "inspect", anon.Name])));
    expect(vi.Labels).toEqual({ "com.docker.volume.anonymous": "" });
    // ps as docker's CLI prints it: volumes by name (cut to 15 characters unless --no-trunc), a bind by
    // its source, LOCAL VOLUMES counting the local driver's mounts
    const ps = (trunc: boolean) => run(["ps", "-a", ...(trunc ? [] : ["--no-trunc"]), "--filter", `id=${id}`, "--format", "{{.Mounts}}|{{.LocalVolumes}}"]);
    const cut = (s: string) => (s.length > 15 ? `${s.slice(0, 14)}…` : s);
    const byDest = (d: string) => mounts.findIndex((m: { Destination: string }) => m.Destination === d);
    const names = (f: (s: string) => string) =>
      [named, anon]
        .sort((a, b) => byDest(a.Destination) - byDest(b.Destination))
        .map((m) => f(m.Name))
        .join(",");
    expect(ok(await ps(false))).toBe(`${names((s) => s)}|2\n`);
    expect(ok(await ps(true))).toBe(`${names(cut)}|2\n`);
    ok(await run(["rm", "-v", id]));
    expect(existsSync(join(root, "volumes", anon.Name))).toBe(false);
    ok(await run(["volume", "rm", v]));
  });

  test("anonymous volumes: run --rm removes them; rm without -v leaves them to prune", async () => {
    const before = ok(await run(["volume", "ls", "-q"]));
    ok(await ctr(["--rm", "-v", "/scratch", "busybox", "sh", "-c", "echo x > /scratch/f"]));
    expect(ok(await run(["volume", "ls", "-q"]))).toBe(before);
    const name = uniq("keep");
    ok(await ctr(["--name", name, "-v", "/scratch", "busybox", "true"]));
    const anon = JSON.parse(ok(await run(["inspect", "-f", "{{json .Mounts}}", name])))[0].Name;
    ok(await run(["rm", name]));
    expect(ok(await run(["volume", "ls", "-q", "--filter", "dangling=true"]))).toContain(anon);
    const named = uniq("survivor");
    ok(await run(["volume", "create", named]));
    const p = ok(await run(["volume", "prune", "-f"]));
    expect(p).toContain(`Deleted Volumes:\n${anon}\n`);
    expect(p).toMatch(/Total reclaimed space: \S+\n$/);
    expect(ok(await run(["volume", "ls", "-q"]))).toContain(named);
    expect(ok(await run(["volume", "prune", "-f", "--all", "--filter", `label=nope-${sfx}`]))).toBe("Total reclaimed space: 0B\n");
    ok(await run(["volume", "rm", named]));
  });

  test("an image's VOLUME gets an anonymous volume with the image's content", async () => {
    const img = `volimg-${sfx}`;
    const mk = uniq("mkv");
    ok(await ctr(["--name", mk, "busybox", "sh", "-c", "mkdir /vdata && echo seeded > /vdata/f"]));
    ok(await run(["commit", "-c", "VOLUME /vdata", mk, img]));
    ok(await run(["rm", mk]));
    const name = uniq("imgvol");
    expect(ok(await ctr(["--name", name, img, "cat", "/vdata/f"]))).toBe("seeded\n");
    const [m] = JSON.parse(ok(await run(["inspect", "-f", "{{json .Mounts}}", name])));
    expect(m).toMatchObject({ Type: "volume", Destination: "/vdata" });
    ok(await run(["rm", "-v", name]));
    expect(existsSync(join(root, "volumes", m.Name))).toBe(false);
    ok(await run(["rmi", img]));
  });
});

describe.skipIf(!rootEnabled)("--volumes-from", () => {
  test("a container's volumes and binds, rw or :ro; binds replace; unknown container and bad mode refused", async () => {
    const v = uniq("vf"),
      dc = uniq("vfdata"),
      host = join(root, `vfhost-${sfx}`);
    ok(
      await ctr([
        "--name",
        dc,
        "-v",
        `${v}:/named`,
        "-v",
        "/anon",
        "-v",
        `${host}:/h`,
        "busybox",
        "sh",
        "-c",
        "echo n > /named/f; echo a > /anon/f; echo h > /h/f",
      ]),
    );
    expect(ok(await ctr(["--rm", "--volumes-from", dc, "busybox", "sh", "-c", "cat /named/f /anon/f /h/f; echo w > /anon/g"]))).toBe("n\na\nh\n");
    const ro = await ctr(["--rm", "--volumes-from", `${dc}:ro`, "busybox", "sh", "-c", "cat /anon/g; echo x > /named/x && echo wrote || echo refused"]);
    expect(ok(ro)).toBe("w\nrefused\n");
    // a bind at the same destination replaces the inherited mount; an anonymous -v does not (moby)
    expect(ok(await ctr(["--rm", "--volumes-from", dc, "-v", `${host}:/named`, "-v", "/anon", "busybox", "sh", "-c", "cat /named/f /anon/f"]))).toBe("h\na\n");
    const c = uniq("vfuser");
    ok(await run(["create", "--name", c, "--volumes-from", `${dc}:ro`, "busybox"]));
    expect(ok(await run(["inspect", "-f", "{{json .HostConfig.VolumesFrom}}", c]))).toBe(`["${dc}:ro"]\n`);
    const mounts = JSON.parse(ok(await run(["inspect", "-f", "{{json .Mounts}}", c])));
    expect(mounts.map((m: { Destination: string; RW: boolean }) => [m.Destination, m.RW]).sort()).toEqual([
      ["/anon", false],
      ["/h", false],
      ["/named", false],
    ]);
    ok(await run(["rm", c]));
    const miss = await ctr(["--rm", "--volumes-from", uniq("nosuch"), "busybox", "true"]);
    expect(miss).toMatchObject({ exitCode: 125, stdout: "" });
    expect(miss.stderr).toContain(`No such container: ${uniq("nosuch")}`);
    const mode = await ctr(["--rm", "--volumes-from", `${dc}:rshared`, "busybox", "true"]);
    expect(mode).toMatchObject({ exitCode: 125 });
    expect(mode.stderr).toContain("invalid mode: rshared");
    ok(await run(["rm", "-v", dc]));
    ok(await run(["volume", "rm", v]));
  });
});
