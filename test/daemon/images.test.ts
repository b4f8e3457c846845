/**
 * The docker CLI on berth's daemon, image verbs: images, tag, history, inspect, save/load, import,
 * commit, prune, search; login, push and pull against a local docker-registry (htpasswd auth). Root only.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { rootEnabled } from "../helpers/root.ts";
import { busyboxLayer, mustRun, ociLayout, Registry, skopeo } from "../integration/registry-fixture.ts";
import { waitUntil } from "../helpers/cli.ts";
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
    // from a URL: the daemon fetches it (fromSrc=URL, no body)
    const server = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Response(Bun.file(tar)) });
    const url = `http://127.0.0.1:${server.port}/rootfs.tar`;
    try {
      expect(ok(await d.docker(["import", url, "imported:3"]))).toMatch(/sha256:[0-9a-f]{64}\n$/);
    } finally {
      server.stop(true);
    }
    expect(ok(await d.docker(["inspect", "-f", "{{.Comment}}", "imported:3"]))).toBe(`Imported from ${url}\n`);
    ok(await d.docker(["rmi", "imported:1", "imported:2", "imported:3"]));
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
      // push -a: every local tag of the repository
      ok(await d.docker(["tag", "busybox", `${reg.host}/team/multi:a`]));
      ok(await d.docker(["tag", "busybox", `${reg.host}/team/multi:b`]));
      const all = ok(await d.docker(["push", "-a", `${reg.host}/team/multi`]));
      expect(all).toMatch(/a: digest: sha256:[0-9a-f]{64}/);
      expect(all).toMatch(/b: digest: sha256:[0-9a-f]{64}/);
      ok(await d.docker(["rmi", `${reg.host}/team/multi:a`, `${reg.host}/team/multi:b`]));
      // logged out, the registry refuses: the CLI sends no credentials
      ok(await d.docker(["logout", reg.host]));
      const anon = await d.docker(["pull", ref]);
      expect(anon.exitCode).toBe(1);
      ok(await d.docker(["rmi", ref]));
    });
  });

  describe("a pull whose client goes away", () => {
    const reg = new Registry(join(d.dir === "/nonexistent" ? "/tmp" : d.dir, "registry-big"));
    // in front of the registry for the abandoned pull: the big blob's first MiB, then nothing (until
    // the reader goes), so that pull is certainly still downloading when its client leaves (straight
    // from a loopback registry it could finish in the moment the client takes to hang up)
    let proxy: ReturnType<typeof Bun.serve> | undefined;
    beforeAll(async () => {
      await reg.start();
      proxy = Bun.serve({
        hostname: "127.0.0.1",
        port: 0,
        idleTimeout: 0,
        async fetch(req) {
          const u = new URL(req.url);
          const up = await fetch(`http://${reg.host}${u.pathname}${u.search}`, { method: req.method, headers: req.headers, redirect: "manual" });
          const len = Number(up.headers.get("content-length") ?? 0);
          if (req.method !== "GET" || !/\/blobs\/sha256:/.test(u.pathname) || len < 16 << 20) return up;
          const reader = up.body!.getReader();
          let sent = 0;
          const gone = Promise.withResolvers<void>();
          req.signal.addEventListener("abort", () => gone.resolve(), { once: true });
          const body = new ReadableStream<Uint8Array>({
            async pull(c) {
              if (sent >= 1 << 20) {
                await gone.promise; // stalled: the reader has to give up
                await reader.cancel().catch(() => {});
                c.close();
                return;
              }
              const r = await reader.read();
              if (r.done) return c.close();
              sent += r.value.length;
              c.enqueue(r.value);
            },
            cancel: () => void reader.cancel().catch(() => {}),
          });
          return new Response(body, { status: up.status, headers: up.headers });
        },
      });
      // one 128 MiB layer of random bytes: still downloading when the client leaves
      const work = join(d.dir, "big");
      mkdirSync(join(work, "tree"), { recursive: true });
      await mustRun(["sh", "-c", `head -c 134217728 /dev/urandom > ${work}/tree/blob && tar -C ${work}/tree -cf ${work}/big.tar .`]);
      const layout = ociLayout(join(work, "layout"), [{ tag: "1", layers: [await busyboxLayer(work), readFileSync(join(work, "big.tar"))], compress: "none" }]);
      await skopeo(["copy", "--dest-tls-verify=false", `oci:${layout}:1`, `docker://${reg.host}/big/img:1`]);
      rmSync(work, { recursive: true, force: true });
    });
    afterAll(() => {
      proxy?.stop(true);
      reg.stop();
    });

    test("is undone: no image, no blobs or snapshots left (system check clean); the next pull works", async () => {
      const seen = Promise.withResolvers<string>();
      let text = "";
      const s = await Bun.connect({
        unix: d.sock,
        socket: {
          data(_s, b) {
            text += Buffer.from(b).toString();
            if (text.includes('"Downloading"')) seen.resolve(text);
          },
          close: () => seen.resolve(text),
          error: () => seen.resolve(text),
        },
      });
      s.write(`POST /v1.44/images/create?fromImage=127.0.0.1:${proxy!.port}/big/img&tag=1 HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n`);
      expect(await seen.promise).toContain('"Downloading"');
      s.terminate();
      // the pull fails on its own (its registry requests stop) and undoes what it made
      const content = join(d.root, "content");
      const empty = (sub: string) => readdirSync(join(content, sub)).filter((n) => !n.startsWith(".")).length === 0;
      await waitUntil("the abandoned pull's lease and ingests are gone", async () => empty("leases") && empty("ingest"), 30_000);
      expect(ok(await d.docker(["images", "--format", "{{.Repository}}"]))).not.toContain("big/img");
      expect((await d.berth(["system", "check"])).stdout).toMatch(/: ok\n$/);
      const pulled = ok(await d.docker(["pull", `${reg.host}/big/img:1`]));
      expect(pulled).toContain(`Status: Downloaded newer image for ${reg.host}/big/img:1`);
      // dockerd: the last tag of a repository takes its digest references along, and the image goes
      const rmi = ok(await d.docker(["rmi", `${reg.host}/big/img:1`]));
      expect(rmi).toMatch(new RegExp(`^Untagged: ${reg.host}/big/img:1\nUntagged: ${reg.host}/big/img@sha256:[0-9a-f]{64}\nDeleted: sha256:`));
      expect(readdirSync(join(d.root, "content", "blobs", "sha256")).length).toBeLessThan(5);
    });
  });
});
