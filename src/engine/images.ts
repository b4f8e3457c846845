/**
 * The image half of the engine: import, list, inspect, tag, remove, prune, disk usage and the store
 * check. It joins three stores that stay apart (containerd's split): blobs and image records
 * (src/image), layer snapshots (src/cow), and the tar stream between them (src/tar).
 *
 * Snapshot naming (chain IDs, extraction keys): src/image/chain.ts.
 */
import type { Logger } from "../lib/log.ts";
import { EngineError } from "../lib/errors.ts";
import { MediaType, type Descriptor, type Digest, type ImageConfig, type Manifest } from "../oci/index.ts";
import {
  type ContentStore,
  type ImageStore,
  type LeaseStore,
  type Lease,
  parseDockerRef,
  familiarizeKey,
  familiarString,
  referenceString,
  chainIds,
  isExtractKeyLive,
  isLeaseExpired,
  acquireAsync,
  FileLock,
} from "../image/index.ts";
import { isDigest } from "../oci/index.ts";
import { join } from "node:path";
import type { SnapshotDriver } from "../cow/driver.ts";
// the snapshot names' home is src/image/chain.ts; kept here for the engine files that import them from images.ts
export { chainIds, extractKey, isExtractKeyLive } from "../image/index.ts";
import type { ImageResolver, ResolvedImage } from "./image-types.ts";
import type { ImportOptions } from "./image-import.ts";
import type { EventLog } from "./events.ts";

/** is this active snapshot the unpack area of a process that is gone? */
export function isDeadExtractKey(name: string): boolean {
  return name.startsWith("extract-") && !isExtractKeyLive(name);
}

/**
 * An ingest named by the digest it will become (a pull's layer) is kept for a retried pull to resume;
 * any other unlocked ingest is the leftover of a dead writer (its flock died with it).
 */
export function isResumableIngest(ref: string): boolean {
  return isDigest(ref);
}

/** what a dead process left behind: found by `system check`, reclaimed by the next GC */
export interface Leftover {
  kind: "lease" | "snapshot" | "ingest";
  name: string;
  detail: string;
  /** kept by the GC of ordinary commands (a pull may resume it); `system prune` and `--repair` remove it */
  resumable?: boolean;
}

/** what one collectGarbage pass removed */
export interface GcReport {
  blobs: Digest[];
  freedBytes: number;
  ingests: string[];
  leases: string[];
  snapshots: string[];
}

export type { ImportOptions } from "./image-import.ts";

export interface ImageSummary {
  id: Digest;
  names: string[]; // familiar "repo:tag" (and repo@digest)
  created: string;
  size: number;
  containers: number;
}

export class ImageService implements ImageResolver {
  /** set by the engine: image IDs used by containers (rmi and prune refuse / skip them) */
  imagesInUse: () => Promise<Map<Digest, string[]>> = async () => new Map();
  /** set by the engine: docker's config.json that pull and push read stored credentials from */
  registryAuthFile?: string;
  /** set by the engine: a pull's read timeout on a stalled blob body (undefined: the client's 30 s) */
  registryReadTimeoutMs?: number;
  /** set by the engine: registries a docker.io pull tries first (daemon.json registry-mirrors) */
  registryMirrors?: string[];

  /** set by the engine: where docker's image events go (pull, push, tag, untag, delete, import, load, save) */
  events?: EventLog;

  /**
   * docker's LogImageEvent: Actor ID is the image (an ID, or the familiar reference for pull/push), with
   * attribute `name` and the image's labels when it is stored here
   */
  logImage(action: string, id: string, name: string): void {
    let labels: Record<string, string> = {};
    try {
      const rec = this.store.resolve(id);
      const cfg = JSON.parse(new TextDecoder().decode(this.content.readBytes(rec.config.digest))) as ImageConfig;
      labels = cfg.config?.Labels ?? {};
    } catch {
      // an image already deleted (untag, delete) or not readable: the event without its labels
    }
    this.events?.emit("image", action, id, { ...labels, name });
  }

  constructor(
    readonly content: ContentStore,
    readonly store: ImageStore,
    readonly leases: LeaseStore,
    readonly snapshots: SnapshotDriver,
    readonly log: Logger,
  ) {
    // a tar-split layer blob (an imported tarball's) is rebuilt from its committed snapshot's own files
    content.splitSource ??= (name) => {
      try {
        return snapshots.upperDir(name);
      } catch (e) {
        if (e instanceof EngineError && e.kind === "not_found") return undefined;
        throw e;
      }
    };
  }

  /**
   * set by the engine: does a container record own this active snapshot (`container-<id>`)? Unset,
   * the GC never touches container snapshots. With it, a container snapshot no record owns is the
   * leftover of a killed create: creates hold the image-use lock shared from their snapshot until
   * their record exists, and the GC holds it exclusively, so none is in progress while it looks.
   */
  ownsContainerSnapshot?: (key: string) => boolean;

  /** exclusive holds of the image-use lock by this process (re-entrant: rmi's GC runs inside rmi's hold) */
  private exclusiveDepth = 0;

  /**
   * The image-use lock, <content>/use.lock. `create` holds it shared from resolving its image until its
   * record names the image (holdImageRef); rmi, image prune and the GC hold it exclusively while they
   * decide what is unused and remove it. So an image is never deleted between a container's choice of
   * it and the record that makes it "in use". Polled, never blocking (src/image/_lock.ts acquireAsync).
   */
  get useLockPath(): string {
    return join(this.content.dir, "use.lock");
  }

  /** run `fn` holding the image-use lock exclusively */
  async withExclusiveUse<T>(fn: () => Promise<T>): Promise<T> {
    if (this.exclusiveDepth > 0) return fn();
    const l = await acquireAsync(this.useLockPath, "exclusive");
    this.exclusiveDepth++;
    try {
      return await fn();
    } finally {
      this.exclusiveDepth--;
      l.release();
    }
  }

  /**
   * For `create`: first reclaim what dead processes left (the GC every writing command runs), then hold
   * the image-use lock shared until the returned handle is disposed, i.e. until the container record
   * that uses the image is written: `using _ref = await images.holdImageRef();`
   */
  async holdImageRef(): Promise<FileLock> {
    await this.recover();
    return acquireAsync(this.useLockPath, "shared");
  }

  async resolve(ref: string): Promise<ResolvedImage> {
    const rec = this.store.resolve(ref);
    const config = this.store.config(rec.id);
    const chains = chainIds(config.rootfs?.diff_ids ?? []);
    return { id: rec.id, config, topLayer: chains[chains.length - 1], names: this.store.namesOf(rec.id).map(familiarizeKey) };
  }

  /**
   * `berth import`: one streaming pass over the input. The bytes as given are hashed and written to
   * an ingest (they become the layer blob), and at the same time decompressed, hashed again (the
   * diffID) and unpacked into a fresh snapshot. Only when the whole archive has been read and both
   * digests are known does anything become visible: blob commit, snapshot commit, config, manifest,
   * image record, tag — in that order, so a crash in between leaves only unreferenced content that GC
   * and `system check` recognise. On any error the ingest and the snapshot are removed.
   *
   * A plain (uncompressed) tarball FILE is not stored a second time: the ingest gets a tar-split of
   * it instead (tar/split.ts: its headers and padding, each body named by its path in the snapshot),
   * committed after the snapshot, and the layer blob is rebuilt from the two when read (save, push).
   * An archive whose bodies the unpacked files cannot give back (a path twice, whiteouts: the
   * recorder's `unsafe`) is copied into a blob from the file in a second pass. `tarSplit: false`
   * (BERTH_IMPORT_TAR_SPLIT=0) stores every input as it is.
   */
  async importTarball(input: ReadableStream<Uint8Array> | { file: string }, opts: ImportOptions): Promise<Digest> {
    return (await import("./image-import.ts")).importTarball(this, input, opts);
  }

  /** write config + manifest blobs and the image record; tag when asked */
  async storeImage(config: ImageConfig, layers: Descriptor[], opts: { ref?: string; parent?: Digest; lease?: Lease } = {}): Promise<Digest> {
    const configBytes = JSON.stringify(config);
    const cfg = this.content.putBytes(configBytes, undefined, { lease: opts.lease });
    const manifest: Manifest = {
      schemaVersion: 2,
      mediaType: MediaType.OciManifest,
      config: { mediaType: MediaType.OciConfig, digest: cfg.digest, size: cfg.size },
      layers,
    };
    const man = this.content.putBytes(JSON.stringify(manifest), undefined, { lease: opts.lease });
    const id = cfg.digest;
    this.store.put({
      manifest: { mediaType: MediaType.OciManifest, digest: man.digest, size: man.size },
      config: { mediaType: MediaType.OciConfig, digest: cfg.digest, size: cfg.size },
      ...(opts.parent ? { parent: opts.parent } : {}),
    });
    if (opts.ref) this.store.tag(referenceString(parseDockerRef(opts.ref)), id);
    return id;
  }

  /** `tag` (and build's -t): docker's "tag" event names the familiar reference */
  tag(ref: string, id: Digest): void {
    const parsed = parseDockerRef(ref);
    this.store.tag(referenceString(parsed), id);
    this.logImage("tag", id, familiarString(parsed));
  }

  /**
   * Commit the unpacked active snapshot `key` as chain snapshot `chain`, leased first so no GC takes it
   * before the image record names it. When the chain already exists — another process committed the
   * same content first (two pulls of one image) — that is success: our copy is removed and false
   * returned (nothing created). `parent`: `key` was prepared without one (independentLayers).
   */
  async commitChain(key: string, chain: string, labels: Record<string, string>, lease: Lease, parent?: string): Promise<boolean> {
    lease.addSnapshot(chain);
    if (!(await this.hasSnapshot(chain))) {
      try {
        await this.snapshots.commit(chain, key, labels, parent === undefined ? undefined : { parent });
        return true;
      } catch (e) {
        if (!(e instanceof EngineError && e.kind === "already_exists")) throw e;
      }
    }
    await this.snapshots.remove(key);
    return false;
  }

  /** is there a snapshot (committed or active) with this name? */
  async hasSnapshot(name: string): Promise<boolean> {
    try {
      await this.snapshots.stat(name);
      return true;
    } catch (e) {
      if (e instanceof EngineError && e.kind === "not_found") return false;
      throw e;
    }
  }

  /** uncompressed size of an image: the sum of its layers' unpacked sizes */
  async imageSize(config: ImageConfig): Promise<number> {
    let size = 0;
    for (const chain of chainIds(config.rootfs?.diff_ids ?? [])) {
      try {
        const info = await this.snapshots.stat(chain);
        size += info.labels?.["berth.size"] !== undefined ? Number(info.labels["berth.size"]) : (await this.snapshots.usage(chain)).size;
      } catch {} // a missing snapshot (damaged store: `system check` names it) counts as empty
    }
    return size;
  }

  async list(): Promise<ImageSummary[]> {
    const inUse = await this.imagesInUse();
    const out: ImageSummary[] = [];
    for (const rec of this.store.list()) {
      const config = this.store.config(rec.id);
      out.push({
        id: rec.id,
        names: this.store.namesOf(rec.id).map(familiarizeKey),
        created: config.created ?? rec.created ?? "",
        size: await this.imageSize(config),
        containers: inUse.get(rec.id)?.length ?? 0,
      });
    }
    return out.sort((a, b) => (a.created < b.created ? 1 : a.created > b.created ? -1 : 0));
  }

  /**
   * GraphDriver.Data of an image as docker's overlay2 reports it: the top layer's directory as
   * UpperDir, the layers below it as LowerDir (a colon list, nearest first; absent for one layer).
   * vfs and btrfs report none (null), as docker's do; so does an image whose layers are gone (`system
   * check` names it).
   */
  private layerData(config: ImageConfig): Record<string, string> | null {
    const top = chainIds(config.rootfs?.diff_ids ?? []).at(-1);
    if (this.snapshots.name !== "overlay" || !top || !this.snapshots.layerDirs) return null;
    let dirs: string[];
    try {
      dirs = this.snapshots.layerDirs(top);
    } catch (e) {
      if (e instanceof EngineError && e.kind === "not_found") return null;
      throw e;
    }
    const [upper, ...lower] = dirs;
    return { ...(lower.length ? { LowerDir: lower.join(":") } : {}), UpperDir: upper! };
  }

  /** docker-shaped `image inspect` JSON */
  async inspect(ref: string): Promise<Record<string, unknown>> {
    const rec = this.store.resolve(ref);
    const config = this.store.config(rec.id);
    const names = this.store.namesOf(rec.id).map(familiarizeKey);
    return {
      Id: rec.id,
      RepoTags: names.filter((n) => !n.includes("@")),
      RepoDigests: names.filter((n) => n.includes("@")),
      Parent: rec.parent ?? "",
      Comment: config.history?.[config.history.length - 1]?.comment ?? "",
      Created: config.created ?? rec.created ?? "",
      Author: config.author ?? "",
      Config: { ...config.config },
      Architecture: config.architecture,
      ...(config.variant ? { Variant: config.variant } : {}),
      Os: config.os,
      Size: await this.imageSize(config),
      GraphDriver: { Name: this.snapshots.name, Data: this.layerData(config) },
      RootFS: { Type: "layers", Layers: config.rootfs?.diff_ids ?? [] },
      Metadata: { LastTagTime: rec.lastTagTime ?? "0001-01-01T00:00:00Z" },
      Descriptor: { mediaType: rec.manifest.mediaType, digest: rec.manifest.digest, size: rec.manifest.size },
    };
  }

  /**
   * docker's `history`: the config's history, newest first. A step that made a layer shows that
   * layer's unpacked size; a step is named by the ID of the local ancestor image (commit/build parent
   * chain) that ends with it, else `<missing>`, as docker does.
   */
  async history(ref: string): Promise<{ id: string; created: string; createdBy: string; size: number; comment: string }[]> {
    const rec = this.store.resolve(ref);
    const config = this.store.config(rec.id);
    const hist = config.history ?? [];
    const chains = chainIds(config.rootfs?.diff_ids ?? []);
    const idAt = new Map<number, string>();
    const seen = new Set<string>();
    for (let cur: typeof rec | undefined = rec; cur && !seen.has(cur.id); cur = cur.parent ? this.store.get(cur.parent) : undefined) {
      seen.add(cur.id);
      try {
        const n = this.store.config(cur.id).history?.length ?? 0;
        if (!idAt.has(n - 1)) idAt.set(n - 1, cur.id);
      } catch {} // a damaged parent (`system check` names it) gives its history entries no ID (<missing>, as docker)
    }
    const sizes: number[] = [];
    let layer = 0;
    for (const h of hist) {
      let size = 0;
      if (!h.empty_layer && layer < chains.length) {
        try {
          const info = await this.snapshots.stat(chains[layer]!);
          size = info.labels?.["berth.size"] !== undefined ? Number(info.labels["berth.size"]) : (await this.snapshots.usage(chains[layer]!)).size;
        } catch {} // a missing snapshot (damaged store: `system check` names it) counts as empty
        layer++;
      }
      sizes.push(size);
    }
    const out = [];
    for (let i = hist.length - 1; i >= 0; i--) {
      const h = hist[i]!;
      out.push({
        id: idAt.get(i) ?? (i === hist.length - 1 ? rec.id : "<missing>"),
        created: h.created ?? "",
        createdBy: h.created_by ?? "",
        size: sizes[i]!,
        comment: h.comment ?? "",
      });
    }
    return out;
  }

  /**
   * `rmi`: untag the name; delete the image when no name is left. An ID removes the image and every
   * tag of it (docker needs -f when there are several tags). An image used by a container is refused
   * unless forced, and even then only untagged (docker keeps the image for the container).
   */
  async remove(ref: string, opts: { force: boolean; noPrune?: boolean }): Promise<string[]> {
    await this.recover(); // an rmi that only untags collects nothing else
    return this.withExclusiveUse(() => this.removeHeld(ref, opts));
  }

  private async removeHeld(ref: string, opts: { force: boolean; noPrune?: boolean }): Promise<string[]> {
    const out: string[] = [];
    const rec = this.store.resolve(ref);
    const inUseAll = await this.imagesInUse();
    const inUse = inUseAll.get(rec.id) ?? [];
    const names = this.store.namesOf(rec.id);
    let byName: string | undefined;
    try {
      const key = referenceString(parseDockerRef(ref));
      if (names.includes(key)) byName = key;
    } catch {} // an image ID or prefix, not a reference: removed by ID below
    if (byName) {
      if (inUse.length && !opts.force && isSingleReference(names)) {
        throw new EngineError(
          "failed_precondition",
          `conflict: unable to remove repository reference "${ref}" (must force) - container ${inUse[0]!.slice(0, 12)} is using its referenced image ${rec.id.slice(7, 19)}`,
        );
      }
      this.store.untag(byName);
      out.push(`Untagged: ${familiarizeKey(byName)}`);
      this.logImage("untag", rec.id, rec.id);
      let left = this.store.namesOf(rec.id);
      // dockerd: the last tag of a repository takes that repository's digest references with it
      const repo = repositoryOfKey(byName);
      if (!byName.includes("@") && !left.some((n) => !n.includes("@") && repositoryOfKey(n) === repo)) {
        for (const n of left.filter((k) => k.includes("@") && repositoryOfKey(k) === repo)) {
          this.store.untag(n);
          out.push(`Untagged: ${familiarizeKey(n)}`);
          this.logImage("untag", rec.id, rec.id);
        }
        left = this.store.namesOf(rec.id);
      }
      if (left.length || inUse.length) return out;
    } else {
      if (inUse.length) {
        throw new EngineError(
          "failed_precondition",
          `conflict: unable to delete ${rec.id.slice(7, 19)} (${opts.force ? "cannot be forced" : "must be forced"}) - image is being used by running container ${inUse[0]!.slice(0, 12)}`,
        );
      }
      if (names.length > 1 && !opts.force) {
        throw new EngineError(
          "failed_precondition",
          `conflict: unable to delete ${rec.id.slice(7, 19)} (must be forced) - image is referenced in multiple repositories`,
        );
      }
      for (const n of names) {
        this.store.untag(n);
        out.push(`Untagged: ${familiarizeKey(n)}`);
        this.logImage("untag", rec.id, rec.id);
      }
    }
    // dockerd lists each deleted image and then the layers its deletion released, top first (the layer
    // store's release walk); a layer goes with the last deleted image that had it (a parent's layers are
    // its children's too). Which layers went is what the collection below removed
    const layersOf = (id: string) => {
      try {
        return chainIds(this.store.config(id).rootfs?.diff_ids ?? []);
      } catch {
        return []; // a damaged image (config unreadable) names no layers
      }
    };
    const deleted = [{ id: rec.id, chains: layersOf(rec.id) }];
    this.store.delete(rec.id, { force: true });
    this.logImage("delete", rec.id, rec.id);
    // docker (without --no-prune): untagged parents nothing else needs go too (a build's intermediate images)
    if (!opts.noPrune) {
      for (let p = rec.parent; p; ) {
        const parent = this.store.get(p);
        if (!parent || this.store.namesOf(p).length || inUseAll.has(p) || this.store.list().some((r) => r.parent === p)) break;
        deleted.push({ id: p, chains: layersOf(p) });
        this.store.delete(p, { force: true });
        this.logImage("delete", p, p);
        p = parent.parent;
      }
    }
    const released = new Set((await this.collectGarbage()).snapshots);
    deleted.forEach(({ id, chains }, n) => {
      out.push(`Deleted: ${id}`);
      const later = new Set(deleted.slice(n + 1).flatMap((d) => d.chains));
      for (const c of [...chains].reverse()) if (released.has(c) && !later.has(c)) out.push(`Deleted: ${c}`);
    });
    return out;
  }

  /** `image prune`: dangling (untagged) images, or with all=true every image no container uses */
  async prune(
    all: boolean,
    match: (created: string, labels: Record<string, string>) => boolean = () => true,
  ): Promise<{ deleted: string[]; reclaimed: number }> {
    return this.withExclusiveUse(() => this.pruneHeld(all, match));
  }

  private async pruneHeld(
    all: boolean,
    match: (created: string, labels: Record<string, string>) => boolean,
  ): Promise<{ deleted: string[]; reclaimed: number }> {
    const inUse = await this.imagesInUse();
    const deleted: string[] = [];
    let reclaimed = 0;
    // children first: a build's intermediate images are parents (not dangling) until their child goes
    for (let progress = true; progress; ) {
      progress = false;
      const recs = this.store.list();
      const parents = new Set(recs.map((r) => r.parent).filter(Boolean));
      for (const rec of recs) {
        if (inUse.has(rec.id) || parents.has(rec.id)) continue;
        const names = this.store.namesOf(rec.id);
        if (names.length && !all) continue;
        const cfg = this.store.config(rec.id);
        if (!match(cfg.created ?? "", cfg.config?.Labels ?? {})) continue;
        reclaimed += await this.imageSize(cfg);
        for (const n of names) {
          this.store.untag(n);
          deleted.push(`untagged: ${familiarizeKey(n)}`);
        }
        this.store.delete(rec.id, { force: true });
        deleted.push(`deleted: ${rec.id}`);
        progress = true;
      }
    }
    // the GC runs whether or not anything was deleted: dead processes' leftovers go too
    await this.collectGarbage();
    return { deleted, reclaimed };
  }

  /** chain IDs every image needs */
  referencedChains(): Set<string> {
    const keep = new Set<string>();
    for (const rec of this.store.list()) {
      try {
        for (const c of chainIds(this.store.config(rec.id).rootfs?.diff_ids ?? [])) keep.add(c);
      } catch {} // a damaged image (config unreadable: `system check` names it) has no chains to keep
    }
    return keep;
  }

  /**
   * Remove blobs, ingests, leases and snapshots nothing refers to: committed snapshots no image and no
   * live lease holds (children before parents), and the unpack areas (`extract-…`) and leases of dead
   * processes. `allIngests` also removes resumable ingests (a pull's partial layers): `system prune`.
   *
   * Each round lists the snapshots *before* it reads the leases and image records: work leases a
   * snapshot before committing it and writes its image record before dropping its lease, so whatever
   * the listing shows is still held by one of the two when they are read.
   */
  async collectGarbage(extraChains: Iterable<string> = [], opts: { allIngests?: boolean } = {}): Promise<GcReport> {
    return this.withExclusiveUse(async () => {
      const report: GcReport = { blobs: [], freedBytes: 0, ingests: [], leases: [], snapshots: [] };
      const extra = [...extraChains];
      for (let round = 0; ; round++) {
        const infos: { name: string; kind: string; parent?: string }[] = [];
        for await (const s of this.snapshots.walk()) infos.push(s);
        if (round === 0) {
          const { gc, DEFAULT_INGEST_GRACE_MS } = await import("../image/gc.ts");
          const r = gc(
            { content: this.content, images: this.store, leases: this.leases },
            { ingestGraceFor: (ref) => (!opts.allIngests && isResumableIngest(ref) ? DEFAULT_INGEST_GRACE_MS : 0) },
          );
          report.blobs.push(...r.removedBlobs);
          report.freedBytes += r.freedBytes;
          report.ingests.push(...r.removedIngests);
          report.leases.push(...r.removedLeases);
        }
        const keep = this.referencedChains();
        for (const c of extra) keep.add(c);
        // a tar-split's layer is read from its snapshot: kept while the split is (GC drops the split with its digest)
        for (const s of this.content.listSplits()) if (s.snapshot) keep.add(s.snapshot);
        for (const l of this.leases.list()) if (!isLeaseExpired(l)) for (const s of l.snapshots) keep.add(s);
        const parents = new Set(infos.map((s) => s.parent).filter(Boolean));
        const owns = this.ownsContainerSnapshot;
        const deadCreate = (name: string) => owns !== undefined && name.startsWith("container-") && !owns(name);
        const victims = infos.filter((s) =>
          s.kind === "committed" ? !keep.has(s.name) && !parents.has(s.name) : isDeadExtractKey(s.name) || deadCreate(s.name),
        );
        if (!victims.length) break;
        for (const v of victims) {
          await this.snapshots.remove(v.name);
          report.snapshots.push(v.name);
        }
      }
      // directories no record names: the trash of removals killed before their files were gone
      await this.snapshots.cleanup?.();
      return report;
    });
  }

  /** leftovers of dead processes: leases whose owner is gone, their unpack snapshots, unlocked ingests */
  async leftovers(): Promise<Leftover[]> {
    const out: Leftover[] = [];
    for (const l of this.leases.list()) {
      if (isLeaseExpired(l)) out.push({ kind: "lease", name: l.id, detail: l.owner ? `its process ${l.owner.pid} is gone` : "expired" });
    }
    // a create in progress holds the image-use lock shared: only when nobody does is a container
    // snapshot without a record known to be a killed create's
    const probe = FileLock.acquire(this.useLockPath, "exclusive", { wait: false });
    const noCreates = probe !== undefined;
    probe?.release();
    for await (const s of this.snapshots.walk()) {
      if (s.kind === "committed") continue;
      if (isDeadExtractKey(s.name)) out.push({ kind: "snapshot", name: s.name, detail: `unpack area of process ${s.name.split("-")[1]}, which is gone` });
      else if (noCreates && this.ownsContainerSnapshot && s.name.startsWith("container-") && !this.ownsContainerSnapshot(s.name))
        out.push({ kind: "snapshot", name: s.name, detail: "left by a create that did not finish" });
    }
    for (const i of this.content.listIngests()) {
      if (i.locked) continue;
      const resumable = isResumableIngest(i.ref);
      out.push({
        kind: "ingest",
        name: i.ref,
        detail: `${i.size} bytes, last written ${i.updatedAt.toISOString()}${resumable ? "; a retried pull resumes it" : ""}`,
        ...(resumable ? { resumable } : {}),
      });
    }
    return out;
  }

  /**
   * The GC every command that writes runs first: cheap when there is nothing to do (a listing of leases,
   * snapshots and ingests); a full collectGarbage when a dead process left something behind.
   */
  async recover(): Promise<GcReport | undefined> {
    try {
      if (!(await this.leftovers()).some((l) => !l.resumable)) return undefined;
      return await this.collectGarbage();
    } catch (e) {
      // the command's own work matters more: a GC that cannot run (a damaged record, a full disk)
      // is only logged (at debug: the command usually meets the same cause and says so); `system
      // check` names it
      this.log.debug(`reclaiming leftovers of dead processes: ${(e as Error).message}`);
      return undefined;
    }
  }
}

/** the repository of a stored reference key: `docker.io/library/busybox` of `…:latest` or `…@sha256:…` */
function repositoryOfKey(key: string): string {
  const at = key.indexOf("@");
  if (at >= 0) return key.slice(0, at);
  const colon = key.lastIndexOf(":");
  return colon > key.lastIndexOf("/") ? key.slice(0, colon) : key;
}

/** dockerd's isSingleReference: the names are one repository's (at most one tag, and its digests) */
function isSingleReference(keys: string[]): boolean {
  if (keys.length <= 1) return keys.length === 1;
  const tags = keys.filter((k) => !k.includes("@"));
  return tags.length <= 1 && new Set(keys.map(repositoryOfKey)).size === 1;
}
