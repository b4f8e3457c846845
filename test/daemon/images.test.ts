/**
 * The docker CLI on berth's daemon, image verbs: images, tag, history, inspect, save/load, import,
 * commit, prune, search; login, push and pull against a local docker-registry (htpasswd auth). Root only.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { rootEnabled } from "../helpers/root.ts";
import { Registry } from "../integration/registry-fixture.ts";
import { apiDaemon, dockerBin } from "./_api-daemon.ts";

const d = apiDaemon("daemon-images");
const ok = (r: { exitCode: number; stderr: string; stdout: string }) => {
  if (r.exitCode !== 0) throw new Error(`exit ${r.exitCode}: ${r.stderr}${r.stdout}`);
  return r.stdout;
};

describe.skipIf(!rootEnabled)("docker CLI → berth daemon: images", () => {
  test("images, tag, history, inspect, rmi", async () => {
    expect(ok(await d.docker(["images", "--format", "{{.Repository}}:{{.Tag}}"]))).toBe("busybox:latest\n");
    ok(await d.docker(["tag", "busybox", "mine/bb:1"]));
    expect(ok(await d.docker(["images", "mine/bb", "--format", "{{.Repository}}:{{.Tag}} {{.ID}}"]))).toMatch(/^mine\/bb:1 [0-9a-f]{12}\n$/);
    const id = ok(await d.docker(["image", "inspect", "-f", "{{.Id}}", "busybox"])).trim();
    expect(id).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(ok(await d.docker(["inspect", "-f", "{{.Id}} {{json .Config.Cmd}}", "mine/bb:1"]))).toBe(`${id} ["sh"]\n`);
    const hist = ok(await d.docker(["history", "--no-trunc", "--format", "{{.ID}}|{{.CreatedBy}}", "busybox"]));
    expect(hist).toBe(`${id}|berth import\n`);
    expect(ok(await d.docker(["rmi", "mine/bb:1"]))).toBe("Untagged: mine/bb:1\n");
    const missing = await d.docker(["image", "inspect", "nope:1"]);
    expect(missing.exitCode).toBe(1);
    expect(missing.stderr).toContain("No such image: nope:1");
    const search = await d.docker(["search", "busybox"]);
    expect(search.exitCode).toBe(1);
    expect(search.stderr).toContain("search is not supported");
  });

  test("save -o / load -i, and save | load through pipes", async () => {
    ok(await d.docker(["tag", "busybox", "saved:1"]));
    const tar = join(d.dir, "saved.tar");
    ok(await d.docker(["save", "-o", tar, "saved:1"]));
    expect(ok(await d.docker(["rmi", "saved:1"]))).toBe("Untagged: saved:1\n");
    expect(ok(await d.docker(["load", "-i", tar]))).toBe("Loaded image: saved:1\n");
    const piped = await d.exec(["sh", "-c", `"$0" save saved:1 | "$0" load -q`, dockerBin]);
    expect(ok(piped)).toBe("Loaded image: saved:1\n");
    ok(await d.docker(["rmi", "saved:1"]));
  });

  test("import from a file and from stdin, with -c and -m", async () => {
    const tar = join(d.root, "busybox.tar");
    const out = ok(await d.docker(["import", "-c", 'CMD ["echo","imported"]', "-m", "from a file", tar, "imported:1"]));
    expect(out).toMatch(/^sha256:[0-9a-f]{64}\n$/);
    expect(ok(await d.docker(["inspect", "-f", "{{json .Config.Cmd}} {{.Comment}}", "imported:1"]))).toBe('["echo","imported"] from a file\n');
    const fromStdin = ok(await d.docker(["import", "-", "imported:2"], { stdin: await Bun.file(tar).bytes() }));
    expect(fromStdin).toMatch(/^sha256:/);
    expect(ok(await d.docker(["run", "--rm", "--pull=never", "imported:1"]))).toBe("imported\n");
    ok(await d.docker(["rmi", "imported:1", "imported:2"]));
  });

  test("commit a container's change with -c and -m; prune removes a dangling image", async () => {
    ok(await d.docker(["run", "--pull=never", "--name", "tocommit", "busybox", "sh", "-c", "echo committed > /f"]));
    const id = ok(await d.docker(["commit", "-c", 'CMD ["cat","/f"]', "-m", "a note", "-a", "me", "tocommit", "committed:1"])).trim();
    expect(id).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(ok(await d.docker(["inspect", "-f", "{{.Author}}|{{.Comment}}", "committed:1"]))).toBe("me|a note\n");
    expect(ok(await d.docker(["run", "--rm", "--pull=never", "committed:1"]))).toBe("committed\n");
    ok(await d.docker(["rm", "tocommit"]));
    // an untagged import is dangling: prune takes it, tagged images stay
    const dangling = ok(await d.docker(["import", join(d.root, "busybox.tar")])).trim();
    const pruned = ok(await d.docker(["image", "prune", "-f"]));
    expect(pruned).toContain(`deleted: ${dangling}`);
    expect(
      ok(await d.docker(["images", "--format", "{{.Repository}}:{{.Tag}}"]))
        .split("\n")
        .sort(),
    ).toEqual(["", "busybox:latest", "committed:1"]);
    ok(await d.docker(["rmi", "committed:1"]));
  });

  describe("with a local registry", () => {
    const reg = new Registry(join(d.dir === "/nonexistent" ? "/tmp" : d.dir, "registry"));
    beforeAll(() => reg.start({ htpasswd: { user: "alice", password: "s3cret" } }));
    afterAll(() => reg.stop());

    test("login, push, rmi, pull, and errors from the registry", async () => {
      const bad = await d.docker(["login", "-u", "alice", "--password-stdin", reg.host], { stdin: "wrong\n" });
      expect(bad.exitCode).toBe(1);
      expect(bad.stderr).toContain("401 Unauthorized");
      const good = await d.docker(["login", "-u", "alice", "--password-stdin", reg.host], { stdin: "s3cret\n" });
      expect(ok(good)).toContain("Login Succeeded");
      const ref = `${reg.host}/team/bb:1`;
      ok(await d.docker(["tag", "busybox", ref]));
      const pushed = ok(await d.docker(["push", ref]));
      expect(pushed).toContain(`The push refers to repository [${reg.host}/team/bb]`);
      const digest = /1: digest: (sha256:[0-9a-f]{64}) size: \d+/.exec(pushed)?.[1];
      expect(digest).toBeDefined();
      ok(await d.docker(["rmi", ref]));
      const pulled = ok(await d.docker(["pull", ref]));
      expect(pulled).toContain(`Digest: ${digest}`);
      expect(pulled).toContain(`Status: Downloaded newer image for ${ref}`);
      expect(pulled.trim().split("\n").at(-1)).toBe(ref);
      expect(ok(await d.docker(["inspect", "-f", "{{index .RepoDigests 0}}", ref]))).toBe(`${reg.host}/team/bb@${digest}\n`);
      const again = ok(await d.docker(["pull", ref]));
      expect(again).toContain(`Status: Image is up to date for ${ref}`);
      // a tag the registry does not have: docker's words, exit 1
      const nope = await d.docker(["pull", `${reg.host}/team/bb:nope`]);
      expect(nope.exitCode).toBe(1);
      expect(nope.stderr).toContain("not found");
      // logged out, the registry refuses: the CLI sends no credentials
      ok(await d.docker(["logout", reg.host]));
      const anon = await d.docker(["pull", ref]);
      expect(anon.exitCode).toBe(1);
      ok(await d.docker(["rmi", ref]));
    });
  });
});
