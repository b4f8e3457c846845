// Bad input on pull (issue 4 §6): the real registry (Debian's docker-registry, filled by skopeo) behind
// a small fault-injecting proxy written here (Bun.serve on 127.0.0.1 port 0) that answers 403, 404,
// 429, 5xx, an unknown layer media type, an oversized manifest or a manifest that does not match the
// digest asked for; and a hostile layer pushed to the real registry by skopeo. Every failure must be
// one line in registry terms (exit 1), retriable statuses are retried, and the berth root stays clean:
// `system check` exit 0, no images, nothing written outside the store. Root: layers unpack with owners.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { rootEnabled } from "../helpers/root.ts";
import { berth, type CliResult } from "../helpers/cli.ts";
import { Registry, busyboxLayer, haveRegistryTools, mustRun, ociLayout, skopeo, smallLayer, tempDir } from "./registry-fixture.ts";

const enabled = rootEnabled && haveRegistryTools;

type Fault =
  | { kind: "pass" }
  | { kind: "status"; status: number; times: number; where: "manifest" | "blob"; body?: string; retryAfter?: string }
  | { kind: "manifest"; rewrite: (m: Record<string, any>) => Record<string, any> }
  | { kind: "huge-manifest"; announce: boolean }
  | { kind: "alter-manifest" }
  | { kind: "tamper"; digest: string };

describe.skipIf(!enabled)("pull: bad input", () => {
  const tmp = enabled ? tempDir() : undefined!;
  const base = tmp?.path ?? "/nonexistent";
  const reg = new Registry(join(base, "registry"));
  let proxy: ReturnType<typeof Bun.serve> | undefined;
  let fault: Fault = { kind: "pass" };
  let hits = 0;
  let n = 0;
  const freshRoot = () => join(base, `root-${n++}`);
  const sentinel = join(base, "outside");

  beforeAll(async () => {
    await reg.start();
    mkdirSync(sentinel, { recursive: true });
    const bb = await busyboxLayer(base);
    const extra = await smallLayer(base, "a", { "etc/hello.txt": "hello\n", "data/x": "x".repeat(70_000) });
    const layout = ociLayout(join(base, "layout"), [{ tag: "multi", layers: [bb, extra], cmd: ["cat", "/etc/hello.txt"] }]);
    await skopeo(["copy", "--dest-tls-verify=false", `oci:${layout}:multi`, `docker://${reg.host}/test/multi:1`]);
    // hostile layers, written by Python's tarfile (an independent producer): a `..` name, and a
    // symlink to a host directory followed by an entry through it
    const evil = (name: string, script: string) => {
      const out = join(base, `${name}.tar`);
      Bun.spawnSync(["python3", "-c", script, out]);
      return readFileSync(out);
    };
    const slip = evil(
      "slip",
      `import tarfile,io,sys
t=tarfile.open(sys.argv[1],"w",format=tarfile.PAX_FORMAT)
d=b"pwned\\n"; i=tarfile.TarInfo("../../../../../../${sentinel.slice(1)}/slip.txt"); i.size=len(d); t.addfile(i,io.BytesIO(d)); t.close()`,
    );
    const link = evil(
      "link",
      `import tarfile,io,sys
t=tarfile.open(sys.argv[1],"w",format=tarfile.PAX_FORMAT)
l=tarfile.TarInfo("esc"); l.type=tarfile.SYMTYPE; l.linkname="${sentinel}"; t.addfile(l)
d=b"pwned\\n"; i=tarfile.TarInfo("esc/link.txt"); i.size=len(d); t.addfile(i,io.BytesIO(d)); t.close()`,
    );
    const hostile = ociLayout(join(base, "layout-hostile"), [
      { tag: "slip", layers: [bb, slip] },
      { tag: "link", layers: [bb, link] },
    ]);
    await skopeo(["copy", "--dest-tls-verify=false", `oci:${hostile}:slip`, `docker://${reg.host}/test/hostile:slip`]);
    await skopeo(["copy", "--dest-tls-verify=false", `oci:${hostile}:link`, `docker://${reg.host}/test/hostile:link`]);

    proxy = Bun.serve({
      hostname: "127.0.0.1",
      port: 0,
      async fetch(req) {
        const u = new URL(req.url);
        const isManifest = u.pathname.includes("/manifests/");
        const isBlob = u.pathname.includes("/blobs/sha256:");
        const f = fault;
        if (
          f.kind === "status" &&
          ((f.where === "manifest" && isManifest) || (f.where === "blob" && isBlob && !u.pathname.endsWith(configDigest))) &&
          hits < f.times
        ) {
          hits++;
          const headers: Record<string, string> = { "content-type": "application/json" };
          if (f.retryAfter) headers["retry-after"] = f.retryAfter;
          return new Response(f.body ?? "", { status: f.status, headers });
        }
        const up = await fetch(`http://${reg.host}${u.pathname}${u.search}`, { method: req.method, headers: req.headers, body: req.body, redirect: "manual" });
        if (f.kind === "tamper" && isBlob && req.method === "GET" && u.pathname.endsWith(f.digest) && up.ok) {
          // same length, one byte flipped in the middle: only the digest can tell
          const bytes = new Uint8Array(await up.arrayBuffer());
          bytes[bytes.length >> 1]! ^= 0xff;
          return new Response(bytes, { status: up.status, headers: { "content-type": up.headers.get("content-type") ?? "application/octet-stream" } });
        }
        if (!isManifest || req.method !== "GET") return up;
        if (f.kind === "huge-manifest") {
          await up.body?.cancel();
          const big = new Uint8Array(5 * 1024 * 1024).fill(0x20);
          if (f.announce) return new Response(big, { headers: { "content-type": "application/vnd.oci.image.manifest.v1+json" } });
          // no Content-Length: the cap must hold while reading
          return new Response(new Blob([big]).stream(), { headers: { "content-type": "application/vnd.oci.image.manifest.v1+json" } });
        }
        if (f.kind === "manifest" || f.kind === "alter-manifest") {
          const doc = JSON.parse(await up.text());
          const out = f.kind === "manifest" ? f.rewrite(doc) : { ...doc, annotations: { altered: "yes" } };
          return new Response(JSON.stringify(out), { status: up.status, headers: { "content-type": up.headers.get("content-type") ?? "" } });
        }
        return up;
      },
    });
    const man = JSON.parse(await skopeo(["inspect", "--raw", "--tls-verify=false", `docker://${reg.host}/test/multi:1`]));
    configDigest = man.config.digest;
    manifestDigest = (await mustRun(["skopeo", "inspect", "--tls-verify=false", "--format", "{{.Digest}}", `docker://${reg.host}/test/multi:1`])).trim();
  }, 180_000);
  let configDigest = "";
  let manifestDigest = "";

  afterAll(async () => {
    proxy?.stop(true);
    await reg.stop();
    tmp[Symbol.dispose]();
  });

  const via = (ref: string) => `127.0.0.1:${proxy!.port}/${ref}`;

  /** pull through the proxy with `f`; returns the result and asserts the root is clean afterwards */
  async function pullWith(f: Fault, ref = "test/multi:1", extra: string[] = [], env: Record<string, string> = {}): Promise<CliResult & { root: string }> {
    fault = f;
    hits = 0;
    const root = freshRoot();
    try {
      const r = await berth(["pull", "-q", ...extra, via(ref)], { root, env });
      return { ...r, root };
    } finally {
      fault = { kind: "pass" };
    }
  }

  async function expectFailedClean(r: CliResult & { root: string }, pattern: RegExp): Promise<void> {
    expect(r.exitCode).toBe(1);
    const lines = r.stderr
      .trim()
      .split("\n")
      .filter((l) => !l.startsWith("hint:"));
    expect(lines.length).toBe(1);
    expect(lines[0]).toMatch(/^berth: pull /);
    expect(lines[0]).toMatch(pattern);
    expect(await berth(["system", "check"], { root: r.root })).toMatchObject({ exitCode: 0 });
    expect((await berth(["images", "-q"], { root: r.root })).stdout).toBe("");
    expect(r.stdout).toBe("");
  }

  // layer 1 downloads while layer 0 unpacks, and unpacks from its ingest as the rest arrives: the
  // inflate or the tar reader may trip over the flipped byte first, the error names the digest
  for (const inflater of ["thread", "libz"]) {
    test(`a corrupt layer unpacked from its ingest while it downloads (${inflater}): digest mismatch naming it, nothing left`, async () => {
      const man = JSON.parse(await skopeo(["inspect", "--raw", "--tls-verify=false", `docker://${reg.host}/test/multi:1`]));
      const victim: string = man.layers[1].digest;
      const r = await pullWith({ kind: "tamper", digest: victim }, "test/multi:1", [], { BERTH_PULL_INFLATE: inflater });
      await expectFailedClean(r, new RegExp(`digest mismatch: expected ${victim}`));
    });
  }

  test("403 on the manifest: the registry's own words", async () => {
    const r = await pullWith({
      kind: "status",
      status: 403,
      times: 99,
      where: "manifest",
      body: JSON.stringify({ errors: [{ code: "DENIED", message: "requested access to the resource is denied" }] }),
    });
    await expectFailedClean(r, /denied: requested access to the resource is denied$/);
  });

  test("404 on a layer blob: blob unknown", async () => {
    const r = await pullWith({
      kind: "status",
      status: 404,
      times: 99,
      where: "blob",
      body: JSON.stringify({ errors: [{ code: "BLOB_UNKNOWN", message: "blob unknown to registry" }] }),
    });
    await expectFailedClean(r, /blob unknown: blob unknown to registry$/);
  });

  test("429 and 503 are retried: a pull through a few of them succeeds", async () => {
    const a = await pullWith({
      kind: "status",
      status: 429,
      times: 2,
      where: "manifest",
      retryAfter: "1",
      body: JSON.stringify({ errors: [{ code: "TOOMANYREQUESTS", message: "slow down" }] }),
    });
    expect(a).toMatchObject({ exitCode: 0 });
    expect(hits).toBe(2);
    const b = await pullWith({ kind: "status", status: 503, times: 2, where: "blob" });
    expect(b).toMatchObject({ exitCode: 0 });
    expect(await berth(["system", "check"], { root: b.root })).toMatchObject({ exitCode: 0 });
  });

  test("429 that never ends, and 500 on a blob that never ends: one line, nothing left", async () => {
    const a = await pullWith({
      kind: "status",
      status: 429,
      times: 99,
      where: "manifest",
      body: JSON.stringify({ errors: [{ code: "TOOMANYREQUESTS", message: "You have reached your pull rate limit" }] }),
    });
    await expectFailedClean(a, /toomanyrequests: You have reached your pull rate limit$/);
    const b = await pullWith({ kind: "status", status: 500, times: 99, where: "blob" });
    await expectFailedClean(b, /blob sha256:[0-9a-f]{64}: unexpected status 500/);
  });

  test("unknown layer media type is refused before any download", async () => {
    const r = await pullWith({
      kind: "manifest",
      rewrite: (m) => ({ ...m, layers: m.layers.map((l: object, i: number) => (i === 1 ? { ...l, mediaType: "application/vnd.example.weird+tar" } : l)) }),
    });
    await expectFailedClean(r, /unsupported layer media type "application\/vnd\.example\.weird\+tar"$/);
  });

  test("oversized manifest, announced or not, is refused", async () => {
    await expectFailedClean(await pullWith({ kind: "huge-manifest", announce: true }), /too large/);
    await expectFailedClean(await pullWith({ kind: "huge-manifest", announce: false }), /too large|larger than/);
  });

  test("pull by digest: a manifest that does not hash to the digest is refused", async () => {
    const r = await pullWith({ kind: "alter-manifest" }, `test/multi@${manifestDigest}`);
    await expectFailedClean(r, /digest mismatch/);
  });

  test("hostile layers: a `..` name is refused, a symlink is not followed out; nothing lands outside", async () => {
    const slip = await pullWith({ kind: "pass" }, "test/hostile:slip");
    await expectFailedClean(slip, /path escapes the layer root/);
    const link = await pullWith({ kind: "pass" }, "test/hostile:link");
    if (link.exitCode !== 0) await expectFailedClean(link, /layer entry/);
    else expect(await berth(["system", "check"], { root: link.root })).toMatchObject({ exitCode: 0 });
    expect(readdirSync(sentinel)).toEqual([]);
    expect(existsSync(join(base, "slip.txt"))).toBe(false);
  });
});
