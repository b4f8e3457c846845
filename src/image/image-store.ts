/**
 * Images and tags, in docker's model (moby image/store.go, reference/store.go): an image is named by
 * its ID, the digest of its config blob; tags map normalized names to IDs.
 *
 *   <dir>/images/<hex>.json   ImageRecord, written atomically
 *   <dir>/repositories.json   { "docker.io/library/busybox:latest": "sha256:…",
 *                               "docker.io/library/busybox@sha256:<manifest>": "sha256:…" }
 *   <dir>/repositories.lock   flock serializing read-modify-write of repositories.json
 *
 * Blobs (manifest, config, layers) live in the ContentStore. Every mutation here holds the content
 * store lock shared (it only adds references, or removes references gc will notice later), so gc
 * (exclusive) sees records and tags either before or after a change, never half of it. Lock order:
 * store lock, then repositories.lock.
 */
import { mkdirSync, readdirSync, readFileSync, statSync, unlinkSync } from "node:fs";
import { join } from "node:path";
import { EngineError, wrap } from "../lib/errors.ts";
import { atomicWriteJson } from "../lib/atomic-write.ts";
import { shortId } from "../lib/ids.ts";
import { isDigest, type Descriptor, type Digest, type ImageConfig, type Manifest } from "../oci/index.ts";
import { FileLock } from "./_lock.ts";
import type { ContentStore } from "./content-store.ts";
import {
  familiarString,
  isFullId,
  isIdPrefix,
  parseDockerRef,
  parseReference,
  parseStrict,
  referenceString,
  repositoryName,
  toDigestId,
  withDefaultTag,
  type Reference,
} from "./references.ts";

export interface ImageRecord {
  /** the config digest */
  id: Digest;
  /** the image manifest (a single-platform manifest) in the content store */
  manifest: Descriptor;
  config: Descriptor;
  /** the index the manifest was chosen from, when pulled by a multi-platform name; kept for gc */
  index?: Descriptor;
  /** config.created, copied for listing without reading the config */
  created?: string;
  /** the image a build step started from (docker's parent chain) */
  parent?: Digest;
  /** when a tag last pointed here (docker's Metadata.LastTagTime) */
  lastTagTime?: string;
}

export interface PutImage {
  manifest: Descriptor;
  config: Descriptor;
  index?: Descriptor;
  parent?: Digest;
  /** defaults to the config's `created` */
  created?: string;
}

function noSuchImage(what: string): EngineError {
  return new EngineError("not_found", `No such image: ${what}`);
}

/** the key a reference is stored under: name:tag (`:latest` implied) or name@digest */
export function tagKey(ref: Reference): string {
  return referenceString(ref.digest !== undefined ? { domain: ref.domain, path: ref.path, digest: ref.digest } : withDefaultTag(ref));
}

export class ImageStore {
  readonly imagesDir: string;
  readonly repositoriesPath: string;
  private readonly repositoriesLock: string;

  constructor(
    readonly dir: string,
    readonly content: ContentStore,
  ) {
    this.imagesDir = join(dir, "images");
    this.repositoriesPath = join(dir, "repositories.json");
    this.repositoriesLock = join(dir, "repositories.lock");
    mkdirSync(this.imagesDir, { recursive: true, mode: 0o700 });
  }

  private recordPath(id: Digest): string {
    return join(this.imagesDir, `${id.slice(7)}.json`);
  }

  /**
   * Record an image whose manifest and config are already in the content store. Re-putting an
   * existing ID replaces the record but keeps its lastTagTime.
   */
  put(input: PutImage): ImageRecord {
    for (const d of [input.manifest, input.config, ...(input.index ? [input.index] : [])]) {
      if (!isDigest(d.digest)) throw new EngineError("invalid_argument", `put image: invalid digest ${JSON.stringify(d.digest)}`);
      if (!this.content.has(d.digest)) {
        throw new EngineError("failed_precondition", `put image: blob ${d.digest} is not in the content store`);
      }
    }
    if (input.parent !== undefined && !isDigest(input.parent)) {
      throw new EngineError("invalid_argument", `put image: invalid parent ${JSON.stringify(input.parent)}`);
    }
    const id = input.config.digest;
    const created = input.created ?? this.content.readJson<ImageConfig>(id).created;
    const record: ImageRecord = { id, manifest: input.manifest, config: input.config };
    if (input.index) record.index = input.index;
    if (created !== undefined) record.created = created;
    if (input.parent !== undefined) record.parent = input.parent;
    using _ = this.content.lock("shared");
    const old = this.get(id);
    if (old?.lastTagTime) record.lastTagTime = old.lastTagTime;
    writeJson(this.recordPath(id), record, `write image record ${shortId(id)}`);
    return record;
  }

  /** by full ID (`sha256:<hex>` or `<hex>`); undefined if absent */
  get(id: string): ImageRecord | undefined {
    if (!isFullId(id)) return undefined;
    try {
      return JSON.parse(readFileSync(this.recordPath(toDigestId(id)), "utf8")) as ImageRecord;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ENOENT") return undefined;
      throw wrap(`read image ${shortId(id)}`, e);
    }
  }

  private ids(): Digest[] {
    return readdirSync(this.imagesDir)
      .filter((n) => /^[0-9a-f]{64}\.json$/.test(n))
      .map((n) => `sha256:${n.slice(0, 64)}` as Digest);
  }

  list(): ImageRecord[] {
    const out: ImageRecord[] = [];
    for (const id of this.ids()) {
      const r = this.get(id);
      if (r) out.push(r);
    }
    return out;
  }

  /**
   * Like list(), but an unreadable record is returned as a problem instead of failing the listing
   * (`system check`). GC keeps using list(), which fails: it must not collect what a damaged record
   * may still refer to.
   */
  listChecked(): { records: ImageRecord[]; damaged: { id: Digest; problem: string }[] } {
    const records: ImageRecord[] = [];
    const damaged: { id: Digest; problem: string }[] = [];
    for (const id of this.ids()) {
      try {
        const r = this.get(id);
        if (r) records.push(r);
      } catch (e) {
        damaged.push({ id, problem: (e as Error).message });
      }
    }
    return { records, damaged };
  }

  /** all tags: normalized name → image ID */
  tags(): Record<string, Digest> {
    let text: string;
    try {
      text = readFileSync(this.repositoriesPath, "utf8");
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ENOENT") return {};
      throw wrap("read repositories.json", e);
    }
    try {
      return JSON.parse(text) as Record<string, Digest>;
    } catch (e) {
      throw new EngineError("internal", `read ${this.repositoriesPath}: invalid json: ${(e as Error).message}`);
    }
  }

  /** normalized names pointing at `id`, sorted */
  namesOf(id: string): string[] {
    const want = toDigestId(id);
    return Object.entries(this.tags())
      .filter(([, v]) => v === want)
      .map(([k]) => k)
      .sort();
  }

  /**
   * Find an image the way docker's GetImage does: a full ID (with or without `sha256:`); else a name
   * (`:latest` implied; `name@digest` also matches an image whose manifest or index has that digest
   * and that carries a name in the same repository); else a unique ID prefix. An ambiguous prefix is
   * invalid_argument; nothing found is not_found `No such image: <familiar name or input>`.
   */
  resolve(refOrId: string): ImageRecord {
    if (isFullId(refOrId)) {
      const r = this.get(refOrId);
      if (r) return r;
      throw noSuchImage(refOrId);
    }
    let ref: Reference | undefined;
    try {
      ref = parseReference(refOrId);
    } catch (e) {
      if (!isIdPrefix(refOrId)) throw e;
    }
    if (ref) {
      const key = tagKey(ref);
      const tags = this.tags();
      const id = tags[key];
      if (id !== undefined) {
        const r = this.get(id);
        if (r) return r;
      }
      if (ref.digest !== undefined) {
        const repo = repositoryName(ref);
        for (const r of this.list()) {
          if (r.manifest.digest !== ref.digest && r.index?.digest !== ref.digest) continue;
          if (this.namesOf(r.id).some((n) => repositoryName(parseStrict(n)) === repo)) return r;
        }
      }
    }
    if (isIdPrefix(refOrId)) {
      const hex = refOrId.replace(/^sha256:/, "");
      const matches = this.ids().filter((id) => id.startsWith(`sha256:${hex}`));
      if (matches.length === 1)
        return (
          this.get(matches[0]!) ??
          (() => {
            throw noSuchImage(refOrId);
          })()
        );
      if (matches.length > 1) {
        throw new EngineError("invalid_argument", `ambiguous image id prefix ${JSON.stringify(refOrId)}: matches ${matches.length} images`);
      }
    }
    throw noSuchImage(ref ? familiarString(parseStrict(tagKey(ref))) : refOrId);
  }

  private mutateTags<T>(fn: (tags: Record<string, Digest>) => T): T {
    using _store = this.content.lock("shared");
    using _tags = FileLock.hold(this.repositoriesLock, "exclusive");
    const tags = this.tags();
    const out = fn(tags);
    const sorted = Object.fromEntries(Object.entries(tags).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
    writeJson(this.repositoriesPath, sorted, "write repositories.json");
    return out;
  }

  /**
   * Point `name` at image `id` (moving it if it pointed elsewhere). `name` is normalized: `busybox`
   * → docker.io/library/busybox:latest; `name:tag@digest` keeps only the digest, as docker does.
   * Returns the stored key.
   */
  tag(name: string, id: string): string {
    const key = tagKey(parseDockerRef(name));
    const record = this.resolveId(id);
    return this.mutateTags((tags) => {
      // re-read under the lock: a concurrent delete must not be undone by writing the record back
      const current = this.get(record.id);
      if (!current) throw noSuchImage(id);
      tags[key] = record.id;
      writeJson(this.recordPath(record.id), { ...current, lastTagTime: new Date().toISOString() }, `write image record ${shortId(record.id)}`);
      return key;
    });
  }

  /** remove one name; returns the normalized key removed, not_found if `name` was not a tag */
  untag(name: string): string {
    const ref = parseReference(name);
    const key = tagKey(ref);
    return this.mutateTags((tags) => {
      if (!(key in tags)) throw noSuchImage(familiarString(parseStrict(key)));
      delete tags[key];
      return key;
    });
  }

  /**
   * Remove an image record (its blobs stay until gc). Refused (failed_precondition) while tagged
   * unless `force`, which also removes its tags, and always while another image names it as parent.
   */
  delete(id: string, opts: { force?: boolean } = {}): { deleted: Digest; untagged: string[] } {
    const record = this.resolveId(id);
    const children = this.list().filter((r) => r.parent === record.id);
    if (children.length > 0) {
      throw new EngineError("failed_precondition", `unable to delete image ${shortId(record.id)}: image has dependent child images`);
    }
    return this.mutateTags((tags) => {
      const names = Object.keys(tags)
        .filter((k) => tags[k] === record.id)
        .sort();
      if (names.length > 0 && !opts.force) {
        throw new EngineError(
          "failed_precondition",
          `unable to delete image ${shortId(record.id)} (must be forced): image is tagged as ${names.map((n) => familiarString(parseStrict(n))).join(", ")}`,
        );
      }
      for (const n of names) delete tags[n];
      try {
        unlinkSync(this.recordPath(record.id));
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw wrap(`delete image ${shortId(record.id)}`, e);
      }
      return { deleted: record.id, untagged: names };
    });
  }

  config(id: string): ImageConfig {
    return this.content.readJson<ImageConfig>(this.resolveId(id).config.digest);
  }

  manifest(id: string): Manifest {
    return this.content.readJson<Manifest>(this.resolveId(id).manifest.digest);
  }

  /** a full ID must exist; anything else goes through resolve() */
  private resolveId(id: string): ImageRecord {
    if (isFullId(id)) {
      const r = this.get(id);
      if (!r) throw noSuchImage(id);
      return r;
    }
    return this.resolve(id);
  }

  /** for `system check`: records whose file is present but unreadable */
  checkRecords(): string[] {
    const problems: string[] = [];
    for (const id of this.ids()) {
      try {
        const r = this.get(id);
        if (!r || r.id !== id) problems.push(`image ${shortId(id)}: record names a different id`);
      } catch (e) {
        problems.push((e as Error).message);
      }
    }
    for (const [k, v] of Object.entries(this.tags())) {
      if (!statSync(this.recordPath(v), { throwIfNoEntry: false })) problems.push(`tag ${k}: image ${shortId(v)} is missing`);
    }
    return problems;
  }
}

/** an atomic JSON write whose failure (ENOSPC, EIO) is one EngineError line naming the file's role */
function writeJson(path: string, value: unknown, what: string): void {
  try {
    atomicWriteJson(path, value);
  } catch (e) {
    throw wrap(what, e);
  }
}
