/**
 * Throughput of ContentWriter (the import/pull hot path): `bun bench/content-writer.ts [MB] [chunkKiB]`.
 * Writes MB megabytes in chunkKiB chunks into a store under /tmp, commits (fsync + rename), removes it.
 * Not a test: numbers depend on the disk and on page-cache state.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { ContentStore } from "../src/image/content-store.ts";

const mb = Number(process.argv[2] ?? 500);
const chunkSize = Number(process.argv[3] ?? 1024) * 1024;
const dir = mkdtempSync("/tmp/berth-bench-image-");
try {
  const cs = new ContentStore(dir);
  const chunk = new Uint8Array(chunkSize);
  for (let i = 0; i < chunk.length; i++) chunk[i] = (i * 7 + (i >> 11)) & 0xff;
  const n = Math.round((mb * 1024 * 1024) / chunkSize);

  let t = performance.now();
  const h = new Bun.CryptoHasher("sha256");
  for (let i = 0; i < n; i++) h.update(chunk);
  h.digest();
  const hashOnly = mb / ((performance.now() - t) / 1000);

  t = performance.now();
  const w = await cs.writer();
  for (let i = 0; i < n; i++) w.write(chunk);
  const written = performance.now();
  await w.commit();
  const done = performance.now();
  console.log(
    `${mb} MB in ${chunkSize / 1024} KiB chunks: sha256 alone ${hashOnly.toFixed(0)} MB/s; ` +
      `write ${(mb / ((written - t) / 1000)).toFixed(0)} MB/s; with fsync+commit ${(mb / ((done - t) / 1000)).toFixed(0)} MB/s`,
  );
} finally {
  rmSync(dir, { recursive: true, force: true });
}
