/**
 * Network records on disk: one JSON file per network, `<root>/network/<name>.json`, each written
 * atomically (tmp → fsync → rename). Every read-modify-write runs under one exclusive flock on
 * `<root>/network/.lock`, so concurrent `berth run`s never hand out the same address and never pick the
 * same subnet for two networks. The lock is per open file description (flock(2)): callers must not nest
 * `withLock` in one process — they would deadlock on themselves.
 */
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, unlinkSync, constants } from "node:fs";
import { join } from "node:path";
import { EngineError } from "../lib/errors.ts";
import { atomicWriteJson, fsyncDir, replaceFile } from "../lib/atomic-write.ts";
import { flock, LOCK_EX, LOCK_UN } from "../ffi/index.ts";
import type { PortBinding } from "./ports.ts";
import { newId } from "../lib/ids.ts";

/** published ports of one container; `target` is the address the DNAT points at once connected */
export interface PortReservation {
  bindings: PortBinding[];
  target?: string;
}

export interface EndpointRecord {
  containerId: string;
  /** docker's EndpointID (64 hex); records from before it had none: endpointId() derives one */
  id?: string;
  /** host end of the veth pair, attached to the bridge */
  hostVeth: string;
  /** interface name inside the container */
  ifName: string;
  mac: string;
  /** names the embedded DNS answers for on this network: container name, --network-alias, short id */
  names?: string[];
}

/** a predefined network's id and creation time (RFC 3339) */
export interface PredefinedIdentity {
  id: string;
  created: string;
}

export interface NetworkRecord {
  name: string;
  id: string;
  /** the registered network driver (driver.ts) that makes it: "bridge" */
  driver: string;
  /** the network's host device (bridge: the Linux bridge) */
  bridge: string;
  /** "172.17.0.0/16" */
  subnet: string;
  gateway: string;
  /** no NAT, no default route out (docker's --internal) */
  internal: boolean;
  mtu: number;
  createdAt: string;
  /** docker's network labels (compose's project and network names) */
  labels?: Record<string, string>;
  /** docker's --attachable: kept and shown (every berth network takes `network connect`) */
  attachable?: boolean;
  /** allocated addresses → who holds them */
  endpoints: Record<string, EndpointRecord>;
  /**
   * host ends of veth pairs whose container has exited, left for the kernel: a pair goes with the
   * container's network namespace when its last process dies (cleanup_net), where deleting it here
   * cost the exiting `run` 7–20 ms of RTNL and RCU waits. `at`: when (ms since the epoch). The next
   * connect deletes one still there after LINGER_MS (a namespace someone else keeps open), `network rm` any.
   */
  lingering?: { hostVeth: string; at: number }[];
}

const NAME_RE = /^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,127}$/;

export class NetworkStore {
  readonly dir: string;

  constructor(root: string) {
    this.dir = join(root, "network");
  }

  /** run `fn` with the store lock held; `fn` is synchronous so the lock cannot outlive an await */
  withLock<R>(fn: () => R): R {
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    const fd = openSync(join(this.dir, ".lock"), constants.O_RDWR | constants.O_CREAT | 0o2000000 /* O_CLOEXEC */, 0o600);
    try {
      flock(fd, LOCK_EX);
      try {
        const r = fn();
        if (r instanceof Promise) throw new EngineError("internal", "network store: withLock callback must be synchronous");
        return r;
      } finally {
        flock(fd, LOCK_UN);
      }
    } finally {
      closeSync(fd);
    }
  }

  private path(name: string): string {
    if (!NAME_RE.test(name)) throw new EngineError("invalid_argument", `invalid network name "${name}"`);
    return join(this.dir, `${name}.json`);
  }

  get(name: string): NetworkRecord | undefined {
    const p = this.path(name);
    if (!existsSync(p)) return undefined;
    return JSON.parse(readFileSync(p, "utf8")) as NetworkRecord;
  }

  list(): NetworkRecord[] {
    if (!existsSync(this.dir)) return [];
    return readdirSync(this.dir)
      .filter((f) => f.endsWith(".json") && !f.startsWith("."))
      .sort()
      .map((f) => JSON.parse(readFileSync(join(this.dir, f), "utf8")) as NetworkRecord);
  }

  /**
   * `durable` false skips the fsyncs (lib/atomic-write replaceFile): for endpoint changes on the
   * container start/exit path, whose records describe links that a reboot removes anyway; a crash
   * still leaves either the old or the new file, never a torn one.
   */
  put(rec: NetworkRecord, durable = true): void {
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    if (durable) atomicWriteJson(this.path(rec.name), rec, 0o600);
    else replaceFile(this.path(rec.name), JSON.stringify(rec, null, 2) + "\n", 0o600);
  }

  /**
   * The identity of the predefined networks (host, none): an id and a creation time of their own per
   * root, as dockerd gives them at its first start (random 64-hex ids, not constants), made once under
   * the lock and kept in `<root>/network/.predefined.json` (hidden: not a network record).
   */
  predefined(names: string[]): Record<string, PredefinedIdentity> {
    const p = join(this.dir, ".predefined.json");
    const read = (): Record<string, PredefinedIdentity> => {
      try {
        return JSON.parse(readFileSync(p, "utf8")) as Record<string, PredefinedIdentity>;
      } catch {
        return {}; // not made yet (or torn by a crash before its rename: made again below)
      }
    };
    const have = read();
    if (names.every((n) => have[n]?.id)) return have;
    return this.withLock(() => {
      const cur = read();
      const missing = names.filter((n) => !cur[n]?.id);
      if (missing.length === 0) return cur;
      const created = new Date().toISOString();
      for (const n of missing) cur[n] = { id: newId(), created };
      atomicWriteJson(p, cur, 0o600);
      return cur;
    });
  }

  /** host ports held by containers, `<root>/network/.ports.json` (hidden: not a network) */
  getPorts(): Record<string, PortReservation> {
    const p = join(this.dir, ".ports.json");
    return existsSync(p) ? (JSON.parse(readFileSync(p, "utf8")) as Record<string, PortReservation>) : {};
  }

  putPorts(ports: Record<string, PortReservation>): void {
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    atomicWriteJson(join(this.dir, ".ports.json"), ports, 0o600);
  }

  remove(name: string): void {
    try {
      unlinkSync(this.path(name));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw e;
    }
    fsyncDir(this.dir);
  }
}

/** an endpoint's EndpointID: its own, else (a record written before endpoints had one) 64 hex derived
 * from the network, address and container, stable across reads */
export function endpointId(network: NetworkRecord, ip: string, e: EndpointRecord): string {
  return e.id ?? new Bun.CryptoHasher("sha256").update(`${network.id}/${ip}/${e.containerId}`).digest("hex");
}
