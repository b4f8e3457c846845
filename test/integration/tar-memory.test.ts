/**
 * Memory bound (not a timing test): a few hundred MB of tar, generated on the fly and never written to
 * disk, streamed through readTar → TarWriter → readTar must not grow the process RSS by more than a
 * fixed bound, i.e. neither side holds an entry or the archive. The stream runs in a fresh Bun process
 * (this file, with TAR_MEMORY_CHILD=1), so garbage left by the test files that ran before it in the same
 * `bun test` process cannot move the baseline.
 */
import { expect, test } from "bun:test";
import { formatHeader } from "../../src/tar/header.ts";
import { readTar, TarWriter } from "../../src/tar/index.ts";

const MB = 1 << 20;
const TOTAL = 384 * MB;

/** a synthetic archive: big files (32 MiB), odd-sized files and directories, 256 KiB source chunks */
async function* synthetic(): AsyncGenerator<Uint8Array> {
  let written = 0;
  let i = 0;
  while (written < TOTAL) {
    const size = i % 3 === 0 ? 32 * MB : i % 3 === 1 ? 12345 : 0;
    const type = i % 3 === 2 ? "5" : "0";
    yield formatHeader({ name: `d${i % 7}/f${i}`, mode: 0o644, uid: 0, gid: 0, size, mtime: 1, typeflag: type });
    let left = size;
    while (left > 0) {
      const n = Math.min(left, 256 * 1024);
      const c = new Uint8Array(n);
      c[0] = i & 0xff;
      yield c;
      left -= n;
    }
    const pad = (512 - (size % 512)) % 512;
    if (pad) yield new Uint8Array(pad);
    written += 512 + size + pad;
    i++;
  }
  yield new Uint8Array(1024);
}

/** stream the archive through reader and writer; what the parent test asserts on */
async function measure(): Promise<{ before: number; peak: number; entries: number; bodyBytes: number; outBytes: number }> {
  Bun.gc(true);
  const before = process.memoryUsage.rss();
  let peak = before;
  let entries = 0;
  let bodyBytes = 0;
  let outBytes = 0;
  const w = new TarWriter(() => {});
  for await (const r of readTar(synthetic())) {
    entries++;
    await w.add(
      r.entry,
      (async function* () {
        for await (const c of r.body) {
          bodyBytes += c.length;
          yield c;
        }
      })(),
    );
    const rss = process.memoryUsage.rss();
    if (rss > peak) peak = rss;
  }
  await w.finish();
  outBytes = w.bytes;
  return { before, peak, entries, bodyBytes, outBytes };
}

if (process.env.TAR_MEMORY_CHILD === "1") {
  // the child: measure and report on stdout (bun runs a .test.ts file as a plain script too)
  console.log(JSON.stringify(await measure()));
  process.exit(0);
}

test("reading and re-writing a ~400 MB stream keeps RSS growth bounded", () => {
  const child = Bun.spawnSync([process.execPath, import.meta.path], { env: { ...process.env, TAR_MEMORY_CHILD: "1" } });
  expect(child.exitCode).toBe(0);
  const { before, peak, entries, bodyBytes, outBytes } = JSON.parse(child.stdout.toString().trim().split("\n").pop()!);
  expect(entries).toBeGreaterThan(30);
  expect(bodyBytes).toBeGreaterThan(TOTAL - 40 * MB);
  expect(outBytes).toBeGreaterThan(TOTAL);
  const growth = (peak - before) / MB;
  console.log(
    `rss before ${(before / MB).toFixed(0)} MiB, peak ${(peak / MB).toFixed(0)} MiB, growth ${growth.toFixed(1)} MiB over ${(TOTAL / MB).toFixed(0)} MiB streamed`,
  );
  expect(growth).toBeLessThan(64);
}, 120_000);
