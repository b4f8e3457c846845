import { describe, expect, test } from "bun:test";
import { BLOCK, parseHeader, parsePax } from "./header.ts";
import { readTar } from "./reader.ts";
import type { TarEntry, TarRecord } from "./types.ts";
import { planHeader, tarStream, TarWriter } from "./writer.ts";

const enc = new TextEncoder();
const f = (name: string, size: number, extra: Partial<TarEntry> = {}): TarEntry => ({
  name,
  type: "file",
  mode: 0o644,
  uid: 0,
  gid: 0,
  size,
  mtime: 1700000000,
  ...extra,
});

describe("planHeader: ustar when it fits, pax otherwise", () => {
  test("plain entries need no pax", () => {
    expect(planHeader(f("a/b", 10)).pax).toEqual([]);
    expect(planHeader(f("p".repeat(150) + "/" + "n".repeat(100), 0)).pax).toEqual([]); // prefix split
  });
  test("each overflow adds its record", () => {
    const keys = (e: TarEntry) => planHeader(e).pax.map(([k]) => k);
    expect(keys(f("x".repeat(101), 0))).toEqual(["path"]);
    expect(keys(f("s", 0, { type: "symlink", linkname: "t".repeat(101) }))).toEqual(["linkpath"]);
    expect(keys(f("big", 9 * 2 ** 30))).toEqual(["size"]);
    expect(keys(f("ids", 0, { uid: 2 ** 21, gid: 2 ** 21 }))).toEqual(["uid", "gid"]);
    expect(keys(f("t", 0, { mtime: 1.5 }))).toEqual(["mtime"]);
    expect(keys(f("t", 0, { mtime: -5 }))).toEqual(["mtime"]);
    expect(keys(f("u", 0, { uname: "u".repeat(33), gname: "ü" }))).toEqual(["uname", "gname"]);
    expect(keys(f("x", 0, { xattrs: { "security.capability": new Uint8Array([1, 2]) } }))).toEqual(["SCHILY.xattr.security.capability"]);
  });
  test("mtimeNsec is authoritative and formatted exactly", () => {
    const { pax } = planHeader(f("t", 0, { mtime: 1700000000.1234567, mtimeNsec: 123456789 }));
    expect(pax).toEqual([["mtime", "1700000000.123456789"]]);
  });
  test("directories get a trailing slash; bad input is refused", () => {
    expect(planHeader({ ...f("d", 0), type: "dir" }).header.name).toBe("d/");
    expect(() => planHeader(f("neg", -1))).toThrow(/invalid size -1 for "neg"/);
    expect(() => planHeader(f("uid", 0, { uid: -1 }))).toThrow(/invalid uid/);
  });
});

describe("TarWriter", () => {
  async function write(fn: (w: TarWriter) => Promise<void>): Promise<Uint8Array> {
    const parts: Uint8Array[] = [];
    const w = new TarWriter((c) => void parts.push(c.slice()));
    await fn(w);
    return Buffer.concat(parts);
  }

  test("body length must equal entry.size", async () => {
    await expect(write((w) => w.add(f("a", 3), enc.encode("ab")))).rejects.toThrow('tar: body of "a" is 2 bytes, header says 3');
    await expect(
      write((w) =>
        w.add(
          f("a", 1),
          (async function* () {
            yield enc.encode("ab");
          })(),
        ),
      ),
    ).rejects.toThrow('body of "a" is longer than its size 1');
    await expect(
      write((w) =>
        w.add(
          f("a", 5),
          (async function* () {
            yield enc.encode("ab");
          })(),
        ),
      ),
    ).rejects.toThrow('body of "a" is 2 bytes, header says 5');
    await expect(write((w) => w.add(f("a", 5)))).rejects.toThrow('body of "a" is 0 bytes');
  });

  test("output is block aligned and ends with two zero blocks", async () => {
    const out = await write(async (w) => {
      await w.add(f("a", 3), enc.encode("abc"));
      await w.finish();
    });
    expect(out.length % BLOCK).toBe(0);
    expect(out.length).toBe(512 + 512 + 1024);
    expect(out.subarray(1024).every((b) => b === 0)).toBe(true);
  });

  test("pax header precedes the entry and carries binary xattrs", async () => {
    const cap = new Uint8Array([1, 0, 0, 2, 0, 0x20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x0a]);
    const out = await write((w) => w.add(f("n".repeat(200), 0, { xattrs: { "security.capability": cap } })).then(() => w.flush()));
    const h = parseHeader(out.subarray(0, 512));
    expect(h.typeflag).toBe("x");
    const pax = parsePax(out.subarray(512, 512 + h.size));
    expect(pax.get("SCHILY.xattr.security.capability")).toEqual(cap);
    expect(new TextDecoder().decode(pax.get("path"))).toBe("n".repeat(200));
  });

  test("the sink is awaited: a slow sink holds the writer back", async () => {
    const events: string[] = [];
    let release!: () => void;
    const w = new TarWriter(async (c) => {
      events.push(`sink ${c.length}`);
      await new Promise<void>((r) => (release = r));
    });
    const big = new Uint8Array(1 << 20);
    const p = w.add(f("big", big.length), big).then(() => events.push("added"));
    await Bun.sleep(5);
    expect(events).toEqual(["sink 512"]); // header flushed ahead of the large chunk, then stuck
    release();
    await Bun.sleep(5);
    release();
    await p;
    expect(events).toEqual(["sink 512", `sink ${1 << 20}`, "added"]);
  });

  test("add after finish and concurrent adds are refused", async () => {
    const w = new TarWriter(() => {});
    await w.finish();
    await expect(w.add(f("a", 0))).rejects.toThrow(/after finish/);
    const w2 = new TarWriter(async () => {
      await Bun.sleep(1);
    });
    const p1 = w2.add(f("a", 100_000), new Uint8Array(100_000));
    await expect(w2.add(f("b", 0))).rejects.toThrow(/while another add is running/);
    await p1;
  });
});

describe("tarStream", () => {
  test("round trip through readTar", async () => {
    async function* records(): AsyncGenerator<TarRecord> {
      for (let i = 0; i < 50; i++) {
        const body = new Uint8Array(i * 1000).fill(i);
        yield {
          entry: f(`f${i}`, body.length),
          body: (async function* () {
            yield body;
          })(),
        };
      }
    }
    let n = 0;
    for await (const r of readTar(tarStream(records()))) {
      let len = 0;
      for await (const c of r.body) {
        expect(c.every((b) => b === n)).toBe(true);
        len += c.length;
      }
      expect(len).toBe(n * 1000);
      n++;
    }
    expect(n).toBe(50);
  });

  test("a failing producer errors the stream", async () => {
    async function* records(): AsyncGenerator<TarRecord> {
      yield {
        entry: f("a", 1),
        body: (async function* () {
          yield enc.encode("a");
        })(),
      };
      throw new Error("producer broke");
    }
    await expect(new Response(tarStream(records())).arrayBuffer()).rejects.toThrow("producer broke");
  });

  test("pull-driven: the producer is not run ahead of the consumer", async () => {
    let produced = 0;
    async function* records(): AsyncGenerator<TarRecord> {
      for (let i = 0; i < 1000; i++) {
        produced++;
        yield {
          entry: f(`f${i}`, 100_000),
          body: (async function* () {
            yield new Uint8Array(100_000);
          })(),
        };
      }
    }
    const reader = tarStream(records()).getReader();
    await reader.read();
    await Bun.sleep(20);
    expect(produced).toBeLessThan(20);
    await reader.cancel();
  });
});
