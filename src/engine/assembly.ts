/**
 * What pull, load and commit share while they put an image together: a lease that keeps GC off the
 * blobs and chain snapshots being staged (each leased before it appears), and the unpack of stored
 * layer blobs onto their parents in order. `run()` first reclaims what dead processes left; `finish()`
 * drops the lease once the image record refers to everything; `abort()` drops the lease and runs the
 * GC, which removes what only this run held (children before parents) and keeps what a concurrent
 * run of the same content holds, so a failure leaves `system check` clean.
 */
import { EngineError } from "../lib/errors.ts";
import type { Digest } from "../oci/index.ts";
import type { Lease } from "../image/index.ts";
import { APPLY_WRITE_BUF } from "../cow/index.ts";
import { openLayerChunks, readTar, type RingOptions } from "../tar/index.ts";
import { chainIds, extractKey, type ImageService } from "./images.ts";

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

/**
 * Unpack a layer blob that is already in the content store onto the committed snapshot `parent`,
 * checking its diffID, and commit it as `chain` under `lease`. Returns false when `chain` already
 * existed (nothing created). On error the active snapshot is removed.
 */
export async function applyStoredLayer(images: ImageService, blob: Digest, parent: string | undefined, diffId: Digest, chain: string, lease: Lease): Promise<boolean> {
  lease.addSnapshot(chain);
  if (await images.hasSnapshot(chain)) return false;
  const key = extractKey();
  await images.snapshots.prepare(key, parent);
  try {
    const { chunks } = await openLayerChunks(images.content.readChunks(blob, LAYER_RING), LAYER_RING);
    const h = new Bun.CryptoHasher("sha256");
    const collect = rssBound();
    const stats = await images.snapshots.applyLayer(key, readTar(tapChunks(chunks, (c) => {
      h.update(c);
      collect(c.length);
    })));
    const got = `sha256:${h.digest("hex")}`;
    if (got !== diffId) {
      throw new EngineError("invalid_argument", `layer ${blob}: diff ID mismatch: config says ${diffId}, content is ${got}`, { exitCode: 1 });
    }
    return await images.commitChain(key, chain, { "berth.size": String(stats.size), "berth.diffid": diffId }, lease);
  } catch (e) {
    await images.snapshots.remove(key).catch(() => {});
    throw e;
  }
}

export class ImageAssembly {
  readonly lease: Lease;

  /** `purpose` names the lease: pull, load, commit */
  constructor(readonly images: ImageService, purpose: string) {
    this.lease = images.leases.createLease(`${purpose}-${extractKey()}`);
  }

  /** applyStoredLayer under this run's lease */
  async applyStored(blob: Digest, parent: string | undefined, diffId: Digest, chain: string): Promise<void> {
    await applyStoredLayer(this.images, blob, parent, diffId, chain, this.lease);
  }

  /** unpack stored layer blobs in order onto their chain snapshots (already-present chains are kept) */
  async applyLayers(layers: Digest[], diffIds: Digest[], what: string): Promise<void> {
    if (diffIds.length !== layers.length) throw new EngineError("invalid_argument", `${what}: config has ${diffIds.length} diff IDs for ${layers.length} layers`, { exitCode: 1 });
    const chains = chainIds(diffIds);
    for (let i = 0; i < layers.length; i++) await this.applyStored(layers[i]!, i > 0 ? chains[i - 1] : undefined, diffIds[i]!, chains[i]!);
  }

  /**
   * Collect what nothing refers to any more. Best effort: the operation itself succeeded or failed
   * already, and anything this pass leaves is found by the next command's GC or by `system check`.
   */
  private async collect(): Promise<void> {
    try {
      await this.images.collectGarbage();
    } catch (e) {
      this.images.log.debug(`gc after ${this.lease.id}: ${(e as Error).message}`);
    }
  }

  /** the image record now holds everything: drop the lease, collect what nothing refers to */
  async finish(): Promise<void> {
    this.lease.delete();
    await this.collect();
  }

  /**
   * undo: drop the lease; the GC then removes the snapshots and blobs only this run held (children
   * before parents), and keeps what a concurrent pull of the same content holds or an image uses
   */
  async abort(): Promise<void> {
    try {
      this.lease.delete();
    } catch {
      // a lease we cannot delete dies with this process: the next GC reclaims it
    }
    await this.collect();
  }

  /** reclaim dead processes' leftovers, run `fn`, then finish(), or abort() and rethrow */
  async run<T>(fn: (a: ImageAssembly) => Promise<T>): Promise<T> {
    let out: T;
    try {
      await this.images.recover();
      out = await fn(this);
    } catch (e) {
      await this.abort();
      throw e;
    }
    await this.finish();
    return out;
  }
}
