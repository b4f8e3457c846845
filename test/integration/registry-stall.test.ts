// Issue 15 item 11: a registry blob body that stalls mid-way. A Bun.serve proxy in front of Debian's
// docker-registry sends the first half of every large blob and then nothing, without closing. The pull
// drops a body after BERTH_REGISTRY_READ_TIMEOUT_MS without a byte and resumes it with a Range request
// from what the ingest holds; a body that always stalls fails after the client's attempts with one line
// naming the blob and leaves `system check` clean; a later pull through a healthy registry finishes.
// Root (layers unpack with their owners).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { rootEnabled } from "../helpers/root.ts";
import { berth } from "../helpers/cli.ts";
import { Registry, busyboxLayer, haveRegistryTools, ociLayout, skopeo, smallLayer, tempDir } from "./registry-fixture.ts";

const enabled = rootEnabled && haveRegistryTools;
const BIG = 64 * 1024;

describe.skipIf(!enabled)("a stalled registry body (read timeout, retry, resume)", () => {
  const tmp = enabled ? tempDir() : undefined!;
  const base = tmp?.path ?? "/nonexistent";
  const reg = new Registry(join(base, "registry"));
  let proxy: ReturnType<typeof Bun.serve> | undefined;
  /** once: the first GET of a big blob stalls, the retries pass; always: every GET of it stalls */
  let mode: "once" | "always" = "once";
  let stalled = 0;
  const ranges: string[] = [];
  const env = { BERTH_REGISTRY_READ_TIMEOUT_MS: "400" };

  beforeAll(async () => {
    await reg.start();
    const bb = await busyboxLayer(base);
    const extra = await smallLayer(base, "a", { "etc/hello.txt": "hello\n" });
    const layout = ociLayout(join(base, "layout"), [{ tag: "multi", layers: [bb, extra], cmd: ["cat", "/etc/hello.txt"] }]);
    await skopeo(["copy", "--dest-tls-verify=false", `oci:${layout}:multi`, `docker://${reg.host}/test/stall:1`]);
    proxy = Bun.serve({
      hostname: "127.0.0.1",
      port: 0,
      idleTimeout: 0,
      async fetch(req) {
        const u = new URL(req.url);
        const up = await fetch(`http://${reg.host}${u.pathname}${u.search}`, { method: req.method, headers: req.headers, redirect: "manual" });
        const len = Number(up.headers.get("content-length") ?? 0);
        if (req.method !== "GET" || !/\/blobs\/sha256:/.test(u.pathname) || len < BIG) return up;
        if (req.headers.get("range")) ranges.push(req.headers.get("range")!);
        if (mode === "once" && stalled > 0) return up;
        stalled++;
        const bytes = new Uint8Array(await up.arrayBuffer());
        let sent = false;
        // half the body, then silence: the connection stays open and nothing more comes
        return new Response(
          new ReadableStream({
            async pull(c) {
              if (!sent) {
                sent = true;
                c.enqueue(bytes.subarray(0, bytes.length >> 1));
                return;
              }
              await new Promise(() => {});
            },
          }),
          {
            status: up.status,
            headers: {
              "content-length": String(bytes.length),
              ...(up.headers.get("content-range") ? { "content-range": up.headers.get("content-range")! } : {}),
            },
          },
        );
      },
    });
  }, 120_000);

  afterAll(async () => {
    proxy?.stop(true);
    await reg.stop();
    tmp[Symbol.dispose]();
  });

  test("a body that stalls once is dropped after the read timeout and resumed with Range", async () => {
    const root = join(base, "root-once");
    mode = "once";
    stalled = 0;
    ranges.length = 0;
    const name = `127.0.0.1:${proxy!.port}/test/stall:1`;
    const r = await berth(["pull", name], { root, env, timeoutMs: 60_000 });
    expect(r.stderr).toBe("");
    expect(r.exitCode).toBe(0);
    expect(stalled).toBe(1);
    // the retry asked for the rest only: from the half the stalled body delivered
    expect(ranges.length).toBe(1);
    expect(ranges[0]).toMatch(/^bytes=[1-9]\d*-$/);
    expect((await berth(["run", "--rm", "--network", "none", name], { root })).stdout).toBe("hello\n");
    expect((await berth(["system", "check"], { root })).exitCode).toBe(0);
  });

  test("a body that always stalls fails after the attempts, naming the blob; a later pull finishes", async () => {
    const root = join(base, "root-always");
    mode = "always";
    stalled = 0;
    const name = `127.0.0.1:${proxy!.port}/test/stall:1`;
    const r = await berth(["pull", "-q", name], { root, env, timeoutMs: 60_000 });
    expect(r.exitCode).toBe(1);
    const lines = r.stderr.trim().split("\n");
    expect(lines.length).toBe(1);
    expect(lines[0]).toMatch(/blob sha256:[0-9a-f]{64}: truncated: got \d+ of \d+ bytes \(no data for 400 ms, after 4 attempts\)/);
    expect(stalled).toBeGreaterThanOrEqual(4);
    expect((await berth(["system", "check"], { root })).exitCode).toBe(0);
    // the registry recovers: the next pull finishes (the failed pull removed its ingest: check is clean)
    mode = "once";
    stalled = 1;
    const again = await berth(["pull", "-q", name], { root, env, timeoutMs: 60_000 });
    expect(again.stderr).toBe("");
    expect(again.exitCode).toBe(0);
    expect((await berth(["system", "check"], { root })).exitCode).toBe(0);
  });
});
