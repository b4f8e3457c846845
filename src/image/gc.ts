/**
 * Mark-and-sweep garbage collection of the content store (containerd's gc/scheduler, simplified to
 * one synchronous pass under the exclusive store lock).
 *
 * Roots: every image record (manifest, config, index) and, through the manifests, their layers;
 * every unexpired lease's resources; `extraRoots` from the engine (e.g. blobs a container still
 * needs). Referenced manifests and indexes are walked to their children. Everything else in
 * blobs/ and splits/ is removed (a tar-split goes with its digest; the engine's snapshot GC keeps the
 * snapshot of every split left). Ingests are removed only when no writer holds their flock *and* they have not
 * been touched for the grace period (an unlocked ingest may be resumed by a retried pull).
 *
 * Why this is safe against concurrent work: writers take the store lock shared around every step
 * that makes a blob or a reference appear, and a blob committed for unfinished work is recorded in a
 * lease before its rename (ContentWriter.commit). Holding the lock exclusively, gc sees a consistent
 * set of roots; a live ingest is flock'd by its writer and skipped.
 */
import { closeSync, constants, openSync, readdirSync, readFileSync, readSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import type { Descriptor, Digest } from "../oci/index.ts";
import { isDigest, MediaType } from "../oci/index.ts";
import { O_CLOEXEC, tryLockFd } from "./_lock.ts";
import { SMALL_BLOB_MAX, type ContentStore } from "./content-store.ts";
import type { ImageStore } from "./image-store.ts";
import { isLeaseExpired, type LeaseStore } from "./leases.ts";

export interface GcOptions {
  /** blobs the engine needs beyond image records and leases */
  extraRoots?: Digest[];
  /** unlocked ingests younger than this are kept (default 24 h, containerd's default lease span) */
  ingestGracePeriodMs?: number;
  /** per-ingest grace (by ref), instead of ingestGracePeriodMs: the engine keeps only resumable ones */
  ingestGraceFor?: (ref: string) => number;
  now?: Date;
}

export interface GcResult {
  removedBlobs: Digest[];
  freedBytes: number;
  /** refs of removed ingests */
  removedIngests: string[];
  removedLeases: string[];
  /** referenced blobs that are missing or unreadable (the image is damaged; `system check` reports) */
  warnings: string[];
}

export interface GcStores {
  content: ContentStore;
  images: ImageStore;
  leases: LeaseStore;
}

export const DEFAULT_INGEST_GRACE_MS = 24 * 60 * 60 * 1000;

const MANIFEST_TYPES = new Set<string>([MediaType.OciManifest, MediaType.DockerManifest]);
const INDEX_TYPES = new Set<string>([MediaType.OciIndex, MediaType.DockerManifestList]);

interface Walkable {
  config?: Descriptor;
  layers?: Descriptor[];
  manifests?: Descriptor[];
}

export function gc(stores: GcStores, opts: GcOptions = {}): GcResult {
  const { content, images, leases } = stores;
  const now = opts.now ?? new Date();
  const grace = opts.ingestGracePeriodMs ?? DEFAULT_INGEST_GRACE_MS;
  const result: GcResult = { removedBlobs: [], freedBytes: 0, removedIngests: [], removedLeases: [], warnings: [] };

  using _ = content.lock("exclusive");

  const marked = new Set<Digest>();
  const queue: { digest: Digest; mediaType?: string; from: string }[] = [];
  const push = (digest: Digest | undefined, from: string, mediaType?: string) => {
    if (digest === undefined || !isDigest(digest) || marked.has(digest)) return;
    marked.add(digest);
    queue.push({ digest, mediaType, from });
  };

  for (const r of images.list()) {
    const from = `image ${r.id.slice(7, 19)}`;
    push(r.config.digest, from, r.config.mediaType);
    push(r.manifest.digest, from, r.manifest.mediaType ?? MediaType.OciManifest);
    if (r.index) push(r.index.digest, from, r.index.mediaType ?? MediaType.OciIndex);
  }

  for (const l of leases.list()) {
    if (isLeaseExpired(l, now)) {
      if (leases.deleteLocked(join(leases.dir, l.id))) result.removedLeases.push(l.id);
      continue;
    }
    for (const d of l.resources) push(d, `lease ${l.id}`);
  }
  for (const p of leases.strayEntries()) rmSync(p, { recursive: true, force: true });

  for (const d of opts.extraRoots ?? []) push(d, "engine");

  while (queue.length > 0) {
    const { digest, mediaType, from } = queue.pop()!;
    const info = content.info(digest);
    if (!info) {
      if (mediaType !== undefined) result.warnings.push(`${from}: blob ${digest} is missing`);
      continue;
    }
    // known manifest/index types are walked; untyped roots (leases, engine) only when they look
    // like JSON, so a small layer is never parsed. Walking too much only keeps too much.
    const typed = mediaType !== undefined && (MANIFEST_TYPES.has(mediaType) || INDEX_TYPES.has(mediaType));
    if (info.snapshot !== undefined) continue; // a tar-split: an uncompressed layer, nothing to walk
    if (!typed && (mediaType !== undefined || info.size > SMALL_BLOB_MAX || !startsWithBrace(content.path(digest)))) continue;
    let doc: Walkable;
    try {
      doc = content.readJson<Walkable>(digest);
    } catch (e) {
      if (typed) result.warnings.push(`${from}: ${(e as Error).message}`);
      continue;
    }
    if (doc === null || typeof doc !== "object") continue;
    if (doc.config) push(doc.config.digest, from, doc.config.mediaType ?? "config");
    for (const l of Array.isArray(doc.layers) ? doc.layers : []) push(l?.digest, from, l?.mediaType ?? "layer");
    for (const m of Array.isArray(doc.manifests) ? doc.manifests : []) {
      // an index may list platforms we never pulled: their absence is not damage
      if (m && isDigest(m.digest) && content.has(m.digest)) push(m.digest, from, m.mediaType ?? MediaType.OciManifest);
    }
  }

  for (const b of content.listSync()) {
    if (marked.has(b.digest)) continue;
    const bytes = content.deleteLocked(content.path(b.digest));
    // a split is listed only when there are no stored bytes; stored bytes may have a split beside them
    if (content.deleteLocked(content.splitPath(b.digest)) || bytes) {
      result.removedBlobs.push(b.digest);
      result.freedBytes += b.snapshot === undefined ? b.size : 0;
    }
  }

  sweepIngests(content, now.getTime(), opts.ingestGraceFor ?? (() => grace), result);
  return result;
}

function startsWithBrace(path: string): boolean {
  const fd = openSync(path, constants.O_RDONLY | O_CLOEXEC);
  try {
    const b = Buffer.alloc(64);
    const n = readSync(fd, b, 0, 64, 0);
    return b.subarray(0, n).toString("latin1").trimStart().startsWith("{");
  } finally {
    closeSync(fd);
  }
}

function sweepIngests(content: ContentStore, nowMs: number, graceFor: (ref: string) => number, result: GcResult): void {
  for (const ent of readdirSync(content.ingestDir, { withFileTypes: true })) {
    const p = join(content.ingestDir, ent.name);
    const st = statSync(p, { throwIfNoEntry: false });
    if (!st) continue;
    if (!ent.isDirectory()) {
      // leftover of a crashed putBytes: only ever written under the shared lock we now exclude
      const grace = graceFor(ent.name);
      if (grace <= 0 || st.mtimeMs < nowMs - grace) rmSync(p, { force: true });
      continue;
    }
    let ref = ent.name;
    try {
      ref = readFileSync(join(p, "ref"), "utf8");
    } catch {
      // a crash between mkdir and writing ref: the directory name stands in
    }
    const data = join(p, "data");
    const dst = statSync(data, { throwIfNoEntry: false });
    const updated = Math.max(st.mtimeMs, dst?.mtimeMs ?? 0);
    const grace = graceFor(ref);
    if (grace > 0 && updated >= nowMs - grace) continue;
    if (!dst) {
      rmSync(p, { recursive: true, force: true });
      result.removedIngests.push(ref);
      continue;
    }
    let fd: number;
    try {
      fd = openSync(data, constants.O_RDONLY | O_CLOEXEC);
    } catch {
      continue; // ENOENT: its writer committed or removed it since the stat above
    }
    try {
      // never a locked ingest: its writer is alive and will commit or resume it
      if (tryLockFd(fd, data) === "busy") continue;
      rmSync(p, { recursive: true, force: true });
      result.removedIngests.push(ref);
    } finally {
      closeSync(fd);
    }
  }
}
