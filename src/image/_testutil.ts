/** Test helpers for src/image: a store in a temp dir and tiny synthetic images. Not exported by index.ts. */
import { mkdtempSync, rmSync } from "node:fs";
import { join } from "node:path";
import { MediaType, type Descriptor, type Digest, type ImageConfig, type Manifest } from "../oci/index.ts";
import { ContentStore } from "./content-store.ts";
import { ImageStore, type ImageRecord } from "./image-store.ts";
import { LeaseStore } from "./leases.ts";

export interface TestStores {
  root: string;
  content: ContentStore;
  images: ImageStore;
  leases: LeaseStore;
  [Symbol.dispose](): void;
}

export function tempStores(area = "image"): TestStores {
  const root = mkdtempSync(`/tmp/berth-test-${area}-`);
  const content = new ContentStore(join(root, "content"));
  return {
    root,
    content,
    images: new ImageStore(join(root, "image"), content),
    leases: new LeaseStore(content),
    [Symbol.dispose]() {
      rmSync(root, { recursive: true, force: true });
    },
  };
}

/** a fake gzip layer: starts with the gzip magic so gc never mistakes it for JSON */
export function fakeLayer(content: ContentStore, seed: string, size = 1000): Descriptor {
  const b = new Uint8Array(size);
  b[0] = 0x1f;
  b[1] = 0x8b;
  const s = new TextEncoder().encode(seed);
  for (let i = 2; i < size; i++) b[i] = s[i % s.length]! ^ (i & 0xff);
  const { digest } = content.putBytes(b);
  return { mediaType: MediaType.OciLayerGzip, digest, size };
}

/** config + manifest (+ layers) in the content store, not yet recorded as an image */
export function fakeImageBlobs(
  content: ContentStore,
  seed: string,
  opts: { layers?: number; created?: string } = {},
): { manifest: Descriptor; config: Descriptor; layers: Descriptor[] } {
  const layers = Array.from({ length: opts.layers ?? 2 }, (_, i) => fakeLayer(content, `${seed}-layer-${i}`));
  const config: ImageConfig = {
    created: opts.created ?? "2026-01-02T03:04:05Z",
    architecture: "amd64",
    os: "linux",
    config: { Cmd: ["/bin/sh"], Labels: { seed } },
    rootfs: { type: "layers", diff_ids: layers.map((l) => l.digest) },
  };
  const cfgBytes = JSON.stringify(config);
  const c = content.putBytes(cfgBytes);
  const configDesc: Descriptor = { mediaType: MediaType.OciConfig, digest: c.digest, size: c.size };
  const manifest: Manifest = { schemaVersion: 2, mediaType: MediaType.OciManifest, config: configDesc, layers };
  const m = content.putBytes(JSON.stringify(manifest));
  return { manifest: { mediaType: MediaType.OciManifest, digest: m.digest, size: m.size }, config: configDesc, layers };
}

export function fakeImage(
  stores: { content: ContentStore; images: ImageStore },
  seed: string,
  opts: { layers?: number; parent?: Digest } = {},
): ImageRecord & { layers: Descriptor[] } {
  const b = fakeImageBlobs(stores.content, seed, opts);
  const rec = stores.images.put({ manifest: b.manifest, config: b.config, parent: opts.parent });
  return { ...rec, layers: b.layers };
}
