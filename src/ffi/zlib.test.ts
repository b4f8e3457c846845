import { describe, expect, test } from "bun:test";
import { gzipSync } from "node:zlib";
import { EngineError } from "../lib/errors.ts";
import { Inflater, Z_OK, Z_STREAM_END } from "./zlib.ts";

/** bytes that compress to a few percent, and some that hardly compress */
function sample(n: number, seed = 1): Uint8Array {
  const b = new Uint8Array(n);
  let x = seed;
  for (let i = 0; i < n; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    b[i] = i % 4096 < 2048 ? (i >> 3) & 0xff : x >>> 24;
  }
  return b;
}

/** inflate `gz` fed in `inStep` pieces into `outStep`-sized windows of one reused buffer */
function inflateAll(gz: Uint8Array, inStep: number, outStep: number): Uint8Array {
  using z = new Inflater();
  const out = new Uint8Array(outStep);
  const parts: Uint8Array[] = [];
  let ended = false;
  for (let at = 0; at < gz.length; at += inStep) {
    const piece = gz.subarray(at, Math.min(gz.length, at + inStep));
    let off = 0;
    let rc: number;
    do {
      if (ended) {
        z.reset();
        ended = false;
      }
      rc = z.step(piece, off, out, 0, out.length);
      off += z.consumed;
      parts.push(out.slice(0, z.produced));
      if (rc === Z_STREAM_END) ended = true;
    } while (off < piece.length || (z.produced === out.length && rc !== Z_STREAM_END));
  }
  expect(ended).toBe(true);
  return Buffer.concat(parts);
}

describe("Inflater", () => {
  const data = sample(3 << 20);
  const gz = gzipSync(data, { level: 6 });

  test("matches node:zlib's gzip, whatever the input and output piece sizes", () => {
    for (const [i, o] of [
      [gz.length, 1 << 20],
      [65536, 131072],
      [4096, 1000],
      [1, 65536],
    ] as const) {
      expect(Buffer.compare(Buffer.from(inflateAll(gz, i, o)), Buffer.from(data))).toBe(0);
    }
  });

  test("reads input at a byteOffset inside a larger buffer", () => {
    const big = new Uint8Array(gz.length + 100);
    big.set(gz, 100);
    expect(Buffer.compare(Buffer.from(inflateAll(big.subarray(100), 7777, 65536)), Buffer.from(data))).toBe(0);
  });

  test("a multi-member gzip file is the concatenation (with reset between members)", () => {
    const a = sample(100_000, 3),
      b = sample(50_000, 4);
    const two = Buffer.concat([gzipSync(a), gzipSync(b)]);
    expect(Buffer.compare(Buffer.from(inflateAll(two, 10_000, 8192)), Buffer.concat([a, b]))).toBe(0);
  });

  test("a corrupt stream is an invalid_argument error with zlib's message", () => {
    const bad = Buffer.from(gz);
    for (let i = 200; i < 400; i++) bad[i] = 0xff;
    let err: unknown;
    try {
      inflateAll(bad, 65536, 65536);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(EngineError);
    expect((err as EngineError).kind).toBe("invalid_argument");
    expect((err as EngineError).message).toMatch(/^gzip: (invalid|incorrect|too many|unknown)/);
  });

  test("not gzip at all: header check fails", () => {
    using z = new Inflater();
    expect(() => z.step(new TextEncoder().encode("hello world, not gzip"), 0, new Uint8Array(64), 0, 64)).toThrow(/^gzip: incorrect header check/);
  });

  test("a truncated stream stops short of STREAM_END; end() is idempotent and step after it refuses", () => {
    const z = new Inflater();
    const out = new Uint8Array(8 << 20);
    const rc = z.step(gz.subarray(0, gz.length >> 1), 0, out, 0, out.length);
    expect(rc).toBe(Z_OK);
    expect(z.produced).toBeGreaterThan(0);
    z.end();
    z.end();
    expect(() => z.step(gz, 0, out, 0, 10)).toThrow(/already ended/);
  });
});
