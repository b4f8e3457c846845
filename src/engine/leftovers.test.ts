// The engine's GC and dead processes' leftovers (issue 15 item 1), on the vfs driver in a temp dir:
// what a dead process left is found and reclaimed, a resumable ingest survives the ordinary GC, and
// what live work leases is never touched.
import { afterEach, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { ContentStore, ImageStore, LeaseStore, sha256Digest } from "../image/index.ts";
import { createDriver } from "../cow/index.ts";
import { createLogger } from "../lib/log.ts";
import { ImageService, extractKey } from "./images.ts";

const roots: string[] = [];
afterEach(() => {
  for (const r of roots.splice(0)) rmSync(r, { recursive: true, force: true });
});

function service(): ImageService {
  const root = mkdtempSync("/tmp/berth-test-leftovers-");
  roots.push(root);
  const content = new ContentStore(join(root, "content"));
  return new ImageService(
    content,
    new ImageStore(join(root, "image"), content),
    new LeaseStore(content),
    createDriver("vfs", join(root, "vfs")),
    createLogger(0, () => {}),
  );
}

/** a lease whose owner is a process that has exited */
function deadLease(s: ImageService, id: string): void {
  const lease = s.leases.createLease(id);
  const path = join(s.leases.dir, lease.id, "lease.json");
  const info = JSON.parse(readFileSync(path, "utf8"));
  writeFileSync(path, JSON.stringify({ ...info, owner: { pid: 999_999_999, startTime: "1" } }));
}

describe("leftovers of dead processes", () => {
  test("found, and reclaimed by recover(); a resumable ingest waits for a retry or system prune", async () => {
    const s = service();
    const deadKey = "extract-999999999-1-0badf00d";
    await s.snapshots.prepare(deadKey);
    deadLease(s, "pull-dead");
    const data = new TextEncoder().encode("half a layer");
    const digest = sha256Digest("the whole layer");
    for (const ref of ["import-extract-999999999-1-0badf00d", digest]) {
      const w = await s.content.writer(ref);
      w.write(data);
      w.close(); // as a kill leaves it: bytes on disk, no flock
    }
    const found = await s.leftovers();
    expect(found.map((l) => `${l.kind} ${l.name}${l.resumable ? " (resumable)" : ""}`).sort()).toEqual(
      [`ingest ${digest} (resumable)`, "ingest import-extract-999999999-1-0badf00d", "lease pull-dead", `snapshot ${deadKey}`].sort(),
    );
    const r = await s.recover();
    expect(r?.snapshots).toEqual([deadKey]);
    expect(r?.leases).toEqual(["pull-dead"]);
    expect(r?.ingests).toEqual(["import-extract-999999999-1-0badf00d"]);
    expect((await s.leftovers()).map((l) => l.name)).toEqual([digest]);
    // nothing but a resumable ingest: recover() does no GC at all
    expect(await s.recover()).toBeUndefined();
    // the retried pull resumes it
    const w = await s.content.writer(digest);
    expect(w.offset).toBe(data.length);
    w.close();
    // system prune: everything
    expect((await s.collectGarbage([], { allIngests: true })).ingests).toEqual([digest]);
    expect(await s.leftovers()).toEqual([]);
  });

  test("live work is not a leftover; its leased snapshot survives GC until the lease goes", async () => {
    const s = service();
    const key = extractKey();
    await s.snapshots.prepare(key);
    const lease = s.leases.createLease("pull-live");
    expect(await s.commitChain(key, "sha256:" + "a".repeat(64), {}, lease)).toBe(true);
    const live = extractKey();
    await s.snapshots.prepare(live);
    expect(await s.leftovers()).toEqual([]);
    expect((await s.collectGarbage()).snapshots).toEqual([]);
    lease.delete();
    expect((await s.collectGarbage()).snapshots).toEqual(["sha256:" + "a".repeat(64)]);
    expect(await s.hasSnapshot(live)).toBe(true);
  });

  test("commitChain: a chain another process committed first is success, and our copy goes", async () => {
    const s = service();
    const lease = s.leases.createLease("pull-a");
    const chain = "sha256:" + "b".repeat(64);
    const a = extractKey();
    const b = extractKey();
    await s.snapshots.prepare(a);
    await s.snapshots.prepare(b);
    expect(await s.commitChain(a, chain, {}, lease)).toBe(true);
    expect(await s.commitChain(b, chain, {}, lease)).toBe(false);
    expect(await s.hasSnapshot(b)).toBe(false);
    expect(s.leases.get("pull-a")?.snapshots).toEqual([chain]);
  });
});
