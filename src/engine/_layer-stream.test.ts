import { describe, expect, test } from "bun:test";
import { gzipSync } from "node:zlib";
import { closeSync, mkdtempSync, openSync, rmSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { followFile, freeChunk, LaneScheduler, openFileLane, openLayerLane, pacedRecords } from "./_layer-stream.ts";
import { layerInflateAvailable, layerInflateOrigin } from "../ffi/layer-inflate.ts";

async function* pieces(b: Uint8Array, n: number): AsyncGenerator<Uint8Array> {
  for (let i = 0; i < b.length; i += n) {
    yield b.slice(i, i + n);
    if (i % (n * 16) === 0) await Bun.sleep(0);
  }
}
const sha = (b: Uint8Array) => `sha256:${new Bun.CryptoHasher("sha256").update(b).digest("hex")}`;

describe("openLayerLane", () => {
  const plain = new Uint8Array(3_000_000);
  for (let i = 0; i < plain.length; i++) plain[i] = ((i * 2654435761) >>> 24) & (i % 4096 < 2048 ? 0xff : 0x03);
  const ring = { ring: 256 << 10, chunk: 32 << 10, inflater: "thread" as const };

  test("gzip: inflated off the JS thread, pieces intact for ring - 2 × chunk bytes, diffID at the end", async () => {
    let tapped = 0;
    const lane = await openLayerLane(pieces(gzipSync(plain), 50_000), (c) => (tapped += c.length), ring);
    expect(lane.offThread).toBe(layerInflateOrigin !== "none");
    const keep = ring.ring - 2 * ring.chunk;
    const held: { piece: Uint8Array; copy: Uint8Array; at: number }[] = [];
    const parts: Uint8Array[] = [];
    let read = 0;
    for await (const c of lane.chunks) {
      expect(c.length).toBeLessThanOrEqual(ring.chunk);
      parts.push(c.slice());
      read += c.length;
      held.push({ piece: c, copy: c.slice(), at: read });
      // every piece handed out less than `keep` bytes ago is still what it was
      while (held.length && held[0]!.at + keep < read) held.shift();
      for (const h of held) expect(Buffer.compare(h.piece, h.copy)).toBe(0);
    }
    const out = Buffer.concat(parts);
    expect(Buffer.compare(out, plain)).toBe(0);
    expect(tapped).toBe(plain.length);
    expect(lane.diffId()).toBe(sha(plain));
  });

  test('gzip without inflater "thread": inflated and hashed on this thread, as before', async () => {
    const lane = await openLayerLane(pieces(gzipSync(plain), 50_000), () => {}, { ring: ring.ring, chunk: ring.chunk });
    expect(lane.offThread).toBe(false);
    const parts: Uint8Array[] = [];
    for await (const c of lane.chunks) parts.push(c.slice());
    expect(Buffer.compare(Buffer.concat(parts), plain)).toBe(0);
    expect(lane.diffId()).toBe(sha(plain));
  });

  test("plain tar bytes pass through, hashed here", async () => {
    const tar = new Uint8Array(10_240); // two zero blocks and more: an empty tar archive
    const lane = await openLayerLane(pieces(tar, 1000), () => {}, ring);
    expect(lane.offThread).toBe(false);
    const parts: Uint8Array[] = [];
    for await (const c of lane.chunks) parts.push(c.slice());
    expect(Buffer.concat(parts).length).toBe(tar.length);
    expect(lane.diffId()).toBe(sha(tar));
  });

  test("corrupt gzip fails with zlib's one-line message, a failing body with its own error", async () => {
    const gz = gzipSync(plain);
    const bad = Uint8Array.from(gz);
    for (let i = 1000; i < 1400; i++) bad[i]! ^= 0xa5;
    const drain = async (src: AsyncIterable<Uint8Array>) => {
      const lane = await openLayerLane(src, () => {}, ring);
      for await (const _ of lane.chunks) {
      }
    };
    await expect(drain(pieces(bad, 4096))).rejects.toThrow(/^gzip: /);
    await expect(drain(pieces(gz.subarray(0, gz.length - 100), 4096))).rejects.toThrow(/truncated/);
    async function* broken(): AsyncGenerator<Uint8Array> {
      yield gz.subarray(0, 20_000);
      throw new Error("connection reset");
    }
    await expect(drain(broken())).rejects.toThrow("connection reset");
  });

  // assembly.ts reads stored gzip blobs through storedLayerRing, whose pieces live only until the
  // next read: every inflater must be done with a compressed chunk before it asks for the next
  for (const inflater of ["libz", "native", "thread"] as const) {
    test(`${inflater}: a compressed chunk is consumed before the next is read (one reused buffer in)`, async () => {
      const gz = gzipSync(plain);
      async function* reused(): AsyncGenerator<Uint8Array> {
        const buf = new Uint8Array(40_000);
        for (let i = 0; i < gz.length; i += buf.length) {
          const n = Math.min(buf.length, gz.length - i);
          buf.set(gz.subarray(i, i + n));
          yield buf.subarray(0, n);
          buf.fill(0xee); // the next read overwrites what the last one handed out
        }
      }
      const lane = await openLayerLane(reused(), () => {}, { ...ring, inflater });
      const parts: Uint8Array[] = [];
      for await (const c of lane.chunks) parts.push(c.slice());
      expect(Buffer.compare(Buffer.concat(parts), plain)).toBe(0);
      expect(lane.diffId()).toBe(sha(plain));
    });
  }
});

describe("followFile", () => {
  test("reads a file at its writer's heels to the end, and a writer's failure", async () => {
    const dir = mkdtempSync(join(tmpdir(), "berth-follow-"));
    try {
      const path = join(dir, "data");
      const data = new Uint8Array(1_000_000);
      for (let i = 0; i < data.length; i++) data[i] = (i * 31) & 0xff;
      const follow = async (failAt?: number): Promise<Uint8Array> => {
        const w = openSync(path, "w");
        const r = openSync(path, "r");
        let written = 0;
        let wake: (() => void) | undefined;
        // the writer appends 70_000 bytes per turn of the event loop, as a download does
        const writer = (async () => {
          try {
            while (written < data.length) {
              await Bun.sleep(0);
              if (failAt !== undefined && written >= failAt) throw new Error("connection reset");
              const n = Math.min(70_000, data.length - written);
              writeSync(w, data, written, n, written);
              written += n;
              wake?.();
            }
          } finally {
            closeSync(w);
          }
        })();
        writer.catch(() => {});
        const more = () => Promise.race([new Promise<boolean>((res) => (wake = () => res(true))), writer.then(() => false)]);
        const parts: Uint8Array[] = [];
        for await (const c of followFile(r, more, { ring: 64 << 10, chunk: 32 << 10 })) parts.push(c.slice());
        return Buffer.concat(parts);
      };
      expect(Buffer.compare(await follow(), data)).toBe(0);
      await expect(follow(300_000)).rejects.toThrow("connection reset");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("LaneScheduler", () => {
  const layer = (n: number, seed: number) => {
    const b = new Uint8Array(n);
    for (let i = 0; i < n; i++) b[i] = ((i * 2654435761 + seed) >>> 24) & (i % 4096 < 1024 ? 0xff : 0x07);
    return b;
  };
  const ring = { ring: 256 << 10, chunk: 32 << 10, inflater: "thread" as const };

  test.skipIf(!layerInflateAvailable())("lanes read at once each get their own bytes and diffID, and leave the scheduler", async () => {
    const sched = new LaneScheduler();
    const big = layer(4_000_000, 1);
    const small = layer(1_500_000, 2);
    const finished: string[] = [];
    const drain = async (name: string, plain: Uint8Array, priority: number) => {
      const lane = await openLayerLane(pieces(gzipSync(plain), 40_000), () => {}, { ...ring, scheduler: sched, priority });
      expect(lane.turn).toBeDefined();
      const parts: Uint8Array[] = [];
      for await (const c of pacedRecords(lane.chunks, lane.turn)) {
        parts.push(c.slice());
        // the JS work per piece: a lane that always has output would keep the thread to itself
        const until = performance.now() + 0.2;
        while (performance.now() < until) {}
      }
      expect(Buffer.compare(Buffer.concat(parts), plain)).toBe(0);
      expect(lane.diffId()).toBe(sha(plain));
      finished.push(name);
    };
    await Promise.all([drain("small", small, 1), drain("big", big, 2)]);
    expect(finished.sort()).toEqual(["big", "small"]);
    expect(sched.lanes.size).toBe(0);
  });

  test.skipIf(!layerInflateAvailable())("freeChunks: each fresh chunk is detached once copied in; the output is intact", async () => {
    const plain = layer(2_000_000, 3);
    const gz = gzipSync(plain);
    const given: Uint8Array[] = [];
    async function* fresh(): AsyncGenerator<Uint8Array> {
      for (let i = 0; i < gz.length; i += 1000) {
        const c = new Uint8Array(gz.subarray(i, i + 1000)); // a buffer of its own, as fetch hands out
        given.push(c);
        yield c;
      }
    }
    const lane = await openLayerLane(fresh(), () => {}, { ...ring, freeChunks: true });
    const parts: Uint8Array[] = [];
    for await (const c of lane.chunks) parts.push(c.slice());
    expect(Buffer.compare(Buffer.concat(parts), plain)).toBe(0);
    expect(lane.diffId()).toBe(sha(plain));
    expect(given.length).toBeGreaterThan(10);
    expect(given.every((c) => c.length === 0)).toBe(true);
  });

  test("freeChunk leaves views of a larger buffer alone", () => {
    const whole = new Uint8Array(100).fill(7);
    const view = whole.subarray(10, 20);
    freeChunk(view);
    expect(view.length).toBe(10);
    expect(whole[15]).toBe(7);
    const own = new Uint8Array(10);
    freeChunk(own);
    expect(own.length).toBe(0);
  });
});

describe("openFileLane", () => {
  test.skipIf(!layerInflateAvailable())("the native thread reads a gzip file at its writer's heels; a writer's failure ends the lane", async () => {
    const dir = mkdtempSync(join(tmpdir(), "berth-file-lane-"));
    try {
      const path = join(dir, "data");
      const plain = new Uint8Array(3_000_000);
      for (let i = 0; i < 1_000_000; i += 65_536) crypto.getRandomValues(plain.subarray(i, Math.min(i + 65_536, 1_000_000)));
      const gz = gzipSync(plain);
      const run = async (body: Uint8Array, failAt?: number) => {
        const w = openSync(path, "w");
        const r = openSync(path, "r");
        let written = 0;
        let wake: (() => void) | undefined;
        let grew: (() => void) | undefined;
        // the writer appends 50_000 bytes per turn of the event loop, as a download does
        const writer = (async () => {
          try {
            while (written < body.length) {
              await Bun.sleep(0);
              if (failAt !== undefined && written >= failAt) throw new Error("connection reset");
              const n = Math.min(50_000, body.length - written);
              writeSync(w, body, written, n, written);
              written += n;
              wake?.();
              grew?.();
            }
          } finally {
            closeSync(w);
          }
        })();
        writer.catch(() => {});
        const more = () => Promise.race([new Promise<boolean>((res) => (wake = () => res(true))), writer.then(() => false)]);
        const lane = await openFileLane(r, body.length, writer, more, () => {}, { ring: 256 << 10, chunk: 32 << 10, inflater: "thread" });
        if (!lane) {
          closeSync(r);
          return undefined;
        }
        grew = lane.grew;
        const parts: Uint8Array[] = [];
        try {
          for await (const c of lane.chunks) parts.push(c.slice());
        } finally {
          closeSync(r);
        }
        return { out: Buffer.concat(parts), diffId: lane.diffId() };
      };
      expect(gz.length).toBeGreaterThan(500_000);
      const ok = await run(gz);
      expect(Buffer.compare(ok!.out, plain)).toBe(0);
      expect(ok!.diffId).toBe(sha(plain));
      await expect(run(gz, Math.floor(gz.length / 2))).rejects.toThrow("connection reset");
      // not gzip: the caller reads it itself
      expect(await run(plain.subarray(0, 100_000))).toBeUndefined();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
