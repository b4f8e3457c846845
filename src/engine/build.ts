/**
 * What `berth build` needs from the engine (src/build plans and orchestrates; this file acts):
 *
 *  - `runStep`: a RUN instruction in a real container created and supervised by ContainerService, the
 *    same path as `berth run` (isolation, user, env and workdir rules), its changes committed through
 *    commitLayer (src/engine/commit.ts) and the container removed;
 *  - `fsStep`: COPY/ADD — a snapshot prepared on the parent's top layer, mounted privately on the host,
 *    the planned entries written into it with every path resolved inside the mounted root (symlinks
 *    never lead out), then committed the same way;
 *  - `configStep`: metadata-only steps (ENV, CMD, …) as an image with an `empty_layer` history entry;
 *  - `cacheFromSource`/`restoreCached`: `--cache-from` images as cache sources, docker's
 *    image/cache.ImageCache (a step hits when a source's history continues the parent's history with
 *    the step's created_by, over the same layers);
 *  - the build cache: `<root>/builder/cache/<sha256 of key>` holds the image ID a step produced. The
 *    key (computed by src/build) names the parent image, the instruction with its build args, and for
 *    COPY/ADD a checksum of the copied content and metadata (not mtimes). Entries are written tmp →
 *    rename (no fsync: see cachePut), survive restarts, and are trusted only while their image exists.
 *
 * Every commit here is a batch commit (commitLayer's `batch`): the build recovers dead processes'
 * leftovers once, at its start (Builder), not once per step.
 *
 * Intermediate images are real image records with `parent` set, as docker's legacy builder keeps them;
 * `pruneCache` deletes the cache entries and the intermediate images nothing else needs.
 */
import {
  closeSync,
  constants,
  lstatSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  readSync,
  renameSync,
  rmSync,
  statSync,
  symlinkSync,
  unlinkSync,
  writeFileSync,
  writeSync,
  chmodSync,
} from "node:fs";
import { join, posix } from "node:path";
import { EngineError } from "../lib/errors.ts";
import { MediaType, type ContainerConfig, type Descriptor, type Digest, type ImageConfig, type Manifest } from "../oci/index.ts";
import { lchown, lutimes } from "../ffi/fs.ts";
import { sha256Digest } from "../image/index.ts";
import { openMaybeCompressed, readTar } from "../tar/index.ts";
import { applyLayer } from "../cow/apply.ts";
import { commitLayer } from "./commit.ts";
import { chainIds, extractKey, type ImageService } from "./images.ts";
import type { ContainerService } from "./containers/index.ts";
import { resolveInRoot, withContainerRoot } from "./containers/container-root.ts";
import { resolveUser, volatileOverlay } from "./containers/oci-spec.ts";
import { readRootfsFile } from "./containers/rootfs-files.ts";

/** one thing COPY/ADD writes, planned by src/build */
export interface CopyEntry {
  /** path under the destination (slash-separated, no leading slash); "" = the destination itself */
  rel: string;
  type: "file" | "dir" | "symlink";
  /** host file to copy (files) */
  src?: string;
  /** literal content (heredocs, downloads kept in memory are not used: see src) */
  data?: Uint8Array;
  mode: number;
  /** seconds since the epoch */
  mtime: number;
  linkname?: string;
}

export interface CopyPlan {
  /** absolute destination in the image */
  dest: string;
  /** a single file copied to a destination without a trailing slash: the file is `dest` itself,
   * unless `dest` is an existing directory */
  singleFile?: string;
  entries: CopyEntry[];
  /** --chown as written (resolved against the image's /etc/passwd and /etc/group) */
  chown?: string;
  /** --chmod in octal */
  chmod?: number;
  /** local archives ADD unpacks into dest (host paths) */
  archives?: string[];
  /** awaited between entries and every MiB copied: lets the caller's event loop run and cancel (throw) */
  pace?: () => Promise<void>;
}

export interface RunStepOptions {
  base: Digest;
  argv: string[];
  /** extra environment (build args not shadowed by ENV) */
  env: string[];
  user?: string;
  workdir?: string;
  network?: string;
  /** --add-host entries (host:ip) for the container's /etc/hosts */
  addHost?: string[];
  /** the image config the step's image gets (the stage config, not the container's) */
  config: ContainerConfig;
  createdBy: string;
  author?: string;
  stdout(b: Uint8Array): void;
  stderr(b: Uint8Array): void;
  onContainer?(id: string): void;
  /** the container's process runs (a kill before this point finds nothing to signal) */
  onStarted?(): void;
}

export class BuildSupport {
  readonly cacheDir: string;
  readonly scratchDir: string;

  constructor(
    readonly images: ImageService,
    readonly containers: ContainerService,
    readonly root: string,
  ) {
    this.cacheDir = join(root, "cache");
    this.scratchDir = join(root, "tmp");
  }

  // ---------------------------------------------------------------- cache

  private cachePath(key: string): string {
    return join(this.cacheDir, `${sha256Digest(key).slice(7)}.json`);
  }

  /** the image a step with this key produced before, if it still exists */
  cacheGet(key: string): Digest | undefined {
    let id: Digest;
    try {
      id = (JSON.parse(readFileSync(this.cachePath(key), "utf8")) as { id: Digest }).id;
    } catch {
      return undefined; // no entry (ENOENT) or a torn one: a miss
    }
    try {
      this.images.store.config(id);
      return id;
    } catch {
      return undefined; // the image it named was removed: a miss
    }
  }

  /**
   * tmp → rename without fsync, unlike the stores: an entry is only a hint. One lost in a crash is a
   * cache miss, one torn is unparseable (a miss), and one naming a vanished image is ignored; the
   * fsyncs would be ~10% of a cold build's time (strace: two per step).
   */
  cachePut(key: string, id: Digest): void {
    mkdirSync(this.cacheDir, { recursive: true, mode: 0o700 });
    const path = this.cachePath(key);
    const tmp = `${path}.${process.pid}.tmp`;
    writeFileSync(tmp, JSON.stringify({ id, created: new Date().toISOString() }), { mode: 0o600 });
    renameSync(tmp, path);
  }

  /**
   * the build cache's entries, one per image a cached step produced (while it exists): its own layer's
   * size, when it was made and last written to the cache, how many keys name it, and whether anything
   * still needs it (a tag, or a child image); `system df` sums these, `system df -v` lists them
   */
  async cacheEntries(): Promise<{ id: Digest; size: number; created: string; lastUsed: Date; keys: number; inUse: boolean }[]> {
    let files: string[] = [];
    try {
      files = readdirSync(this.cacheDir).filter((f) => f.endsWith(".json"));
    } catch {
      // no build yet: no cache directory, no entries
    }
    const recs = this.images.store.list();
    const parents = new Set(recs.map((r) => r.parent).filter(Boolean));
    const byId = new Map<Digest, { id: Digest; size: number; created: string; lastUsed: Date; keys: number; inUse: boolean }>();
    for (const f of files) {
      let id: Digest;
      let mtime: Date;
      try {
        id = (JSON.parse(readFileSync(join(this.cacheDir, f), "utf8")) as { id: Digest }).id;
        mtime = statSync(join(this.cacheDir, f)).mtime;
      } catch {
        // torn or removed meanwhile (prune): a miss, as cacheGet treats it
        continue;
      }
      const seen = byId.get(id);
      if (seen) {
        seen.keys++;
        if (mtime > seen.lastUsed) seen.lastUsed = mtime;
        continue;
      }
      const rec = this.images.store.get(id);
      if (!rec) continue;
      let own = 0;
      const diffIds = this.images.store.config(id).rootfs?.diff_ids ?? [];
      const parentLen = rec.parent ? (this.images.store.config(rec.parent).rootfs?.diff_ids.length ?? 0) : 0;
      if (diffIds.length > parentLen) {
        try {
          own = Number((await this.images.snapshots.stat(chainIds(diffIds).at(-1)!)).labels?.["berth.size"] ?? 0);
        } catch {
          // the layer's snapshot is gone (a damaged store, `system check` reports it): counted as 0
        }
      }
      const inUse = parents.has(id) || this.images.store.namesOf(id).length > 0;
      byId.set(id, { id, size: own, created: this.images.store.config(id).created ?? rec.created ?? "", lastUsed: mtime, keys: 1, inUse });
    }
    return [...byId.values()];
  }

  /**
   * `system df`'s Build Cache row: cache entries whose image still exists; size = the layers those images
   * added; reclaimable = what `builder prune` would free now (untagged leaves)
   */
  async cacheUsage(): Promise<{ total: number; active: number; size: number; reclaimable: number }> {
    const entries = await this.cacheEntries();
    return {
      total: entries.length,
      active: entries.filter((e) => e.inUse).length,
      size: entries.reduce((a, e) => a + e.size, 0),
      reclaimable: entries.filter((e) => !e.inUse).reduce((a, e) => a + e.size, 0),
    };
  }

  /**
   * `builder prune`: drop every cache entry, then the intermediate images they named that are untagged,
   * unused by containers and parent of no other image (repeated up the chain).
   */
  async pruneCache(): Promise<{ deleted: string[]; reclaimed: number }> {
    let files: string[] = [];
    try {
      files = readdirSync(this.cacheDir).filter((f) => f.endsWith(".json"));
    } catch {} // no build yet: no cache directory, no entries
    const candidates = new Set<Digest>();
    for (const f of files) {
      try {
        candidates.add((JSON.parse(readFileSync(join(this.cacheDir, f), "utf8")) as { id: Digest }).id);
      } catch {} // a torn entry names no image; it is removed below all the same
      try {
        unlinkSync(join(this.cacheDir, f));
      } catch {} // removed by a concurrent prune
    }
    const inUse = await this.images.imagesInUse();
    const deleted: string[] = [];
    let reclaimed = 0;
    for (;;) {
      const recs = this.images.store.list();
      const parents = new Set(recs.map((r) => r.parent).filter(Boolean));
      const victims = recs.filter((r) => candidates.has(r.id) && !parents.has(r.id) && !inUse.has(r.id) && this.images.store.namesOf(r.id).length === 0);
      if (!victims.length) break;
      for (const v of victims) {
        const cfg = this.images.store.config(v.id);
        const diffIds = cfg.rootfs?.diff_ids ?? [];
        const parentCfg = v.parent ? this.images.store.config(v.parent) : undefined;
        if (diffIds.length > (parentCfg?.rootfs?.diff_ids.length ?? 0)) {
          try {
            reclaimed += Number((await this.images.snapshots.stat(chainIds(diffIds).at(-1)!)).labels?.["berth.size"] ?? 0);
          } catch {} // the layer's snapshot is gone (a damaged store, `system check` reports it): counted as 0
        }
        this.images.store.delete(v.id, { force: true });
        candidates.delete(v.id);
        deleted.push(v.id);
      }
    }
    if (deleted.length) await this.images.collectGarbage();
    return { deleted, reclaimed };
  }

  // ---------------------------------------------------------------- --cache-from

  /**
   * docker's ImageCache.GetCache for its sources (moby image/cache/cache.go): the first of `sources`
   * whose history starts with the parent's history (entry for entry) and whose layers start with the
   * parent's layers, and whose next history entry was created by `createdBy`
   */
  cacheFromSource(sources: Digest[], parent: Digest | undefined, createdBy: string): Digest | undefined {
    const p = parent ? this.images.store.config(parent) : undefined;
    const ph = p?.history ?? [],
      pd = p?.rootfs?.diff_ids ?? [];
    for (const t of sources) {
      const tc = this.images.store.config(t);
      const th = tc.history ?? [],
        td = tc.rootfs?.diff_ids ?? [];
      if (th.length === 0 || ph.length >= th.length || pd.length > td.length) continue;
      if (!ph.every((h, i) => JSON.stringify(h) === JSON.stringify(th[i])) || !pd.every((d, i) => d === td[i])) continue;
      if (th[ph.length]!.created_by === createdBy) return t;
    }
    return undefined;
  }

  /**
   * the image a --cache-from hit stands for (moby's restoreCachedImage): the source itself when the
   * step is its last, else a new image of the parent plus the source's next history entry (and its
   * layer, unless the entry is an empty layer) with the step's config
   */
  async restoreCached(parent: Digest | undefined, target: Digest, config: ContainerConfig): Promise<Digest> {
    const tc = this.images.store.config(target);
    const p = parent ? this.images.store.config(parent) : undefined;
    const ph = p?.history ?? [],
      pd = p?.rootfs?.diff_ids ?? [];
    const th = tc.history!;
    if (th.length - 1 === ph.length) return target;
    const entry = th[ph.length]!;
    const diffIds = entry.empty_layer ? pd : [...pd, tc.rootfs.diff_ids[pd.length]!];
    const targetLayers = this.images.content.readJson<Manifest>(this.images.store.get(target)!.manifest.digest).layers;
    const layers: Descriptor[] = targetLayers.slice(0, diffIds.length).map((l) => ({
      ...l,
      mediaType:
        l.mediaType === MediaType.DockerLayerGzip
          ? MediaType.OciLayerGzip
          : l.mediaType === "application/vnd.docker.image.rootfs.diff.tar"
            ? MediaType.OciLayer
            : l.mediaType,
    }));
    const cfg: ImageConfig = {
      architecture: tc.architecture,
      os: tc.os,
      ...(entry.created ? { created: entry.created } : {}),
      ...(tc.author ? { author: tc.author } : {}),
      config: structuredClone(config),
      rootfs: { type: "layers", diff_ids: diffIds },
      history: [...ph, entry],
    };
    return this.images.storeImage(cfg, layers, parent ? { parent } : {});
  }

  // ---------------------------------------------------------------- steps

  /** an image with `config` on top of `base` and no new layer */
  async configStep(base: Digest | undefined, config: ContainerConfig, createdBy: string, author?: string, platform?: ImageConfig): Promise<Digest> {
    if (!base) {
      // FROM scratch followed by metadata only: an image with no layers
      const now = new Date().toISOString();
      const cfg: ImageConfig = {
        ...(platform ? { architecture: platform.architecture, os: platform.os } : (await import("../oci/index.ts")).hostPlatform()),
        created: now,
        ...(author ? { author } : {}),
        config: structuredClone(config),
        rootfs: { type: "layers", diff_ids: [] },
        history: [{ created: now, created_by: createdBy, empty_layer: true }],
      };
      return this.images.storeImage(cfg, []);
    }
    const res = await commitLayer(this.images, { key: "", base, config, history: { created_by: createdBy }, author, layer: false, batch: true });
    return res.id;
  }

  /** RUN: a container through the normal create/supervise path; its changes → a layer */
  async runStep(o: RunStepOptions): Promise<{ exitCode: number; id?: Digest }> {
    // the step's own argv, no entrypoint ([""]), its output on the build's sinks (attached)
    const { Id: id } = await this.containers.create(
      {
        Image: o.base,
        Entrypoint: [""],
        Cmd: o.argv,
        Env: o.env,
        AttachStdout: true,
        AttachStderr: true,
        ...(o.user ? { User: o.user } : {}),
        ...(o.workdir ? { WorkingDir: o.workdir } : {}),
        HostConfig: {
          RestartPolicy: { Name: "no", MaximumRetryCount: 0 },
          ...(o.network ? { NetworkMode: o.network } : {}),
          ...(o.addHost?.length ? { ExtraHosts: o.addHost } : {}),
        },
      },
      { ephemeral: true },
    );
    o.onContainer?.(id);
    try {
      const info = await this.containers.supervise(id, { local: { stdout: o.stdout, stderr: o.stderr }, onStarted: () => o.onStarted?.() });
      if (info.exitCode !== 0) return { exitCode: info.exitCode };
      const key = this.containers.store.readConfig(id).Berth.SnapshotKey;
      const res = await commitLayer(this.images, {
        key,
        base: o.base,
        config: o.config,
        history: { created_by: o.createdBy },
        author: o.author,
        compression: "none",
        batch: true,
      });
      return { exitCode: 0, id: res.id };
    } finally {
      await this.containers.removeNow(id).catch((e) => this.containers.log.warn(`build: remove step container ${id.slice(0, 12)}: ${(e as Error).message}`));
    }
  }

  /**
   * The snapshot's mounts with overlay's `volatile` option: the unmount then skips overlay's sync of the
   * whole upper filesystem (measured 5–280 ms on a busy machine). Safe because these snapshots are never
   * mounted again: they are read by the diff, committed through a re-unpacked copy, and removed.
   */
  private async volatileMounts(key: string) {
    return volatileOverlay(await this.images.snapshots.mounts(key));
  }

  /** the mounted root filesystem of image `id` (read it only) for COPY --from */
  async withImageRoot<T>(id: Digest, fn: (root: string) => Promise<T>): Promise<T> {
    const cfg = this.images.store.config(id);
    const top = chainIds(cfg.rootfs?.diff_ids ?? []).at(-1);
    const key = extractKey();
    await this.images.snapshots.prepare(key, top);
    try {
      return await withContainerRoot({ pid: 0, mounts: () => this.volatileMounts(key), scratch: join(this.scratchDir, key) }, fn);
    } finally {
      await this.images.snapshots.remove(key).catch(() => {}); // a leftover extract snapshot is the GC's once this process is gone
    }
  }

  /** COPY/ADD: `plan` written into a snapshot on top of `base`, committed as a layer */
  async fsStep(base: Digest | undefined, plan: CopyPlan, config: ContainerConfig, createdBy: string, author?: string): Promise<Digest> {
    const top = base ? chainIds(this.images.store.config(base).rootfs?.diff_ids ?? []).at(-1) : undefined;
    const key = extractKey();
    await this.images.snapshots.prepare(key, top);
    try {
      const changed = await withContainerRoot({ pid: 0, mounts: () => this.volatileMounts(key), scratch: join(this.scratchDir, key) }, async (root) => {
        return writePlan(root, plan);
      });
      // docker's commit of an empty change (WORKDIR of an existing directory) adds no layer
      if (!changed) return this.configStep(base, config, createdBy, author);
      const res = await commitLayer(this.images, { key, base, config, history: { created_by: createdBy }, author, compression: "none", batch: true });
      return res.id;
    } finally {
      await this.images.snapshots.remove(key).catch(() => {}); // a leftover extract snapshot is the GC's once this process is gone
    }
  }

  /** a build context sent as a tar (stdin): unpacked into `dir` with the layer applier's safety rules */
  async extractContext(source: ReadableStream<Uint8Array>, dir: string): Promise<void> {
    const { stream } = await openMaybeCompressed(source);
    // the docker CLI's contexts may stop in the last entry's padding (readTar's eofInPadding)
    await applyLayer(dir, readTar(stream, { eofInPadding: true }), { whiteouts: "delete", sync: false });
  }
}

const isRoot = process.getuid?.() === 0;

/** mkdir -p of container path `p` inside root; directories we create get uid/gid; returns the host path */
function mkdirInRoot(root: string, p: string, owner?: { uid: number; gid: number }, created?: { n: number }): string {
  const parts = posix
    .normalize("/" + p)
    .split("/")
    .filter(Boolean);
  let cur = "/";
  for (const c of parts) {
    cur = posix.join(cur, c);
    const host = resolveInRoot(root, cur, true);
    const st = lstatSync(host, { throwIfNoEntry: false });
    if (!st) {
      mkdirSync(host, 0o755);
      if (created) created.n++;
      if (owner && isRoot) lchown(host, owner.uid, owner.gid);
    } else if (!st.isDirectory()) {
      throw new EngineError("failed_precondition", `mkdir ${cur}: not a directory`);
    }
  }
  return resolveInRoot(root, p, true);
}

/** copy a file's bytes, a pause point after each MiB */
function* copyFileBody(src: string, dst: string, mode: number): Generator<void> {
  const inFd = openSync(src, constants.O_RDONLY | constants.O_NOFOLLOW);
  try {
    const outFd = openSync(dst, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, mode & 0o777);
    try {
      const buf = Buffer.allocUnsafe(1 << 20);
      for (;;) {
        const n = readSync(inFd, buf, 0, buf.length, null);
        if (n <= 0) break;
        let off = 0;
        while (off < n) off += writeSync(outFd, buf, off, n - off);
        yield;
      }
    } finally {
      closeSync(outFd);
    }
  } finally {
    closeSync(inFd);
  }
}

/** write a planned COPY/ADD (or a WORKDIR's mkdir) into the mounted root; false when nothing changed */
async function writePlan(root: string, plan: CopyPlan): Promise<boolean> {
  let owner: { uid: number; gid: number } | undefined;
  if (plan.chown) {
    const db = [{ type: "bind", source: root, target: "/", options: [] }];
    const u = resolveUser(plan.chown, { passwd: readRootfsFile(db, "/etc/passwd"), group: readRootfsFile(db, "/etc/group") });
    // docker: a user without a group (name or number) gets the same number as its GID
    owner = { uid: u.uid, gid: plan.chown.includes(":") ? u.gid : u.uid };
  }
  const uid = owner?.uid ?? 0,
    gid = owner?.gid ?? 0;
  let destDir = plan.dest;
  let single: string | undefined;
  if (plan.singleFile !== undefined) {
    const host = resolveInRoot(root, plan.dest, true);
    const st = lstatSync(host, { throwIfNoEntry: false });
    if (!st?.isDirectory()) {
      destDir = posix.dirname(plan.dest);
      single = posix.basename(plan.dest);
    }
  }
  const created = { n: 0 };
  const destExisted = !!lstatSync(resolveInRoot(root, destDir, true), { throwIfNoEntry: false });
  mkdirInRoot(root, destDir, owner, created);
  const dirTimes: [string, number][] = [];
  for (const e of plan.entries) {
    await plan.pace?.();
    const rel = single !== undefined && e.rel === plan.singleFile ? single : e.rel;
    const inPath = rel === "" ? destDir : posix.join(destDir, rel);
    if (e.type === "dir") {
      const host = mkdirInRoot(root, inPath, owner);
      // an existing destination (`COPY . /`, `COPY dir /usr/local/`) keeps its owner and mode
      if (rel === "" && destExisted) continue;
      const mode = plan.chmod ?? e.mode;
      chmodSync(host, mode & 0o7777);
      if (isRoot) lchown(host, uid, gid);
      dirTimes.push([host, e.mtime]);
      continue;
    }
    const parent = mkdirInRoot(root, posix.dirname(inPath), owner);
    const target = join(parent, posix.basename(inPath));
    const st = lstatSync(target, { throwIfNoEntry: false });
    if (st) {
      if (st.isDirectory()) rmSync(target, { recursive: true, force: true });
      else unlinkSync(target);
    }
    if (e.type === "symlink") {
      symlinkSync(e.linkname ?? "", target);
    } else if (e.data) {
      const fd = openSync(target, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
      try {
        let off = 0;
        while (off < e.data.length) off += writeSync(fd, e.data, off, e.data.length - off);
      } finally {
        closeSync(fd);
      }
      chmodSync(target, (plan.chmod ?? e.mode) & 0o7777);
    } else {
      for (const _ of copyFileBody(e.src!, target, e.mode)) await plan.pace?.();
      chmodSync(target, (plan.chmod ?? e.mode) & 0o7777);
    }
    if (isRoot) lchown(target, uid, gid);
    try {
      lutimes(target, [e.mtime, 0], [e.mtime, 0]);
    } catch {} // times are best effort (as cp does): a failure leaves the time of the copy
  }
  for (const a of plan.archives ?? []) {
    const base = resolveInRoot(root, destDir, true);
    const { stream } = await openMaybeCompressed(Bun.file(a).stream());
    await applyLayer(base, readTar(stream), { whiteouts: "delete", sync: false });
  }
  for (const [d, t] of dirTimes.reverse())
    try {
      lutimes(d, [t, 0], [t, 0]);
    } catch {} // times are best effort (as cp does): a failure leaves the time of the copy
  return created.n > 0 || plan.entries.length > 0 || (plan.archives?.length ?? 0) > 0;
}
