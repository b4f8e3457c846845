import { describe, expect, test } from "bun:test";
import { formatHeader } from "./header.ts";
import { gzipSync } from "node:zlib";
import { EngineError } from "../lib/errors.ts";
import { compressStream, decompressStream, detectCompression, inflateGzip, openLayerChunks, openMaybeCompressed, readFileRing } from "./compress.ts";
import { readTar } from "./reader.ts";
import { TarWriter } from "./writer.ts";

async function sampleTar(): Promise<Uint8Array<ArrayBufferLike>> {
  const parts: Uint8Array[] = [];
  const w = new TarWriter((c) => void parts.push(c.slice()));
  for (let i = 0; i < 20; i++)
    await w.add({ name: `f${i}`, type: "file", mode: 0o644, uid: 0, gid: 0, size: i * 300, mtime: 1 }, new Uint8Array(i * 300).fill(i));
  await w.finish();
  return Buffer.concat(parts);
}

async function* pieces(d: Uint8Array, n: number) {
  for (let i = 0; i < d.length; i += n) yield d.subarray(i, i + n);
}

describe("detectCompression", () => {
  test("magic numbers", () => {
    expect(detectCompression(new Uint8Array([0x1f, 0x8b, 8]))).toBe("gzip");
    expect(detectCompression(new Uint8Array([0x28, 0xb5, 0x2f, 0xfd, 0]))).toBe("zstd");
    expect(detectCompression(new TextEncoder().encode("BZh91AY"))).toBe("bzip2");
    expect(detectCompression(new Uint8Array([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0]))).toBe("xz");
    expect(detectCompression(new Uint8Array(0))).toBe("none");
    expect(detectCompression(new Uint8Array(1024))).toBe("none");
    expect(detectCompression(formatHeader({ name: "a", mode: 0, uid: 0, gid: 0, size: 0, mtime: 0, typeflag: "0" }))).toBe("none");
    expect(detectCompression(new TextEncoder().encode("<html>".repeat(100)))).toBe("unknown");
  });
});

describe("streams", () => {
  for (const kind of ["gzip", "zstd"] as const) {
    test(`${kind}: compress → openMaybeCompressed (tiny chunks) → readTar`, async () => {
      const tar = await sampleTar();
      const z = new Uint8Array(await new Response(compressStream(pieces(tar, 1000), kind)).arrayBuffer());
      expect(detectCompression(z)).toBe(kind);
      const { compression, stream } = await openMaybeCompressed(pieces(z, 3));
      expect(compression).toBe(kind);
      expect(new Uint8Array(await new Response(stream).arrayBuffer()) as Uint8Array<ArrayBufferLike>).toEqual(tar);
      const again = await openMaybeCompressed(pieces(z, 4096));
      let n = 0;
      for await (const r of readTar(again.stream)) {
        let len = 0;
        for await (const c of r.body) len += c.length;
        expect(len).toBe(n++ * 300);
      }
      expect(n).toBe(20);
    });
  }

  test("plain tar passes through unchanged", async () => {
    const tar = await sampleTar();
    const { compression, stream } = await openMaybeCompressed(pieces(tar, 100));
    expect(compression).toBe("none");
    expect(new Uint8Array(await new Response(stream).arrayBuffer()) as Uint8Array<ArrayBufferLike>).toEqual(tar);
  });

  test("garbage is refused; corrupt gzip errors the stream", async () => {
    await expect(openMaybeCompressed(pieces(new TextEncoder().encode("hello world ".repeat(100)), 7))).rejects.toThrow(
      "tar: not a tar archive and not gzip or zstd compressed",
    );
    const z = new Uint8Array(await new Response(compressStream(pieces(await sampleTar(), 1000), "gzip")).arrayBuffer());
    z.fill(0x55, 20, 60);
    await expect(new Response(decompressStream(pieces(z, 100), "gzip")).arrayBuffer()).rejects.toThrow();
  });

  test("fuzz finding: corrupt zstd and gzip are invalid_argument, not the web stream's TypeError", async () => {
    const drain = async (s: ReadableStream<Uint8Array>) => {
      try {
        for await (const _ of s as unknown as AsyncIterable<Uint8Array>);
      } catch (e) {
        return e;
      }
      return null;
    };
    for (const [what, bytes, msg] of [
      ["zstd", [40, 181, 47, 253], "zstd: unexpected end of file (corrupt stream)"],
      ["zstd", [40, 181, 47, 253, 1, 10, 81, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0], "zstd: zstd decode failed (corrupt stream)"],
      ["gzip", [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3, 0xff, 0xff], "gzip: "],
    ] as const) {
      const e = await drain(decompressStream(pieces(new Uint8Array(bytes), 1), what));
      expect(e).toBeInstanceOf(EngineError);
      expect((e as EngineError).kind).toBe("invalid_argument");
      expect((e as EngineError).message).toStartWith(msg);
    }
    // the same through openLayerChunks, as pull reads a zstd layer
    const { chunks } = await openLayerChunks(pieces(new Uint8Array([40, 181, 47, 253, 32, 0, 1, 0, 0, 0]), 1));
    const e = await drain(chunks as unknown as ReadableStream<Uint8Array>);
    expect(e).toBeInstanceOf(EngineError);
  });

  test("an error of the source passes through decompressStream unchanged", async () => {
    const boom = new Error("network down");
    async function* failing() {
      yield new Uint8Array([0x1f, 0x8b]);
      throw boom;
    }
    await expect(new Response(decompressStream(failing(), "gzip")).arrayBuffer()).rejects.toBe(boom);
  });
});

describe("inflateGzip / openLayerChunks (ring output)", () => {
  /** copy each piece as it comes: the ring reuses its memory */
  async function collect(it: AsyncIterable<Uint8Array>): Promise<Uint8Array> {
    const parts: Uint8Array[] = [];
    for await (const c of it) parts.push(c.slice());
    return Buffer.concat(parts);
  }
  const big = (() => {
    const b = new Uint8Array(3_000_000);
    let x = 7;
    for (let i = 0; i < b.length; i++) b[i] = i % 8192 < 4096 ? i & 0x3f : (x = (x * 1103515245 + 12345) >>> 0) >>> 24;
    return b;
  })();

  for (const inflater of ["native", "libz"] as const) {
    test(`same bytes as node:zlib, for any input split; pieces never exceed \`chunk\` and are views of one ring: ${inflater}`, async () => {
      const gz = gzipSync(big);
      for (const step of [1 << 20, 4096, 333]) {
        const seen = new Set<ArrayBufferLike>();
        let max = 0;
        const parts: Uint8Array[] = [];
        for await (const c of inflateGzip(pieces(gz, step), { ring: 256 << 10, chunk: 32 << 10, inflater })) {
          seen.add(c.buffer);
          max = Math.max(max, c.length);
          parts.push(c.slice());
        }
        expect(Buffer.compare(Buffer.concat(parts), Buffer.from(big))).toBe(0);
        expect(max).toBeLessThanOrEqual(32 << 10);
        expect(seen.size).toBe(1);
      }
    });

    test(`a piece stays intact until ring - 2 × chunk more bytes were handed out: ${inflater}`, async () => {
      const gz = gzipSync(big);
      const ring = 256 << 10,
        chunk = 32 << 10;
      const held: { view: Uint8Array; copy: Uint8Array; at: number }[] = [];
      let out = 0;
      for await (const c of inflateGzip(pieces(gz, 10_000), { ring, chunk, inflater })) {
        held.push({ view: c, copy: c.slice(), at: out });
        out += c.length;
        while (held.length && out - (held[0]!.at + held[0]!.view.length) > ring - 2 * chunk) held.shift();
        for (const h of held) expect(Buffer.compare(Buffer.from(h.view), Buffer.from(h.copy))).toBe(0);
      }
      expect(out).toBe(big.length);
    });

    test(`multi-member gzip is read whole (gzip -d semantics): ${inflater}`, async () => {
      const a = big.subarray(0, 100_000),
        b = big.subarray(100_000, 180_000);
      const both = Buffer.concat([gzipSync(a), gzipSync(b)]);
      expect(Buffer.compare(Buffer.from(await collect(inflateGzip(pieces(both, 5000), { inflater }))), Buffer.concat([a, b]))).toBe(0);
    });

    test(`truncated, corrupt and trailing garbage are invalid_argument errors: ${inflater}`, async () => {
      const gz = gzipSync(big);
      await expect(collect(inflateGzip(pieces(gz.subarray(0, gz.length - 100), 65536), { inflater }))).rejects.toThrow(/^gzip: unexpected end of data/);
      const bad = Buffer.from(gz);
      bad.fill(0x55, 1000, 1200);
      const e = await collect(inflateGzip(pieces(bad, 65536), { inflater })).catch((x) => x);
      expect(e).toBeInstanceOf(EngineError);
      expect((e as EngineError).kind).toBe("invalid_argument");
      expect((e as EngineError).message).toMatch(/^gzip: /);
      await expect(
        collect(inflateGzip(pieces(Buffer.concat([gzipSync(big.subarray(0, 1000)), Buffer.from("junk after the member")]), 100), { inflater })),
      ).rejects.toThrow(/^gzip: incorrect header check/);
    });
  }

  test("openLayerChunks: gzip through the ring, zstd and plain tar as they are, xz refused", async () => {
    const tar = await sampleTar();
    const g = await openLayerChunks(pieces(gzipSync(tar), 1000));
    expect(g.compression).toBe("gzip");
    expect(Buffer.compare(Buffer.from(await collect(g.chunks)), Buffer.from(tar))).toBe(0);
    const zst = new Uint8Array(await new Response(compressStream(pieces(tar, 1000), "zstd")).arrayBuffer());
    const z = await openLayerChunks(pieces(zst, 77));
    expect(z.compression).toBe("zstd");
    expect(Buffer.compare(Buffer.from(await collect(z.chunks)), Buffer.from(tar))).toBe(0);
    const n = await openLayerChunks(pieces(tar, 100));
    expect(n.compression).toBe("none");
    let entries = 0;
    for await (const r of readTar(n.chunks)) {
      for await (const _ of r.body) {
      }
      entries++;
    }
    expect(entries).toBe(20);
    let closed = false;
    async function* xz() {
      try {
        yield new Uint8Array([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0, 1, 2]);
        yield new Uint8Array(1000);
      } finally {
        closed = true;
      }
    }
    await expect(openLayerChunks(xz())).rejects.toThrow("tar: xz-compressed archives are not supported");
    expect(closed).toBe(true);
  });
});

describe("readFileRing", () => {
  test("with a guard, a piece is read over only after the work queued on it has been waited for", async () => {
    const { mkdtempSync, openSync, closeSync, writeFileSync, rmSync } = await import("node:fs");
    const dir = mkdtempSync("/tmp/berth-test-ring-");
    const data = new Uint8Array(100_000).map((_, i) => (i * 7) % 256);
    writeFileSync(`${dir}/f`, data);
    const fd = openSync(`${dir}/f`, "r");
    try {
      // a consumer that hands each piece on (fence = ops queued so far) and checks its bytes when
      // "the other thread" gets to it, i.e. when the reader waits for that mark
      let queued = 0;
      const pending: { mark: number; bytes: Uint8Array; copy: Uint8Array }[] = [];
      const waited: number[] = [];
      const guard = {
        fence: () => queued,
        waitFor: (mark: number) => {
          waited.push(mark);
          while (pending.length && pending[0]!.mark < mark) pending.shift(); // done with
        },
      };
      const got: Uint8Array[] = [];
      // ring 3500, pieces of 1000: the ring wraps with a gap at its end
      for await (const piece of readFileRing(fd, { ring: 3500, chunk: 1000, guard })) {
        // every piece the other thread has not been waited for is still intact
        for (const p of pending) expect(Buffer.compare(p.bytes, p.copy)).toBe(0);
        got.push(piece.slice());
        pending.push({ mark: queued, bytes: piece, copy: piece.slice() });
        queued++;
      }
      expect(Buffer.compare(Buffer.concat(got), Buffer.from(data))).toBe(0);
      expect(waited.length).toBeGreaterThan(90);
    } finally {
      closeSync(fd);
      rmSync(dir, { recursive: true });
    }
  });
});
