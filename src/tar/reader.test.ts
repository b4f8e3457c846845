import { describe, expect, test } from "bun:test";
import { EngineError } from "../lib/errors.ts";
import { BLOCK, checksums, formatHeader, formatPax } from "./header.ts";
import { normalizeName, readTar } from "./reader.ts";
import type { TarEntry } from "./types.ts";
import { TarWriter } from "./writer.ts";

const enc = new TextEncoder();

async function build(entries: [TarEntry, Uint8Array?][]): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  const w = new TarWriter((c) => void parts.push(c.slice()));
  for (const [e, b] of entries) await w.add(e, b);
  await w.finish();
  return Buffer.concat(parts);
}

async function* chunked(data: Uint8Array, sizes: () => number): AsyncGenerator<Uint8Array> {
  let i = 0;
  while (i < data.length) {
    const n = Math.max(1, sizes());
    yield data.subarray(i, i + n);
    i += n;
  }
}

async function collect(src: AsyncIterable<Uint8Array> | ReadableStream<Uint8Array>) {
  const out: { entry: TarEntry; data: Uint8Array }[] = [];
  for await (const r of readTar(src)) {
    const parts: Uint8Array[] = [];
    for await (const c of r.body) parts.push(c.slice());
    out.push({ entry: r.entry, data: Buffer.concat(parts) });
  }
  return out;
}

function file(name: string, body: Uint8Array | string, extra: Partial<TarEntry> = {}): [TarEntry, Uint8Array] {
  const b = typeof body === "string" ? enc.encode(body) : body;
  return [{ name, type: "file", mode: 0o644, uid: 0, gid: 0, size: b.length, mtime: 1700000000, ...extra }, b];
}

function rand(seed: number) {
  let s = seed >>> 0;
  return () => (s = (s * 1664525 + 1013904223) >>> 0) / 2 ** 32;
}

const sample: [TarEntry, Uint8Array?][] = [
  [{ name: "dir", type: "dir", mode: 0o755, uid: 0, gid: 0, size: 0, mtime: 1 }],
  file("dir/a.txt", "hello"),
  file("dir/empty", ""),
  file("dir/block", new Uint8Array(BLOCK).fill(7)),
  file(
    "dir/odd",
    new Uint8Array(1000).map((_, i) => i & 0xff),
  ),
  file("long/" + "n".repeat(120) + "/" + "m".repeat(150), "long name", { mtime: 1700000000.5, mtimeNsec: 500000000 }),
  [{ name: "dir/link", type: "symlink", mode: 0o777, uid: 0, gid: 0, size: 0, mtime: 1, linkname: "t".repeat(300) }],
  [{ name: "dir/hard", type: "hardlink", mode: 0o644, uid: 0, gid: 0, size: 0, mtime: 1, linkname: "dir/a.txt" }],
  [{ name: "dev/null", type: "char", mode: 0o666, uid: 0, gid: 0, size: 0, mtime: 1, devmajor: 1, devminor: 3 }],
  [{ name: "dev/sda", type: "block", mode: 0o660, uid: 0, gid: 6, size: 0, mtime: 1, devmajor: 8, devminor: 0 }],
  [{ name: "fifo", type: "fifo", mode: 0o600, uid: 0, gid: 0, size: 0, mtime: 1 }],
  file("bin/ping", "ELF", {
    uid: 3_000_000,
    gid: 4_000_000,
    uname: "ü".repeat(40),
    xattrs: { "security.capability": new Uint8Array([1, 0, 0, 2, 0, 0x20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]), "user.k": enc.encode("v") },
  }),
];

describe("readTar", () => {
  test("round trip through the writer, every entry kind", async () => {
    const tar = await build(sample);
    const got = await collect(chunked(tar, () => 1 << 20));
    expect(got.map((g) => g.entry.name)).toEqual(sample.map(([e]) => e.name));
    for (let i = 0; i < sample.length; i++) {
      const [e, b] = sample[i];
      expect(got[i].entry).toMatchObject(e);
      expect(got[i].data).toEqual(b ?? new Uint8Array(0));
    }
  });

  test("chunk boundaries anywhere: 1-byte chunks and random sizes", async () => {
    const tar = await build(sample);
    const ref = await collect(chunked(tar, () => tar.length));
    expect(await collect(chunked(tar, () => 1))).toEqual(ref);
    for (let seed = 1; seed <= 30; seed++) {
      const r = rand(seed);
      const max = [3, 100, 511, 513, 1500, 70000][seed % 6];
      expect(await collect(chunked(tar, () => Math.floor(r() * max) + 1))).toEqual(ref);
    }
  });

  test("ReadableStream source", async () => {
    const tar = await build(sample);
    const got = await collect(new Blob([tar]).stream());
    expect(got.length).toBe(sample.length);
  });

  test("unconsumed and half-consumed bodies are skipped", async () => {
    const tar = await build(sample);
    const names: string[] = [];
    let i = 0;
    for await (const r of readTar(chunked(tar, () => 37))) {
      names.push(r.entry.name);
      if (i++ % 2 === 0) for await (const _ of r.body) break; // take one chunk, then leave
    }
    expect(names).toEqual(sample.map(([e]) => e.name));
  });

  test("a body read after the reader moved on throws", async () => {
    const tar = await build(sample);
    const it = readTar(chunked(tar, () => 4096));
    const a = (await it.next()).value!;
    await it.next();
    await expect(
      (async () => {
        for await (const _ of a.body);
      })(),
    ).rejects.toThrow(/read after the reader moved on/);
    await it.return(undefined);
  });

  test("bodies are subarrays of the source chunks (no copy)", async () => {
    const big = new Uint8Array(100_000).fill(9);
    const tar = await build([file("big", big)]);
    for await (const r of readTar(chunked(tar, () => tar.length))) {
      for await (const c of r.body) expect(c.buffer).toBe(tar.buffer);
    }
  });

  test("names: leading ./ stripped, .. and absolute kept, trailing / dropped", () => {
    expect(normalizeName("./a/b")).toBe("a/b");
    expect(normalizeName("././a")).toBe("a");
    expect(normalizeName("./")).toBe(".");
    expect(normalizeName("a/b/")).toBe("a/b");
    expect(normalizeName("../etc/passwd")).toBe("../etc/passwd");
    expect(normalizeName("/etc/passwd")).toBe("/etc/passwd");
    expect(normalizeName("a/../../b")).toBe("a/../../b");
  });

  test("hostile names pass through unchanged for the appliers to refuse", async () => {
    const tar = await build([
      file("../../escape", "x"),
      file("/abs/path", "y"),
      [{ name: "./ok/", type: "dir", mode: 0o755, uid: 0, gid: 0, size: 0, mtime: 0 }],
    ]);
    expect((await collect(chunked(tar, () => 100))).map((g) => g.entry.name)).toEqual(["../../escape", "/abs/path", "ok"]);
  });

  test("empty input and end marker only are empty archives; trailing garbage after the marker is ignored", async () => {
    expect(await collect(chunked(new Uint8Array(0), () => 1))).toEqual([]);
    expect(await collect(chunked(new Uint8Array(10240), () => 512))).toEqual([]);
    const tar = await build([file("a", "1")]);
    const withJunk = Buffer.concat([tar, enc.encode("garbage garbage")]);
    expect((await collect(chunked(withJunk, () => 99))).length).toBe(1);
  });

  test("missing end marker after a complete entry is accepted", async () => {
    const tar = await build([file("a", "12345")]);
    const got = await collect(chunked(tar.subarray(0, 1024), () => 100));
    expect(got.map((g) => g.entry.name)).toEqual(["a"]);
  });

  test("truncated body names the entry and the byte counts", async () => {
    const tar = await build([file("usr/bin/x", new Uint8Array(1000))]);
    const cut = tar.subarray(0, 512 + 12);
    await expect(collect(chunked(cut, () => 5))).rejects.toThrow('tar: truncated entry "usr/bin/x": expected 1000 bytes, got 12');
    // also when the body is skipped rather than read
    const skip = async () => {
      for await (const _ of readTar(chunked(cut, () => 5)));
    };
    await expect(skip()).rejects.toThrow('truncated entry "usr/bin/x"');
  });

  test("eof inside a header or in padding is an error", async () => {
    const tar = await build([file("a", "x"), file("b", "y")]);
    await expect(collect(chunked(tar.subarray(0, 1024 + 100), () => 7))).rejects.toThrow(/eof inside a header .*after "a"/);
    await expect(collect(chunked(tar.subarray(0, 600), () => 7))).rejects.toThrow(/eof in the padding after "a"/);
  });

  test("eofInPadding: an archive cut in the last entry's padding ends there (the docker CLI's -f contexts); a cut in data still fails", async () => {
    const tar = await build([file("a", "x"), file("b", "yz")]);
    const names: string[] = [];
    for await (const r of readTar(
      chunked(tar.subarray(0, 1024 + 512 + 2), () => 7),
      { eofInPadding: true },
    )) {
      names.push(`${r.entry.name}=${Buffer.concat(await Array.fromAsync(r.body)).toString()}`);
    }
    expect(names).toEqual(["a=x", "b=yz"]);
    const cutInData = async () => {
      for await (const r of readTar(
        chunked(tar.subarray(0, 1024 + 512 + 1), () => 7),
        { eofInPadding: true },
      ))
        for await (const _ of r.body);
    };
    await expect(cutInData()).rejects.toThrow('truncated entry "b"');
  });

  test("garbage and bad checksums", async () => {
    const junk = enc.encode("this is not a tar archive at all ".repeat(40));
    const e = await collect(chunked(junk, () => 64)).catch((x) => x);
    expect(e).toBeInstanceOf(EngineError);
    expect(e.kind).toBe("invalid_argument");
    expect(e.message).toBe("tar: not a tar archive (bad header checksum at offset 0)");
    const tar = await build([file("a", "x"), file("b", "y")]);
    tar[1024 + 10] ^= 0x55;
    await expect(collect(chunked(tar, () => 512))).rejects.toThrow('tar: bad header checksum at offset 1024 (after "a")');
  });

  test("oversized pax header is refused without buffering it", async () => {
    const h = formatHeader({ name: "PaxHeaders/x", mode: 0o644, uid: 0, gid: 0, size: 1 << 30, mtime: 0, typeflag: "x" });
    await expect(collect(chunked(h, () => 512))).rejects.toThrow(/pax header of 1073741824 bytes exceeds/);
  });

  test("unsupported types and sparse files are errors naming the entry", async () => {
    const h = formatHeader({ name: "weird", mode: 0o644, uid: 0, gid: 0, size: 0, mtime: 0, typeflag: "Q" });
    await expect(collect(chunked(h, () => 512))).rejects.toThrow(`unsupported entry type 'Q' for "weird"`);
    const s = formatHeader({ name: "sparse", mode: 0o644, uid: 0, gid: 0, size: 0, mtime: 0, typeflag: "S" });
    await expect(collect(chunked(s, () => 512))).rejects.toThrow(/sparse file "sparse" is not supported/);
  });

  test("GNU long name/link entries and pax global headers", async () => {
    const parts: Uint8Array[] = [];
    const longName = "d/".repeat(80) + "file";
    const longLink = "t/".repeat(70) + "target";
    const meta = (flag: string, s: string) => {
      const data = enc.encode(s + "\0");
      parts.push(formatHeader({ name: "././@LongLink", mode: 0, uid: 0, gid: 0, size: data.length, mtime: 0, typeflag: flag }));
      const padded = new Uint8Array(Math.ceil(data.length / BLOCK) * BLOCK);
      padded.set(data);
      parts.push(padded);
    };
    const g = formatPax([
      ["uname", "globaluser"],
      ["mtime", "1234.5"],
    ]);
    parts.push(formatHeader({ name: "pax_global_header", mode: 0, uid: 0, gid: 0, size: g.length, mtime: 0, typeflag: "g" }));
    const gp = new Uint8Array(Math.ceil(g.length / BLOCK) * BLOCK);
    gp.set(g);
    parts.push(gp);
    meta("L", longName);
    meta("K", longLink);
    parts.push(formatHeader({ name: longName.slice(0, 100), mode: 0o777, uid: 0, gid: 0, size: 0, mtime: 0, typeflag: "2", linkname: longLink.slice(0, 100) }));
    parts.push(formatHeader({ name: "./v7dir/", mode: 0o755, uid: 0, gid: 0, size: 0, mtime: 5, typeflag: "\0" }));
    parts.push(new Uint8Array(1024));
    const got = await collect(chunked(Buffer.concat(parts), () => 13));
    expect(got[0].entry).toMatchObject({ name: longName, type: "symlink", linkname: longLink, uname: "globaluser", mtime: 1234.5, mtimeNsec: 500000000 });
    expect(got[1].entry).toMatchObject({ name: "v7dir", type: "dir", uname: "globaluser" });
  });

  test("LIBARCHIVE.xattr values are base64 with URL-encoded names", async () => {
    const x = formatPax([["LIBARCHIVE.xattr.user.a%3Db", Buffer.from([0, 1, 2, 255]).toString("base64")]]);
    const px = new Uint8Array(Math.ceil(x.length / BLOCK) * BLOCK);
    px.set(x);
    const tar = Buffer.concat([
      formatHeader({ name: "PaxHeaders/f", mode: 0, uid: 0, gid: 0, size: x.length, mtime: 0, typeflag: "x" }),
      px,
      formatHeader({ name: "f", mode: 0o644, uid: 0, gid: 0, size: 0, mtime: 0, typeflag: "0" }),
      new Uint8Array(1024),
    ]);
    const [g] = await collect(chunked(tar, () => 512));
    expect(g.entry.xattrs).toEqual({ "user.a=b": new Uint8Array([0, 1, 2, 255]) });
  });

  test("fuzz finding: a LIBARCHIVE.xattr name with a bad %-escape is an EngineError, not a URIError", async () => {
    const x = formatPax([["LIBARCHIVE.xattr.%zz", "AA=="]]);
    const px = new Uint8Array(Math.ceil(x.length / BLOCK) * BLOCK);
    px.set(x);
    const tar = Buffer.concat([
      formatHeader({ name: "PaxHeaders/f", mode: 0, uid: 0, gid: 0, size: x.length, mtime: 0, typeflag: "x" }),
      px,
      formatHeader({ name: "f", mode: 0o644, uid: 0, gid: 0, size: 0, mtime: 0, typeflag: "0" }),
      new Uint8Array(1024),
    ]);
    const e = await collect(chunked(tar, () => 512)).catch((x) => x);
    expect(e).toBeInstanceOf(EngineError);
    expect(e.message).toBe(`tar: invalid pax key "LIBARCHIVE.xattr.%zz" for "f": bad %-escape`);
  });

  test("fuzz finding: names with control characters keep error messages on one line", async () => {
    const h = formatHeader({ name: "a\nb\x01", mode: 0o644, uid: 0, gid: 0, size: 0, mtime: 0, typeflag: "Q" });
    const e = await collect(chunked(h, () => 512)).catch((x) => x);
    expect(e).toBeInstanceOf(EngineError);
    expect(e.message).toBe(`tar: unsupported entry type 'Q' for "a\\nb\\u0001" at offset 0`);
    // the checksum message names the entry before it
    const first = formatHeader({ name: "x\ny", mode: 0o644, uid: 0, gid: 0, size: 0, mtime: 0, typeflag: "0" });
    const bad = new Uint8Array(BLOCK).fill(1);
    const e2 = await collect(chunked(Buffer.concat([first, bad]), () => 512)).catch((x) => x);
    expect(e2.message).toBe(`tar: bad header checksum at offset 512 (after "x\\ny")`);
  });

  test("hardlink with a non-zero size field carries no data (header-only type)", async () => {
    const tar = Buffer.concat([
      formatHeader({ name: "h", mode: 0o644, uid: 0, gid: 0, size: 5, mtime: 0, typeflag: "1", linkname: "./a" }),
      formatHeader({ name: "b", mode: 0o644, uid: 0, gid: 0, size: 0, mtime: 0, typeflag: "0" }),
      new Uint8Array(1024),
    ]);
    const got = await collect(chunked(tar, () => 512));
    expect(got.map((g) => [g.entry.name, g.entry.type, g.entry.size, g.entry.linkname])).toEqual([
      ["h", "hardlink", 0, "a"],
      ["b", "file", 0, undefined],
    ]);
  });

  test("random corruption never hangs and only throws EngineError", async () => {
    const tar = await build(sample);
    const r = rand(42);
    for (let k = 0; k < 300; k++) {
      const t = tar.slice(0, Math.floor(r() * tar.length) + 1);
      for (let j = 0; j < 4; j++) t[Math.floor(r() * t.length)] = Math.floor(r() * 256);
      try {
        await collect(chunked(t, () => Math.floor(r() * 700) + 1));
      } catch (e) {
        expect(e).toBeInstanceOf(EngineError);
      }
    }
  });

  test("stats report bytes and entries", async () => {
    const tar = await build(sample);
    const stats = { bytes: 0, entries: 0 };
    for await (const _ of readTar(
      chunked(tar, () => 1000),
      { stats },
    ));
    expect(stats.entries).toBe(sample.length);
    expect(stats.bytes).toBe(tar.length); // drained to the end by default
  });
});

describe("checksum helper sanity", () => {
  test("writer headers carry the unsigned sum", () => {
    const h = formatHeader({ name: "a", mode: 0, uid: 0, gid: 0, size: 0, mtime: 0, typeflag: "0" });
    expect(parseInt(new TextDecoder().decode(h.subarray(148, 154)), 8)).toBe(checksums(h).unsigned);
  });
});

describe("metadata caps", () => {
  test("many pax headers in a row cannot add up past maxMetaSize", async () => {
    const parts: Uint8Array[] = [];
    for (let i = 0; i < 10; i++) {
      const x = formatPax([[`k${i}`, "v".repeat(900)]]);
      parts.push(formatHeader({ name: "PaxHeaders/x", mode: 0, uid: 0, gid: 0, size: x.length, mtime: 0, typeflag: "x" }));
      const px = new Uint8Array(Math.ceil(x.length / BLOCK) * BLOCK);
      px.set(x);
      parts.push(px);
    }
    const tar = Buffer.concat(parts);
    const run = async () => {
      for await (const _ of readTar(
        chunked(tar, () => 512),
        { maxMetaSize: 4096 },
      ));
    };
    await expect(run()).rejects.toThrow(/extended headers add up to more than the 4096-byte limit/);
  });
});

describe("bodyNow", () => {
  test("a body the reader holds whole comes at once, else through body; the tar-split sees every byte either way", async () => {
    const { TarSplitRecorder } = await import("./split.ts");
    const data = await build(sample);
    const r = rand(7);
    for (const sizes of [() => 1 + Math.floor(r() * 700), () => 1 << 20, () => 511, () => 4096]) {
      const out: Uint8Array[] = [];
      const rec = new TarSplitRecorder((b) => void out.push(b.slice()));
      let now = 0;
      const got: { name: string; data: Uint8Array }[] = [];
      for await (const t of readTar(chunked(data, sizes), { split: rec })) {
        const whole = r() < 0.8 ? t.bodyNow?.() : undefined;
        let body: Uint8Array;
        if (whole !== undefined) {
          now++;
          body = whole.slice();
          expect(t.bodyNow?.()).toEqual(new Uint8Array(0)); // taken: nothing left
        } else {
          const parts: Uint8Array[] = [];
          for await (const c of t.body) parts.push(c.slice());
          body = Buffer.concat(parts);
        }
        got.push({ name: t.entry.name, data: body });
      }
      const want = await collect(chunked(data, () => 1 << 20));
      expect(got.map((g) => g.name)).toEqual(want.map((w) => w.entry.name));
      for (let i = 0; i < got.length; i++) expect(Buffer.compare(got[i]!.data, want[i]!.data)).toBe(0);
      expect(rec.size).toBe(data.length);
      if (sizes() === 1 << 20) expect(now).toBeGreaterThan(0);
    }
  });
});

describe("a tar file (TarFile): headers read through a FileRing, bodies offered by their place", () => {
  test("bodyAt passes over a body unread and names where it is; the rest comes as from a stream; the tar-split sees every byte", async () => {
    const { mkdtempSync, openSync, closeSync, readSync, writeFileSync, rmSync } = await import("node:fs");
    const { FileRing } = await import("./compress.ts");
    const { TarSplitRecorder } = await import("./split.ts");
    const big = new Uint8Array(300_000).map((_, i) => (i * 31) & 0xff);
    const data = Buffer.concat([await build([...sample, file("big", big), file("after", "the end")]), enc.encode("trailing junk")]);
    const dir = mkdtempSync("/tmp/berth-test-tarfile-");
    writeFileSync(`${dir}/t.tar`, data);
    const fd = openSync(`${dir}/t.tar`, "r");
    try {
      const want = await collect(chunked(data, () => 1 << 20));
      const r = rand(3);
      for (const chunk of [512, 1024, 8192, 1 << 20]) {
        const rec = new TarSplitRecorder(() => {});
        const got: { name: string; data: Uint8Array }[] = [];
        let at = 0;
        for await (const t of readTar({ fd, ring: new FileRing(fd, { chunk, ring: 4 * chunk }) }, { split: rec })) {
          const pick = r();
          const whole = pick < 0.3 ? t.bodyNow?.() : undefined;
          const place = whole === undefined && pick < 0.9 ? t.bodyAt?.() : undefined;
          let body: Uint8Array;
          if (whole !== undefined) body = whole.slice();
          else if (place) {
            at++;
            expect(place.fd).toBe(fd);
            expect(t.bodyAt?.()).toBeUndefined(); // taken
            body = new Uint8Array(t.entry.size);
            readSync(fd, body, 0, body.length, place.offset);
          } else {
            const parts: Uint8Array[] = [];
            for await (const c of t.body) parts.push(c.slice());
            body = Buffer.concat(parts);
          }
          got.push({ name: t.entry.name, data: body });
        }
        expect(got.map((g) => g.name)).toEqual(want.map((w) => w.entry.name));
        for (let i = 0; i < got.length; i++) expect(Buffer.compare(got[i]!.data, want[i]!.data)).toBe(0);
        expect(rec.size).toBe(data.length);
        expect(at).toBeGreaterThan(0);
      }
    } finally {
      closeSync(fd);
      rmSync(dir, { recursive: true });
    }
  });

  test("a file that ends inside a body: bodyAt declines and the body names the entry", async () => {
    const { mkdtempSync, openSync, closeSync, writeFileSync, rmSync } = await import("node:fs");
    const { FileRing } = await import("./compress.ts");
    const data = await build([file("a", "x"), file("big", new Uint8Array(10_000).fill(1))]);
    const dir = mkdtempSync("/tmp/berth-test-tarfile-");
    writeFileSync(`${dir}/t.tar`, data.subarray(0, 3 * BLOCK + 5000));
    const fd = openSync(`${dir}/t.tar`, "r");
    try {
      let err: unknown;
      try {
        for await (const t of readTar({ fd, ring: new FileRing(fd, { chunk: 1024 }) })) {
          if (t.entry.name !== "big") continue;
          expect(t.bodyAt?.()).toBeUndefined();
          for await (const _ of t.body);
        }
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(EngineError);
      expect((err as Error).message).toBe('tar: truncated entry "big": expected 10000 bytes, got 5000');
    } finally {
      closeSync(fd);
      rmSync(dir, { recursive: true });
    }
  });
});
