/**
 * The container record store: one directory per container, names as link(2)-created files (atomic and
 * unique without a global lock), per-container flock for read-modify-write of state.json.
 */
import {
  closeSync,
  existsSync,
  fsyncSync,
  linkSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  unlinkSync,
  writeSync,
  constants,
} from "node:fs";
import { join } from "node:path";
import { EngineError } from "../../lib/errors.ts";
import { atomicWriteJson, replaceFile } from "../../lib/atomic-write.ts";
import { flock, LOCK_EX, LOCK_UN } from "../../ffi/fs.ts";
import { initialState, type ContainerConfigFile, type ContainerStateFile } from "./types.ts";

const ID_RE = /^[0-9a-f]{64}$/;
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
  nameOwner(name: string): string | undefined {
    try {
      const id = readFileSync(join(this.namesDir, name), "utf8").trim();
      return ID_RE.test(id) ? id : undefined;
    } catch {
      return undefined; // ENOENT: nobody holds the name
    }
  }

  /**
   * Reserve `name` for `id`: write a temp file, then link(2) it to names/<name>; link fails with EEXIST
   * when another container holds the name, so two concurrent creates can never both win. A name whose
   * owner's directory is gone (a crash between steps) is reclaimed.
   */
  reserveName(name: string, id: string, durable = true): void {
    // the temp name is unique, so it is written in place (no tmp → rename of its own); its data is made
    // durable before the link (not for `run --rm`: that name dies with the process anyway)
    const tmp = join(this.namesDir, `.tmp-${id}-${crypto.randomUUID()}`);
    const fd = openSync(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | 0o2000000, 0o600);
    try {
      try {
        writeSync(fd, id + "\n");
        if (durable) fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
      for (let attempt = 0; ; attempt++) {
        try {
          linkSync(tmp, join(this.namesDir, name));
          return;
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
          const owner = this.nameOwner(name);
          if (attempt === 0 && owner && !existsSync(join(this.dir(owner), "config.json"))) {
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
    } finally {
      try {
        unlinkSync(tmp);
      } catch {} // a stray .tmp- link only: lookups read names, never .tmp- files
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

  /**
   * The record goes at once: renamed to a tombstone (.gone-<id>-…, which ids() never lists), then
   * deleted. A kill during the recursive delete must not leave a config.json without its state.json
   * (listed by nothing, removable by nothing); a tombstone left by a kill goes with sweepTombstones.
   */
  removeDir(id: string): void {
    const tomb = join(this.root, `${TOMBSTONE}${id}-${crypto.randomUUID().slice(0, 8)}`);
    try {
      renameSync(this.dir(id), tomb);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ENOENT") return; // gone already
      throw e;
    }
    rmSync(tomb, { recursive: true, force: true });
  }

  /** the tombstones of removals killed half-way; returns how many went */
  sweepTombstones(): number {
    let n = 0;
    for (const name of readdirSync(this.root)) {
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
