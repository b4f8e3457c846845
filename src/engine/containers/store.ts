/**
 * The container record store: one directory per container, names as symlink(2)-created claims (atomic
 * and unique without a global lock), per-container flock for read-modify-write of state.json.
 */
import {
  closeSync,
  existsSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  renameSync,
  rmSync,
  symlinkSync,
  unlinkSync,
  constants,
} from "node:fs";
import { removeTreeLater } from "../../ffi/background.ts";
import { join } from "node:path";
import { EngineError } from "../../lib/errors.ts";
import { atomicWriteJson, fsyncDir, replaceFile } from "../../lib/atomic-write.ts";
import { flock, LOCK_EX, LOCK_UN } from "../../ffi/fs.ts";
import { initialState, type ContainerConfigFile, type ContainerStateFile } from "./types.ts";

const ID_RE = /^[0-9a-f]{64}$/;
/** a name claim's symlink target: this prefix, then the owner's id in base64url (see nameOwner) */
const NAME_TARGET = "id:";
/** a removed record's directory, renamed before its recursive delete */
const TOMBSTONE = ".gone-";

/** statuses that die with their processes (see writeState) */
const TRANSIENT = new Set<string>(["running", "paused", "creating"]);

/** the Error of a state read from a damaged state.json (see readState) */
export const CORRUPT_STATE = "state.json is unreadable";
export const isCorruptState = (st: ContainerStateFile): boolean => typeof st.Error === "string" && st.Error.startsWith(CORRUPT_STATE);

export class NoSuchContainer extends EngineError {
  constructor(ref: string) {
    super("not_found", `No such container: ${ref}`);
  }
}

export class ContainerStore {
  readonly namesDir: string;
  constructor(readonly root: string) {
    this.namesDir = join(root, "names");
    mkdirSync(this.namesDir, { recursive: true, mode: 0o700 });
  }

  dir(id: string): string {
    return join(this.root, id);
  }

  ids(): string[] {
    let names: string[];
    try {
      names = readdirSync(this.root);
    } catch {
      return []; // ENOENT: no container created yet
    }
    return names.filter((n) => ID_RE.test(n) && existsSync(join(this.root, n, "config.json")));
  }

  readConfig(id: string): ContainerConfigFile {
    let text: string;
    try {
      text = readFileSync(join(this.dir(id), "config.json"), "utf8");
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ENOENT") throw new NoSuchContainer(id);
      throw e;
    }
    try {
      return JSON.parse(text);
    } catch (e) {
      throw new EngineError("internal", `container ${id}: config.json is unreadable: ${(e as Error).message}`);
    }
  }

  /**
   * A new record's config.json, the one write of `create` that is flushed: tmp → rename, then fsync of
   * the file and of its directory. Everything create wrote before (the name claim, the directory, the
   * snapshot's metadata) is unflushed until here: the file's fsync commits the filesystem's journal
   * with all of it in one flush (ext4, data=ordered), and the directory's then finds nothing left to
   * commit. One flush where there were five (issue 13). A power loss between the rename and the fsync
   * can leave an empty config.json next to the `creating` mark: the sweep of half-created records takes
   * it (ops/state.ts). `durable: false` (`run --rm`, a build step): no flush at all.
   */
  writeNewConfig(cfg: ContainerConfigFile, durable: boolean): void {
    const path = join(this.dir(cfg.Id), "config.json");
    replaceFile(path, JSON.stringify(cfg, null, 2) + "\n", 0o600);
    if (!durable) return;
    const fd = openSync(path, constants.O_RDONLY | 0o2000000 /* O_CLOEXEC */);
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    fsyncDir(this.dir(cfg.Id));
  }

  /** `durable: false` for a record that dies with its process anyway (`run --rm`): tmp → rename, no fsync */
  writeConfig(cfg: ContainerConfigFile, durable = true): void {
    const path = join(this.dir(cfg.Id), "config.json");
    if (durable) atomicWriteJson(path, cfg, 0o600);
    else replaceFile(path, JSON.stringify(cfg, null, 2) + "\n", 0o600);
  }

  /**
   * A state.json that cannot be parsed (a damaged disk, a truncated copy) reads as a stopped container
   * whose Error says so (isCorruptState): `ps -a` still lists the others, `rm -f` can remove it, and
   * `system check` names it. One bad record never takes down the whole root.
   *
   * A record without state.json is a container never started: create writes config.json alone, so it
   * makes one file durable, not two (issue 13); the first start writes state.json.
   */
  readState(id: string): ContainerStateFile {
    const path = join(this.dir(id), "state.json");
    let text: string;
    try {
      text = readFileSync(path, "utf8");
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw e;
      if (existsSync(join(this.dir(id), "config.json"))) return initialState();
      throw new NoSuchContainer(id);
    }
    try {
      return JSON.parse(text);
    } catch (e) {
      return { ...initialState(), Status: "stopped", ExitCode: 255, Error: `${CORRUPT_STATE}: ${(e as Error).message}` };
    }
  }

  /**
   * state.json is always replaced atomically (tmp → rename). It is made durable (fsync of the file and
   * the directory) when it records something that must survive a power loss — created, an exit code —
   * and not for the statuses that exist only while processes live (running, paused, creating): after a
   * crash those processes are gone whichever version is on disk, and state() reconciles a stale pid by
   * its start time. That keeps two of the three state writes of `run` off the disk's flush path.
   * `durable: false` also skips it for an exit that is about to be removed (--rm).
   */
  writeState(id: string, st: ContainerStateFile, durable = !TRANSIENT.has(st.Status)): void {
    const path = join(this.dir(id), "state.json");
    if (durable) atomicWriteJson(path, st, 0o600);
    else replaceFile(path, JSON.stringify(st, null, 2) + "\n", 0o600);
  }

  /** ids whose lock this process holds now (withLock is re-entrant: a second flock on a new fd would wait for itself) */
  private readonly held = new Set<string>();

  /**
   * run fn holding the container's exclusive lock (flock on <dir>/lock; released on process death).
   * Re-entrant within this process: fn is synchronous, so nothing else of ours can run while it holds it.
   */
  withLock<T>(id: string, fn: () => T): T {
    if (this.held.has(id)) return fn();
    let fd: number;
    try {
      fd = openSync(join(this.dir(id), "lock"), constants.O_RDWR | constants.O_CREAT | 0o2000000, 0o600);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ENOENT") throw new NoSuchContainer(id);
      throw e;
    }
    try {
      flock(fd, LOCK_EX);
      this.held.add(id);
      return fn();
    } finally {
      this.held.delete(id);
      try {
        flock(fd, LOCK_UN);
      } catch {} // closeSync below releases it anyway
      closeSync(fd);
    }
  }

  async withLockAsync<T>(id: string, fn: () => Promise<T>): Promise<T> {
    const fd = openSync(join(this.dir(id), "lock"), constants.O_RDWR | constants.O_CREAT | 0o2000000, 0o600);
    try {
      flock(fd, LOCK_EX);
      return await fn();
    } finally {
      try {
        flock(fd, LOCK_UN);
      } catch {} // closeSync below releases it anyway
      closeSync(fd);
    }
  }

  /** update state under the lock */
  updateState(id: string, fn: (st: ContainerStateFile) => ContainerStateFile | void, durable?: boolean): ContainerStateFile {
    return this.withLock(id, () => {
      const st = this.readState(id);
      const next = fn(st) ?? st;
      this.writeState(id, next, durable); // undefined: writeState decides by status
      return next;
    });
  }

  /** the id holding `name`, or undefined */
  /**
   * who holds `name`: names/<name> is a symlink whose target is "id:" + the owner's id in base64url (49
   * bytes: short enough for ext4 to keep it in the inode, so the claim is metadata, journaled with the
   * record's flush, and needs no data write of its own); a regular file holding the id is the format
   * of earlier versions, still read
   */
  nameOwner(name: string): string | undefined {
    const path = join(this.namesDir, name);
    let target: string;
    try {
      target = readlinkSync(path);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code !== "EINVAL") return undefined; // ENOENT: nobody holds the name
      try {
        const id = readFileSync(path, "utf8").trim();
        return ID_RE.test(id) ? id : undefined;
      } catch {
        return undefined; // removed meanwhile
      }
    }
    if (!target.startsWith(NAME_TARGET)) return undefined;
    const id = Buffer.from(target.slice(NAME_TARGET.length), "base64url").toString("hex");
    return ID_RE.test(id) ? id : undefined;
  }

  /**
   * Reserve `name` for `id`: symlink(2) names/<name> → "id:<base64url id>" fails with EEXIST when
   * another container holds the name, so two concurrent creates can never both win; one call, no
   * temp file. A name whose owner's directory is gone (a crash between steps) or whose claim cannot be
   * read is reclaimed. Not flushed here: the record's config.json flush takes it along (writeNewConfig);
   * a rename's is flushed with the renamed record.
   */
  reserveName(name: string, id: string): void {
    const target = NAME_TARGET + Buffer.from(id, "hex").toString("base64url");
    for (let attempt = 0; ; attempt++) {
      try {
        symlinkSync(target, join(this.namesDir, name));
        return;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
        const owner = this.nameOwner(name);
        if (attempt === 0 && (!owner || !existsSync(join(this.dir(owner), "config.json")))) {
          try {
            unlinkSync(join(this.namesDir, name));
          } catch {} // removed by a racing reclaim; if it stays, the retry's EEXIST reports the conflict
          continue;
        }
        throw new EngineError(
          "already_exists",
          `Conflict. The container name "/${name}" is already in use by container "${owner ?? "unknown"}". You have to remove (or rename) that container to be able to reuse that name.`,
        );
      }
    }
  }

  releaseName(name: string, id: string): void {
    if (this.nameOwner(name) === id) {
      try {
        unlinkSync(join(this.namesDir, name));
      } catch {} // ENOENT: released already by a racing rm
    }
  }

  /** docker's lookup order: full id, exact name, unique id prefix */
  resolve(ref: string): string {
    const r = ref.replace(/^\//, "");
    if (ID_RE.test(r) && existsSync(join(this.dir(r), "config.json"))) return r;
    const byName = this.nameOwner(r);
    if (byName && existsSync(join(this.dir(byName), "config.json"))) return byName;
    if (/^[0-9a-f]+$/.test(r)) {
      const hits = this.ids().filter((id) => id.startsWith(r));
      if (hits.length === 1) return hits[0]!;
      if (hits.length > 1) throw new EngineError("invalid_argument", `multiple IDs found with provided prefix: ${r}`);
    }
    throw new NoSuchContainer(ref);
  }

  /** the record's config.json goes (removal: from then on the directory is debris, see ops/remove.ts) */
  dropConfig(id: string): void {
    try {
      unlinkSync(join(this.dir(id), "config.json"));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw e;
    }
  }

  /**
   * The record goes at once: renamed to a tombstone (.gone-<id>-…, which ids() never lists), then
   * deleted. A kill during the recursive delete must not leave a config.json without its state.json
   * (listed by nothing, removable by nothing); a tombstone left by a kill goes with sweepTombstones.
   */
  removeDir(id: string): void {
    const tomb = this.bury(id);
    if (tomb) rmSync(tomb, { recursive: true, force: true });
  }

  /**
   * removeDir whose recursive delete runs off this thread where it can (ffi/background.ts: each freed
   * block is a synchronous discard on a filesystem mounted `discard` without a journal): the record is
   * gone when this returns, its files when the promise settles
   */
  removeDirAsync(id: string): Promise<void> {
    const tomb = this.bury(id);
    return tomb ? removeTreeLater(tomb, (p) => rmSync(p, { recursive: true, force: true })) : Promise.resolve();
  }

  /** the record renamed to a tombstone; undefined when it was gone already */
  private bury(id: string): string | undefined {
    const tomb = join(this.root, `${TOMBSTONE}${id}-${crypto.randomUUID().slice(0, 8)}`);
    try {
      renameSync(this.dir(id), tomb);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ENOENT") return undefined; // gone already
      throw e;
    }
    return tomb;
  }

  /** the tombstones of removals killed half-way (`entries`: the directory's listing, when the caller has it); returns how many went */
  sweepTombstones(entries?: string[]): number {
    let n = 0;
    for (const name of entries ?? readdirSync(this.root)) {
      if (!name.startsWith(TOMBSTONE)) continue;
      try {
        rmSync(join(this.root, name), { recursive: true, force: true });
        n++;
      } catch {
        // another process is deleting it too: it goes either way
      }
    }
    return n;
  }
}
