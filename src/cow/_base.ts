/**
 * What the overlay, vfs and btrfs drivers share: the metadata file, the cross-process lock, the snapshot
 * directories, and the lifecycle rules (containerd's storage.MetaStore + snapshotter semantics), and the
 * layer work over those directories (containerd's Applier and Comparer): applyLayer unpacks into fs/,
 * diff and changes read fs/ back, in the form `whiteouts` names. A driver supplies only its lifecycle
 * hooks: populate (what prepare/view put in a new fs/), mountsOf, and where it differs, makeDirs,
 * sealCommitted (commit), destroy (remove), usage, changedDirs.
 *
 * Layout under the driver root:
 *   lock                 flock(2) target: every metadata read-modify-write holds LOCK_EX, so several berth
 *                        processes can prepare/commit/remove concurrently
 *   metadata.json        {version, next, snapshots: {key|name: {id, kind, parent?, created, labels?}}},
 *                        replaced atomically (tmp → fsync → rename), so readers need no lock
 *   snapshots/<id>/fs    the snapshot's own files (overlay: upperdir / diff; btrfs: a subvolume)
 *   snapshots/<id>/work  overlay workdir
 * Ids are small decimal integers so that `lowerdir=` strings stay short (about 35 bytes per layer for
 * /var/lib/berth/overlay: ~110 layers fit in a 4 KiB page; deeper stacks go through `lowerdir+`).
 * remove() renames the directory to snapshots/rm-<id> under the lock and deletes it afterwards, so a
 * crash leaves garbage that cleanup() collects (the engine's GC and its sweep of dead removals call it),
 * never a half-deleted live snapshot.
 * A spread snapshot (prepare's `spread`) is made as snapshots/new-<id>-<random> and renamed to <id>, all
 * under the lock: a new-* directory seen while holding the lock is a crash's leftover.
 */
import { closeSync, constants, mkdirSync, openSync, readdirSync, readFileSync, renameSync, lstatSync } from "node:fs";
import type { Mount } from "../oci/index.ts";
import type { TarRecord } from "../tar/types.ts";
import type { ApplyStats, BodyQueue, DriverName, SnapshotDriver, SnapshotInfo, SnapshotKind, Usage } from "./driver.ts";
import { EngineError } from "../lib/errors.ts";
import { atomicWriteJson, replaceFile } from "../lib/atomic-write.ts";
import { flock, LOCK_EX } from "../ffi/fs.ts";
import { addDirFlags, FS_TOPDIR_FL, syncfs } from "../ffi/cow-fs.ts";
// the unpacker and the differ load on first use: a container's snapshot is prepared and removed without them
import type { WhiteoutMode } from "./apply.ts";
import { removeTree } from "./remove-tree.ts";
import { removeTreeLater } from "../ffi/background.ts";
import type { Change } from "./diff.ts";

export interface SnapshotRecord {
  id: number;
  kind: SnapshotKind;
  parent?: string;
  created: string;
  labels?: Record<string, string>;
}

interface Metadata {
  version: 1;
  next: number;
  snapshots: Record<string, SnapshotRecord>;
}

/** a spread snapshot's directory before its rename to `<id>` (create) */
const NEW_DIR = /^new-\d+-[0-9a-f]+$/;

/** the metadata write's ENOSPC (lib/atomic-write.ts rethrows the fs error as it is) */
function isNoSpace(e: unknown): boolean {
  return (e as NodeJS.ErrnoException)?.code === "ENOSPC";
}

export abstract class BaseDriver implements SnapshotDriver {
  abstract readonly name: DriverName;
  /**
   * What fs/ holds, which decides how layers land in it and how it is read back:
   *   "overlay"  only the snapshot's own changes (an upper dir): whiteouts become 0/0 devices and opaque
   *              xattrs; diffs read fs/ alone (overlayDiff)
   *   "delete"   the snapshot's whole tree: whiteouts delete; diffs compare fs/ with the parent's (treeDiff)
   */
  protected abstract readonly whiteouts: WhiteoutMode;

  constructor(readonly root: string) {
    if (!root.startsWith("/")) throw new EngineError("invalid_argument", `snapshot root ${JSON.stringify(root)}: must be an absolute path`);
    // the paths end up in overlay's comma/colon-separated option string
    if (/[,:\\\0]/.test(root)) throw new EngineError("invalid_argument", `snapshot root ${JSON.stringify(root)}: must not contain ',', ':' or '\\'`);
    mkdirSync(`${root}/snapshots`, { recursive: true, mode: 0o700 });
  }

  // ---- metadata -------------------------------------------------------------------------------

  protected readMeta(): Metadata {
    let text: string;
    try {
      text = readFileSync(`${this.root}/metadata.json`, "utf8");
    } catch (e) {
      if ((e as { code?: string }).code === "ENOENT") return { version: 1, next: 1, snapshots: {} };
      throw e;
    }
    try {
      const meta = JSON.parse(text) as Metadata;
      if (meta === null || typeof meta !== "object" || typeof meta.snapshots !== "object" || meta.snapshots === null) throw new Error("no snapshots table");
      return meta;
    } catch (e) {
      // one line naming the file, not a parser's stack (issue 15 item 7)
      throw new EngineError("internal", `snapshot metadata ${this.root}/metadata.json is unreadable: ${(e as Error).message}`);
    }
  }

  /** run `fn` with the metadata under the exclusive lock; the result of fn is written back when it
   * returns `true` as `dirty` (made durable unless `durable` is false: tmp → rename either way) */
  protected locked<T>(fn: (meta: Metadata) => { value: T; dirty: boolean }, durable = true): T {
    const fd = openSync(`${this.root}/lock`, constants.O_RDWR | constants.O_CREAT | 0o2000000, 0o600);
    try {
      flock(fd, LOCK_EX);
      const meta = this.readMeta();
      const { value, dirty } = fn(meta);
      if (dirty && durable) atomicWriteJson(`${this.root}/metadata.json`, meta, 0o600);
      else if (dirty) replaceFile(`${this.root}/metadata.json`, JSON.stringify(meta, null, 2) + "\n", 0o600);
      return value;
    } finally {
      closeSync(fd); // releases the flock
    }
  }

  protected dir(id: number): string {
    return `${this.root}/snapshots/${id}`;
  }

  /** snapshots/ carries FS_TOPDIR_FL (undefined: not tried yet by this process) */
  private topDir: boolean | undefined;

  /**
   * Whether a new snapshot directory can be placed apart from the others: on ext2/3/4 the Orlov
   * allocator places each directory made in an FS_TOPDIR_FL directory (as in the root directory) in
   * a flex group with above-average free inodes and blocks and the fewest directories, starting its
   * search at a hash of the new name; everywhere else the flag is refused and nothing changes.
   */
  private canSpread(): boolean {
    if (this.topDir === undefined) {
      try {
        addDirFlags(`${this.root}/snapshots`, FS_TOPDIR_FL);
        this.topDir = true;
      } catch {
        this.topDir = false; // a placement hint only: tmpfs, xfs, btrfs refuse the flag, and the plain mkdir serves
      }
    }
    return this.topDir;
  }

  protected get(meta: Metadata, key: string): SnapshotRecord {
    const rec = meta.snapshots[key];
    if (!rec) throw new EngineError("not_found", `snapshot ${JSON.stringify(key)}: not found`);
    return rec;
  }

  /** ids of `parent` and its ancestors, nearest first */
  protected chain(meta: Metadata, parent: string | undefined): number[] {
    const ids: number[] = [];
    for (let p = parent; p !== undefined; p = meta.snapshots[p]?.parent) {
      const rec = meta.snapshots[p];
      if (!rec) throw new EngineError("internal", `snapshot metadata: missing ancestor ${JSON.stringify(p)}`);
      ids.push(rec.id);
    }
    return ids;
  }

  // ---- driver-specific ------------------------------------------------------------------------

  /** fill a new snapshot's fs/ from its parent chain (vfs copies; overlay has nothing to do; btrfs
   * snapshots the parent's subvolume) */
  protected abstract populate(id: number, chain: number[], kind: SnapshotKind): Promise<void>;

  /** the empty fs/ and work/ of a new snapshot directory `d` (btrfs makes fs/ in populate instead) */
  protected makeDirs(d: string): void {
    mkdirSync(`${d}/fs`, 0o755);
    mkdirSync(`${d}/work`, 0o700);
  }

  /** delete a snapshot directory (removed, trashed or orphaned) and everything in it */
  protected destroy(d: string): void {
    removeTree(d);
  }

  /**
   * destroy() of a removed snapshot's trash directory, off this thread where it can (ffi/background.ts:
   * the shim's thread deletes the tree while the caller's thread goes on: an `rm` releases the name and
   * the record meanwhile; each rmdir of a snapshot's ~7 directories waits for a discard here). What it
   * cannot delete, the careful walk does. A kill meanwhile leaves rm-<id>, which cleanup() deletes (the
   * next create's sweep of the dead remover's record calls it, and so does the GC).
   */
  protected async destroyAsync(d: string): Promise<void> {
    await removeTreeLater(d, (p) => this.destroy(p));
  }

  /** called under the lock when active snapshot `id` becomes committed, before the metadata is written
   * (btrfs makes the subvolume read-only) */
  protected sealCommitted(_id: number): void {}
  protected abstract mountsOf(rec: SnapshotRecord, chain: number[]): Mount[];

  /** for "delete" drivers: the directories of `upper` that can differ from `lower` (its parent's fs/),
   * as a predicate for the tree walk; undefined walks everything (btrfs knows better from its B-tree) */
  protected changedDirs(_upper: string, _lower: string): ((rel: string) => boolean) | undefined {
    return undefined;
  }

  // ---- lifecycle ------------------------------------------------------------------------------

  prepare(key: string, parent?: string, labels?: Record<string, string>, o: { durable?: boolean; spread?: boolean } = {}): Promise<Mount[]> {
    return this.create("active", key, parent, labels, o.durable, o.spread);
  }

  view(key: string, parent?: string): Promise<Mount[]> {
    return this.create("view", key, parent);
  }

  private async create(kind: SnapshotKind, key: string, parent?: string, labels?: Record<string, string>, durable = true, spread = false): Promise<Mount[]> {
    if (!key) throw new EngineError("invalid_argument", "snapshot key: must not be empty");
    const { rec, chain } = this.locked((meta) => {
      if (meta.snapshots[key]) throw new EngineError("already_exists", `snapshot ${JSON.stringify(key)}: already exists`);
      if (parent !== undefined) {
        const p = meta.snapshots[parent];
        if (!p) throw new EngineError("not_found", `parent snapshot ${JSON.stringify(parent)}: not found`);
        if (p.kind !== "committed") throw new EngineError("failed_precondition", `parent snapshot ${JSON.stringify(parent)}: is not committed`);
      }
      const rec: SnapshotRecord = { id: meta.next++, kind, created: new Date().toISOString() };
      if (parent !== undefined) rec.parent = parent;
      if (labels && Object.keys(labels).length) rec.labels = { ...labels };
      const d = this.dir(rec.id);
      this.destroy(d); // leftovers of a crash between mkdir and the metadata write
      // every new-* directory is made and renamed under this lock: one seen now is a crash's
      if (spread) for (const n of readdirSync(`${this.root}/snapshots`)) if (NEW_DIR.test(n)) this.destroy(`${this.root}/snapshots/${n}`);
      if (spread && this.canSpread()) {
        // the directory is placed by the hash of the name it is made with: the same `<id>` in every
        // fresh root would land where the last root's were, so a random name, then the rename
        const made = `${this.root}/snapshots/new-${rec.id}-${Buffer.from(crypto.getRandomValues(new Uint8Array(8))).toString("hex")}`;
        mkdirSync(made, 0o700);
        this.makeDirs(made);
        renameSync(made, d);
      } else {
        mkdirSync(d, 0o700);
        this.makeDirs(d);
      }
      meta.snapshots[key] = rec;
      return { value: { rec, chain: this.chain(meta, parent) }, dirty: true };
    }, durable);
    try {
      await this.populate(rec.id, chain, kind);
    } catch (e) {
      await this.remove(key).catch(() => {}); // the populate error is rethrown; a snapshot left behind is an orphan that `system check --repair` removes
      throw e;
    }
    return this.mountsOf(rec, chain);
  }

  async mounts(key: string): Promise<Mount[]> {
    const meta = this.readMeta();
    const rec = this.get(meta, key);
    if (rec.kind === "committed") throw new EngineError("failed_precondition", `snapshot ${JSON.stringify(key)}: is committed; use view() to see it`);
    return this.mountsOf(rec, this.chain(meta, rec.parent));
  }

  layerDirs(name: string): string[] {
    const meta = this.readMeta();
    const rec = this.get(meta, name);
    return [rec.id, ...this.chain(meta, rec.parent)].map((id) => `${this.dir(id)}/fs`);
  }

  get independentLayers(): boolean {
    return this.whiteouts === "overlay";
  }

  async commit(name: string, key: string, labels?: Record<string, string>, o: { parent?: string } = {}): Promise<void> {
    this.locked((meta) => {
      const rec = this.get(meta, key);
      if (rec.kind !== "active") throw new EngineError("failed_precondition", `snapshot ${JSON.stringify(key)}: is not active`);
      if (meta.snapshots[name]) throw new EngineError("already_exists", `snapshot ${JSON.stringify(name)}: already exists`);
      const parent = o.parent;
      if (parent !== undefined) {
        if (!this.independentLayers)
          throw new EngineError("failed_precondition", `snapshot ${JSON.stringify(key)}: the ${this.name} driver cannot set a parent at commit`);
        if (rec.parent !== undefined) throw new EngineError("failed_precondition", `snapshot ${JSON.stringify(key)}: has a parent already`);
        const p = meta.snapshots[parent];
        if (!p) throw new EngineError("not_found", `parent snapshot ${JSON.stringify(parent)}: not found`);
        if (p.kind !== "committed") throw new EngineError("failed_precondition", `parent snapshot ${JSON.stringify(parent)}: is not committed`);
      }
      this.sealCommitted(rec.id);
      delete meta.snapshots[key];
      const merged = { ...rec.labels, ...labels };
      meta.snapshots[name] = {
        ...rec,
        ...(parent !== undefined ? { parent } : {}),
        kind: "committed",
        ...(Object.keys(merged).length ? { labels: merged } : {}),
      };
      return { value: undefined, dirty: true };
    });
  }

  async remove(keyOrName: string, o: { durable?: boolean } = {}): Promise<void> {
    let moved: string | undefined;
    const unrecord = () =>
      this.locked((meta) => {
        const rec = this.get(meta, keyOrName);
        if (rec.kind === "committed") {
          const child = Object.entries(meta.snapshots).find(([, r]) => r.parent === keyOrName);
          if (child) throw new EngineError("failed_precondition", `snapshot ${JSON.stringify(keyOrName)}: has children (${JSON.stringify(child[0])})`);
        }
        delete meta.snapshots[keyOrName];
        const trash = `${this.root}/snapshots/rm-${rec.id}`;
        try {
          renameSync(this.dir(rec.id), trash);
        } catch (e) {
          if ((e as { code?: string }).code !== "ENOENT") throw e;
          return { value: undefined, dirty: true };
        }
        moved = trash;
        return { value: trash, dirty: true };
      }, o.durable ?? true);
    let trash: string | undefined;
    try {
      trash = unrecord();
    } catch (e) {
      // a full disk (often filled by the very unpack being undone): the metadata could not be written
      // while the snapshot's files still take the space. Free them first, then write it again (the
      // record is still there; its directory is gone now)
      if (!moved || !isNoSpace(e)) throw e;
      this.destroy(moved);
      trash = unrecord();
    }
    if (trash) await this.destroyAsync(trash);
  }

  /** delete directories no metadata record points at (crash leftovers) */
  async cleanup(): Promise<void> {
    const ids = new Set(Object.values(this.readMeta().snapshots).map((r) => String(r.id)));
    for (const d of readdirSync(`${this.root}/snapshots`)) {
      if (d.startsWith("rm-")) this.destroy(`${this.root}/snapshots/${d}`);
    }
    this.locked((meta) => {
      const live = new Set(Object.values(meta.snapshots).map((r) => String(r.id)));
      for (const d of readdirSync(`${this.root}/snapshots`)) {
        const orphan = !live.has(d) && !ids.has(d) && /^\d+$/.test(d) && Number(d) < meta.next;
        // a spread create makes and renames its new-* directory under this lock: one seen now is a crash's
        if (orphan || NEW_DIR.test(d)) this.destroy(`${this.root}/snapshots/${d}`);
      }
      return { value: undefined, dirty: false };
    });
  }

  async stat(keyOrName: string): Promise<SnapshotInfo> {
    return this.info(keyOrName, this.get(this.readMeta(), keyOrName));
  }

  private info(name: string, rec: SnapshotRecord): SnapshotInfo {
    const i: SnapshotInfo = { name, kind: rec.kind, created: rec.created };
    if (rec.parent !== undefined) i.parent = rec.parent;
    if (rec.labels) i.labels = { ...rec.labels };
    return i;
  }

  async *walk(): AsyncIterable<SnapshotInfo> {
    const meta = this.readMeta();
    for (const [name, rec] of Object.entries(meta.snapshots).sort((a, b) => a[1].id - b[1].id)) yield this.info(name, rec);
  }

  /** du-style: allocated bytes (st_blocks × 512) and inodes of the snapshot's own fs/, symlinks not
   * followed, each hardlinked inode counted once */
  async usage(keyOrName: string): Promise<Usage> {
    const rec = this.get(this.readMeta(), keyOrName);
    return diskUsage(`${this.dir(rec.id)}/fs`);
  }

  async applyLayer(
    key: string,
    records: AsyncIterable<TarRecord>,
    o: { sync?: boolean; writeback?: boolean; bodies?: BodyQueue; writeBuf?: number } = {},
  ): Promise<ApplyStats> {
    const rec = this.get(this.readMeta(), key);
    if (rec.kind !== "active") throw new EngineError("failed_precondition", `snapshot ${JSON.stringify(key)}: is not active`);
    const { applyLayer } = await import("./apply.ts");
    return applyLayer(`${this.dir(rec.id)}/fs`, records, {
      whiteouts: this.whiteouts,
      sync: o.sync,
      writeback: o.writeback,
      bodies: o.bodies,
      writeBuf: o.writeBuf,
    });
  }

  sync(key: string): void {
    const fd = openSync(this.upperDir(key), constants.O_RDONLY | constants.O_DIRECTORY | 0o2000000);
    try {
      syncfs(fd);
    } finally {
      closeSync(fd);
    }
  }

  /** the changes of active snapshot `key` as an OCI layer (SnapshotDriver.diff) */
  diff(key: string): AsyncIterable<TarRecord> {
    const { upper, lowers } = this.lowerDirs(key);
    const overlay = this.whiteouts === "overlay";
    const changed = overlay || lowers[0] === undefined ? undefined : this.changedDirs(upper, lowers[0]);
    return (async function* () {
      const { overlayDiff, treeDiff } = await import("./diff.ts");
      yield* overlay ? overlayDiff(upper) : treeDiff(lowers[0], upper, changed);
    })();
  }

  /** docker-diff's change list of active snapshot `key` (SnapshotDriver.changes) */
  async changes(key: string): Promise<Change[]> {
    const { upper, lowers } = this.lowerDirs(key);
    const { overlayChanges, treeChanges } = await import("./diff.ts");
    if (this.whiteouts === "overlay") return overlayChanges(upper, lowers);
    return treeChanges(lowers[0], upper, lowers[0] === undefined ? undefined : this.changedDirs(upper, lowers[0]));
  }

  upperDir(key: string): string {
    return `${this.dir(this.get(this.readMeta(), key).id)}/fs`;
  }

  /** fs/ directories of `key`'s parent chain, nearest first */
  protected lowerDirs(key: string): { upper: string; lowers: string[] } {
    const meta = this.readMeta();
    const rec = this.get(meta, key);
    return { upper: `${this.dir(rec.id)}/fs`, lowers: this.chain(meta, rec.parent).map((id) => `${this.dir(id)}/fs`) };
  }
}

/**
 * Drivers whose snapshot directory holds the snapshot's whole tree (vfs: a copy, btrfs: a subvolume
 * snapshot): whiteouts delete, mounts are binds of fs/, and diffs compare the tree with the parent's.
 */
export abstract class WholeTreeDriver extends BaseDriver {
  protected readonly whiteouts = "delete" as const;

  protected mountsOf(rec: SnapshotRecord): Mount[] {
    return [{ type: "bind", source: `${this.dir(rec.id)}/fs`, target: "/", options: ["rbind", rec.kind === "active" ? "rw" : "ro"] }];
  }
}

export function diskUsage(dir: string): Usage {
  const seen = new Set<string>();
  let size = 0,
    inodes = 0,
    apparent = 0;
  const visit = (p: string) => {
    const st = lstatSync(p, { bigint: true });
    if (st.nlink > 1n) {
      const k = `${st.dev}:${st.ino}`;
      if (seen.has(k)) return;
      seen.add(k);
    }
    inodes++;
    size += Number(st.blocks) * 512;
    if (st.isDirectory()) for (const c of readdirSync(p)) visit(`${p}/${c}`);
    else apparent += Number(st.size);
  };
  visit(dir);
  return { size, inodes, apparent };
}
