// save/load/push/login against real peers: Debian's docker-registry (distribution 2.8) on 127.0.0.1
// and skopeo as the independent reader and writer of docker-archive, oci-archive and registry images.
// Bad input comes from a small Bun.serve proxy written in this test in front of the real registry: it
// tampers with or truncates one blob on its way through. Root (layers unpack with their owners).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { copyFileSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { rootEnabled } from "../helpers/root.ts";
import { berth, berthArgv } from "../helpers/cli.ts";
import { Registry, busyboxLayer, haveRegistryTools, mustRun, ociLayout, skopeo, smallLayer, tempDir } from "./registry-fixture.ts";

const enabled = rootEnabled && haveRegistryTools;

describe.skipIf(!enabled)("save, load, push, login with docker-registry and skopeo", () => {
  const tmp = enabled ? tempDir() : undefined!;
  const base = tmp?.path ?? "/nonexistent";
  const reg = new Registry(join(base, "registry"));
  const authReg = new Registry(join(base, "registry-auth"));
  const root = join(base, "root");
  let name = "";
  let proxy: ReturnType<typeof Bun.serve> | undefined;
  let mode: "pass" | "tamper" | "truncate" = "pass";
  let victim = "";

  beforeAll(async () => {
    await reg.start();
    await authReg.start({ htpasswd: { user: "tester", password: "s3cret" } });
    const bb = await busyboxLayer(base);
    const extra = await smallLayer(base, "a", { "etc/hello.txt": "hello\n" });
    const layout = ociLayout(join(base, "layout"), [{ tag: "multi", layers: [bb, extra], cmd: ["cat", "/etc/hello.txt"] }]);
    await skopeo(["copy", "--dest-tls-verify=false", `oci:${layout}:multi`, `docker://${reg.host}/test/multi:1`]);
    await skopeo(["copy", "--dest-creds", "tester:s3cret", "--dest-tls-verify=false", `oci:${layout}:multi`, `docker://${authReg.host}/test/private:1`]);
    name = `${reg.host}/test/multi:1`;
    const r = await berth(["pull", "-q", name], { root });
    if (r.exitCode !== 0) throw new Error(r.stderr);
    // the proxy: passes everything to the real registry except the victim blob, which it corrupts
    proxy = Bun.serve({
      hostname: "127.0.0.1",
      port: 0,
      async fetch(req) {
        const u = new URL(req.url);
        const up = await fetch(`http://${reg.host}${u.pathname}${u.search}`, { method: req.method, headers: req.headers, body: req.body, redirect: "manual" });
        if (mode === "pass" || req.method !== "GET" || !u.pathname.endsWith(`/blobs/${victim}`)) return up;
        const bytes = new Uint8Array(await up.arrayBuffer());
        if (mode === "tamper") {
          bytes[bytes.length >> 1] ^= 0xff;
          return new Response(bytes, { status: up.status });
        }
        // truncate: announce the full length, send half, then end the connection
        let sent = false;
        return new Response(
          new ReadableStream({
            async pull(c) {
              if (!sent) {
                sent = true;
                c.enqueue(bytes.subarray(0, bytes.length >> 1));
                return;
              }
              await Bun.sleep(50); // let the headers and the first half reach the client
              c.error(new Error("cut on purpose"));
            },
          }),
          { status: 200, headers: { "content-length": String(bytes.length) } },
        );
      },
    });
  }, 120_000);

  afterAll(async () => {
    proxy?.stop(true);
    await reg.stop();
    await authReg.stop();
    tmp[Symbol.dispose]();
  });

  const inspectId = async (r: string, ref: string) => JSON.parse((await berth(["image", "inspect", ref], { root: r })).stdout)[0]?.Id;

  test("save -o writes docker 25's layout; skopeo reads it as docker-archive and oci-archive", async () => {
    const out = join(base, "saved.tar");
    const r = await berth(["save", "-o", out, name], { root });
    expect(r).toMatchObject({ exitCode: 0, stdout: "" });
    const list = (await mustRun(["tar", "-tf", out])).split("\n");
    for (const f of ["oci-layout", "index.json", "manifest.json", "repositories"]) expect(list).toContain(f);
    expect(list.some((f) => f.startsWith("blobs/sha256/"))).toBe(true);
    const id = await inspectId(root, name);
    const remote = JSON.parse(await skopeo(["inspect", "--raw", "--tls-verify=false", `docker://${name}`]));
    const da = JSON.parse(await skopeo(["inspect", "--config", `docker-archive:${out}`]));
    expect(da.rootfs.diff_ids.length).toBe(2);
    const daRaw = JSON.parse(await skopeo(["inspect", "--raw", `docker-archive:${out}`]));
    expect(daRaw.config.digest).toBe(id);
    const oa = JSON.parse(await skopeo(["inspect", "--raw", `oci-archive:${out}`]));
    expect(oa.layers.map((l: { digest: string }) => l.digest)).toEqual(remote.layers.map((l: { digest: string }) => l.digest));
    const index = JSON.parse(await mustRun(["tar", "-xOf", out, "index.json"]));
    expect(index.manifests[0].annotations).toEqual({ "io.containerd.image.name": name, "org.opencontainers.image.ref.name": "1" });
    const manifest = JSON.parse(await mustRun(["tar", "-xOf", out, "manifest.json"]));
    expect(manifest[0].RepoTags).toEqual([name]);
    // stdout when it is not a terminal: the same bytes
    const p = Bun.spawn(berthArgv(["--root", root, "save", name]), { stdout: "pipe", stderr: "pipe" });
    const piped = new Uint8Array(await new Response(p.stdout).arrayBuffer());
    expect(await p.exited).toBe(0);
    expect(Buffer.compare(Buffer.from(piped), readFileSync(out))).toBe(0);
    const bad = await berth(["save", "-o", join(base, "nope.tar"), "no/such:image"], { root });
    expect(bad.exitCode).toBe(1);
    expect(bad.stderr).toContain("No such image");
  }, 60_000);

  test("load round trip into a fresh root: same ID, clean check, and it runs", async () => {
    const fresh = join(base, "root-load");
    const r = await berth(["load", "-i", join(base, "saved.tar")], { root: fresh });
    expect(r).toMatchObject({ exitCode: 0, stdout: `Loaded image: ${name}\n` });
    expect(await inspectId(fresh, name)).toBe(await inspectId(root, name));
    expect(await berth(["system", "check"], { root: fresh })).toMatchObject({ exitCode: 0 });
    const run = await berth(["run", "--rm", name], { root: fresh, timeoutMs: 30_000 });
    expect(run).toMatchObject({ exitCode: 0, stdout: "hello\n" });
  }, 60_000);

  test("load what skopeo writes: docker-archive (stdin) and oci-archive", async () => {
    const fresh = join(base, "root-skopeo");
    const da = join(base, "sk-da.tar");
    const oa = join(base, "sk-oa.tar");
    await skopeo(["copy", "--src-tls-verify=false", `docker://${name}`, `docker-archive:${da}:sk/da:2`]);
    await skopeo(["copy", "--src-tls-verify=false", `docker://${name}`, `oci-archive:${oa}:sk/oa:3`]);
    const a = await berth(["load"], { root: fresh, stdin: readFileSync(da) });
    expect(a).toMatchObject({ exitCode: 0, stdout: "Loaded image: sk/da:2\n" });
    const b = await berth(["load", "-i", oa], { root: fresh });
    expect(b).toMatchObject({ exitCode: 0 });
    const id = await inspectId(root, name);
    expect(await inspectId(fresh, "sk/da:2")).toBe(id);
    expect(b.stdout).toMatch(/^Loaded image( ID)?: /);
    expect(await berth(["system", "check"], { root: fresh })).toMatchObject({ exitCode: 0 });
    const junk = await berth(["load"], { root: fresh, stdin: "not a tar at all, not even close" });
    expect(junk.exitCode).toBe(1);
  }, 60_000);

  test("push a new image in chunks: skopeo reads it back with the same digest", async () => {
    const target = `${reg.host}/imported/bb:v1`;
    // a layer of its own: push gzips it, and the busybox rootfs alone compresses to the layer the
    // registry has already (test/multi), which push would mount rather than upload
    const own = join(base, "busybox-own.tar");
    copyFileSync(join(base, "busybox-rootfs.tar"), own);
    writeFileSync(join(base, "own.txt"), `${Math.random()}\n`);
    await mustRun(["tar", "--append", "-f", own, "-C", base, "own.txt"]);
    const imp = await berth(["import", own, target], { root });
    expect(imp).toMatchObject({ exitCode: 0 });
    // 64 KiB chunks: the 2 MB layer goes up as PATCH … PATCH, PUT ?digest=
    const r = await berth(["push", target], { root, env: { BERTH_PUSH_CHUNK_SIZE: "65536" } });
    expect(r).toMatchObject({ exitCode: 0 });
    expect(r.stdout).toContain(`The push refers to repository [${reg.host}/imported/bb]`);
    expect(r.stdout).toContain("Pushed");
    const m = /^v1: digest: (sha256:[0-9a-f]{64}) size: (\d+)\n$/m.exec(r.stdout);
    expect(m).not.toBeNull();
    const remote = JSON.parse(await skopeo(["inspect", "--tls-verify=false", `docker://${target}`]));
    expect(remote.Digest).toBe(m![1]);
    // skopeo re-verifies every blob digest while copying
    await skopeo(["copy", "--src-tls-verify=false", `docker://${target}`, `oci:${join(base, "pulled-back")}:x`]);
    const again = await berth(["push", target], { root });
    expect(again).toMatchObject({ exitCode: 0 });
    expect(again.stdout).toContain("Layer already exists");
  }, 60_000);

  test("commit on top of a pulled image, push: skopeo copies it back with the same digest", async () => {
    const ctr = `commit-${Math.random().toString(36).slice(2, 8)}`;
    expect(await berth(["run", "--name", ctr, name, "sh", "-c", "echo committed > /etc/committed.txt"], { root })).toMatchObject({ exitCode: 0 });
    const target = `${reg.host}/committed/img:v1`;
    const c = await berth(["commit", "-m", "via commit", ctr, target], { root });
    expect(c).toMatchObject({ exitCode: 0 });
    expect(await berth(["rm", ctr], { root })).toMatchObject({ exitCode: 0 });
    const r = await berth(["push", target], { root });
    expect(r).toMatchObject({ exitCode: 0 });
    // the base layers are mounted or found, only the new layer is uploaded
    expect(r.stdout).toContain("Pushed");
    const ins = await berth(["image", "inspect", target], { root });
    expect(ins).toMatchObject({ exitCode: 0 });
    const local = JSON.parse(ins.stdout)[0];
    const remote = JSON.parse(await skopeo(["inspect", "--tls-verify=false", `docker://${target}`]));
    expect(remote.Digest).toBe(local.Descriptor.digest);
    expect(remote.Layers.length).toBe(3);
    await skopeo(["copy", "--src-tls-verify=false", `docker://${target}`, `oci:${join(base, "committed-back")}:x`]);
    // and it pulls into a fresh root and runs there
    const fresh = join(base, "root-committed");
    expect(await berth(["pull", "-q", target], { root: fresh })).toMatchObject({ exitCode: 0 });
    expect(await berth(["run", "--rm", target, "cat", "/etc/committed.txt"], { root: fresh })).toMatchObject({ exitCode: 0, stdout: "committed\n" });
    expect(await berth(["system", "check"], { root: fresh })).toMatchObject({ exitCode: 0 });
  }, 60_000);

  test("push to another repository on the same registry mounts the pulled blobs", async () => {
    const other = `${reg.host}/other/img:v2`;
    expect(await berth(["tag", name, other], { root })).toMatchObject({ exitCode: 0 });
    const r = await berth(["push", other], { root });
    expect(r).toMatchObject({ exitCode: 0 });
    // the blobs were pulled from test/multi (and pushed again by the commit test): either is a source
    expect(r.stdout).toMatch(/Mounted from (test\/multi|committed\/img)/);
    const remote = JSON.parse(await skopeo(["inspect", "--tls-verify=false", `docker://${other}`]));
    const local = JSON.parse((await berth(["image", "inspect", name], { root })).stdout)[0];
    expect(remote.Digest).toBe(local.Descriptor.digest);
  }, 60_000);

  test("tampered blob: digest mismatch, exit 1, nothing left behind", async () => {
    const fresh = join(base, "root-bad");
    const man = JSON.parse(await skopeo(["inspect", "--raw", "--tls-verify=false", `docker://${name}`]));
    victim = man.layers[1].digest;
    mode = "tamper";
    try {
      const r = await berth(["pull", `127.0.0.1:${proxy!.port}/test/multi:1`], { root: fresh });
      expect(r.exitCode).toBe(1);
      expect(r.stderr).toMatch(/digest mismatch|diff ID mismatch|invalid|tar:/);
      mode = "truncate";
      const t = await berth(["pull", `127.0.0.1:${proxy!.port}/test/multi:1`], { root: fresh });
      expect(t.exitCode).toBe(1);
      expect(t.stderr).toContain("truncated");
    } finally {
      mode = "pass";
    }
    expect(await berth(["system", "check"], { root: fresh })).toMatchObject({ exitCode: 0 });
    expect((await berth(["images", "-q"], { root: fresh })).stdout).toBe("");
    // and through the same proxy, untouched, it works
    expect(await berth(["pull", "-q", `127.0.0.1:${proxy!.port}/test/multi:1`], { root: fresh })).toMatchObject({ exitCode: 0 });
  }, 60_000);

  test("401 without credentials; login stores docker's config.json 0600; logout", async () => {
    const cfgDir = join(base, "docker-config");
    const env = { DOCKER_CONFIG: cfgDir };
    const priv = `${authReg.host}/test/private:1`;
    const no = await berth(["pull", priv], { root, env });
    expect(no.exitCode).toBe(1);
    expect(no.stderr).toContain("unauthorized: authentication required");
    const wrong = await berth(["login", "-u", "tester", "--password-stdin", authReg.host], { root, env, stdin: "nope\n" });
    expect(wrong.exitCode).toBe(1);
    expect(wrong.stderr).toContain("401 Unauthorized");
    const ok = await berth(["login", "-u", "tester", "--password-stdin", authReg.host], { root, env, stdin: "s3cret\n" });
    expect(ok).toMatchObject({ exitCode: 0, stdout: "Login Succeeded\n" });
    const cfgPath = join(cfgDir, "config.json");
    expect(statSync(cfgPath).mode & 0o777).toBe(0o600);
    expect(JSON.parse(readFileSync(cfgPath, "utf8")).auths[authReg.host].auth).toBe(Buffer.from("tester:s3cret").toString("base64"));
    expect(await berth(["pull", "-q", priv], { root, env })).toMatchObject({ exitCode: 0 });
    expect(await berth(["logout", authReg.host], { root, env })).toMatchObject({ exitCode: 0, stdout: `Removing login credentials for ${authReg.host}\n` });
    expect(await berth(["logout", authReg.host], { root, env })).toMatchObject({ exitCode: 0, stdout: `Not logged in to ${authReg.host}\n` });
  }, 60_000);
});
