/**
 * `push`: the stored manifest, config and layer blobs → a registry (distribution api.md "Pushing An
 * Image"). Blobs go first, the manifest last, so a registry never holds a manifest whose blobs are
 * missing. For each blob: HEAD (already there → skip); else, when this root knows another repository
 * on the same registry that has it (registry/sources.ts), ask for a cross-repository mount; else
 * upload — monolithic (POST, then PUT ?digest= with the whole body) up to `chunkSize`, chunked above
 * it (PATCH with Content-Range per chunk, then PUT ?digest=). Bodies are Blob slices of the blob file,
 * so nothing is held in memory. The manifest is sent byte for byte as stored: its digest is the same
 * as when it was pulled or loaded.
 *
 * Layers stored uncompressed (import, commit, build, load of a docker save) are gzipped first, as
 * docker pushes them (compressLayers): the gzip blobs go into the content store and the image record
 * takes the manifest that names them. That manifest is the diffID → compressed digest mapping (layer i
 * is config.rootfs.diff_ids[i]), so a second push, or a save, reuses the blobs instead of compressing
 * again, and the pushed manifest digest is the one the image keeps. Another image with the same layer
 * (built on a pushed one) takes the gzip blob from the first image's manifest instead of compressing.
 */
import { EngineError, wrap } from "../lib/errors.ts";
import { MediaType, type Descriptor, type Digest, type Manifest } from "../oci/index.ts";
import { compressStream } from "../tar/compress.ts";
import { familiarString, parseDockerRef, referenceString } from "../image/index.ts";
import { clientFor, type RegistryClient, type SessionOptions } from "../image/registry/index.ts";
import type { ImageService } from "./images.ts";
import { blobSources, familiarName } from "./pull.ts";

export type PushEvent =
  | { type: "start"; repository: string }
  | { type: "layer"; id: string; status: string; current?: number; total?: number }
  | { type: "done"; tag: string; digest: Digest; size: number };

export interface PushOptions extends SessionOptions {
  /** blobs above this many bytes are sent in PATCH chunks of this size (default 16 MiB) */
  chunkSize?: number;
  /** parallel blob uploads (default 3) */
  concurrency?: number;
  onProgress?: (e: PushEvent) => void;
}

export interface PushResult {
  digest: Digest;
  size: number;
}

export async function pushImage(images: ImageService, name: string, opts: PushOptions = {}): Promise<PushResult> {
  const ref = parseDockerRef(name);
  const emit = opts.onProgress ?? (() => {});
  try {
    const client = clientFor(ref, { configPath: images.registryAuthFile, ...opts, actions: "pull,push" });
    emit({ type: "start", repository: repositoryForDisplay(ref.domain, ref.path) });
    const rec = await compressLayers(images, images.store.resolve(referenceString(ref)));
    const manifestBytes = images.content.readBytes(rec.manifest.digest);
    const manifest = JSON.parse(new TextDecoder().decode(manifestBytes)) as Manifest;
    const sources = blobSources(images);
    const repoKey = `${ref.domain}/${ref.path}`;
    const pushOne = async (d: Descriptor, show: boolean) => {
      const id = d.digest.slice(7, 19);
      const ev = (status: string, current?: number, total?: number) => show && emit({ type: "layer", id, status, current, total });
      if (await client.hasBlob(d.digest)) {
        ev("Layer already exists");
        sources.add(d.digest, repoKey);
        return;
      }
      const from = sources.mountSource(d.digest, ref.domain, ref.path);
      const location = await client.startUpload(from ? { digest: d.digest, from } : undefined);
      if (location === undefined) {
        ev(`Mounted from ${from}`);
        sources.add(d.digest, repoKey);
        return;
      }
      await upload(images, client, location, d, opts.chunkSize ?? 16 * 1024 * 1024, (cur) => ev("Pushing", cur, d.size));
      ev("Pushed");
      sources.add(d.digest, repoKey);
    };
    for (const l of manifest.layers) emit({ type: "layer", id: l.digest.slice(7, 19), status: "Preparing" });
    await runLimited(
      manifest.layers.map((l) => () => pushOne(l, true)),
      Math.max(1, opts.concurrency ?? 3),
    );
    await pushOne(manifest.config, false);
    const tag = ref.tag ?? "latest";
    const digest = (await client.putManifest(ref.digest ?? tag, manifestBytes, rec.manifest.mediaType)) ?? rec.manifest.digest;
    if (digest !== rec.manifest.digest) {
      throw new EngineError("internal", `registry stored the manifest as ${digest}, expected ${rec.manifest.digest}`);
    }
    images.store.tag(referenceString({ domain: ref.domain, path: ref.path, digest }), rec.id);
    emit({ type: "done", tag, digest, size: manifestBytes.length });
    const shown = familiarString(ref);
    images.logImage("push", shown, familiarName(shown));
    return { digest, size: manifestBytes.length };
  } catch (e) {
    // docker's push exits 1 whatever went wrong
    const w = wrap(`push ${familiarString(ref)}`, e);
    throw new EngineError(w.kind, w.message, { hint: w.hint, cause: e });
  }
}

/** a layer media type that names uncompressed tar → the gzip type of the same family (OCI or docker) */
const GZIP_OF: Record<string, string> = {
  [MediaType.OciLayer]: MediaType.OciLayerGzip,
  "application/vnd.docker.image.rootfs.diff.tar": MediaType.DockerLayerGzip,
};

type ImageRecord = ReturnType<ImageService["store"]["resolve"]>;

/**
 * gzip every uncompressed layer of `rec` into the content store and record the image with the
 * manifest that names the gzip blobs (same config, so the same image ID). Returns `rec` unchanged when
 * every layer is compressed already (a pulled image, or one pushed before).
 */
async function compressLayers(images: ImageService, rec: ImageRecord): Promise<ImageRecord> {
  const manifest = images.content.readJson<Manifest>(rec.manifest.digest);
  if (!manifest.layers.some((l) => GZIP_OF[l.mediaType])) return rec;
  const diffIds = images.store.config(rec.id).rootfs?.diff_ids ?? [];
  const known = gzipLayersByDiffId(images);
  // a lease keeps the new blobs from a concurrent gc until the record names them
  using lease = images.leases.createLease(`push-${rec.id.slice(7, 19)}-${crypto.randomUUID().slice(0, 8)}`);
  const layers: Descriptor[] = [];
  for (const [i, l] of manifest.layers.entries()) {
    const gz = GZIP_OF[l.mediaType];
    if (!gz) {
      layers.push(l);
      continue;
    }
    // compressed already for another image (pushed before): the same blob, as docker's v2 metadata reuses it
    const done = diffIds[i] ? known.get(diffIds[i]!) : undefined;
    if (done && images.content.has(done.digest)) {
      lease.addResource(done.digest);
      layers.push({ ...l, mediaType: gz, digest: done.digest, size: done.size });
      continue;
    }
    await using w = await images.content.writer();
    for await (const chunk of compressStream(images.content.readStream(l.digest), "gzip")) w.write(chunk);
    const blob = await w.commit({ lease });
    const { annotations, ...rest } = l;
    layers.push({ ...rest, ...(annotations ? { annotations } : {}), mediaType: gz, digest: blob.digest, size: blob.size });
  }
  const bytes = JSON.stringify({ ...manifest, layers }, null, 3);
  const man = images.content.putBytes(bytes, undefined, { lease });
  return images.store.put({
    manifest: { mediaType: rec.manifest.mediaType, digest: man.digest, size: man.size },
    config: rec.config,
    ...(rec.parent ? { parent: rec.parent } : {}),
    ...(rec.created ? { created: rec.created } : {}),
  });
}

/** diffID → the gzip layer blob some image's manifest names for it (the mapping the manifests hold) */
function gzipLayersByDiffId(images: ImageService): Map<Digest, Descriptor> {
  const out = new Map<Digest, Descriptor>();
  for (const r of images.store.list()) {
    try {
      const layers = images.content.readJson<Manifest>(r.manifest.digest).layers;
      const ids = images.store.config(r.id).rootfs?.diff_ids ?? [];
      layers.forEach((l, i) => {
        if ((l.mediaType === MediaType.OciLayerGzip || l.mediaType === MediaType.DockerLayerGzip) && ids[i]) out.set(ids[i]!, l);
      });
    } catch {
      // a damaged record (`system check` reports it) offers no mapping; the layer is compressed anew
    }
  }
  return out;
}

/** docker: "The push refers to repository [docker.io/library/busybox]" */
function repositoryForDisplay(domain: string, path: string): string {
  return `${domain}/${path}`;
}

async function upload(
  images: ImageService,
  client: RegistryClient,
  location: string,
  d: Descriptor,
  chunkSize: number,
  progress: (n: number) => void,
): Promise<void> {
  const file = Bun.file(images.content.path(d.digest));
  if (file.size !== d.size) throw new EngineError("internal", `blob ${d.digest}: stored size ${file.size} differs from the manifest's ${d.size}`);
  if (d.size <= chunkSize) {
    await client.finishUpload(location, d.digest, file);
    progress(d.size);
    return;
  }
  let off = 0;
  while (off < d.size) {
    const end = Math.min(d.size, off + chunkSize);
    location = await client.uploadChunk(location, file.slice(off, end), off);
    off = end;
    progress(off);
  }
  await client.finishUpload(location, d.digest);
}

async function runLimited(tasks: (() => Promise<void>)[], limit: number): Promise<void> {
  let next = 0;
  let failed: unknown;
  const worker = async () => {
    while (next < tasks.length && failed === undefined) {
      const t = tasks[next++]!;
      try {
        await t();
      } catch (e) {
        failed ??= e;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, tasks.length) }, worker));
  if (failed !== undefined) throw failed;
}
