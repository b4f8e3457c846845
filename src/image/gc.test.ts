import { describe, expect, test } from "bun:test";
import { existsSync, utimesSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { MediaType, type Descriptor, type Digest, type Index } from "../oci/index.ts";
import { fakeImage, fakeImageBlobs, fakeLayer, tempStores } from "./_testutil.ts";
import { sha256Digest } from "./content-store.ts";
import { gc } from "./gc.ts";
import { isLeaseExpired, processStartTime } from "./leases.ts";

function blobs(s: ReturnType<typeof tempStores>): Digest[] {
  return s.content
    .listSync()
    .map((b) => b.digest)
    .sort();
}

/** make an ingest look old so the grace period has passed */
function age(path: string): void {
  const t = new Date(Date.now() - 48 * 3600 * 1000);
  utimesSync(path, t, t);
}

describe("gc marks from image records", () => {
  test("keeps every blob of recorded images, removes the rest, counts bytes", () => {
    using s = tempStores();
    const a = fakeImage(s, "a");
    const b = fakeImage(s, "b");
    const stray = s.content.putBytes("nobody points here");
    const strayLayer = fakeLayer(s.content, "stray", 5000);
    const r = gc(s);
    expect(r.removedBlobs.sort()).toEqual([stray.digest, strayLayer.digest].sort());
    expect(r.freedBytes).toBe(stray.size + 5000);
    expect(r.warnings).toEqual([]);
    const kept = [a, b].flatMap((i) => [i.manifest.digest, i.config.digest, ...i.layers.map((l) => l.digest)]).sort();
    expect(blobs(s)).toEqual(kept);
    expect(gc(s).removedBlobs).toEqual([]);
  });

  test("deleting an image frees its blobs but not a layer another image shares", () => {
    using s = tempStores();
    const a = fakeImage(s, "a");
    const shared = a.layers[0]!;
    // b uses a's first layer plus its own
    const own = fakeLayer(s.content, "b-own");
    const cfg = s.content.putBytes(JSON.stringify({ architecture: "amd64", os: "linux", rootfs: { type: "layers", diff_ids: [] } }));
    const configDesc: Descriptor = { mediaType: MediaType.OciConfig, ...cfg };
    const man = s.content.putBytes(JSON.stringify({ schemaVersion: 2, config: configDesc, layers: [shared, own] }));
    s.images.put({ manifest: { mediaType: MediaType.OciManifest, ...man }, config: configDesc });

    s.images.delete(a.id);
    const r = gc(s);
    expect(r.removedBlobs.sort()).toEqual([a.manifest.digest, a.config.digest, a.layers[1]!.digest].sort());
    expect(s.content.has(shared.digest)).toBe(true);
    expect(s.content.has(own.digest)).toBe(true);
  });

  test("an index on the record keeps the index and its pulled manifests, not missing platforms", () => {
    using s = tempStores();
    const b = fakeImageBlobs(s.content, "multi");
    const other = fakeImageBlobs(s.content, "other-platform");
    const absent: Descriptor = { mediaType: MediaType.OciManifest, digest: sha256Digest("never pulled"), size: 1 };
    const index: Index = { schemaVersion: 2, mediaType: MediaType.OciIndex, manifests: [b.manifest, other.manifest, absent] };
    const ix = s.content.putBytes(JSON.stringify(index));
    s.images.put({ manifest: b.manifest, config: b.config, index: { mediaType: MediaType.OciIndex, ...ix } });
    const r = gc(s);
    expect(r.removedBlobs).toEqual([]);
    expect(r.warnings).toEqual([]);
    expect(s.content.has(other.layers[0]!.digest)).toBe(true);
  });

  test("extra roots from the engine are kept and walked when they are manifests", () => {
    using s = tempStores();
    const b = fakeImageBlobs(s.content, "container-only");
    const loose = fakeLayer(s.content, "loose");
    const r = gc(s, { extraRoots: [b.manifest.digest, loose.digest] });
    expect(r.removedBlobs).toEqual([]);
    expect(gc(s).removedBlobs.length).toBe(2 + b.layers.length + 1);
  });

  test("a record whose blobs vanished is reported, not fatal", () => {
    using s = tempStores();
    const a = fakeImage(s, "damaged");
    s.content.delete(a.layers[0]!.digest);
    const r = gc(s);
    expect(r.warnings).toEqual([`image ${a.id.slice(7, 19)}: blob ${a.layers[0]!.digest} is missing`]);
  });
});

describe("leases", () => {
  test("a lease keeps its resources until deleted; commit and putBytes record into it", async () => {
    using s = tempStores();
    const lease = s.leases.createLease("pull-1");
    const w = await s.content.writer("layer");
    w.write(new TextEncoder().encode("layer bytes"));
    const layer = await w.commit({ lease });
    const cfg = s.content.putBytes("{}", undefined, { lease });
    const other = s.content.putBytes("unprotected");
    expect(s.leases.get("pull-1")?.resources).toEqual([layer.digest, cfg.digest].sort());
    expect(gc(s).removedBlobs).toEqual([other.digest]);
    expect(blobs(s)).toEqual([layer.digest, cfg.digest].sort());
    lease.delete();
    expect(gc(s).removedBlobs.sort()).toEqual([layer.digest, cfg.digest].sort());
  });

  test("ids are validated and unique", () => {
    using s = tempStores();
    s.leases.createLease("x");
    expect(() => s.leases.createLease("x")).toThrow("lease x: already exists");
    expect(() => s.leases.createLease("../x")).toThrow("invalid lease id");
    expect(() => s.leases.addResource("nope", sha256Digest("a"))).toThrow("lease nope: not found");
    expect(s.leases.deleteLease("x")).toBe(true);
    expect(s.leases.deleteLease("x")).toBe(false);
  });

  test("an expired lease is removed by gc with its protection", () => {
    using s = tempStores();
    const d = s.content.putBytes("short-lived");
    const l = s.leases.createLease("old", { expiresAt: new Date(Date.now() + 60_000), ownedByProcess: false });
    l.addResource(d.digest);
    expect(gc(s).removedBlobs).toEqual([]);
    const r = gc(s, { now: new Date(Date.now() + 120_000) });
    expect(r.removedLeases).toEqual(["old"]);
    expect(r.removedBlobs).toEqual([d.digest]);
    expect(s.leases.list()).toEqual([]);
  });

  test("a lease whose owner process is gone counts as expired", async () => {
    using s = tempStores();
    const d = s.content.putBytes("orphan");
    const script = join(s.root, "lease.ts");
    writeFileSync(
      script,
      `import { ContentStore } from ${JSON.stringify(join(import.meta.dir, "content-store.ts"))};
       import { LeaseStore } from ${JSON.stringify(join(import.meta.dir, "leases.ts"))};
       const ls = new LeaseStore(new ContentStore(process.argv[2]));
       ls.createLease("child").addResource(process.argv[3]);`,
    );
    const p = Bun.spawn([process.execPath, script, s.content.dir, d.digest], { stderr: "inherit" });
    expect(await p.exited).toBe(0);
    const info = s.leases.get("child")!;
    expect(info.owner?.pid).toBe(p.pid);
    expect(isLeaseExpired(info)).toBe(true);
    expect(isLeaseExpired({ owner: { pid: process.pid, startTime: processStartTime(process.pid)! } })).toBe(false);
    expect(isLeaseExpired({ owner: { pid: process.pid, startTime: "1" } })).toBe(true);
    const r = gc(s);
    expect(r.removedLeases).toEqual(["child"]);
    expect(r.removedBlobs).toEqual([d.digest]);
  });
});

describe("ingests", () => {
  test("gc never removes a locked ingest, removes old unlocked ones, keeps young ones", async () => {
    using s = tempStores();
    const live = await s.content.writer("live");
    live.write(new Uint8Array(100));
    const stale = await s.content.writer("stale");
    stale.write(new Uint8Array(100));
    stale.close();
    const young = await s.content.writer("young");
    young.write(new Uint8Array(10));
    young.close();
    for (const ref of ["live", "stale"]) {
      age(join(s.content.ingestPath(ref), "data"));
      age(s.content.ingestPath(ref));
    }
    writeFileSync(join(s.content.ingestDir, ".put-crashed"), "x");
    age(join(s.content.ingestDir, ".put-crashed"));

    const r = gc(s);
    expect(r.removedIngests).toEqual(["stale"]);
    expect(
      s.content
        .listIngests()
        .map((i) => i.ref)
        .sort(),
    ).toEqual(["live", "young"]);
    expect(existsSync(join(s.content.ingestDir, ".put-crashed"))).toBe(false);

    // even with no grace at all, the locked one survives and its writer still commits
    expect(gc(s, { ingestGracePeriodMs: 0 }).removedIngests).toEqual(["young"]);
    live.write(new Uint8Array(1));
    const done = await live.commit({ size: 101 });
    // committed without a lease and unreferenced: the next gc may take it, which is the contract
    expect(s.content.has(done.digest)).toBe(true);
  });

  test("ingestGraceFor: a grace per ref (the engine keeps a pull's resumable ingest, not the rest)", async () => {
    using s = tempStores();
    const resumable = sha256Digest("layer");
    for (const ref of [resumable, "import-x"]) {
      const w = await s.content.writer(ref);
      w.write(new Uint8Array(10));
      w.close();
    }
    const r = gc(s, { ingestGraceFor: (ref) => (ref.startsWith("sha256:") ? 60_000 : 0) });
    expect(r.removedIngests).toEqual(["import-x"]);
    expect(s.content.listIngests().map((i) => i.ref)).toEqual([resumable]);
  });

  test("writer(ref, {busyRetries: 0}) reports a held ingest at once", async () => {
    using s = tempStores();
    const held = await s.content.writer("busy");
    const t0 = Date.now();
    await expect(s.content.writer("busy", { busyRetries: 0 })).rejects.toMatchObject({ kind: "unavailable" });
    expect(Date.now() - t0).toBeLessThan(100);
    held.abort();
  });
});

describe("leases own snapshots", () => {
  test("addSnapshot records names (any string up to 120 bytes); get() lists them", () => {
    using s = tempStores();
    const l = s.leases.createLease("snap");
    l.addSnapshot("sha256:" + "c".repeat(64));
    l.addSnapshot("extract-1-2-abc");
    expect(s.leases.get("snap")?.snapshots).toEqual(["extract-1-2-abc", "sha256:" + "c".repeat(64)]);
    expect(() => l.addSnapshot("")).toThrow(/invalid snapshot name/);
  });
});

// Child: lease → ingest written slowly → commit into the lease → print the digest → wait for stdin
// EOF → delete the lease.
const SLOW_PULL = (dir: string) => `
import { ContentStore } from ${JSON.stringify(join(dir, "content-store.ts"))};
import { LeaseStore } from ${JSON.stringify(join(dir, "leases.ts"))};
const cs = new ContentStore(process.argv[2]);
const leases = new LeaseStore(cs);
const lease = leases.createLease("slow-pull");
const w = await cs.writer("layer-under-test");
const chunk = new Uint8Array(32 * 1024).fill(7);
for (let i = 0; i < 40; i++) { w.write(chunk); await Bun.sleep(3); }
const r = await w.commit({ lease, size: 40 * chunk.length });
console.log(r.digest);
await Bun.stdin.text();
lease.delete();
`;

describe("gc concurrent with a writer in another process", () => {
  test("never deletes the in-flight ingest nor the leased blob", async () => {
    using s = tempStores();
    const script = join(s.root, "slow-pull.ts");
    writeFileSync(script, SLOW_PULL(import.meta.dir));
    const p = Bun.spawn([process.execPath, script, s.content.dir], { stdin: "pipe", stdout: "pipe", stderr: "inherit" });
    const out = new Response(p.stdout).text();
    let digestLine = "";
    void out.then((t) => (digestLine = t));
    let runs = 0;
    const removed: string[] = [];
    // run gc with no grace period as often as we can while the child writes and commits
    const deadline = Date.now() + 30_000;
    while (s.content.listSync().length === 0) {
      const r = gc(s, { ingestGracePeriodMs: 0 });
      removed.push(...r.removedBlobs, ...r.removedIngests);
      runs++;
      if (Date.now() > deadline || p.exitCode !== null) break;
      await Bun.sleep(1);
    }
    for (let i = 0; i < 5; i++) removed.push(...gc(s, { ingestGracePeriodMs: 0 }).removedBlobs);
    expect(removed).toEqual([]);
    expect(runs).toBeGreaterThan(1);
    p.stdin.end();
    expect(await p.exited).toBe(0);
    await out;
    const digest = digestLine.trim() as Digest;
    expect(digest).toBe(sha256Digest(new Uint8Array(40 * 32 * 1024).fill(7)));
    expect((await s.content.verify(digest)).ok).toBe(true);
    // the lease is gone now: the blob is garbage
    expect(gc(s).removedBlobs).toEqual([digest]);
  });
});
