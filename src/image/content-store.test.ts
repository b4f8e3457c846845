import { afterAll, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { EngineError } from "../lib/errors.ts";
import type { Digest } from "../oci/index.ts";
import { ContentStore, sha256Digest } from "./content-store.ts";

const roots: string[] = [];
function tmpStore(): ContentStore {
  const dir = mkdtempSync("/tmp/berth-test-image-cs-");
  roots.push(dir);
  return new ContentStore(join(dir, "content"));
}
afterAll(() => {
  for (const r of roots) rmSync(r, { recursive: true, force: true });
});

function bytes(n: number, seed = 1): Uint8Array {
  const b = new Uint8Array(n);
  let x = seed;
  for (let i = 0; i < n; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    b[i] = x >>> 24;
  }
  return b;
}

async function rejection(p: Promise<unknown>): Promise<EngineError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(EngineError);
    return e as EngineError;
  }
  throw new Error("expected a rejection");
}

describe("ContentWriter", () => {
  test("offThread: hashed and written by a worker, same blob as inline; expected digest checked", async () => {
    const cs = tmpStore();
    const data = bytes(3_000_000, 5);
    const w = await cs.writer("off-1", { offThread: true });
    for (let off = 0; off < data.length; off += 65_536) w.write(data.subarray(off, off + 65_536));
    expect(() => w.digest()).toThrow(/off-thread/);
    const info = await w.commit({ size: data.length });
    expect(info).toEqual({ digest: sha256Digest(data), size: data.length });
    expect(Buffer.compare(Buffer.from(await Bun.file(cs.path(info.digest)).arrayBuffer()), Buffer.from(data))).toBe(0);
    const bad = await cs.writer("off-2", { offThread: true });
    bad.write(data.subarray(0, 1000));
    const e = await rejection(bad.commit({ digest: sha256Digest(data) }));
    expect(e.kind).toBe("invalid_argument");
    expect(cs.listIngests().length).toBe(0);
  });

  test("commit moves verified data into blobs/ and removes the ingest", async () => {
    const cs = tmpStore();
    const data = bytes(3 * 1024 * 1024 + 17);
    const want = sha256Digest(data);
    const w = await cs.writer("layer-1");
    // mix small and large chunks so both the buffered and the direct path run
    w.write(data.subarray(0, 10));
    w.write(data.subarray(10, 2 * 1024 * 1024));
    w.write(data.subarray(2 * 1024 * 1024));
    expect(w.size).toBe(data.length);
    expect(w.digest()).toBe(want);
    const info = await w.commit({ size: data.length, digest: want });
    expect(info).toEqual({ digest: want, size: data.length });
    expect(cs.has(want)).toBe(true);
    expect(cs.info(want)).toEqual(info);
    expect(statSync(cs.path(want)).mode & 0o777).toBe(0o444);
    expect(cs.listIngests()).toEqual([]);
    expect(w.closed).toBe(true);
    expect(new Uint8Array(await Bun.readableStreamToBytes(cs.readStream(want))) as Uint8Array).toEqual(data);
    // readChunks: the same bytes through one reused ring, pieces of at most `chunk`
    const rings = new Set<ArrayBufferLike>();
    const parts: Uint8Array[] = [];
    for await (const c of cs.readChunks(want, { ring: 1 << 20, chunk: 64 << 10 })) {
      rings.add(c.buffer);
      expect(c.length).toBeLessThanOrEqual(64 << 10);
      parts.push(c.slice());
    }
    expect(rings.size).toBe(1);
    expect(Buffer.concat(parts) as Uint8Array).toEqual(data);
    expect((await rejection(Array.fromAsync(cs.readChunks(sha256Digest(new Uint8Array([9])))))).kind).toBe("not_found");
    expect((await cs.verify(want)).ok).toBe(true);
    expect(Array.from(await Array.fromAsync(cs.list()))).toEqual([info]);
  });

  test("digest mismatch removes the ingest and says docker-ish words", async () => {
    const cs = tmpStore();
    const w = await cs.writer("bad");
    w.write(new TextEncoder().encode("hello"));
    const wrong = sha256Digest("other");
    const e = await rejection(w.commit({ digest: wrong }));
    expect(e.kind).toBe("invalid_argument");
    expect(e.message).toBe(`commit blob: digest mismatch: expected ${wrong}, got ${sha256Digest("hello")}`);
    expect(cs.listIngests()).toEqual([]);
    expect(cs.has(sha256Digest("hello"))).toBe(false);
  });

  test("size mismatch removes the ingest", async () => {
    const cs = tmpStore();
    const w = await cs.writer("short");
    w.write(new Uint8Array(10));
    const e = await rejection(w.commit({ size: 12 }));
    expect(e.kind).toBe("invalid_argument");
    expect(e.message).toBe("commit blob: size mismatch: expected 12 bytes, got 10");
    expect(cs.listIngests()).toEqual([]);
    expect(cs.listSync()).toEqual([]);
  });

  test("committing content that already exists is success and leaves one blob", async () => {
    const cs = tmpStore();
    const data = bytes(5000);
    const first = cs.putBytes(data);
    const ino = statSync(cs.path(first.digest)).ino;
    const w = await cs.writer();
    w.write(data);
    expect(await w.commit({ digest: first.digest })).toEqual(first);
    expect(statSync(cs.path(first.digest)).ino).toBe(ino);
    expect(cs.listIngests()).toEqual([]);
    expect(cs.listSync()).toHaveLength(1);
  });

  test("abort removes the ingest; a closed writer refuses writes", async () => {
    const cs = tmpStore();
    const w = await cs.writer("gone");
    w.write(bytes(100));
    expect(cs.listIngests().map((i) => i.ref)).toEqual(["gone"]);
    w.abort();
    expect(cs.listIngests()).toEqual([]);
    expect(() => w.write(bytes(1))).toThrow("writer is closed");
  });

  test("an ingest is resumable: bytes are re-hashed and offset says where to continue", async () => {
    const cs = tmpStore();
    const data = bytes(2_500_000, 7);
    const want = sha256Digest(data);
    const w1 = await cs.writer("pull-layer");
    w1.write(data.subarray(0, 1_234_567));
    w1.close();
    const [ing] = cs.listIngests();
    expect(ing).toMatchObject({ ref: "pull-layer", size: 1_234_567, locked: false });

    const w2 = await cs.writer("pull-layer");
    expect(w2.offset).toBe(1_234_567);
    expect(w2.size).toBe(1_234_567);
    w2.write(data.subarray(w2.offset));
    expect(await w2.commit({ digest: want, size: data.length })).toEqual({ digest: want, size: data.length });
    expect(cs.readBytes(want, 10_000_000)).toEqual(data);
  });

  test("reset drops resumed bytes", async () => {
    const cs = tmpStore();
    const w1 = await cs.writer("r");
    w1.write(bytes(10));
    w1.close();
    const w2 = await cs.writer("r");
    expect(w2.offset).toBe(10);
    w2.reset();
    w2.write(new TextEncoder().encode("abc"));
    expect((await w2.commit()).digest).toBe(sha256Digest("abc"));
  });

  test("a second writer on a locked ref in this process gets unavailable; listIngests sees the lock", async () => {
    const cs = tmpStore();
    using w = await cs.writer("busy");
    w.write(bytes(10));
    expect(cs.listIngests()).toMatchObject([{ ref: "busy", locked: true }]);
    const e = await rejection(cs.writer("busy"));
    expect(e.kind).toBe("unavailable");
    expect(e.message).toBe("ingest busy: locked by another writer");
  });

  test("writeStream pumps a ReadableStream", async () => {
    const cs = tmpStore();
    const data = bytes(300_000, 3);
    const w = await cs.writer();
    await w.writeStream(new Blob([data]).stream());
    expect((await w.commit({ digest: sha256Digest(data) })).size).toBe(data.length);
  });
});

describe("ContentStore", () => {
  test("putBytes / readBytes / readJson / delete", () => {
    const cs = tmpStore();
    const json = JSON.stringify({ architecture: "amd64", os: "linux" });
    const d = cs.putBytes(json);
    expect(d.digest).toBe(sha256Digest(json));
    expect(cs.putBytes(json, d.digest)).toEqual(d);
    expect(cs.readJson<{ os: string }>(d.digest).os).toBe("linux");
    expect(() => cs.readBytes(d.digest, 3)).toThrow("too large to read into memory");
    expect(() => cs.putBytes("x", d.digest)).toThrow("digest mismatch");
    expect(cs.delete(d.digest)).toBe(true);
    expect(cs.delete(d.digest)).toBe(false);
    expect(cs.info(d.digest)).toBeUndefined();
    let err: unknown;
    try {
      cs.readBytes(d.digest);
    } catch (e) {
      err = e;
    }
    expect(err).toMatchObject({ kind: "not_found", message: `blob ${d.digest}: not found` });
  });

  test("invalid digests are refused before touching the filesystem", () => {
    const cs = tmpStore();
    expect(() => cs.path("sha256:../../etc/passwd" as Digest)).toThrow("invalid digest");
    expect(cs.has("md5:00" as Digest)).toBe(false);
  });

  test("verify reports a damaged blob", async () => {
    const cs = tmpStore();
    const d = cs.putBytes("good content");
    rmSync(cs.path(d.digest));
    writeFileSync(cs.path(d.digest), "evil content");
    const v = await cs.verify(d.digest);
    expect(v.ok).toBe(false);
    expect(v.ok === false && v.problem).toContain("content does not match digest");
    expect(() => cs.readBytes(d.digest)).toThrow("content does not match its digest");
    expect((await cs.verify(sha256Digest("nothing"))).ok).toBe(false);
  });

  test("list skips stray files", async () => {
    const cs = tmpStore();
    writeFileSync(join(cs.blobsDir, ".tmp-x"), "x");
    const d = cs.putBytes("a");
    expect(await Array.fromAsync(cs.list())).toEqual([d]);
  });
});

// A child process that writes `total` bytes of a fixed pattern into ingest `ref` in small slices with
// pauses, so two of them overlap, then commits with the expected digest.
const WRITER_SCRIPT = `
import { ContentStore } from ${JSON.stringify(join(import.meta.dir, "content-store.ts"))};
const [dir, ref, total, expected] = process.argv.slice(2);
const cs = new ContentStore(dir);
const data = new Uint8Array(Number(total));
for (let i = 0; i < data.length; i++) data[i] = (i * 31 + 7) & 0xff;
const results = [];
for (let round = 0; round < 4; round++) {
  try {
    const w = await cs.writer(ref);
    const step = 64 * 1024;
    for (let off = w.offset; off < data.length; off += step) {
      w.write(data.subarray(off, Math.min(off + step, data.length)));
      await Bun.sleep(1);
    }
    const r = await w.commit({ digest: expected, size: data.length });
    results.push({ ok: true, ...r });
  } catch (e) {
    results.push({ ok: false, kind: e.kind, message: e.message });
  }
}
console.log(JSON.stringify(results));
`;

describe("across processes", () => {
  test("two processes writing the same ref never corrupt the blob", async () => {
    const cs = tmpStore();
    const script = join(cs.dir, "..", "writer.ts");
    writeFileSync(script, WRITER_SCRIPT);
    const total = 2 * 1024 * 1024;
    const data = new Uint8Array(total);
    for (let i = 0; i < total; i++) data[i] = (i * 31 + 7) & 0xff;
    const want = sha256Digest(data);
    const spawn = () => Bun.spawn([process.execPath, script, cs.dir, "shared-ref", String(total), want], { stdout: "pipe", stderr: "inherit" });
    const procs = [spawn(), spawn(), spawn()];
    const results = (
      await Promise.all(
        procs.map(async (p) => {
          const out = await new Response(p.stdout).text();
          expect(await p.exited).toBe(0);
          return JSON.parse(out.trim());
        }),
      )
    ).flat();
    for (const r of results) {
      if (r.ok) expect(r).toEqual({ ok: true, digest: want, size: total });
      else expect(r).toMatchObject({ ok: false, kind: "unavailable" });
    }
    expect(results.some((r) => r.ok)).toBe(true);
    expect(await cs.verify(want)).toEqual({ digest: want, ok: true, size: total });
    // the losers never touched the ingest; the winner's commit removed it
    expect(cs.listIngests()).toEqual([]);
    expect(readdirSync(cs.blobsDir)).toEqual([want.slice(7)]);
    expect(existsSync(cs.ingestPath("shared-ref"))).toBe(false);
  });
});
