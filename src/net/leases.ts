/**
 * Host-wide address leases for the default bridge. Every berth root keeps its own network records,
 * but the default network's bridge (berth0) is one kernel device for all of them: a root that finds it
 * adopts its subnet (index.ts), and these leases keep two roots from handing out the same address on
 * it. One file per address, `/run/berth/net/<bridge>/<ip>`, holding the owner's root and container id;
 * claimed and dropped under a flock on /run/berth/net itself, so a claim and a takeover never
 * interleave. Neither it nor a bridge's directory is removed when empty: a `run --rm` would otherwise
 * make and remove that directory every time (an mkdir and an rmdir, ~0.4 ms where /run is not a tmpfs).
 *
 * A lease is live while its owner's record still lists the address for that container, or while it is
 * younger than LEASE_GRACE_MS (the owner claims before it writes its record). A stale lease (owner root
 * deleted, crash) is taken over. /run is a tmpfs: leases vanish with the links at reboot.
 */
import { closeSync, constants, mkdirSync, openSync, readFileSync, statSync, unlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { flock, LOCK_EX, LOCK_UN } from "../ffi/index.ts";

export const LEASE_DIR = "/run/berth/net";
const LEASE_GRACE_MS = 30_000;

interface Lease {
  root: string;
  containerId: string;
}

function withBaseLock<R>(base: string, fn: () => R): R {
  mkdirSync(base, { recursive: true, mode: 0o700 });
  const fd = openSync(base, constants.O_RDONLY | constants.O_DIRECTORY | 0o2000000 /* O_CLOEXEC */);
  try {
    flock(fd, LOCK_EX);
    try {
      return fn();
    } finally {
      flock(fd, LOCK_UN);
    }
  } finally {
    closeSync(fd);
  }
}

function read(file: string): Lease | undefined {
  try {
    return JSON.parse(readFileSync(file, "utf8")) as Lease;
  } catch {
    // no lease, or a torn one from a crash mid-write: either way nobody holds the address through it
    return undefined;
  }
}

function live(file: string, l: Lease, ip: string, recordFile: (root: string) => string): boolean {
  try {
    if (Date.now() - statSync(file).mtimeMs < LEASE_GRACE_MS) return true;
  } catch {
    return false; // removed since read(): released
  }
  try {
    const rec = JSON.parse(readFileSync(recordFile(l.root), "utf8")) as { endpoints?: Record<string, { containerId: string }> };
    return rec.endpoints?.[ip]?.containerId === l.containerId;
  } catch {
    return false; // the owning root's record is gone (root deleted): the lease is stale
  }
}

/**
 * Claim `ip` on `bridge` for (root, containerId); false when another root's live lease holds it.
 * `recordFile(root)` is where a root keeps the default network's record.
 */
export function claimLease(bridge: string, ip: string, owner: Lease, recordFile: (root: string) => string, base = LEASE_DIR): boolean {
  const dir = join(base, bridge);
  return withBaseLock(base, () => {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const file = join(dir, ip);
    const cur = read(file);
    if (cur && !(cur.root === owner.root && cur.containerId === owner.containerId)) {
      // our own root's leases are decided by our record, which the caller holds locked: not in it = stale
      if (cur.root !== owner.root && live(file, cur, ip, recordFile)) return false;
    }
    writeFileSync(file, JSON.stringify(owner), { mode: 0o600 });
    return true;
  });
}

/** drop the leases of `ips` that (root, containerId) holds; the bridge's directory stays */
export function dropLeases(bridge: string, entries: { ip: string; containerId: string }[], root: string, base = LEASE_DIR): void {
  if (entries.length === 0) return;
  const dir = join(base, bridge);
  try {
    statSync(dir);
  } catch {
    return; // no leases on this bridge at all
  }
  withBaseLock(base, () => {
    for (const e of entries) {
      const file = join(dir, e.ip);
      const cur = read(file);
      if (cur && cur.root === root && cur.containerId === e.containerId) {
        try {
          unlinkSync(file);
        } catch {} // already gone: what we wanted
      }
    }
  });
}
