// Issue 15 items 1 and 3 against a real registry (Debian's docker-registry on 127.0.0.1): concurrent
// pulls of one multi-layer image all succeed and leave `system check` clean, and a pull killed in
// the middle of a layer leaves an ingest named by the layer's digest that the next pull resumes with
// a Range request. A small Bun.serve proxy in front of the registry stalls that layer and records
// the requests.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { rootEnabled } from "../helpers/root.ts";
import { berth, berthArgv } from "../helpers/cli.ts";
import { Registry, busyboxLayer, haveRegistryTools, ociLayout, sha256, skopeo, smallLayer, tempDir } from "./registry-fixture.ts";
import { waitUntil } from "../helpers/cli.ts";

const enabled = rootEnabled && haveRegistryTools;

/** an uncompressible layer: a tar holding one file of random bytes */
async function randomLayer(work: string, bytes: number): Promise<Uint8Array> {
  const data = new Uint8Array(bytes);
  for (let off = 0; off < bytes; off += 65536) crypto.getRandomValues(data.subarray(off, Math.min(bytes, off + 65536)));
  const dir = join(work, "layer-random");
  await Bun.write(join(dir, "data", "random.bin"), data);
  const out = join(work, "layer-random.tar");
  const p = Bun.spawnSync(["tar", "--sort=name", "--mtime=@1700000000", "--owner=0", "--group=0", "--numeric-owner", "-C", dir, "-cf", out, "."]);
  if (p.exitCode !== 0) throw new Error(p.stderr.toString());
  return new Uint8Array(await Bun.file(out).arrayBuffer());
}

describe.skipIf(!enabled)("concurrent and interrupted pulls", () => {
  const tmp = enabled ? tempDir() : undefined!;
  const base = tmp?.path ?? "/nonexistent";
  const reg = new Registry(join(base, "registry"));
  let name = "";
  let bigDigest = "";
  let bigSize = 0;
  let proxy: ReturnType<typeof Bun.serve> | undefined;
  let stall = false;
  const ranges: string[] = [];

  beforeAll(async () => {
    await reg.start();
    const bb = await busyboxLayer(base);
    const a = await smallLayer(base, "a", { "etc/a.txt": "a\n" });
    const b = await smallLayer(base, "b", { "etc/b.txt": "b\n" });
    const big = await randomLayer(base, 8 << 20);
    const layout = ociLayout(join(base, "layout"), [{ tag: "four", layers: [bb, a, b, big], cmd: ["cat", "/etc/b.txt"] }]);
    await skopeo(["copy", "--dest-tls-verify=false", `oci:${layout}:four`, `docker://${reg.host}/test/four:1`]);
    const gz = Bun.gzipSync(new Uint8Array(big));
    bigDigest = sha256(gz);
    bigSize = gz.length;
    proxy = Bun.serve({
      hostname: "127.0.0.1",
      port: 0,
      idleTimeout: 0,
      async fetch(req) {
        const u = new URL(req.url);
        const isBig = u.pathname.endsWith(`/blobs/${bigDigest}`);
        if (isBig && req.method === "GET") ranges.push(req.headers.get("range") ?? "");
        const up = await fetch(`http://${reg.host}${u.pathname}${u.search}`, { method: req.method, headers: req.headers, body: req.body, redirect: "manual" });
        if (!stall || !isBig || req.method !== "GET") return up;
        // half the layer, then nothing: the pull sits in the middle of it until it is killed
        const bytes = new Uint8Array(await up.arrayBuffer());
        let sent = false;
        return new Response(
          new ReadableStream({
            async pull(c) {
              if (!sent) {
                sent = true;
                c.enqueue(bytes.subarray(0, bytes.length >> 1));
                return;
              }
              await Bun.sleep(60_000);
            },
          }),
          { status: 200, headers: { "content-length": String(bytes.length) } },
        );
      },
    });
    name = `127.0.0.1:${proxy.port}/test/four:1`;
  }, 120_000);

  afterAll(async () => {
    proxy?.stop(true);
    await reg.stop();
    tmp[Symbol.dispose]();
  });

  const pullN = async (n: number, root: string) => {
    const rs = await Promise.all(Array.from({ length: n }, () => berth(["pull", "-q", name], { root, timeoutMs: 120_000 })));
    for (const r of rs) expect(r, r.stderr).toMatchObject({ exitCode: 0 });
    const chk = await berth(["system", "check"], { root });
    expect(chk, chk.stdout).toMatchObject({ exitCode: 0 });
    const run = await berth(["run", "--rm", "--network", "none", name], { root });
    expect(run).toMatchObject({ exitCode: 0, stdout: "b\n" });
  };

  test("two pulls of one 4-layer image at once both succeed; check stays clean (item 3)", async () => {
    for (let round = 0; round < 8; round++) {
      const root = join(base, `two-${round}`);
      await pullN(2, root);
    }
  }, 300_000);

  test("ten pulls of one 4-layer image at once all succeed; check stays clean (item 3)", async () => {
    await pullN(10, join(base, "ten"));
  }, 300_000);

  test("a pull killed mid-layer: check names its leftovers; the next pull resumes the layer with Range (item 1)", async () => {
    const root = join(base, "killed");
    stall = true;
    ranges.length = 0;
    const proc = Bun.spawn(berthArgv(["--root", root, "pull", name]), { stdout: "ignore", stderr: "ignore" });
    const ingestBytes = () => {
      const dir = join(root, "content", "ingest");
      if (!existsSync(dir)) return 0;
      let most = 0;
      for (const d of readdirSync(dir)) {
        const st = statSync(join(dir, d, "data"), { throwIfNoEntry: false });
        if (st && st.size > most) most = st.size;
      }
      return most;
    };
    // the writer flushes in 256 KiB pieces: wait for most of the half that was sent
    await waitUntil("half the big layer in its ingest", async () => ingestBytes() >= (bigSize >> 1) - (256 << 10), 60_000);
    proc.kill("SIGKILL");
    await proc.exited;
    stall = false;
    const have = ingestBytes();
    const chk = await berth(["system", "check"], { root });
    expect(chk.exitCode).toBe(1);
    expect(chk.stdout).toContain(`half-finished ingest ${bigDigest}`);
    expect(chk.stdout).toMatch(/leftover lease pull-extract-/);

    ranges.length = 0;
    const again = await berth(["pull", name], { root, timeoutMs: 120_000 });
    expect(again, again.stderr).toMatchObject({ exitCode: 0 });
    expect(ranges).toEqual([`bytes=${have}-`]);
    const clean = await berth(["system", "check"], { root });
    expect(clean, clean.stdout).toMatchObject({ exitCode: 0 });
    expect(readdirSync(join(root, "content", "ingest"))).toEqual([]);
    const run = await berth(["run", "--rm", "--network", "none", name], { root });
    expect(run).toMatchObject({ exitCode: 0, stdout: "b\n" });
  }, 300_000);
});
