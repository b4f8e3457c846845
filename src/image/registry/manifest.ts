/**
 * Manifests as they come off the wire: media types (image-spec media-types.md, distribution
 * manifest-v2-2.md), parsing with a size cap, and platform selection from an index / manifest list
 * (image-spec image-index.md; unknown media types and BuildKit attestation entries are skipped). Pure.
 */
import { EngineError } from "../../lib/errors.ts";
import {
  hostPlatform,
  isDigest,
  MediaType,
  type Descriptor,
  type Digest,
  type ImageConfig,
  type Index,
  type Manifest,
  type Platform,
} from "../../oci/index.ts";
import { parsePlatform } from "./platform.ts";

export { parsePlatform };

/** distribution refuses manifests above 4 MiB (registry/handlers/manifests.go maxManifestBodySize) */
export const MANIFEST_MAX = 4 * 1024 * 1024;

export const MANIFEST_TYPES = [MediaType.OciManifest, MediaType.DockerManifest] as const;
export const INDEX_TYPES = [MediaType.OciIndex, MediaType.DockerManifestList] as const;
export const ACCEPT_MANIFESTS = [...MANIFEST_TYPES, ...INDEX_TYPES].join(", ");

const LAYER_TYPES: Record<string, "gzip" | "zstd" | "none"> = {
  [MediaType.OciLayer]: "none",
  [MediaType.OciLayerGzip]: "gzip",
  [MediaType.OciLayerZstd]: "zstd",
  "application/vnd.oci.image.layer.nondistributable.v1.tar": "none",
  "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip": "gzip",
  "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd": "zstd",
  [MediaType.DockerLayerGzip]: "gzip",
  "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip": "gzip",
  // moby accepts uncompressed layers under the docker name too (docker save output)
  "application/vnd.docker.image.rootfs.diff.tar": "none",
};

/** the compression a layer descriptor announces; unknown media types are invalid_argument */
export function layerCompression(mediaType: string): "gzip" | "zstd" | "none" {
  const c = LAYER_TYPES[mediaType];
  if (c === undefined) throw new EngineError("invalid_argument", `unsupported layer media type ${JSON.stringify(mediaType)}`);
  return c;
}

export type ParsedManifest = { kind: "manifest"; mediaType: string; manifest: Manifest } | { kind: "index"; mediaType: string; index: Index };

/** classify and validate a manifest blob; `contentType` is the HTTP header (may be absent) */
export function parseManifest(bytes: Uint8Array, contentType?: string | null): ParsedManifest {
  if (bytes.length > MANIFEST_MAX) {
    throw new EngineError("invalid_argument", `manifest too large: ${bytes.length} bytes (limit ${MANIFEST_MAX})`);
  }
  let doc: Record<string, unknown>;
  try {
    doc = JSON.parse(new TextDecoder().decode(bytes));
  } catch (e) {
    throw new EngineError("invalid_argument", `manifest: invalid json: ${(e as Error).message}`);
  }
  if (typeof doc !== "object" || doc === null) throw new EngineError("invalid_argument", "manifest: not a json object");
  const ct = (contentType ?? "").split(";")[0]!.trim();
  const mediaType = (typeof doc.mediaType === "string" && doc.mediaType) || ct;
  // schema 1 is "application/vnd.docker.distribution.manifest.v1+json" (or +prettyjws); OCI's
  // "application/vnd.oci.image.manifest.v1+json" also contains "manifest.v1", so match the docker name
  if (doc.schemaVersion === 1 || mediaType.startsWith("application/vnd.docker.distribution.manifest.v1")) {
    throw new EngineError("invalid_argument", "manifest: docker schema 1 manifests are not supported", {
      hint: "the image must be pushed again with a current client",
    });
  }
  if (doc.schemaVersion !== 2) throw new EngineError("invalid_argument", `manifest: unsupported schemaVersion ${JSON.stringify(doc.schemaVersion)}`);
  const isIndex = (INDEX_TYPES as readonly string[]).includes(mediaType) || (!mediaType && Array.isArray(doc.manifests));
  if (isIndex) {
    if (!Array.isArray(doc.manifests)) throw new EngineError("invalid_argument", "manifest: index without manifests");
    for (const [i, d] of doc.manifests.entries()) checkDescriptor(d, `manifests[${i}]`);
    return { kind: "index", mediaType: mediaType || MediaType.OciIndex, index: doc as unknown as Index };
  }
  const isManifest = (MANIFEST_TYPES as readonly string[]).includes(mediaType) || (!mediaType && typeof doc.config === "object");
  if (!isManifest) throw new EngineError("invalid_argument", `manifest: unsupported media type ${JSON.stringify(mediaType)}`);
  const m = doc as unknown as Manifest;
  if (!m.config || typeof m.config.digest !== "string" || !Array.isArray(m.layers)) {
    throw new EngineError("invalid_argument", "manifest: missing config or layers");
  }
  checkDescriptor(m.config, "config");
  for (const [i, d] of m.layers.entries()) checkDescriptor(d, `layers[${i}]`);
  return { kind: "manifest", mediaType: mediaType || MediaType.OciManifest, manifest: m };
}

/**
 * An image config blob as pull reads it: a JSON object whose rootfs.diff_ids hold one digest per
 * manifest layer. `what` names the blob in messages (`config sha256:…`).
 */
export function parseImageConfig(bytes: Uint8Array, layers: number, what = "config"): { config: ImageConfig; diffIds: Digest[] } {
  let doc: unknown;
  try {
    doc = JSON.parse(new TextDecoder().decode(bytes));
  } catch (e) {
    throw new EngineError("invalid_argument", `${what}: invalid json: ${(e as Error).message}`);
  }
  if (typeof doc !== "object" || doc === null || Array.isArray(doc)) throw new EngineError("invalid_argument", `${what}: not a json object`);
  const config = doc as ImageConfig;
  const rootfs = config.rootfs as unknown;
  const diffIds = (rootfs !== null && typeof rootfs === "object" ? (rootfs as { diff_ids?: unknown }).diff_ids : undefined) ?? [];
  if (!Array.isArray(diffIds) || !diffIds.every(isDigest))
    throw new EngineError("invalid_argument", `${what}: rootfs.diff_ids is not a list of sha256 digests`);
  if (diffIds.length !== layers) {
    throw new EngineError("invalid_argument", `image config has ${diffIds.length} diff IDs but the manifest has ${layers} layers`);
  }
  return { config, diffIds };
}

/**
 * The fields of a descriptor that berth reads have the types image-spec gives them (Go's json.Unmarshal
 * into the typed struct refuses the others): an object with a sha256 digest, a size, a string mediaType if any.
 */
function checkDescriptor(d: unknown, what: string): void {
  const bad = (detail: string) => new EngineError("invalid_argument", `manifest: ${what}: ${detail}`);
  if (d === null || typeof d !== "object" || Array.isArray(d)) throw bad("not a descriptor object");
  const x = d as Record<string, unknown>;
  if (x.mediaType !== undefined && typeof x.mediaType !== "string") throw bad("mediaType is not a string");
  if (!isDigest(x.digest)) throw bad(`invalid digest ${JSON.stringify(x.digest)?.slice(0, 100)}`);
  if (!Number.isSafeInteger(x.size) || (x.size as number) < 0) throw bad(`invalid size ${JSON.stringify(x.size)?.slice(0, 40)}`);
  const p = x.platform;
  if (p !== undefined && (p === null || typeof p !== "object" || typeof (p as Platform).os !== "string" || typeof (p as Platform).architecture !== "string")) {
    throw bad("platform needs os and architecture strings");
  }
}

/** containerd's platforms.Normalize for variants: arm64 "v8" is the default, arm defaults to v7 */
function normVariant(p: Platform): string {
  if (p.architecture === "arm64") return p.variant === "v8" ? "" : (p.variant ?? "");
  if (p.architecture === "arm") return p.variant ?? "v7";
  return p.variant ?? "";
}

export function platformString(p: Platform): string {
  return `${p.os}/${p.architecture}${p.variant ? `/${p.variant}` : ""}`;
}

/**
 * Choose the manifest for `want` (default: the host) from an index. An entry without a platform is
 * taken only when nothing matches exactly; attestation manifests and unknown media types are skipped.
 */
export function selectPlatform(index: Index, want: Platform = hostPlatform()): Descriptor {
  const candidates = (index.manifests ?? []).filter(
    (d) =>
      (MANIFEST_TYPES as readonly string[]).includes(d.mediaType) &&
      d.annotations?.["vnd.docker.reference.type"] !== "attestation-manifest" &&
      !(d.platform?.os === "unknown" && d.platform?.architecture === "unknown"),
  );
  const wantV = normVariant(want);
  const exact = candidates.find(
    (d) => d.platform && d.platform.os === want.os && d.platform.architecture === want.architecture && normVariant(d.platform) === wantV,
  );
  if (exact) return exact;
  // no variant asked for: any variant of the architecture (docker picks the best; first is fine here)
  if (!want.variant) {
    const loose = candidates.find((d) => d.platform && d.platform.os === want.os && d.platform.architecture === want.architecture);
    if (loose) return loose;
  }
  const avail = candidates.filter((d) => d.platform).map((d) => platformString(d.platform!));
  throw new EngineError(
    "not_found",
    `no matching manifest for ${platformString(want)} in the manifest list entries${avail.length ? ` (available: ${avail.join(", ")})` : ""}`,
  );
}
