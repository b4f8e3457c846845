/**
 * What pull, load and commit share while they put an image together: a lease that keeps GC off the
 * blobs being staged, the chain snapshots this run committed, and the unpack of stored layer blobs onto
 * their parents in order. `finish()` drops the lease once the image record refers to everything;
 * `abort()` removes the snapshots this run made (newest first, children before parents), drops the
 * lease and collects the blobs it protected, so a failure leaves `system check` clean.
 */
import { EngineError } from "../lib/errors.ts";
import type { Digest } from "../oci/index.ts";
import { openLayerChunks, readTar } from "../tar/index.ts";
import { chainIds, extractKey, gc, type Lease } from "../image/index.ts";
import type { ImageService } from "./images.ts";
import { LAYER_RING, rssBound, tapChunks } from "./_layer-stream.ts";
// the streaming tuning's home is _layer-stream.ts; kept here for the engine files that import it from assembly.ts
export { tapChunks, LAYER_RING, rssBound, LAYER_RSS_BOUND, LAYER_JIT_SCALE, withLayerJitPolicy, type RssBound } from "./_layer-stream.ts";

/**
 * Unpack a layer blob that is already in the content store onto the committed snapshot `parent`,
 * checking its diffID, and commit it as `chain`. Returns false when `chain` already existed (nothing
 * created). On error the active snapshot is removed.
 */
export async function applyStoredLayer(images: ImageService, blob: Digest, parent: string | undefined, diffId: Digest, chain: string): Promise<boolean> {
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
      throw new EngineError("invalid_argument", `layer ${blob}: diff ID mismatch: config says ${diffId}, content is ${got}`);
    }
    if (await images.hasSnapshot(chain)) {
      await images.snapshots.remove(key);
      return false;
    }
    await images.snapshots.commit(chain, key, { "berth.size": String(stats.diskSize), "berth.diffid": diffId });
    return true;
  } catch (e) {
    await images.snapshots.remove(key).catch(() => {});
    throw e;
  }
}

export class ImageAssembly {
  readonly lease: Lease;
  private readonly made: string[] = [];

  /** `purpose` names the lease: pull, load, commit */
  constructor(readonly images: ImageService, purpose: string) {
    this.lease = images.leases.createLease(`${purpose}-${extractKey()}`);
  }

  /** note a chain snapshot this run committed (abort removes it) */
  created(chain: string): void {
    this.made.push(chain);
  }

  /** applyStoredLayer, remembering the snapshot when this run made it */
  async applyStored(blob: Digest, parent: string | undefined, diffId: Digest, chain: string): Promise<void> {
    if (await applyStoredLayer(this.images, blob, parent, diffId, chain)) this.created(chain);
  }

  /** unpack stored layer blobs in order onto their chain snapshots (already-present chains are kept) */
  async applyLayers(layers: Digest[], diffIds: Digest[], what: string): Promise<void> {
    if (diffIds.length !== layers.length) throw new EngineError("invalid_argument", `${what}: config has ${diffIds.length} diff IDs for ${layers.length} layers`);
    const chains = chainIds(diffIds);
    for (let i = 0; i < layers.length; i++) await this.applyStored(layers[i]!, i > 0 ? chains[i - 1] : undefined, diffIds[i]!, chains[i]!);
  }

  private collect(): void {
    try {
      gc({ content: this.images.content, images: this.images.store, leases: this.images.leases });
    } catch {}
  }

  /** the image record now holds everything: drop the lease, collect what nothing refers to */
  finish(): void {
    this.lease.delete();
    this.collect();
  }

  /** undo: snapshots newest first, then the lease and the blobs it protected */
  async abort(): Promise<void> {
    for (const c of this.made.splice(0).reverse()) await this.images.snapshots.remove(c).catch(() => {});
    this.lease.delete();
    this.collect();
  }

  /** run `fn`, then finish(), or abort() and rethrow */
  async run<T>(fn: (a: ImageAssembly) => Promise<T>): Promise<T> {
    let out: T;
    try {
      out = await fn(this);
    } catch (e) {
      await this.abort();
      throw e;
    }
    this.finish();
    return out;
  }
}
