// Issue 15: what a killed or damaged berth root looks like to the next command. Leftovers of dead
// processes, corrupt records and deleted snapshot directories must be reported by `system check`,
// repaired by `system check --repair` / `system prune` where that is safe, and never take down the
// commands that list or remove other objects.
import { describe, expect, test } from "bun:test";
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { rootEnabled } from "../helpers/root.ts";
import { berth, berthArgv, importBusybox, repo, tempRoot, waitUntil } from "../helpers/cli.ts";
import { ContentStore, ImageStore } from "../../src/image/index.ts";
import { MediaType } from "../../src/oci/index.ts";

/** an image with no layers written straight into a root's stores (no snapshots needed) */
function writeBareImage(root: string, tag: string, config: Record<string, unknown>): string {
  const content = new ContentStore(join(root, "content"));
  const store = new ImageStore(join(root, "image"), content);
  const cfg = content.putBytes(JSON.stringify({ architecture: "amd64", os: "linux", rootfs: { type: "layers", diff_ids: [] }, ...config }));
  const man = content.putBytes(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: MediaType.OciManifest,
      config: { mediaType: MediaType.OciConfig, digest: cfg.digest, size: cfg.size },
      layers: [],
    }),
  );
  store.put({
    manifest: { mediaType: MediaType.OciManifest, digest: man.digest, size: man.size },
    config: { mediaType: MediaType.OciConfig, digest: cfg.digest, size: cfg.size },
  });
  store.tag(`docker.io/library/${tag}`, cfg.digest);
  return cfg.digest;
}

describe("image listing", () => {
  test("an image config without `created` shows N/A, not NaN years ago (item 13)", async () => {
    using tr = tempRoot("nocreated");
    writeBareImage(tr.path, "nocreated:1", {});
    const r = await berth(["images"], { root: tr.path });
    expect(r.exitCode).toBe(0);
    expect(r.stdout).not.toContain("NaN");
    expect(r.stdout).toMatch(/nocreated\s+1\s+[0-9a-f]{12}\s+N\/A\s+0B/);
    const f = await berth(["images", "--format", "{{.CreatedSince}}|{{.CreatedAt}}"], { root: tr.path });
    expect(f.stdout).toBe("N/A|1970-01-01 00:00:00 +0000 UTC\n");
  });
});

/** a busybox rootfs tar (scripts/busybox-rootfs.sh), made once */
let bbTar: Uint8Array | undefined;
function busyboxTar(dir: string): Uint8Array {
  if (bbTar) return bbTar;
  const out = join(dir, "bb.tar");
  const p = Bun.spawnSync(["bash", join(repo, "scripts/busybox-rootfs.sh"), out]);
  if (p.exitCode !== 0) throw new Error(p.stderr.toString());
  return (bbTar = new Uint8Array(readFileSync(out)));
}

const ok = (r: { exitCode: number; stdout: string; stderr: string }) => expect(r, `${r.stdout}\n${r.stderr}`).toMatchObject({ exitCode: 0 });

describe.skipIf(!rootEnabled)("damaged records (item 7, 8)", () => {
  test("a corrupt state.json: ps -a lists the others, rm -f removes it, system check names it", async () => {
    using tr = tempRoot("corrupt-state");
    const root = tr.path;
    await importBusybox(root);
    const a = (await berth(["create", "--name", "good", "busybox", "true"], { root })).stdout.trim();
    const b = (await berth(["create", "--name", "bad", "busybox", "true"], { root })).stdout.trim();
    expect(a).toMatch(/^[0-9a-f]{64}$/);
    writeFileSync(join(root, "containers", b, "state.json"), '{"Status": "crea');
    const ps = await berth(["ps", "-a", "--format", "{{.Names}}"], { root });
    ok(ps);
    expect(ps.stdout.split("\n").filter(Boolean).sort()).toEqual(["bad", "good"]);
    const chk = await berth(["system", "check"], { root });
    expect(chk.exitCode).toBe(1);
    expect(chk.stdout).toContain(`problem: container ${b}: state.json is unreadable`);
    expect(chk.stderr).not.toContain("    at ");
    ok(await berth(["rm", "-f", "bad"], { root }));
    expect((await berth(["ps", "-a", "--format", "{{.Names}}"], { root })).stdout).toBe("good\n");
    ok(await berth(["system", "check"], { root }));
  }, 60_000);

  test("a corrupt config.json: ps -a still lists the others, check names it", async () => {
    using tr = tempRoot("corrupt-config");
    const root = tr.path;
    await importBusybox(root);
    ok(await berth(["create", "--name", "good", "busybox", "true"], { root }));
    const b = (await berth(["create", "--name", "bad", "busybox", "true"], { root })).stdout.trim();
    writeFileSync(join(root, "containers", b, "config.json"), "{");
    const ps = await berth(["ps", "-a", "--format", "{{.Names}}"], { root });
    ok(ps);
    expect(ps.stdout).toBe("good\n");
    const chk = await berth(["system", "check"], { root });
    expect(chk.exitCode).toBe(1);
    expect(chk.stdout).toContain(`problem: container ${b}: config.json: container ${b}: config.json is unreadable`);
  }, 60_000);

  test("a truncated overlay/metadata.json: check and run fail with one line naming it", async () => {
    using tr = tempRoot("corrupt-meta");
    const root = tr.path;
    await importBusybox(root);
    const meta = join(root, "overlay", "metadata.json");
    const text = readFileSync(meta, "utf8");
    writeFileSync(meta, text.slice(0, text.length >> 1));
    const chk = await berth(["system", "check"], { root });
    expect(chk.exitCode).toBe(1);
    expect(chk.stdout).toContain(`metadata.json is unreadable`);
    expect(chk.stderr).not.toContain("    at ");
    const run = await berth(["run", "--rm", "busybox", "true"], { root });
    expect(run.exitCode).toBe(125);
    expect(run.stderr).toContain(`${meta} is unreadable`);
    expect(run.stderr).not.toContain("    at ");
    expect(run.stderr.trim().split("\n").length).toBe(1);
  }, 60_000);

  test("a corrupt image record: check names it (one line each, no stack); other images still run", async () => {
    using tr = tempRoot("corrupt-image");
    const root = tr.path;
    await importBusybox(root);
    const bad = writeBareImage(root, "bare:1", { created: "2024-01-01T00:00:00Z" });
    writeFileSync(join(root, "image", "images", `${bad.slice(7)}.json`), '{"id": ');
    const chk = await berth(["system", "check"], { root });
    expect(chk.exitCode).toBe(1);
    expect(chk.stdout).toContain(`problem: image ${bad}: record unreadable: read image ${bad.slice(7, 19)}`);
    expect(chk.stdout).not.toContain("tag docker.io/library/bare:1");
    expect(chk.stderr).not.toContain("    at ");
    const run = await berth(["run", "--rm", "--network", "none", "busybox", "echo", "hi"], { root });
    expect(run).toMatchObject({ exitCode: 0, stdout: "hi\n" });
  }, 60_000);

  test("a deleted snapshot directory fails check, naming it; check --repair unpacks the image again", async () => {
    using tr = tempRoot("snapdir");
    const root = tr.path;
    // a layer stored as a blob (an import keeps a tar-split over the snapshot, which goes with it: import-split.test.ts)
    await importBusybox(root, { BERTH_IMPORT_TAR_SPLIT: "0" });
    const snaps = readdirSync(join(root, "overlay", "snapshots"));
    expect(snaps.length).toBe(1);
    rmSync(join(root, "overlay", "snapshots", snaps[0]!), { recursive: true, force: true });
    const chk = await berth(["system", "check"], { root });
    expect(chk.exitCode).toBe(1);
    expect(chk.stdout).toMatch(
      new RegExp(`problem: snapshot sha256:[0-9a-f]{64}: its directory ${join(root, "overlay", "snapshots", snaps[0]!)}/fs is missing`),
    );
    const rep = await berth(["system", "check", "--repair"], { root });
    ok(rep);
    expect(rep.stdout).toContain("repaired: removed snapshot sha256:");
    expect(rep.stdout).toMatch(/repaired: unpacked image sha256:[0-9a-f]{64} again from its layer blobs/);
    expect(rep.stdout).toContain(": ok\n");
    const r = await berth(["run", "--rm", "--network", "none", "busybox", "echo", "hi"], { root });
    expect(r).toMatchObject({ exitCode: 0, stdout: "hi\n" });
  }, 60_000);
});

describe.skipIf(!rootEnabled)("leftovers of killed commands (item 1)", () => {
  test("a killed import: check reports its leftovers; the rerun reclaims them and check is clean", async () => {
    using tr = tempRoot("killed-import");
    const root = tr.path;
    const tar = busyboxTar(root);
    ok(await berth(["version"], { root }));
    // feed half the archive, then keep the pipe open: the import is mid-unpack when killed
    const proc = Bun.spawn(berthArgv(["--root", root, "import", "-", "half:1"]), { stdin: "pipe", stdout: "ignore", stderr: "ignore" });
    proc.stdin.write(tar.subarray(0, tar.length >> 1));
    await proc.stdin.flush();
    const meta = join(root, "overlay", "metadata.json");
    await waitUntil("the unpack snapshot", async () => existsSync(meta) && readFileSync(meta, "utf8").includes("extract-"));
    proc.kill("SIGKILL");
    await proc.exited;
    const chk = await berth(["system", "check"], { root });
    expect(chk.exitCode).toBe(1);
    expect(chk.stdout).toMatch(/problem: leftover snapshot extract-\d+-/);
    expect(chk.stdout).toMatch(/problem: leftover lease import-extract-/);
    expect(chk.stdout).toMatch(/problem: half-finished ingest import-extract-/);
    // the rerun of the same command: its GC reclaims the dead import's leftovers
    ok(await berth(["import", "-", "full:1"], { root, stdin: tar }));
    const again = await berth(["system", "check"], { root });
    expect(again.stdout).toContain(": ok\n");
    ok(again);
  }, 60_000);

  test("system prune and check --repair remove dead leftovers (they never block a live process)", async () => {
    using tr = tempRoot("prune-leftovers");
    const root = tr.path;
    const tar = busyboxTar(root);
    for (const fix of [
      ["system", "prune", "-f"],
      ["system", "check", "--repair"],
    ]) {
      const proc = Bun.spawn(berthArgv(["--root", root, "import", "-", "half:1"]), { stdin: "pipe", stdout: "ignore", stderr: "ignore" });
      proc.stdin.write(tar.subarray(0, tar.length >> 1));
      await proc.stdin.flush();
      const meta = join(root, "overlay", "metadata.json");
      await waitUntil("the unpack snapshot", async () => existsSync(meta) && readFileSync(meta, "utf8").includes("extract-"));
      // alive: its work in progress is not a problem
      const live = await berth(["system", "check"], { root });
      expect(live.stdout).not.toContain("extract-");
      expect(live.stdout).not.toContain("half-finished");
      proc.kill("SIGKILL");
      await proc.exited;
      expect((await berth(["system", "check"], { root })).exitCode).toBe(1);
      const r = await berth(fix, { root });
      ok(r);
      if (fix[1] === "check") expect(r.stdout).toMatch(/repaired: removed leftover snapshot extract-/);
      ok(await berth(["system", "check"], { root }));
      expect(readdirSync(join(root, "content", "ingest"))).toEqual([]);
      expect(readdirSync(join(root, "content", "leases"))).toEqual([]);
    }
  }, 60_000);
});

describe.skipIf(!rootEnabled)("live work is not a problem (item 1)", () => {
  test("a container snapshot without its record is a create in progress while the image-use lock is held", async () => {
    using tr = tempRoot("live-create");
    const root = tr.path;
    await importBusybox(root);
    const { createDriver } = await import("../../src/cow/index.ts");
    const { FileLock } = await import("../../src/image/index.ts");
    const key = `container-${"e".repeat(64)}`;
    await createDriver("overlay", join(root, "overlay")).prepare(key);
    const held = FileLock.acquire(join(root, "content", "use.lock"), "shared")!;
    try {
      ok(await berth(["system", "check"], { root }));
    } finally {
      held.release();
    }
    const chk = await berth(["system", "check"], { root });
    expect(chk.exitCode).toBe(1);
    expect(chk.stdout).toContain(`orphan active snapshot ${key}`);
    // no create holds the lock: the snapshot is a killed create's, and the next GC takes it
    ok(await berth(["run", "--rm", "--network", "none", "busybox", "true"], { root }));
    ok(await berth(["system", "check"], { root }));
  }, 60_000);
});

describe.skipIf(!rootEnabled)("rmi racing run -d (item 5)", () => {
  test("60 rounds: no container ends up with a deleted image", async () => {
    using tr = tempRoot("rmi-race");
    const root = tr.path;
    const tar = busyboxTar(root);
    ok(await berth(["import", "-", "busybox:latest"], { root, stdin: tar }));
    let bothWon = 0;
    for (let i = 0; i < 60; i++) {
      // a fresh image each round (its own config, the shared layer), tagged once: rmi deletes it
      ok(await berth(["import", "-c", `LABEL round=${i}`, "-", `race:${i}`], { root, stdin: tar }));
      const runP = berth(["run", "-d", "--network", "none", `race:${i}`, "true"], { root });
      await Bun.sleep(i % 8);
      const rmiP = berth(["rmi", `race:${i}`], { root });
      const [run, rmi] = await Promise.all([runP, rmiP]);
      if (run.exitCode === 0 && rmi.exitCode === 0 && rmi.stdout.includes("Deleted:")) bothWon++;
      if (run.exitCode === 0) {
        const id = run.stdout.trim();
        const image = JSON.parse((await berth(["inspect", "--format", "{{json .Image}}", id], { root })).stdout);
        const img = await berth(["image", "inspect", image], { root });
        expect(img.exitCode, `round ${i}: container ${id} uses deleted image ${image} (rmi: ${rmi.stdout}${rmi.stderr})`).toBe(0);
      } else {
        expect(run.stderr).toContain(`Unable to find image 'race:${i}' locally`);
      }
    }
    ok(await berth(["system", "check"], { root }));
    expect(bothWon).toBe(0);
  }, 300_000);
});

describe.skipIf(!rootEnabled)("concurrent import and load of the same content (item 3)", () => {
  test("five imports and five loads at once all succeed; check stays clean", async () => {
    using tr = tempRoot("conc-load");
    const root = tr.path;
    const tar = busyboxTar(root);
    const imports = await Promise.all(Array.from({ length: 5 }, (_, i) => berth(["import", "-", `imp:${i}`], { root, stdin: tar })));
    for (const r of imports) ok(r);
    const saved = join(root, "saved.tar");
    ok(await berth(["save", "-o", saved, "imp:0"], { root }));
    const archive = readFileSync(saved);
    for (let round = 0; round < 3; round++) {
      // a fresh root each round: the loads race to unpack the same layer
      using fresh = tempRoot("conc-load-fresh");
      const loads = await Promise.all(Array.from({ length: 5 }, () => berth(["load"], { root: fresh.path, stdin: archive })));
      for (const r of loads) ok(r);
      ok(await berth(["system", "check"], { root: fresh.path }));
      const imps = await Promise.all(Array.from({ length: 5 }, (_, i) => berth(["import", "-", `again:${i}`], { root: fresh.path, stdin: tar })));
      for (const r of imps) ok(r);
      ok(await berth(["system", "check"], { root: fresh.path }));
    }
    ok(await berth(["system", "check"], { root }));
  }, 120_000);
});
