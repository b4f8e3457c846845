import { expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Sha256Worker } from "./sha256-worker.ts";

function bytes(n: number, seed: number): Uint8Array {
  const b = new Uint8Array(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    b[i] = x & 0xff;
  }
  return b;
}

test("digest equals CryptoHasher's for chunks smaller than, equal to and larger than the ring", async () => {
  const ring = 64 * 1024;
  const data = bytes(1_000_003, 7);
  const w = new Sha256Worker({ ringBytes: ring });
  const sizes = [1, 511, ring, ring + 1, 3 * ring + 17, 100, 200_000];
  let off = 0;
  for (let i = 0; off < data.length; i++) {
    const n = Math.min(sizes[i % sizes.length]!, data.length - off);
    w.update(data.subarray(off, off + n));
    off += n;
  }
  expect(w.bytes).toBe(data.length);
  expect(await w.finish()).toBe(new Bun.CryptoHasher("sha256").update(data).digest("hex"));
});

test("an empty stream has the empty digest", async () => {
  const w = new Sha256Worker();
  expect(await w.finish()).toBe("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
});

test("with a path, the bytes land in the file in order", async () => {
  const dir = mkdtempSync(join(tmpdir(), "berth-sha256w-"));
  try {
    const file = join(dir, "data");
    writeFileSync(file, "");
    const data = bytes(300_000, 3);
    const w = new Sha256Worker({ ringBytes: 4096, path: file, writeback: true });
    for (let off = 0; off < data.length; off += 7000) w.update(data.subarray(off, off + 7000));
    const hex = await w.finish();
    const got = readFileSync(file);
    expect(got.length).toBe(data.length);
    expect(Buffer.compare(got, Buffer.from(data))).toBe(0);
    expect(hex).toBe(new Bun.CryptoHasher("sha256").update(data).digest("hex"));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("a worker that cannot write fails update() or finish() instead of hanging", async () => {
  const w = new Sha256Worker({ ringBytes: 4096, path: "/nonexistent-berth-dir/data" });
  let err: unknown;
  try {
    for (let i = 0; i < 100; i++) w.update(bytes(4096, i + 1));
    await w.finish();
  } catch (e) {
    err = e;
  }
  expect(String(err)).toMatch(/sha256 worker/);
  w.terminate();
});

test("file: the worker hashes a whole file itself and reports its length", async () => {
  const dir = mkdtempSync(join(tmpdir(), "berth-sha-file-"));
  try {
    const data = bytes(700_000, 9);
    writeFileSync(join(dir, "f"), data);
    const w = new Sha256Worker({ file: join(dir, "f") });
    expect(await w.finish()).toBe(new Bun.CryptoHasher("sha256").update(data).digest("hex"));
    expect(w.bytes).toBe(data.length);
    const missing = new Sha256Worker({ file: join(dir, "nope") });
    await expect(missing.finish()).rejects.toThrow(/sha256 worker/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
