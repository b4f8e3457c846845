import { describe, expect, test } from "bun:test";
import { formatHeader } from "./header.ts";
import { compressStream, decompressStream, detectCompression, openMaybeCompressed } from "./compress.ts";
import { readTar } from "./reader.ts";
import { TarWriter } from "./writer.ts";

async function sampleTar(): Promise<Uint8Array<ArrayBufferLike>> {
  const parts: Uint8Array[] = [];
  const w = new TarWriter((c) => void parts.push(c.slice()));
  for (let i = 0; i < 20; i++) await w.add({ name: `f${i}`, type: "file", mode: 0o644, uid: 0, gid: 0, size: i * 300, mtime: 1 }, new Uint8Array(i * 300).fill(i));
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
    await expect(openMaybeCompressed(pieces(new TextEncoder().encode("hello world ".repeat(100)), 7))).rejects.toThrow("tar: not a tar archive and not gzip or zstd compressed");
    const z = new Uint8Array(await new Response(compressStream(pieces(await sampleTar(), 1000), "gzip")).arrayBuffer());
    z.fill(0x55, 20, 60);
    await expect(new Response(decompressStream(pieces(z, 100), "gzip")).arrayBuffer()).rejects.toThrow();
  });
});
