/**
 * docker's local volumes: a directory per volume under the berth root, mounted into containers as a bind
 * of its _data directory (the runtime sees only bind mounts).
 *
 *   <root>/volumes/<name>/_data       the content (docker's layout: Mountpoint)
 *   <root>/volumes/<name>/meta.json   VolumeRecord
 *   <root>/volumes/.lock              flock: exclusive for rm and prune; shared while a container create
 *                                      puts volumes into its record (whileInUse), so a rm never takes a
 *                                      volume between "created on first use" and "named in config.json"
 *
 * A volume is made whole in .tmp-<name>-<pid> (meta.json fsynced) and renamed into place: two creates of
 * one name race on rename(2) and the loser takes the winner's volume; a crash leaves only a .tmp dir.
 *
 * Which containers use a volume is the container store's knowledge: the service asks `users()`.
 * Anonymous volumes (`-v /ctr`, an image's VOLUME) carry docker's label com.docker.volume.anonymous.
 */
import type { Volume } from "./api/volumes.ts";
import { existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync } from "node:fs";
import { join } from "node:path";
import { EngineError } from "../lib/errors.ts";
import { atomicWriteJson, fsyncDir } from "../lib/atomic-write.ts";
import { newId } from "../lib/ids.ts";
import { FileLock, type LockMode } from "../ffi/index.ts";
import { EventLog } from "./events.ts";

export const ANONYMOUS_LABEL = "com.docker.volume.anonymous";

/** docker's local driver rule (moby volume/local: validName) */
const NAME_RE = /^[a-zA-Z0-9][a-zA-Z0-9_.-]+$/;

export function validateVolumeName(name: string): string {
  if (!NAME_RE.test(name)) {
    throw new EngineError(
      "invalid_argument",
      `create ${name}: "${name}" includes invalid characters for a local volume name, only "[a-zA-Z0-9][a-zA-Z0-9_.-]" are allowed. If you intended to pass a host directory, use absolute path`,
    );
  }
  return name;
}

/** what <root>/volumes/<name>/meta.json holds: docker's volume document (api/volumes.ts) without the usage data */
export type VolumeRecord = Omit<Volume, "UsageData">;

export interface VolumeCreateOptions {
  labels?: Record<string, string>;
  driver?: string;
  options?: Record<string, string>;
}

export const noSuchVolume = (name: string) => new EngineError("not_found", `get ${name}: no such volume`);

export class VolumeService {
  readonly dir: string;
  /** volume name → ids of the containers whose record mounts it */
  /** docker's volume events (create, destroy) */
  private readonly events: EventLog;

  constructor(
    berthRoot: string,
    private readonly users: () => Map<string, string[]>,
  ) {
    this.events = new EventLog(berthRoot);
    this.dir = join(berthRoot, "volumes");
  }

  mountpoint(name: string): string {
    return join(this.dir, name, "_data");
  }

  private lock(mode: LockMode): FileLock {
    mkdirSync(this.dir, { recursive: true, mode: 0o701 });
    return FileLock.hold(join(this.dir, ".lock"), mode);
  }

  /** rm and prune: exclusive */
  private withLock<T>(fn: () => T): T {
    using _ = this.lock("exclusive");
    return fn();
  }

  /**
   * A container create putting volumes into its record: shared, so creates run side by side and no rm or
   * prune runs until fn is done. fn must not call remove/prune (they would wait on this very lock).
   */
  async whileInUse<T>(fn: () => Promise<T>): Promise<T> {
    using _ = this.lock("shared");
    return await fn();
  }

  /** the record, or undefined (a directory without meta.json is a crashed create: not a volume) */
  find(name: string): VolumeRecord | undefined {
    if (!NAME_RE.test(name)) return undefined;
    try {
      return JSON.parse(readFileSync(join(this.dir, name, "meta.json"), "utf8"));
    } catch {
      return undefined; // no meta.json (a crashed create, see above; or no such volume) or a torn one: not a volume
    }
  }

  get(name: string): VolumeRecord {
    const v = this.find(name);
    if (!v) throw noSuchVolume(name);
    return v;
  }

  list(): VolumeRecord[] {
    let names: string[];
    try {
      names = readdirSync(this.dir);
    } catch {
      return []; // ENOENT: no volume created yet
    }
    return names
      .map((n) => this.find(n))
      .filter((v): v is VolumeRecord => !!v)
      .sort((a, b) => a.Name.localeCompare(b.Name));
  }

  /**
   * `volume create` and create-on-first-use: an existing volume of that name is returned as is (docker
   * does the same). `created` tells the caller whether this call made it (for cleanup on failure).
   */
  create(name: string | undefined, o: VolumeCreateOptions = {}): { volume: VolumeRecord; created: boolean } {
    if (o.driver !== undefined && o.driver !== "local")
      throw new EngineError("not_found", `plugin "${o.driver}" not found`, { hint: "berth has the local volume driver only" });
    if (o.options && Object.keys(o.options).length)
      throw new EngineError("not_implemented", `volume driver options (-o) are not supported by berth yet: ${Object.keys(o.options).join(", ")}`);
    const n = name === undefined || name === "" ? newId() : validateVolumeName(name);
    const old = this.find(n);
    if (old) return { volume: old, created: false };
    mkdirSync(this.dir, { recursive: true, mode: 0o701 });
    const vdir = join(this.dir, n);
    const tmp = join(this.dir, `.tmp-${n}-${process.pid}-${Math.random().toString(36).slice(2, 8)}`);
    try {
      mkdirSync(join(tmp, "_data"), { recursive: true, mode: 0o755 });
      const rec: VolumeRecord = {
        CreatedAt: new Date().toISOString().replace(/\.\d+Z$/, "Z"),
        Driver: "local",
        Labels: { ...(o.labels ?? {}) },
        Mountpoint: join(vdir, "_data"),
        Name: n,
        Options: {},
        Scope: "local",
      };
      atomicWriteJson(join(tmp, "meta.json"), rec, 0o600);
      try {
        renameSync(tmp, vdir);
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code !== "EEXIST" && code !== "ENOTEMPTY") throw e;
        // another create of this name won the race
        const won = this.find(n);
        if (won) return { volume: won, created: false };
        throw new EngineError("already_exists", `create ${n}: ${vdir} exists but holds no volume (no meta.json)`, { hint: "remove that directory" });
      }
      fsyncDir(this.dir);
      this.events.emit("volume", "create", n, { driver: "local" });
      return { volume: rec, created: true };
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  }

  /** `volume rm`: refused while a container's record mounts it (docker's wording) */
  remove(name: string): void {
    this.withLock(() => {
      if (!this.find(name)) throw noSuchVolume(name);
      const users = this.users().get(name) ?? [];
      if (users.length) throw new EngineError("failed_precondition", `remove ${name}: volume is in use - [${users.join(", ")}]`);
      this.removeUnlocked(name);
    });
  }

  /** remove without the in-use check (a container's anonymous volume at its own removal) */
  removeUnchecked(name: string, exceptUser?: string): void {
    this.withLock(() => {
      if (!this.find(name)) return;
      const users = (this.users().get(name) ?? []).filter((u) => u !== exceptUser);
      if (users.length) return;
      this.removeUnlocked(name);
    });
  }

  private removeUnlocked(name: string): void {
    const vdir = join(this.dir, name);
    // rename first: a crash half-way leaves a .gone directory, never a volume with half its data
    const gone = join(this.dir, `.gone-${name}-${process.pid}`);
    renameSync(vdir, gone);
    rmSync(gone, { recursive: true, force: true });
    this.events.emit("volume", "destroy", name, { driver: "local" });
  }

  /** `volume prune`: unused volumes (anonymous ones only unless `all`), matching `labels` ("k" or "k=v") */
  prune(o: { all: boolean; labels?: string[] }): { removed: string[]; reclaimed: number } {
    return this.withLock(() => {
      const used = this.users();
      const removed: string[] = [];
      let reclaimed = 0;
      for (const v of this.list()) {
        if ((used.get(v.Name) ?? []).length) continue;
        if (!o.all && !(ANONYMOUS_LABEL in v.Labels)) continue;
        if (!(o.labels ?? []).every((l) => matchLabel(v.Labels, l))) continue;
        reclaimed += this.size(v.Name);
        this.removeUnlocked(v.Name);
        removed.push(v.Name);
      }
      return { removed, reclaimed };
    });
  }

  /** bytes under _data (du's apparent size, hard links counted once) */
  size(name: string): number {
    let total = 0;
    const seen = new Set<string>();
    const walk = (p: string) => {
      let st;
      try {
        st = lstatSync(p);
      } catch {
        return;
      } // removed while walking: it takes no space
      if (st.nlink > 1 && !st.isDirectory()) {
        const k = `${st.dev}:${st.ino}`;
        if (seen.has(k)) return;
        seen.add(k);
      }
      if (st.isDirectory()) {
        for (const e of readdirSync(p)) walk(join(p, e));
      } else total += st.size;
    };
    walk(this.mountpoint(name));
    return total;
  }

  isEmpty(name: string): boolean {
    try {
      return readdirSync(this.mountpoint(name)).length === 0;
    } catch {
      return false; // no _data (removed meanwhile): nothing to copy the image's files into
    }
  }

  exists(name: string): boolean {
    return existsSync(join(this.dir, name, "meta.json"));
  }
}

/** docker's label filter: "k" (present) or "k=v" */
export function matchLabel(labels: Record<string, string>, f: string): boolean {
  const i = f.indexOf("=");
  if (i < 0) return f in labels;
  return labels[f.slice(0, i)] === f.slice(i + 1);
}
