// berth pull against a real registry: Debian's docker-registry (distribution 2.8) on 127.0.0.1,
// filled by skopeo from OCI layouts built here from the busybox rootfs. Root: layers unpack with
// their owners. Each test's registry and temp dirs are removed at the end.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { rootEnabled } from "../helpers/root.ts";
import { berth } from "../helpers/cli.ts";
import { Registry, busyboxLayer, haveRegistryTools, ociLayout, skopeo, smallLayer, tempDir, sha256, run } from "./registry-fixture.ts";

const enabled = rootEnabled && haveRegistryTools;

describe.skipIf(!enabled)("pull from docker-registry", () => {
  const tmp = enabled ? tempDir() : undefined!;
  const reg = new Registry(join(tmp?.path ?? "/nonexistent", "registry"));
  const root = join(tmp?.path ?? "/nonexistent", "root");
  let bb: Uint8Array;
  let extra: Uint8Array;
  let extra2: Uint8Array;

  beforeAll(async () => {
    await reg.start();
    bb = await busyboxLayer(tmp.path);
    extra = await smallLayer(tmp.path, "a", { "etc/hello.txt": "hello from layer two\n", "data/x": "x".repeat(5000) });
    extra2 = await smallLayer(tmp.path, "b", { "etc/hello.txt": "overwritten by layer three\n" });
    const layout = ociLayout(join(tmp.path, "layout"), [
      { tag: "multi", layers: [bb, extra, extra2], cmd: ["cat", "/etc/hello.txt"] },
      { tag: "single", layers: [bb] },
    ]);
    const plat = ociLayout(
      join(tmp.path, "layout-plat"),
      [
        { tag: "x", layers: [bb, extra], arch: "amd64", cmd: ["echo", "amd64"] },
        { tag: "y", layers: [bb, extra2], arch: "arm64", cmd: ["echo", "arm64"] },
      ],
      "plat",
    );
    await skopeo(["copy", "--dest-tls-verify=false", `oci:${layout}:multi`, `docker://${reg.host}/test/multi:1`]);
    await skopeo(["copy", "--dest-tls-verify=false", `oci:${layout}:single`, `docker://${reg.host}/test/busybox:latest`]);
    // uncompressed source layers, so skopeo has to compress them itself (with zstd)
    const raw = ociLayout(join(tmp.path, "layout-raw"), [{ tag: "multi", layers: [bb, extra, extra2], cmd: ["cat", "/etc/hello.txt"], compress: "none" }]);
    await skopeo([
      "copy",
      "--dest-tls-verify=false",
      "--dest-compress",
      "--dest-compress-format",
      "zstd",
      "--format",
      "oci",
      `oci:${raw}:multi`,
      `docker://${reg.host}/test/zstd:1`,
    ]);
    await skopeo(["copy", "--dest-tls-verify=false", "--format", "v2s2", `oci:${layout}:multi`, `docker://${reg.host}/test/schema2:1`]);
    await skopeo(["copy", "--all", "--dest-tls-verify=false", `oci:${plat}:plat`, `docker://${reg.host}/test/plat:1`]);
  }, 120_000);

  afterAll(async () => {
    await reg.stop();
    tmp[Symbol.dispose]();
  });

  test("multi-layer gzip image: pull, names, digests, layer order, check clean", async () => {
    const r = await berth(["pull", `${reg.host}/test/multi:1`], { root });
    expect(r).toMatchObject({ exitCode: 0 });
    expect(r.stdout).toEndWith(`\n${reg.host}/test/multi:1\n`); // progress, then the name, all on stdout as docker
    expect(r.stdout).toContain(`1: Pulling from test/multi`);
    expect(r.stdout).toContain("Pull complete");
    const remote = JSON.parse(await skopeo(["inspect", "--tls-verify=false", `docker://${reg.host}/test/multi:1`])) as { Digest: string; Layers: string[] };
    expect(r.stdout).toContain(`Digest: ${remote.Digest}`);
    expect(r.stdout).toContain(`Status: Downloaded newer image for ${reg.host}/test/multi:1`);
    const ins = await berth(["image", "inspect", `${reg.host}/test/multi:1`], { root });
    expect(ins).toMatchObject({ exitCode: 0 });
    const info = JSON.parse(ins.stdout)[0];
    expect(info.RepoDigests).toEqual([`${reg.host}/test/multi@${remote.Digest}`]);
    expect(info.RootFS.Layers).toEqual([sha256(bb), sha256(extra), sha256(extra2)]);
    // again: up to date, every layer already there
    const again = await berth(["pull", `${reg.host}/test/multi:1`], { root });
    expect(again).toMatchObject({ exitCode: 0 });
    expect(again.stdout).toContain("Already exists");
    expect(again.stdout).toContain(`Status: Image is up to date for ${reg.host}/test/multi:1`);
    const chk = await berth(["system", "check"], { root });
    expect(chk).toMatchObject({ exitCode: 0 });
  }, 60_000);

  test("unpackAtOnce + native inflate: the same image, layers parented at commit, check clean", async () => {
    const root2 = join(tmp.path, "root-at-once");
    const env = { BERTH_PULL_UNPACK_AT_ONCE: "1", BERTH_PULL_INFLATE: "native" };
    const r = await berth(["pull", `${reg.host}/test/multi:1`], { root: root2, env });
    expect(r).toMatchObject({ exitCode: 0 });
    const ins = JSON.parse((await berth(["image", "inspect", `${reg.host}/test/multi:1`], { root: root2 })).stdout)[0];
    expect(ins.RootFS.Layers).toEqual([sha256(bb), sha256(extra), sha256(extra2)]);
    const out = await berth(["run", "--rm", "--network", "none", `${reg.host}/test/multi:1`], { root: root2 });
    expect(out).toMatchObject({ exitCode: 0, stdout: "overwritten by layer three\n" });
    expect(await berth(["system", "check"], { root: root2 })).toMatchObject({ exitCode: 0 });
  }, 60_000);

  test("the pulled image runs and sees its top layer", async () => {
    const r = await berth(["run", "--rm", `${reg.host}/test/multi:1`], { root, timeoutMs: 30_000 });
    expect(r).toMatchObject({ exitCode: 0 });
    expect(r.stdout).toBe("overwritten by layer three\n");
  }, 60_000);

  test("zstd layers (OCI) and docker schema2 manifests give the same image ID", async () => {
    const z = await berth(["pull", "-q", `${reg.host}/test/zstd:1`], { root });
    expect(z).toMatchObject({ exitCode: 0, stdout: `${reg.host}/test/zstd:1\n`, stderr: "" });
    const remote = JSON.parse(await skopeo(["inspect", "--raw", "--tls-verify=false", `docker://${reg.host}/test/zstd:1`]));
    expect(remote.layers.map((l: { mediaType: string }) => l.mediaType)).toContain("application/vnd.oci.image.layer.v1.tar+zstd");
    const s = await berth(["pull", `${reg.host}/test/schema2:1`], { root });
    expect(s).toMatchObject({ exitCode: 0 });
    const ids = await Promise.all(
      ["zstd:1", "schema2:1", "multi:1"].map(async (n) => JSON.parse((await berth(["image", "inspect", `${reg.host}/test/${n}`], { root })).stdout)[0].Id),
    );
    expect(new Set(ids).size).toBe(1);
  }, 60_000);

  test("an index resolves to the host platform or --platform", async () => {
    const host = await berth(["pull", `${reg.host}/test/plat:1`], { root });
    expect(host).toMatchObject({ exitCode: 0 });
    const a = JSON.parse((await berth(["image", "inspect", `${reg.host}/test/plat:1`], { root })).stdout)[0];
    expect(a.Architecture).toBe(process.arch === "arm64" ? "arm64" : "amd64");
    const arm = await berth(["pull", "--platform", "linux/arm64", `${reg.host}/test/plat:1`], { root });
    expect(arm).toMatchObject({ exitCode: 0 });
    const b = JSON.parse((await berth(["image", "inspect", `${reg.host}/test/plat:1`], { root })).stdout)[0];
    expect(b.Architecture).toBe("arm64");
    expect(b.Config.Cmd).toEqual(["echo", "arm64"]);
    const none = await berth(["pull", "--platform", "linux/s390x", `${reg.host}/test/plat:1`], { root });
    expect(none.exitCode).toBe(1);
    expect(none.stderr).toContain("no matching manifest for linux/s390x");
  }, 60_000);

  test("unknown tag: docker's words, exit 1, nothing written", async () => {
    const r = await berth(["pull", `${reg.host}/test/multi:nope`], { root });
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toContain(`manifest for ${reg.host}/test/multi:nope not found: manifest unknown: manifest unknown`);
    const chk = await berth(["system", "check"], { root });
    expect(chk).toMatchObject({ exitCode: 0 });
  }, 30_000);

  test("pull by digest", async () => {
    const remote = JSON.parse(await skopeo(["inspect", "--tls-verify=false", `docker://${reg.host}/test/busybox:latest`])) as { Digest: string };
    const r = await berth(["pull", `${reg.host}/test/busybox@${remote.Digest}`], { root });
    expect(r).toMatchObject({ exitCode: 0 });
    const ins = JSON.parse((await berth(["image", "inspect", `${reg.host}/test/busybox@${remote.Digest}`], { root })).stdout)[0];
    expect(ins.RepoDigests).toContain(`${reg.host}/test/busybox@${remote.Digest}`);
    void run;
  }, 30_000);
});
