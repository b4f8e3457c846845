/**
 * One conformance suite for every storage driver (containerd's SnapshotterSuite idea): lifecycle,
 * parent chains, whiteouts and opaque dirs as seen through the *mounted* view, hardlinks, xattrs,
 * modes/owners/mtimes, diff round trips, remove refusing parents, walk, usage.
 *
 * Views are mounted with src/ffi/mount-api.ts into a temp dir and unmounted afterwards when running as
 * root; without root, drivers whose mounts are plain binds (vfs) are read through the bind source.
 *
 * registeredDriversSuite runs it over every driver in the registry (conformance.test.ts), so a new
 * driver is tested by registering it. A driver whose prerequisites this machine lacks (root, a mkfs for
 * the filesystem it needs) shows up as skipped with the reason, not missing.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmdirSync, statSync, unlinkSync, writeFileSync, rmSync } from "node:fs";
import type { Mount } from "../oci/index.ts";
import type { Driver } from "./driver.ts";
import type { DriverRegistration } from "./registry.ts";
import type { Change } from "./diff.ts";
import { EngineError } from "../lib/errors.ts";
import { lgetxattr, umount2, MNT_DETACH } from "../ffi/fs.ts";
import { addDirFlags, FS_TOPDIR_FL } from "../ffi/cow-fs.ts";
import { mountAt } from "../ffi/mount-api.ts";
import { removeTree } from "./remove-tree.ts";
import { collect, records, replay, type EntrySpec } from "./_testutil.ts";

export interface SuiteOptions {
  /** true when the driver cannot work at all without root (overlay: mknod whiteouts, trusted xattrs, mount) */
  requiresRoot: boolean;
  rootEnabled: boolean;
  /** directory to make the test root in (default /tmp); called in beforeAll, after the caller's own
   * beforeAll (btrfs: a loop-mounted filesystem) */
  tmpParent?: () => string;
  /** why the suite cannot run here (its tests are then skipped, the reason in the suite's name) */
  unavailable?: string;
}

/** a throwaway mounted filesystem of `type` (test/helpers/btrfs.ts loopFilesystem), disposed after the suite */
export type ScratchFilesystem = (type: string, tag: string) => { mnt: string; [Symbol.dispose](): void };

/**
 * The suite once per registered driver. Drivers that need root are skipped without it; drivers that need
 * their root on a filesystem of their own (btrfs) get a scratch one from `scratch`, and are skipped when
 * its mkfs is not installed.
 */
export function registeredDriversSuite(drivers: DriverRegistration[], opts: { rootEnabled: boolean; scratch: ScratchFilesystem }): void {
  for (const reg of drivers) {
    const fsType = reg.requires.filesystem;
    let unavailable: string | undefined;
    if (reg.requires.root && !opts.rootEnabled) unavailable = "needs root";
    else if (fsType && !opts.rootEnabled) unavailable = `needs root for a scratch ${fsType}`;
    else if (fsType && !Bun.which(`mkfs.${fsType}`)) unavailable = `mkfs.${fsType} not found`;
    else if (!fsType) unavailable = reg.usable("/tmp");
    let scratch: ReturnType<ScratchFilesystem> | undefined;
    if (fsType && !unavailable) {
      beforeAll(() => {
        scratch = opts.scratch(fsType, `cow-${reg.name}`);
        const why = reg.usable(scratch.mnt);
        if (why) throw new Error(`${reg.name} on its scratch ${fsType}: ${why}`);
      });
      afterAll(() => scratch?.[Symbol.dispose]());
    }
    snapshotterSuite(reg.name, (root) => reg.create(root), {
      requiresRoot: reg.requires.root,
      rootEnabled: opts.rootEnabled,
      ...(fsType ? { tmpParent: () => scratch!.mnt } : {}),
      ...(unavailable ? { unavailable } : {}),
    });
  }
}

async function kindOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return "ok";
  } catch (e) {
    return e instanceof EngineError ? e.kind : String(e);
  }
}

export function snapshotterSuite(name: string, make: (root: string) => Driver, opts: SuiteOptions): void {
  const skip = (opts.requiresRoot && !opts.rootEnabled) || opts.unavailable !== undefined;
  describe(`${name} snapshotter conformance${opts.unavailable ? ` (skipped: ${opts.unavailable})` : ""}`, () => {
    let tmp: string, d: Driver;
    let seq = 0;
    const uid = opts.rootEnabled ? 1234 : (process.getuid?.() ?? 0);
    const gid = opts.rootEnabled ? 4321 : (process.getgid?.() ?? 0);

    beforeAll(() => {
      if (skip) return;
      tmp = mkdtempSync(`${opts.tmpParent?.() ?? "/tmp"}/berth-test-cow-${name}-`);
      d = make(`${tmp}/driver`);
    });
    afterAll(() => {
      if (!tmp) return;
      // leak check: nothing still mounted under the test root
      expect(readFileSync("/proc/self/mountinfo", "utf8")).not.toContain(tmp);
      removeTree(tmp);
    });

    /** mount `mounts` somewhere, run fn on the directory, unmount */
    async function withMounted<T>(mounts: Mount[], fn: (dir: string) => Promise<T> | T): Promise<T> {
      expect(mounts.length).toBe(1);
      const m = mounts[0]!;
      if (!opts.rootEnabled) {
        expect(m.type).toBe("bind");
        return fn(m.source);
      }
      const target = `${tmp}/mnt-${++seq}`;
      mkdirSync(target);
      mountAt(m, target);
      try {
        return await fn(target);
      } finally {
        umount2(target, MNT_DETACH);
        rmdirSync(target);
      }
    }

    async function layer(key: string, parent: string | undefined, specs: EntrySpec[], commitAs: string): Promise<void> {
      await d.prepare(key, parent);
      await d.applyLayer(key, records(specs));
      await d.commit(commitAs, key);
    }

    async function withView<T>(parent: string, fn: (dir: string) => Promise<T> | T): Promise<T> {
      const key = `view-${++seq}`;
      const mounts = await d.view(key, parent);
      try {
        return await withMounted(mounts, fn);
      } finally {
        await d.remove(key);
      }
    }

    const base: EntrySpec[] = [
      { name: "etc", type: "dir", mode: 0o755, mtime: 1_500_000_000, mtimeNsec: 999 },
      { name: "etc/passwd", body: "root:x:0:0\n", mode: 0o644 },
      { name: "etc/keep", body: "keep\n", mode: 0o600, uid, gid, xattrs: { "user.berth": new TextEncoder().encode("xv") } },
      { name: "opt", type: "dir" },
      { name: "opt/a", body: "a" },
      { name: "opt/sub", type: "dir" },
      { name: "opt/sub/b", body: "b" },
      { name: "bin", type: "dir" },
      { name: "bin/tool", body: "#!tool", mode: 0o4755, mtime: 1_600_000_000, mtimeNsec: 123_456_789 },
      { name: "bin/tool2", type: "hardlink", linkname: "bin/tool" },
      { name: "lnk", type: "symlink", linkname: "etc/passwd" },
      { name: "fifo", type: "fifo", mode: 0o620 },
    ];

    test.skipIf(skip)("prepare/commit/view/remove lifecycle and errors", async () => {
      const m = await d.prepare("l-active", undefined, { purpose: "test" });
      expect(m.length).toBe(1);
      expect((await d.stat("l-active")).kind).toBe("active");
      expect(await kindOf(d.prepare("l-active"))).toBe("already_exists");
      expect(await kindOf(d.prepare("x", "nope"))).toBe("not_found");
      expect(await kindOf(d.prepare("x", "l-active"))).toBe("failed_precondition");
      await d.applyLayer("l-active", records([{ name: "f", body: "1" }]));
      await d.commit("l", "l-active", { extra: "1" });
      expect(await kindOf(d.stat("l-active"))).toBe("not_found");
      const info = await d.stat("l");
      expect(info).toMatchObject({ name: "l", kind: "committed", labels: { purpose: "test", extra: "1" } });
      expect(await kindOf(d.applyLayer("l", records([])))).toBe("failed_precondition");
      await d.prepare("l-child", "l");
      expect((await d.stat("l-child")).parent).toBe("l");
      expect(await kindOf(d.remove("l"))).toBe("failed_precondition");
      const names: string[] = [];
      for await (const s of d.walk()) names.push(s.name);
      expect(names).toContain("l");
      expect(names).toContain("l-child");
      await d.remove("l-child");
      await d.remove("l");
      expect(await kindOf(d.stat("l"))).toBe("not_found");
      expect(await kindOf(d.remove("l"))).toBe("not_found");
    });

    test.skipIf(skip)("a child's mounts show the parent's files and take writes", async () => {
      await layer("p1-a", undefined, [{ name: "hello", body: "from parent" }], "p1");
      const mounts = await d.prepare("p1-child", "p1");
      expect(await d.mounts("p1-child")).toEqual(mounts);
      await withMounted(mounts, (dir) => {
        expect(readFileSync(`${dir}/hello`, "utf8")).toBe("from parent");
        writeFileSync(`${dir}/written`, "w");
      });
      const changes = await d.changes("p1-child");
      expect(changes).toEqual([{ kind: "A", path: "/written" }]);
      await d.remove("p1-child");
      await d.remove("p1");
    });

    test.skipIf(skip)("spread snapshots (pull's layers) behave as others; a crash's new-* directory is reclaimed", async () => {
      const snaps = `${tmp}/driver/snapshots`;
      const made = () => readdirSync(snaps).filter((n) => n.startsWith("new-"));
      await d.prepare("S1-a", undefined, undefined, { spread: true });
      await d.applyLayer(
        "S1-a",
        records([
          { name: "etc", type: "dir" },
          { name: "etc/spread", body: "s" },
        ]),
      );
      await d.commit("S1", "S1-a");
      // a kill -9 between the new-* mkdir and its rename left one behind: the next spread create reclaims it
      mkdirSync(`${snaps}/new-999-0123456789abcdef/fs`, { recursive: true });
      try {
        const mounts = await d.prepare("S2-a", "S1", undefined, { spread: true });
        expect(made()).toEqual([]);
        await withMounted(mounts, (dir) => expect(readFileSync(`${dir}/etc/spread`, "utf8")).toBe("s"));
        // the flag where the filesystem has it (ext2/3/4): the Orlov allocator spreads what is made in snapshots/
        const ext = Bun.spawnSync(["stat", "-f", "-c", "%T", snaps]).stdout.toString().startsWith("ext");
        if (ext) expect(addDirFlags(snaps, 0) & FS_TOPDIR_FL).toBe(FS_TOPDIR_FL);
      } finally {
        await d.remove("S2-a").catch(() => {}); // not there when its prepare failed: the failure above is the one to see
        await d.remove("S1");
      }
    });

    test.skipIf(skip)("independent layers: unpacked without a parent, the parent set at commit (pull)", async () => {
      if (!d.independentLayers) {
        // the layer needs its parent's tree: a parent at commit is refused
        await d.prepare("I2-a");
        expect(await kindOf(d.commit("I2", "I2-a", {}, { parent: "nope" }))).toBe("failed_precondition");
        await d.remove("I2-a");
        return;
      }
      // both layers unpack before either is committed, the child first
      await d.prepare("I2-a");
      await d.prepare("I1-a");
      await d.applyLayer("I2-a", records([{ name: "etc/.wh.passwd" }, { name: "opt/.wh..wh..opq" }, { name: "opt/c", body: "c" }]), { sync: false });
      await d.applyLayer("I1-a", records(base), { sync: false });
      d.sync?.("I2-a");
      expect(await kindOf(d.commit("I2", "I2-a", {}, { parent: "I1" }))).toBe("not_found");
      expect(await kindOf(d.commit("I2", "I2-a", {}, { parent: "I1-a" }))).toBe("failed_precondition");
      await d.commit("I1", "I1-a");
      await d.commit("I2", "I2-a", { extra: "1" }, { parent: "I1" });
      expect(await d.stat("I2")).toMatchObject({ kind: "committed", parent: "I1", labels: { extra: "1" } });
      expect(await kindOf(d.remove("I1"))).toBe("failed_precondition");
      await withView("I2", (dir) => {
        expect(readdirSync(`${dir}/etc`)).toEqual(["keep"]);
        expect(readdirSync(`${dir}/opt`)).toEqual(["c"]);
        expect(readFileSync(`${dir}/bin/tool`, "utf8")).toBe("#!tool");
      });
      await d.remove("I2");
      await d.remove("I1");
    });

    test.skipIf(skip)("parent chains: whiteouts, opaque dirs, attributes through the mounted view", async () => {
      await layer("L1-a", undefined, base, "L1");
      await layer("L2-a", "L1", [{ name: "etc/.wh.passwd" }, { name: "opt/.wh..wh..opq" }, { name: "opt/c", body: "c" }, { name: "new", body: "new" }], "L2");
      await layer("L3-a", "L2", [{ name: "new", body: "newer" }], "L3");
      await withView("L3", (dir) => {
        expect(readdirSync(dir).sort()).toEqual(["bin", "etc", "fifo", "lnk", "new", "opt"]);
        expect(readdirSync(`${dir}/etc`)).toEqual(["keep"]);
        expect(readdirSync(`${dir}/opt`)).toEqual(["c"]);
        expect(readFileSync(`${dir}/new`, "utf8")).toBe("newer");
        const keep = statSync(`${dir}/etc/keep`);
        expect([keep.uid, keep.gid, keep.mode & 0o7777]).toEqual([uid, gid, 0o600]);
        expect(Buffer.from(lgetxattr(`${dir}/etc/keep`, "user.berth")!).toString()).toBe("xv");
        const tool = statSync(`${dir}/bin/tool`, { bigint: true });
        expect(Number(tool.mode) & 0o7777).toBe(0o4755);
        expect(tool.mtimeNs).toBe(1_600_000_000_123_456_789n);
        expect(tool.nlink).toBe(2n);
        expect(statSync(`${dir}/bin/tool2`).ino).toBe(Number(tool.ino));
        expect(readlinkSync(`${dir}/lnk`)).toBe("etc/passwd");
        expect(lstatSync(`${dir}/fifo`).isFIFO()).toBe(true);
        // a view is read-only
        expect(() => writeFileSync(`${dir}/ro-check`, "x")).toThrow();
      });
      // the lower view still has everything
      await withView("L1", (dir) => {
        expect(readFileSync(`${dir}/etc/passwd`, "utf8")).toBe("root:x:0:0\n");
        expect(readdirSync(`${dir}/opt`).sort()).toEqual(["a", "sub"]);
        // directory mtimes are set after their contents
        expect(statSync(`${dir}/etc`, { bigint: true }).mtimeNs).toBe(1_500_000_000_000_000_999n);
      });
      const u = await d.usage("L1");
      expect(u.inodes).toBeGreaterThanOrEqual(11); // root, 3 dirs + sub, files, tool counted once
      expect(u.size).toBeGreaterThan(0);
    });

    test.skipIf(skip)("diff round trip: changes made through the mount reapply as an OCI layer", async () => {
      const mounts = await d.prepare("c1", "L1");
      await withMounted(mounts, (dir) => {
        writeFileSync(`${dir}/added.txt`, "added");
        writeFileSync(`${dir}/etc/keep`, "changed\n");
        unlinkSync(`${dir}/etc/passwd`);
        rmSync(`${dir}/opt`, { recursive: true });
        mkdirSync(`${dir}/newdir`);
        writeFileSync(`${dir}/newdir/f`, "f");
      });
      const ch = await d.changes("c1");
      for (const c of [
        { kind: "A", path: "/added.txt" },
        { kind: "C", path: "/etc" },
        { kind: "C", path: "/etc/keep" },
        { kind: "D", path: "/etc/passwd" },
        { kind: "D", path: "/opt" },
        { kind: "A", path: "/newdir" },
        { kind: "A", path: "/newdir/f" },
      ])
        expect(ch).toContainEqual(c as Change);
      expect(ch.find((c) => c.path === "/bin")).toBeUndefined();
      const layerItems = await collect(d.diff("c1"));
      const names = layerItems.map((i) => i.entry.name);
      expect(names).toContain("etc/.wh.passwd");
      expect(names).toContain(".wh.opt");
      expect(names).toContain("added.txt");
      expect(names.indexOf("newdir")).toBeLessThan(names.indexOf("newdir/f"));
      await d.prepare("r1", "L1");
      await d.applyLayer("r1", replay(layerItems));
      await d.commit("R1", "r1");
      await withView("R1", (dir) => {
        expect(readdirSync(dir).sort()).toEqual(["added.txt", "bin", "etc", "fifo", "lnk", "newdir"]);
        expect(readdirSync(`${dir}/etc`)).toEqual(["keep"]);
        expect(readFileSync(`${dir}/etc/keep`, "utf8")).toBe("changed\n");
        expect(readFileSync(`${dir}/newdir/f`, "utf8")).toBe("f");
      });
      await d.remove("c1");
      await d.remove("R1");
    });

    test.skipIf(skip)("opaque directory created by deleting and recreating through the mount", async () => {
      const mounts = await d.prepare("c2", "L1");
      await withMounted(mounts, (dir) => {
        rmSync(`${dir}/opt`, { recursive: true });
        mkdirSync(`${dir}/opt`);
        writeFileSync(`${dir}/opt/only`, "o");
      });
      const items = await collect(d.diff("c2"));
      await d.prepare("r2", "L1");
      await d.applyLayer("r2", replay(items));
      await d.commit("R2", "r2");
      await withView("R2", (dir) => expect(readdirSync(`${dir}/opt`)).toEqual(["only"]));
      await d.remove("c2");
      await d.remove("R2");
    });

    test.skipIf(skip)("remove refuses parents, then the chain goes away leaf first", async () => {
      expect(await kindOf(d.remove("L1"))).toBe("failed_precondition");
      expect(await kindOf(d.remove("L2"))).toBe("failed_precondition");
      await d.remove("L3");
      await d.remove("L2");
      await d.remove("L1");
      const left: string[] = [];
      for await (const s of d.walk()) left.push(s.name);
      expect(left).toEqual([]);
      expect(readdirSync(`${tmp}/driver/snapshots`)).toEqual([]);
    });
  });
}
