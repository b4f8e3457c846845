import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { gzipSync } from "node:zlib";
import { readFileSync } from "node:fs";
import { inflateEngine, LayerInflate, layerInflateOrigin, useInflateEngine, useShaCode } from "./layer-inflate.ts";
import { EngineError } from "../lib/errors.ts";

/** drive one LayerInflate to its end: feed `gz` in `step`-byte pieces, read everything out */
async function run(gz: Uint8Array, step: number, inSize = 4096, outSize = 8192): Promise<{ out: Uint8Array; diffId: string }> {
  const li = LayerInflate.open(inSize, outSize);
  if (!li) throw new Error(`native inflate unavailable (${layerInflateOrigin})`);
  const parts: Uint8Array[] = [];
  let read = 0;
  let fed = 0;
  let closed = false;
  try {
    for (;;) {
      if (fed < gz.length) fed += li.push(gz.subarray(fed, Math.min(gz.length, fed + step)));
      else if (!closed) {
        li.close();
        closed = true;
      }
      const head = li.outHead();
      while (read < head) {
        const at = read % outSize;
        const n = Math.min(head - read, outSize - at);
        parts.push(li.output.slice(at, at + n));
        read += n;
      }
      li.release(read);
      const st = li.status();
      if (st.state === "done" && li.outHead() === read) return { out: Buffer.concat(parts), diffId: st.diffId };
      await Bun.sleep(0);
    }
  } finally {
    li.end();
  }
}

const sha = (b: Uint8Array) => `sha256:${new Bun.CryptoHasher("sha256").update(b).digest("hex")}`;

// every test runs with libz and, where the machine has libisal.so.2 (and the object was built with its
// header), with ISA-L
const engines = (["zlib", "isal"] as const).filter((e) => useInflateEngine(e) === e);
useInflateEngine("isal");

describe.each(engines)("LayerInflate (native thread, %s)", (engine) => {
  beforeAll(() => {
    useInflateEngine(engine);
    expect(inflateEngine()).toBe(engine);
  });
  afterAll(() => void useInflateEngine("isal"));
  const plain = new Uint8Array(300_000);
  for (let i = 0; i < plain.length; i++) plain[i] = ((i * 7919) % 251) ^ (i >> 9);

  test("inflates and hashes a gzip stream fed in odd pieces through small rings", async () => {
    const { out, diffId } = await run(gzipSync(plain), 777);
    expect(out.length).toBe(plain.length);
    expect(Buffer.compare(out, plain)).toBe(0);
    expect(diffId).toBe(sha(plain));
  });

  test("SHA-256 matches with the SHA extensions, libcrypto's code and portable C, at every length around a block", async () => {
    const shaNi = /\bsha_ni\b/.test(readFileSync("/proc/cpuinfo", "utf8"));
    expect(useShaCode("auto")).toBe(shaNi ? "sha-ni" : "libcrypto");
    const codes = new Set<string>();
    for (const want of ["portable", "libcrypto", "auto"] as const) {
      codes.add(useShaCode(want)!);
      for (const n of [0, 1, 55, 56, 57, 63, 64, 65, 119, 120, 127, 128, 129, 1000, 100_003, plain.length]) {
        const { diffId } = await run(gzipSync(plain.subarray(0, n)), 4000);
        expect(diffId).toBe(sha(plain.subarray(0, n)));
      }
    }
    expect(codes.size).toBe(3 - (shaNi ? 0 : 1));
    useShaCode("auto");
  });

  test("two members inflate as one stream (gzip -d)", async () => {
    const a = plain.subarray(0, 1000);
    const b = plain.subarray(1000, 50_000);
    const { out, diffId } = await run(Buffer.concat([gzipSync(a), gzipSync(b)]), 333);
    expect(Buffer.compare(out, plain.subarray(0, 50_000))).toBe(0);
    expect(diffId).toBe(sha(plain.subarray(0, 50_000)));
  });

  test("the trailer must be there; its CRC-32 and length are checked by ISA-L, not by libz (the caller checks the digests)", async () => {
    const gz = Uint8Array.from(gzipSync(plain));
    for (let i = gz.length - 8; i < gz.length; i++) gz[i]! ^= 0xff;
    if (engine === "zlib") {
      const { out, diffId } = await run(gz, 1000);
      expect(Buffer.compare(out, plain)).toBe(0);
      expect(diffId).toBe(sha(plain));
    } else await expect(run(gz, 1000)).rejects.toThrow("gzip: incorrect data check");
    await expect(run(gz.subarray(0, gz.length - 3), 1000)).rejects.toThrow("gzip: unexpected end of data (truncated stream)");
  });

  test("a member's end in every position of the input pieces, and a third member after it", async () => {
    const a = gzipSync(plain.subarray(0, 70_000));
    const b = gzipSync(plain.subarray(70_000, 70_001));
    const c = gzipSync(plain.subarray(70_001, 140_000));
    const all = Buffer.concat([a, b, c]);
    for (const step of [1, 7, 8, 9, 4095, a.length - 1, a.length, a.length + 1]) {
      const { out, diffId } = await run(all, step);
      expect(Buffer.compare(out, plain.subarray(0, 140_000))).toBe(0);
      expect(diffId).toBe(sha(plain.subarray(0, 140_000)));
    }
  });

  test("a header with every optional field (extra, name, comment, header CRC) is skipped", async () => {
    const gz = gzipSync(plain);
    const extra = Buffer.from([4, 0, 0x42, 0x43, 0, 0]); // XLEN 4: one subfield "BC" of length 0
    const head = Buffer.concat([gz.subarray(0, 10), extra, Buffer.from("layer.tar\0a comment\0")]);
    head[3] = 0x04 | 0x08 | 0x10 | 0x02; // FEXTRA FNAME FCOMMENT FHCRC
    const hcrc = Bun.hash.crc32(head) & 0xffff;
    const all = Buffer.concat([head, Buffer.from([hcrc & 0xff, hcrc >> 8]), gz.subarray(10)]);
    for (const step of [1, 3, 1000]) {
      const { out, diffId } = await run(all, step);
      expect(Buffer.compare(out, plain)).toBe(0);
      expect(diffId).toBe(sha(plain));
    }
  });

  test("bytes after the last member that are no gzip member fail", async () => {
    await expect(run(Buffer.concat([gzipSync(plain), Buffer.from("garbage!!garbage!!")]), 1000)).rejects.toThrow(/^gzip: /);
  });

  test("corrupt, truncated and empty input fail with one-line messages", async () => {
    const gz = gzipSync(plain);
    const bad = Uint8Array.from(gz);
    for (let i = 100; i < 400; i++) bad[i]! ^= 0x5a;
    await expect(run(bad, 1000)).rejects.toThrow(/^gzip: /);
    await expect(run(gz.subarray(0, gz.length - 20), 1000)).rejects.toThrow("gzip: unexpected end of data (truncated stream)");
    await expect(run(new Uint8Array(0), 1000)).rejects.toThrow("gzip: empty stream");
    const e = await run(Uint8Array.from([0x1f, 0x8b, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9]), 5).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(EngineError);
  });

  test("end() while the thread waits for room stops it", async () => {
    const li = LayerInflate.open(1024, 4096)!;
    const gz = gzipSync(plain);
    let fed = 0;
    for (let k = 0; k < 50 && fed < gz.length; k++) {
      fed += li.push(gz, fed);
      await Bun.sleep(1);
    }
    li.end();
    li.end();
    expect(() => li.outHead()).toThrow(/already ended/);
  });
});

test("OPENSSL_ia32cap masking SHA-NI (as for libcrypto and BoringSSL) chooses libcrypto's code", () => {
  const code = `import { useShaCode } from ${JSON.stringify(`${import.meta.dir}/layer-inflate.ts`)}; console.log(useShaCode("auto"))`;
  const ask = (cap?: string) => {
    const env: Record<string, string | undefined> = { ...process.env, OPENSSL_ia32cap: cap };
    const r = Bun.spawnSync([process.execPath, "-e", code], { env, stderr: "pipe" });
    expect(r.stderr.toString()).toBe("");
    return r.stdout.toString().trim();
  };
  expect(ask(":~0x20000000")).toBe("libcrypto");
  expect(ask("~0x0:~0x20000020")).toBe("libcrypto");
  const shaNi = /\bsha_ni\b/.test(readFileSync("/proc/cpuinfo", "utf8"));
  expect(ask(":~0x20")).toBe(shaNi ? "sha-ni" : "libcrypto"); // another bit masked
  expect(ask(undefined)).toBe(shaNi ? "sha-ni" : "libcrypto");
});
