/**
 * The storage-driver contract (containerd's Snapshotter vocabulary). A *key* names an active
 * (writable) snapshot, a *name* a committed (read-only) one, a *parent* the committed snapshot it is
 * based on. Drivers own directories under their root and hand back Mount[]; they never mount a
 * container's rootfs themselves (the runtime applies the mounts) and they decide no policy.
 *
 * Errors (EngineError kinds): not_found for an unknown key/name/parent, already_exists when a key or
 * name is taken, failed_precondition when removing a snapshot that still has children, and
 * invalid_argument for a hostile layer (path escapes) in applyLayer.
 */
import type { Mount } from "../oci/index.ts";
import type { TarRecord } from "../tar/types.ts";
import type { BodyFile } from "../ffi/body-writer.ts";

/**
 * The names of the registered drivers (registry.ts). Each driver file adds its own name with
 * `declare module "./driver.ts" { interface StorageDrivers { name: DriverClass } }` next to its
 * registerDriver call, so the union grows with the registrations and nothing lists it by hand.
 */
// biome-ignore lint/suspicious/noEmptyInterface: an interface (not a type) so each driver file can merge its entry into it
export interface StorageDrivers {}
export type DriverName = keyof StorageDrivers & string;

export type SnapshotKind = "active" | "committed" | "view";

export interface SnapshotInfo {
  /** key for active snapshots, name for committed ones */
  name: string;
  kind: SnapshotKind;
  parent?: string;
  created: string;
  labels?: Record<string, string>;
}

export interface Usage {
  /** allocated bytes (du) */
  size: number;
  inodes: number;
  /**
   * the bytes as docker counts a container's SizeRw (moby pkg/directory.Size): regular files' sizes and
   * symlinks' target lengths, a hardlinked inode once, directories and whiteouts 0; so a container
   * that wrote nothing is 0B, not the blocks of the directories its mountpoints sit in
   */
  apparent: number;
}

export interface ApplyStats {
  /** bytes of the uncompressed tar stream consumed */
  size: number;
  /**
   * the layer's size as docker reports it (moby pkg/directory.Size over the unpacked layer, which
   * `history`, `images` and `system df` show): regular files' bytes and symlinks' target lengths,
   * a hard link's file once, directories and whiteouts 0
   */
  diskSize: number;
  entries: number;
}

export interface SnapshotDriver {
  readonly name: DriverName;
  /**
   * a new writable snapshot on top of `parent` (or empty); returns the mounts that show it.
   * `durable: false` skips the fsyncs of the metadata update (a snapshot whose owner dies with its
   * process anyway: a `run --rm` container's); a kill -9 still finds the metadata whole (tmp → rename).
   * `spread: true` (for a snapshot about to receive a whole layer) places its directory apart from the
   * others where the filesystem can (ext2/3/4: FS_TOPDIR_FL on the parent, see _base.ts). Why: ext4
   * without a journal does not reuse an inode freed in the last minutes, and every new inode's search
   * reads past each such inode of its group first, so files made where a removed image's files were cost
   * one buffer-cache lookup per inode freed there (`tar -xf` of the four bench layers on a fresh fs:
   * 0.37 s, then 0.72 and 1.15 s after one and two removals; 0.39–0.41 s each when spread)
   */
  prepare(key: string, parent?: string, labels?: Record<string, string>, o?: { durable?: boolean; spread?: boolean }): Promise<Mount[]>;
  /** a read-only view of `parent` */
  view(key: string, parent?: string): Promise<Mount[]>;
  /** the mounts for an existing active or view snapshot */
  mounts(key: string): Promise<Mount[]>;
  /**
   * overlay only: the fs/ directories of the committed snapshot `name` and its ancestors, nearest first
   * (an image's GraphDriver.Data, as docker's overlay2 reports it); not_found for an unknown name
   */
  layerDirs?(name: string): string[];
  /**
   * turn the active snapshot `key` into the committed snapshot `name` (key disappears). `o.parent`
   * (only where `independentLayers`): `key` was prepared with no parent and holds one layer's own
   * files; the committed snapshot gets `o.parent` (committed) as its parent
   */
  commit(name: string, key: string, labels?: Record<string, string>, o?: { parent?: string }): Promise<void>;
  /**
   * A snapshot's fs/ holds only its own layer's files (overlay's upper dirs), so a layer unpacks the
   * same without its parent: pull unpacks every layer at once into parentless snapshots and sets each
   * parent at commit (`commit(…, { parent })`). False (vfs, btrfs): fs/ is the whole tree.
   */
  readonly independentLayers?: boolean;
  /** remove a snapshot; refuses committed ones that still have children (`durable` as for prepare) */
  remove(keyOrName: string, o?: { durable?: boolean }): Promise<void>;
  /**
   * delete what a crash left in the driver's directory and no record names: the trash of a removal
   * killed before its files were gone, a directory made for a snapshot never recorded
   */
  cleanup?(): Promise<void>;
  stat(keyOrName: string): Promise<SnapshotInfo>;
  walk(): AsyncIterable<SnapshotInfo>;
  usage(keyOrName: string): Promise<Usage>;
  /**
   * Unpack a layer (OCI whiteouts `.wh.NAME`, `.wh..wh..opq`) into the active snapshot `key`, directly
   * into its upper/diff directory without mounting, converting whiteouts to the driver's native form.
   * Never writes outside the snapshot (`..`, absolute names, symlink and hardlink escapes are refused
   * or contained). Keeps owners, modes, mtimes and xattrs. `sync` (default true): end with a syncfs(2);
   * `writeback` (default: as `sync`): start each large file's writeback when written (apply.ts);
   * `bodies`: regular files' bodies written through that queue (apply.ts ApplyOptions.bodies).
   */
  applyLayer(
    key: string,
    records: AsyncIterable<TarRecord>,
    o?: { sync?: boolean; writeback?: boolean; bodies?: BodyQueue; writeBuf?: number },
  ): Promise<ApplyStats>;
  /** syncfs(2) of the filesystem that holds `key`: what applyLayer(…, { sync: false }) left unsynced */
  sync?(key: string): void;
  /**
   * The changes of active snapshot `key` against its parent as tar records in OCI layer form
   * (whiteouts as `.wh.` files), for commit/build/export of diffs.
   */
  diff(key: string): AsyncIterable<TarRecord>;
  /**
   * docker-diff style change list of active snapshot `key` against its parent (A added, C changed, D
   * deleted; absolute paths, pre-order; a directory is C when anything inside it changed). Optional.
   */
  changes?(key: string): Promise<{ kind: "A" | "C" | "D"; path: string }[]>;
  /** directory holding the snapshot's own files (upper dir for overlay), for `cp`, diff and tests */
  upperDir(key: string): string;
  /** driver-specific rows for `info`'s Storage Driver section (docker's DriverStatus), after Backing Filesystem */
  status?(): [string, string][];
}

/** a driver as the registry creates it: one that can list changes */
export type Driver = SnapshotDriver & { changes(key: string): Promise<{ kind: "A" | "C" | "D"; path: string }[]> };

/** where applyLayer sends regular files (apply.ts ApplyOptions.bodies); its errors name the entry they were for */
export interface BodyQueue {
  /** queue `open(path, O_WRONLY|O_CREAT|O_EXCL|O_NOFOLLOW|O_CLOEXEC, mode)`, whose file is then fd -1; false: the caller must open it */
  create(path: string, mode: number, name: string): boolean;
  /** queue a piece of the body of `fd` (kept referenced, and intact by the caller, until written) */
  write(fd: number, chunk: Uint8Array, name: string): void;
  /** queue the copy of `length` bytes at `offset` of the source file `src` into `fd`, in the kernel (TarRecord.bodyAt) */
  copy(fd: number, src: number, offset: number, length: number, name: string): void;
  /** the queue is long (its thread is the slow side): the caller has time to open files itself rather than create() them */
  behind?(): boolean;
  /** queue link(2) of `target` (a file created through this queue) to `path`; false: the caller must link it (after a drain) */
  link?(target: string, path: string, name: string): boolean;
  /** queue what the file gets after its body (read at once: the caller may reuse `f`; null: nothing), then its close */
  finish(fd: number, name: string, f: BodyFile | null): void;
  /** wait until everything queued is done; throws the first failure */
  drain(): void;
}

/** a file's attributes for BodyQueue.finish (the writer thread's own record: ffi/body-writer.ts) */
export type { BodyFile };
