/**
 * How a layer streams through the engine (pull, import, load, commit, stored-layer unpacks): the tap
 * that hashes or counts chunks on their way, the inflate ring, and the memory and JIT tuning measured
 * for it.
 */
import { APPLY_WRITE_BUF } from "../cow/index.ts";
import type { RingOptions } from "../tar/index.ts";

/** pass chunks through, calling fn on each (a hash, an ingest write, progress) */
export async function* tapChunks(src: AsyncIterable<Uint8Array>, fn: (c: Uint8Array) => void): AsyncGenerator<Uint8Array> {
  for await (const c of src) {
    fn(c);
    yield c;
  }
}

/**
 * Where a gzip layer is inflated on its way into applyLayer: a ring of reused memory (tar/compress.ts
 * inflateGzip), so no output chunk is allocated per layer byte. A piece stays intact for `ring - 2 ×
 * chunk` bytes after it was handed out; the readers of those pieces are the diffID hash (done with a
 * piece at once), the tar reader (the current piece only) and applyLayer, which gathers at most
 * APPLY_WRITE_BUF of one file's body before writing it. 2 × that leaves a margin of 3/4 MiB.
 */
export const LAYER_RING: RingOptions = { ring: 2 * APPLY_WRITE_BUF, chunk: 128 << 10 };

/**
 * When to force a garbage collection while a layer streams through (call with each chunk's length).
 * Every chunk an HTTP body or a file stream hands out is a fresh ArrayBuffer, and JSC lets tens of MB
 * of dead ones pile up between its own collections. A full GC costs a few ms here (more as the heap
 * grows), so it is not run by the byte count but only when RSS, looked at every `checkEvery` bytes, is
 * above `softLimit` and has grown by `growth` since the last collection (freed memory is not always
 * handed back to the kernel, so RSS alone may stay above the limit without growing). Pull, import,
 * load and stored-layer unpacks share it.
 */
export interface RssBound {
  checkEvery: number;
  softLimit: number;
  growth: number;
}
/** measured with the compiled binary on 2 busy cores (idle ~21 MB, ~35 MB once a pull's code is in),
 * 1.3 GB gzip layer: a GC per 8 MiB of bytes 61 MB at 24 s user CPU, this bound 65 MB at 19 s (52–60
 * MB with LAYER_JIT_SCALE); a soft limit of 40 MiB changed little */
export const LAYER_RSS_BOUND: RssBound = { checkEvery: 1 << 20, softLimit: 48 << 20, growth: 4 << 20 };

export function rssBound(o: RssBound = LAYER_RSS_BOUND): (n: number) => void {
  let seen = 0;
  let floor = 0;
  return (n) => {
    seen += n;
    if (seen < o.checkEvery) return;
    seen = 0;
    const rss = process.memoryUsage.rss();
    if (rss < o.softLimit || rss < floor + o.growth) return;
    // Bun.gc, not bun:jsc's fullGC: the chunks' memory is mimalloc's, and only Bun.gc also has
    // mimalloc hand freed pages back (fullGC alone: 74–78 MB on the 1.3 GB layer against 61 MB)
    Bun.gc(true);
    floor = process.memoryUsage.rss();
  };
}

/**
 * JSC's tier-up thresholds are scaled by this while a pull streams its layers (Bun.unsafe.setJITPolicy).
 * The per-byte work is native (sha256, inflate, write(2)); what the optimizing tiers would compile is
 * per-chunk and per-entry glue, and compiling it cost ~7 MB of peak RSS (3-layer 155 MB gzip pull:
 * 69 → 54–62 MB; 4 MB pull: 52 → 47 MB) with no CPU difference we could measure.
 */
export const LAYER_JIT_SCALE = 1000;

/** run `fn` under LAYER_JIT_SCALE, then back to the normal policy (the binary bakes in none) */
export async function withLayerJitPolicy<T>(fn: () => Promise<T>): Promise<T> {
  Bun.unsafe.setJITPolicy(LAYER_JIT_SCALE);
  try {
    return await fn();
  } finally {
    Bun.unsafe.setJITPolicy(1);
  }
}
