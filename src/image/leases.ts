/**
 * Leases (containerd core/leases): a lease names blobs that unfinished work (a pull, an import, a
 * build step) has written but nothing references yet, so gc keeps them. Stored as
 *
 *   <content>/leases/<id>/lease.json          {id, createdAt, expiresAt?, owner?: {pid, startTime}}
 *   <content>/leases/<id>/resources/<hex>     one empty file per protected blob
 *   <content>/leases/<id>/snapshots/<hex(name)> one empty file per protected snapshot (a chain ID the
 *                                             work committed, or will commit, before its image record)
 *
 * One file per resource makes addResource a single create(2): no read-modify-write, so concurrent adds
 * cannot lose each other. Every mutation runs under the content store lock held shared; gc holds it
 * exclusively, so it sees a lease either without a resource or with it, and a blob committed with
 * `{lease}` is recorded before its rename into blobs/ (see ContentWriter.commit).
 *
 * A lease expires at `expiresAt` or when its owner process is gone. The owner is the pid plus its
 * start time from /proc/<pid>/stat (field 22), as crun checks `process_start_time`: a recycled pid
 * has a different start time, and a zombie counts as gone (proc(5)).
 */
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { EngineError, wrap } from "../lib/errors.ts";
import { atomicWriteJson } from "../lib/atomic-write.ts";
import { isDigest, type Digest } from "../oci/index.ts";
import type { ContentStore, ResourceHolder } from "./content-store.ts";

export interface LeaseOwner {
  pid: number;
  /** /proc/<pid>/stat field 22 (clock ticks since boot), as a decimal string */
  startTime: string;
}

export interface LeaseInfo {
  id: string;
  createdAt: string;
  expiresAt?: string;
  owner?: LeaseOwner;
  resources: Digest[];
  /** snapshot names (chain IDs) the work holds: the engine's snapshot GC keeps them */
  snapshots: string[];
}

export interface CreateLeaseOptions {
  expiresAt?: Date;
  /** tie the lease to this process (default) or let only expiresAt end it (`false`) */
  ownedByProcess?: boolean;
}

const LEASE_ID_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;

/** start time of a live (non-zombie) process, or undefined if there is none */
export function processStartTime(pid: number): string | undefined {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  } catch {
    return undefined; // ENOENT/ESRCH: no such process (any more)
  }
  // comm (field 2) may contain spaces and ')': parse from the last ')' (proc(5))
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const state = fields[0];
  if (state === "Z" || state === "X" || state === "x") return undefined;
  return fields[22 - 3];
}

export function isOwnerAlive(owner: LeaseOwner): boolean {
  return processStartTime(owner.pid) === owner.startTime;
}

export function isLeaseExpired(info: Pick<LeaseInfo, "expiresAt" | "owner">, now = new Date()): boolean {
  if (info.expiresAt !== undefined && Date.parse(info.expiresAt) <= now.getTime()) return true;
  if (info.owner !== undefined && !isOwnerAlive(info.owner)) return true;
  return false;
}

/** a handle on one lease; `using lease = leases.createLease()` deletes it at scope exit */
export class Lease implements ResourceHolder, Disposable {
  constructor(
    private readonly store: LeaseStore,
    readonly id: string,
  ) {}

  addResource(digest: Digest): void {
    this.store.addResource(this.id, digest);
  }

  /** @internal the caller already holds the content store lock */
  addResourceLocked(digest: Digest): void {
    this.store.addResourceLocked(this.id, digest);
  }

  /** protect snapshot `name`: call before committing it (or before relying on it being there) */
  addSnapshot(name: string): void {
    this.store.addSnapshot(this.id, name);
  }

  delete(): boolean {
    return this.store.deleteLease(this.id);
  }

  [Symbol.dispose](): void {
    this.delete();
  }
}

export class LeaseStore {
  readonly dir: string;

  constructor(readonly content: ContentStore) {
    this.dir = join(content.dir, "leases");
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
  }

  private leaseDir(id: string): string {
    if (!LEASE_ID_RE.test(id)) throw new EngineError("invalid_argument", `invalid lease id ${JSON.stringify(id)}`);
    return join(this.dir, id);
  }

  createLease(id: string = `lease-${crypto.randomUUID()}`, opts: CreateLeaseOptions = {}): Lease {
    const dir = this.leaseDir(id);
    const info: Omit<LeaseInfo, "resources" | "snapshots"> = { id, createdAt: new Date().toISOString() };
    if (opts.expiresAt) info.expiresAt = opts.expiresAt.toISOString();
    if (opts.ownedByProcess !== false) {
      const startTime = processStartTime(process.pid);
      if (startTime === undefined) throw new EngineError("internal", `create lease ${id}: cannot read /proc/${process.pid}/stat`);
      info.owner = { pid: process.pid, startTime };
    }
    // build the lease beside its final name and rename it in, so gc never sees half a lease
    const tmp = join(this.dir, `.tmp-${id}-${process.pid}-${Math.random().toString(36).slice(2, 8)}`);
    using _ = this.content.lock("shared");
    try {
      mkdirSync(join(tmp, "resources"), { recursive: true, mode: 0o700 });
      mkdirSync(join(tmp, "snapshots"), { mode: 0o700 });
      atomicWriteJson(join(tmp, "lease.json"), info, 0o600);
    } catch (e) {
      rmSync(tmp, { recursive: true, force: true });
      throw wrap(`create lease ${id}`, e);
    }
    try {
      renameSync(tmp, dir);
    } catch (e) {
      rmSync(tmp, { recursive: true, force: true });
      const code = (e as NodeJS.ErrnoException).code;
      if (code === "ENOTEMPTY" || code === "EEXIST") throw new EngineError("already_exists", `lease ${id}: already exists`);
      throw wrap(`create lease ${id}`, e);
    }
    return new Lease(this, id);
  }

  /** a handle for an existing lease (not_found if absent) */
  lease(id: string): Lease {
    if (!statSync(this.leaseDir(id), { throwIfNoEntry: false })) throw new EngineError("not_found", `lease ${id}: not found`);
    return new Lease(this, id);
  }

  addResource(lease: string | Lease, digest: Digest): void {
    const id = typeof lease === "string" ? lease : lease.id;
    using _ = this.content.lock("shared");
    this.addResourceLocked(id, digest);
  }

  /** @internal caller holds the content store lock (shared or exclusive) */
  addResourceLocked(id: string, digest: Digest): void {
    if (!isDigest(digest)) throw new EngineError("invalid_argument", `lease ${id}: invalid digest ${JSON.stringify(digest)}`);
    const dir = this.leaseDir(id);
    try {
      writeFileSync(join(dir, "resources", digest.slice(7)), "", { mode: 0o600 });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ENOENT") throw new EngineError("not_found", `lease ${id}: not found`);
      throw wrap(`lease ${id}: add ${digest}`, e);
    }
  }

  addSnapshot(lease: string | Lease, name: string): void {
    const id = typeof lease === "string" ? lease : lease.id;
    if (name === "" || name.length > 120) throw new EngineError("invalid_argument", `lease ${id}: invalid snapshot name ${JSON.stringify(name)}`);
    const dir = this.leaseDir(id);
    using _ = this.content.lock("shared");
    try {
      writeFileSync(join(dir, "snapshots", Buffer.from(name).toString("hex")), "", { mode: 0o600 });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ENOENT") throw new EngineError("not_found", `lease ${id}: not found`);
      throw wrap(`lease ${id}: add snapshot ${name}`, e);
    }
  }

  deleteLease(id: string): boolean {
    const dir = this.leaseDir(id);
    using _ = this.content.lock("shared");
    return this.deleteLocked(dir);
  }

  /** @internal */
  deleteLocked(dir: string): boolean {
    if (!statSync(dir, { throwIfNoEntry: false })) return false;
    // rename first so a crash mid-removal never leaves a lease.json-less lease under a live name
    const doomed = join(this.dir, `.del-${process.pid}-${Math.random().toString(36).slice(2, 8)}`);
    try {
      renameSync(dir, doomed);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ENOENT") return false;
      throw wrap(`delete lease ${dir}`, e);
    }
    rmSync(doomed, { recursive: true, force: true });
    return true;
  }

  get(id: string): LeaseInfo | undefined {
    const dir = this.leaseDir(id);
    let meta: Omit<LeaseInfo, "resources" | "snapshots">;
    try {
      meta = JSON.parse(readFileSync(join(dir, "lease.json"), "utf8"));
    } catch {
      return undefined; // no such lease (removed, or not written yet), as the caller's undefined means
    }
    let resources: Digest[] = [];
    try {
      resources = readdirSync(join(dir, "resources"))
        .filter((n) => /^[0-9a-f]{64}$/.test(n))
        .sort()
        .map((n) => `sha256:${n}` as Digest);
    } catch {
      // a lease without resources/ protects no blob
    }
    let snapshots: string[] = [];
    try {
      snapshots = readdirSync(join(dir, "snapshots"))
        .filter((n) => /^(?:[0-9a-f]{2})+$/.test(n))
        .map((n) => Buffer.from(n, "hex").toString())
        .sort();
    } catch {
      // leases written before snapshots were leased have no snapshots/
    }
    return { ...meta, resources, snapshots };
  }

  list(): LeaseInfo[] {
    const out: LeaseInfo[] = [];
    for (const name of readdirSync(this.dir)) {
      if (!LEASE_ID_RE.test(name)) continue;
      const info = this.get(name);
      if (info) out.push(info);
    }
    return out.sort((a, b) => a.id.localeCompare(b.id));
  }

  /** @internal for gc: leftovers of crashed create/delete (dot-prefixed) */
  strayEntries(): string[] {
    return readdirSync(this.dir)
      .filter((n) => n.startsWith(".tmp-") || n.startsWith(".del-"))
      .map((n) => join(this.dir, n));
  }
}
