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
import { readTar } from "../tar/index.ts";
import { chainIds, extractKey, type Lease } from "../image/index.ts";
import type { ImageService } from "./images.ts";
import { LAYER_RING, openLayerLane, rssBound, storedLayerRing, type LaneOptions } from "./_layer-stream.ts";
// the streaming tuning's home is _layer-stream.ts; kept here for the engine files that import it from assembly.ts
export { tapChunks, LAYER_RING, rssBound, LAYER_RSS_BOUND, LAYER_JIT_SCALE, withLayerJitPolicy, type RssBound } from "./_layer-stream.ts";

/**
 * Unpack a layer blob that is already in the content store onto the committed snapshot `parent`,
 * checking its diffID, and commit it as `chain` under `lease`. Returns false when `chain` already
 * existed (nothing created). On error the active snapshot is removed.
 */
export async function applyStoredLayer(
  images: ImageService,
  blob: Digest,
  parent: string | undefined,
  diffId: Digest,
  chain: string,
  lease: Lease,
  ring: LaneOptions = LAYER_RING,
): Promise<boolean> {
  lease.addSnapshot(chain);
  if (await images.hasSnapshot(chain)) return false;
  const key = extractKey();
  await images.snapshots.prepare(key, parent, undefined, { spread: true }); // a whole layer: cow/driver.ts
  try {
    const collect = rssBound();
    // gzip with `inflater: "thread"` inflates and hashes on a native thread (_layer-stream.ts openLayerLane).
    // Every inflater consumes a gzip blob's chunk whole before the next is read, so that read needs
    // no LAYER_RING lifetime (storedLayerRing: 256 KiB instead of 2 MiB)
    const source = images.content.readChunks(blob, storedLayerRing(images.content.path(blob)));
    const lane = await openLayerLane(source, (c) => collect(c.length), ring);
    const stats = await images.snapshots.applyLayer(key, readTar(lane.chunks));
    const got = lane.diffId();
    if (got !== diffId) {
      throw new EngineError("invalid_argument", `layer ${blob}: diff ID mismatch: config says ${diffId}, content is ${got}`);
    }
    return await images.commitChain(key, chain, { "berth.size": String(stats.diskSize), "berth.diffid": diffId }, lease);
  } catch (e) {
    await images.snapshots.remove(key).catch(() => {}); // the real error is rethrown; a leftover extract snapshot is the GC's once this process is gone
    throw e;
  }
}

export class ImageAssembly {
  readonly lease: Lease;

  /**
   * `purpose` names the lease: pull, load, commit. `batch`: one of many runs whose caller recovered
   * dead processes' leftovers once: run() skips that and finish() skips its GC (a success leaves nothing
   * unreferenced: the record names what the lease held), so the cost does not grow with the store
   */
  constructor(
    readonly images: ImageService,
    purpose: string,
    private readonly o: { batch?: boolean } = {},
  ) {
    this.lease = images.leases.createLease(`${purpose}-${extractKey()}`);
  }

  /** applyStoredLayer under this run's lease */
  async applyStored(blob: Digest, parent: string | undefined, diffId: Digest, chain: string, ring?: LaneOptions): Promise<void> {
    await applyStoredLayer(this.images, blob, parent, diffId, chain, this.lease, ring);
  }

  /** unpack stored layer blobs in order onto their chain snapshots (already-present chains are kept) */
  async applyLayers(layers: Digest[], diffIds: Digest[], what: string): Promise<void> {
    if (diffIds.length !== layers.length)
      throw new EngineError("invalid_argument", `${what}: config has ${diffIds.length} diff IDs for ${layers.length} layers`);
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
    if (!this.o.batch) await this.collect();
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
      if (!this.o.batch) await this.images.recover();
      out = await fn(this);
    } catch (e) {
      await this.abort();
      throw e;
    }
    await this.finish();
    return out;
  }
}
