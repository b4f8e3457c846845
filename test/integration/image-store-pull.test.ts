// The content store as a pull will use it: an HTTP body streamed into an ingest, a broken connection,
// a resume with a Range request, commit under a lease, record, tag, gc. The "registry" is Bun.serve on
// 127.0.0.1 port 0 inside this test. Needs no root.
import { afterAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { join } from "node:path";
import { ContentStore, ImageStore, LeaseStore, sha256Digest } from "../../src/image/index.ts";
import { gc } from "../../src/image/gc.ts";
import { MediaType, type Descriptor, type Manifest } from "../../src/oci/index.ts";

const root = mkdtempSync("/tmp/berth-test-image-pull-");
afterAll(() => rmSync(root, { recursive: true, force: true }));

const layer = new Uint8Array(3 * 1024 * 1024 + 123);
for (let i = 0; i < layer.length; i++) layer[i] = (i * 131 + (i >> 9)) & 0xff;
layer[0] = 0x1f;
layer[1] = 0x8b;
const layerDigest = sha256Digest(layer);

let failFirst = true;
const ranges: (string | null)[] = [];
const server = Bun.serve({
  hostname: "127.0.0.1",
  port: 0,
  fetch(req) {
    const range = req.headers.get("range");
    ranges.push(range);
    if (failFirst) {
      failFirst = false;
      // send about a third, then break the connection
      const cut = 1024 * 1024 + 7;
      let sent = false;
      return new Response(
        new ReadableStream({
          async pull(c) {
            if (!sent) {
              sent = true;
              c.enqueue(layer.subarray(0, cut));
              return;
            }
            await Bun.sleep(20);
            c.error(new Error("connection reset (on purpose)"));
          },
        }),
        { headers: { "content-length": String(layer.length) } },
      );
    }
    const m = range && /^bytes=(\d+)-$/.exec(range);
    if (m) {
      const start = Number(m[1]);
      return new Response(layer.subarray(start), {
        status: 206,
        headers: { "content-range": `bytes ${start}-${layer.length - 1}/${layer.length}` },
      });
    }
    return new Response(layer);
  },
});
afterAll(() => server.stop(true));

test("pull-like flow: stream, break, resume with Range, commit under lease, record, tag, gc", async () => {
  const content = new ContentStore(join(root, "content"));
  const images = new ImageStore(join(root, "image"), content);
  const leases = new LeaseStore(content);
  const url = `http://127.0.0.1:${server.port}/v2/x/blobs/${layerDigest}`;
  using lease = leases.createLease();
  const ref = `layer-${layerDigest}`;

  {
    using w = await content.writer(ref);
    const res = await fetch(url);
    await expect(w.writeStream(res.body!)).rejects.toThrow();
    // the writer is closed by `using`; the ingest stays for a resume
  }
  const [partial] = content.listIngests();
  expect(partial).toMatchObject({ ref, locked: false });
  expect(partial!.size).toBeGreaterThan(0);
  // a gc in between must not take a fresh unlocked ingest (grace period)
  expect(gc({ content, images, leases }).removedIngests).toEqual([]);

  const w = await content.writer(ref);
  expect(w.offset).toBe(partial!.size);
  const res = await fetch(url, { headers: { range: `bytes=${w.offset}-` } });
  expect(res.status).toBe(206);
  await w.writeStream(res.body!);
  const committed = await w.commit({ digest: layerDigest, size: layer.length, lease });
  expect(committed).toEqual({ digest: layerDigest, size: layer.length });
  expect(ranges).toEqual([null, `bytes=${partial!.size}-`]);

  // config + manifest, as a pull writes them after the layers
  const cfg = content.putBytes(
    JSON.stringify({ architecture: "amd64", os: "linux", created: "2026-11-01T00:00:00Z", rootfs: { type: "layers", diff_ids: [layerDigest] } }),
    undefined,
    { lease },
  );
  const config: Descriptor = { mediaType: MediaType.OciConfig, ...cfg };
  const manifest: Manifest = {
    schemaVersion: 2,
    mediaType: MediaType.OciManifest,
    config,
    layers: [{ mediaType: MediaType.OciLayerGzip, digest: layerDigest, size: layer.length }],
  };
  const man = content.putBytes(JSON.stringify(manifest), undefined, { lease });
  expect(gc({ content, images, leases }).removedBlobs).toEqual([]);

  const rec = images.put({ manifest: { mediaType: MediaType.OciManifest, ...man }, config });
  images.tag("localhost:5000/x:v1", rec.id);
  images.tag(`localhost:5000/x@${man.digest}`, rec.id);
  lease.delete();

  // referenced by the record now: nothing is garbage
  expect(gc({ content, images, leases })).toMatchObject({ removedBlobs: [], removedIngests: [], freedBytes: 0 });
  expect(images.resolve("localhost:5000/x:v1").id).toBe(rec.id);
  expect(images.resolve(`localhost:5000/x@${man.digest}`).id).toBe(rec.id);
  expect(images.config(rec.id).created).toBe("2026-11-01T00:00:00Z");
  expect((await content.verify(layerDigest)).ok).toBe(true);

  images.delete(rec.id, { force: true });
  const r = gc({ content, images, leases });
  expect(r.removedBlobs.sort()).toEqual([layerDigest, cfg.digest, man.digest].sort());
  expect(r.freedBytes).toBe(layer.length + cfg.size + man.size);
});
