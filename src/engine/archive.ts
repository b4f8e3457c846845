/**
 * `save` and `load`: images to and from tar archives.
 *
 * save writes what Docker 25+ writes (moby PR #44598): an OCI image layout — `oci-layout`,
 * `index.json` with `io.containerd.image.name` / `org.opencontainers.image.ref.name` annotations,
 * `blobs/sha256/<hex>` — plus the legacy `manifest.json` (Config, RepoTags, Layers as paths into
 * blobs/) and `repositories`, so docker, podman and skopeo (docker-archive: and oci-archive:) read it.
 * Blobs are written as stored (layers stay compressed, so manifest digests survive a round trip);
 * readers of manifest.json detect the compression, as moby's and containers/image's do.
 *
 * load reads that, the older docker-archive layout (`<id>/layer.tar`, `<id>.json`, symlinked shared
 * layers) and plain OCI layouts/archives. The tar is read once, front to back. Entries come in any
 * order (manifest.json may come last), so every file is streamed into the content store as it passes
 * — hashed on the way, and checked against its name under blobs/sha256/ — and only the four small
 * metadata files are kept in memory. Then the images are assembled from the store: layers unpacked in
 * order onto their chain snapshots with diffIDs verified, records written, names tagged. A failure
 * undoes what this load created (snapshots, lease, staged blobs via GC).
 */
import { posix } from "node:path";
import { EngineError, wrap } from "../lib/errors.ts";
import { hostPlatform, MediaType, type Descriptor, type Digest, type ImageConfig, type Index, type Manifest } from "../oci/index.ts";
import {
  familiarName,
  familiarString,
  familiarizeKey,
  isIdPrefix,
  parseDockerRef,
  parseReference,
  parseStrict,
  referenceString,
  type BlobInfo,
} from "../image/index.ts";
import { INDEX_TYPES, selectPlatform } from "../image/registry/index.ts";
import { TarWriter, detectCompression, openMaybeCompressed, readTar, type TarEntry, type TarSink } from "../tar/index.ts";
import { extractKey, type ImageService } from "./images.ts";
import { ImageAssembly } from "./assembly.ts";

const META_MAX = 16 * 1024 * 1024;

interface SaveItem {
  id: Digest;
  manifest: Descriptor;
  config: Descriptor;
  layers: Descriptor[];
  /** normalized names: docker.io/library/busybox:latest */
  names: string[];
}

function fileEntry(name: string, size: number): TarEntry {
  return { name, type: "file", mode: 0o644, uid: 0, gid: 0, size, mtime: 0 };
}
function dirEntry(name: string): TarEntry {
  return { name, type: "dir", mode: 0o755, uid: 0, gid: 0, size: 0, mtime: 0 };
}

/** which images and names `save` writes: a name saves that name, an ID saves the image with all its tags */
function planSave(images: ImageService, refs: string[]): SaveItem[] {
  const byId = new Map<Digest, SaveItem>();
  for (const r of refs) {
    const rec = images.store.resolve(r);
    let names: string[] = [];
    let key: string | undefined;
    try {
      const p = parseDockerRef(r);
      if (p.digest === undefined) key = referenceString(p);
    } catch {} // an image ID or prefix, not a reference: no key
    const tags = images.store.namesOf(rec.id).filter((n) => !n.includes("@"));
    if (key !== undefined && tags.includes(key)) names = [key];
    else if (isIdPrefix(r) || r.startsWith("sha256:")) names = tags;
    let item = byId.get(rec.id);
    if (!item) {
      const manifest = images.content.readJson<Manifest>(rec.manifest.digest);
      item = { id: rec.id, manifest: rec.manifest, config: rec.config, layers: manifest.layers, names: [] };
      byId.set(rec.id, item);
    }
    for (const n of names) if (!item.names.includes(n)) item.names.push(n);
  }
  return [...byId.values()];
}

/**
 * Stream the archive for `refs` into `sink` (awaited per chunk: backpressure). Refs are resolved
 * before the first byte, so an unknown image writes nothing.
 */
export async function saveImages(images: ImageService, refs: string[], sink: TarSink): Promise<void> {
  const items = planSave(images, refs);
  const tw = new TarWriter(sink);
  await tw.add(dirEntry("blobs"));
  await tw.add(dirEntry("blobs/sha256"));
  const written = new Set<string>();
  for (const it of items) {
    for (const d of [...it.layers, it.config, it.manifest]) {
      if (written.has(d.digest)) continue;
      written.add(d.digest);
      const info = images.content.info(d.digest);
      if (!info) throw new EngineError("not_found", `save image ${it.id.slice(7, 19)}: blob ${d.digest} is missing from the content store`);
      await tw.add(fileEntry(`blobs/sha256/${d.digest.slice(7)}`, info.size), images.content.readStream(d.digest) as unknown as AsyncIterable<Uint8Array>);
    }
  }
  const index: Index = { schemaVersion: 2, mediaType: MediaType.OciIndex, manifests: [] };
  const legacy: { Config: string; RepoTags: string[] | null; Layers: string[] }[] = [];
  const repositories: Record<string, Record<string, string>> = {};
  for (const it of items) {
    const base = { mediaType: it.manifest.mediaType, digest: it.manifest.digest, size: it.manifest.size };
    if (it.names.length === 0) index.manifests.push(base);
    for (const n of it.names) {
      const ref = parseStrict(n);
      index.manifests.push({ ...base, annotations: { "io.containerd.image.name": n, "org.opencontainers.image.ref.name": ref.tag ?? "latest" } });
      const top = it.layers[it.layers.length - 1];
      if (top && ref.tag) (repositories[familiarName(ref)] ??= {})[ref.tag] = top.digest.slice(7);
    }
    legacy.push({
      Config: `blobs/sha256/${it.config.digest.slice(7)}`,
      RepoTags: it.names.length ? it.names.map(familiarizeKey) : null,
      Layers: it.layers.map((l) => `blobs/sha256/${l.digest.slice(7)}`),
    });
  }
  const enc = (v: unknown) => Buffer.from(JSON.stringify(v));
  for (const [name, data] of [
    ["index.json", enc(index)],
    ["manifest.json", enc(legacy)],
    ["oci-layout", enc({ imageLayoutVersion: "1.0.0" })],
    ["repositories", enc(repositories)],
  ] as const) {
    await tw.add(fileEntry(name, data.length), data);
  }
  await tw.finish();
  for (const it of items) images.logImage("save", it.id, it.id);
}

export interface LoadResult {
  /** docker's lines: "Loaded image: busybox:latest" / "Loaded image ID: sha256:…" */
  lines: string[];
  ids: Digest[];
}

function cleanName(name: string): string {
  return posix.normalize(name.replace(/^\/+/, "")).replace(/^\.\//, "").replace(/\/$/, "");
}

async function readSmall(body: AsyncIterable<Uint8Array>, name: string): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  let n = 0;
  for await (const c of body) {
    n += c.length;
    if (n > META_MAX) throw new EngineError("invalid_argument", `load: ${name} is larger than ${META_MAX} bytes`);
    parts.push(c);
  }
  return Buffer.concat(parts, n);
}

function parseJson<T>(bytes: Uint8Array, name: string): T {
  try {
    return JSON.parse(new TextDecoder().decode(bytes)) as T;
  } catch (e) {
    throw new EngineError("invalid_argument", `load: ${name}: invalid json: ${(e as Error).message}`);
  }
}

/** read an archive (docker save, docker-archive, OCI layout tar; gzip/zstd wrapped too) into the store */
export async function loadImages(images: ImageService, source: ReadableStream<Uint8Array> | AsyncIterable<Uint8Array>): Promise<LoadResult> {
  const key = extractKey();
  const r = await new ImageAssembly(images, "load").run(async (asm) => {
    const lease = asm.lease;
    const staged = new Map<string, BlobInfo>();
    const links = new Map<string, string>();
    const meta: Record<string, Uint8Array> = {};
    const { stream } = await openMaybeCompressed(source);
    let n = 0;
    for await (const rec of readTar(stream)) {
      const name = cleanName(rec.entry.name);
      if (name.split("/").includes("..")) throw new EngineError("invalid_argument", `load: entry ${JSON.stringify(rec.entry.name)} leaves the archive`);
      if (rec.entry.type === "symlink") {
        links.set(name, cleanName(posix.join(posix.dirname(name), rec.entry.linkname ?? "")));
        continue;
      }
      if (rec.entry.type === "hardlink") {
        links.set(name, cleanName(rec.entry.linkname ?? ""));
        continue;
      }
      if (rec.entry.type !== "file") continue;
      if (name === "manifest.json" || name === "index.json" || name === "repositories" || name === "oci-layout") {
        meta[name] = await readSmall(rec.body, name);
        continue;
      }
      const m = /^blobs\/sha256\/([0-9a-f]{64})$/.exec(name);
      const w = await images.content.writer(`load-${key}-${n++}`);
      try {
        for await (const c of rec.body) w.write(c);
        const info = await w.commit({ lease, ...(m ? { digest: `sha256:${m[1]}` as Digest } : {}) });
        staged.set(name, info);
      } catch (e) {
        if (!w.closed) w.abort();
        throw wrap(`load: ${name}`, e);
      }
    }
    const lookup = (path: string): BlobInfo => {
      let p = cleanName(path);
      for (let i = 0; i < 16 && !staged.has(p) && links.has(p); i++) p = links.get(p)!;
      const b = staged.get(p);
      if (!b) throw new EngineError("invalid_argument", `load: archive names ${JSON.stringify(path)} but does not contain it`);
      return b;
    };
    const unpack = (layers: Digest[], config: ImageConfig) => asm.applyLayers(layers, config.rootfs?.diff_ids ?? [], "load");
    const out: LoadResult = { lines: [], ids: [] };
    const index = meta["index.json"] ? parseJson<Index>(meta["index.json"], "index.json") : undefined;

    if (meta["manifest.json"]) {
      const entries = parseJson<{ Config: string; RepoTags?: string[] | null; Layers: string[] }[]>(meta["manifest.json"], "manifest.json");
      if (!Array.isArray(entries)) throw new EngineError("invalid_argument", "load: manifest.json is not a list");
      for (const e of entries) {
        const cfg = lookup(e.Config);
        const config = images.content.readJson<ImageConfig>(cfg.digest);
        const layers = (e.Layers ?? []).map(lookup);
        await unpack(
          layers.map((l) => l.digest),
          config,
        );
        // Docker 25+ archives carry the original manifest: keep it (and its digest) when it matches
        let manifestDesc: Descriptor | undefined;
        for (const d of index?.manifests ?? []) {
          if (!images.content.has(d.digest) || (INDEX_TYPES as readonly string[]).includes(d.mediaType)) continue;
          try {
            const m = images.content.readJson<Manifest>(d.digest);
            if (m.config?.digest === cfg.digest && m.layers?.length === layers.length && m.layers.every((l, i) => l.digest === layers[i]!.digest)) {
              manifestDesc = { mediaType: d.mediaType, digest: d.digest, size: d.size };
              break;
            }
          } catch {} // a manifest we cannot read is not the one: one is synthesized below
        }
        if (!manifestDesc) manifestDesc = await synthesizeManifest(images, cfg, layers, lease);
        images.store.put({ manifest: manifestDesc, config: { mediaType: MediaType.OciConfig, digest: cfg.digest, size: cfg.size } });
        out.ids.push(cfg.digest);
        const tags = e.RepoTags ?? [];
        for (const t of tags) {
          images.store.tag(t, cfg.digest);
          out.lines.push(`Loaded image: ${familiarString(parseDockerRef(t))}`);
        }
        if (!tags.length) out.lines.push(`Loaded image ID: ${cfg.digest}`);
      }
    } else if (index) {
      for (const d of index.manifests ?? []) {
        let manDesc = d;
        let parent: Descriptor | undefined;
        if ((INDEX_TYPES as readonly string[]).includes(d.mediaType)) {
          const inner = images.content.readJson<Index>(lookup(`blobs/sha256/${d.digest.slice(7)}`).digest);
          parent = { mediaType: d.mediaType, digest: d.digest, size: d.size };
          manDesc = selectPlatform(inner, hostPlatform());
        }
        const man = images.content.readJson<Manifest>(lookup(`blobs/sha256/${manDesc.digest.slice(7)}`).digest);
        const cfg = lookup(`blobs/sha256/${man.config.digest.slice(7)}`);
        const config = images.content.readJson<ImageConfig>(cfg.digest);
        const layers = man.layers.map((l) => lookup(`blobs/sha256/${l.digest.slice(7)}`));
        await unpack(
          layers.map((l) => l.digest),
          config,
        );
        images.store.put({
          manifest: { mediaType: manDesc.mediaType, digest: manDesc.digest, size: manDesc.size },
          config: { mediaType: man.config.mediaType, digest: cfg.digest, size: cfg.size },
          ...(parent ? { index: parent } : {}),
        });
        out.ids.push(cfg.digest);
        const name = imageName(d.annotations);
        if (name) {
          images.store.tag(name, cfg.digest);
          out.lines.push(`Loaded image: ${familiarString(parseDockerRef(name))}`);
        } else out.lines.push(`Loaded image ID: ${cfg.digest}`);
      }
    } else {
      throw new EngineError("invalid_argument", "load: no manifest.json or index.json in the archive: not an image archive");
    }
    return out;
  });
  for (const id of r.ids) images.logImage("load", id, id);
  return r;
}

/** a name from an OCI index entry: containerd's full name, else ref.name when it is a whole reference */
function imageName(ann: Record<string, string> | undefined): string | undefined {
  const full = ann?.["io.containerd.image.name"];
  if (full) return full;
  const r = ann?.["org.opencontainers.image.ref.name"];
  if (!r || !/[:/]/.test(r)) return undefined; // a bare tag names no repository
  try {
    parseReference(r);
    return r;
  } catch {
    return undefined; // not a valid reference: the image stays unnamed, as docker load leaves it
  }
}

/** an OCI manifest for a docker-archive image, layer media types from their magic bytes */
async function synthesizeManifest(images: ImageService, cfg: BlobInfo, layers: BlobInfo[], lease: import("../image/index.ts").Lease): Promise<Descriptor> {
  const descs: Descriptor[] = [];
  for (const l of layers) {
    const head = new Uint8Array(await Bun.file(images.content.path(l.digest)).slice(0, 512).arrayBuffer());
    const c = detectCompression(head);
    const mediaType = c === "gzip" ? MediaType.OciLayerGzip : c === "zstd" ? MediaType.OciLayerZstd : MediaType.OciLayer;
    descs.push({ mediaType, digest: l.digest, size: l.size });
  }
  const manifest: Manifest = {
    schemaVersion: 2,
    mediaType: MediaType.OciManifest,
    config: { mediaType: MediaType.OciConfig, digest: cfg.digest, size: cfg.size },
    layers: descs,
  };
  const m = images.content.putBytes(JSON.stringify(manifest), undefined, { lease });
  return { mediaType: MediaType.OciManifest, digest: m.digest, size: m.size };
}
