/**
 * What only btrfs has, on a real btrfs (a loop-mounted image made for this file; the conformance suite
 * runs on one of its own in conformance.test.ts): subvolumes per snapshot, read-only committed layers,
 * destroyed subvolumes, the refusal to start off btrfs. Root only (mkfs, losetup, mount, subvolume ioctls).
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import {
  appendFileSync,
  chmodSync,
  linkSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  symlinkSync,
  truncateSync,
  utimesSync,
  writeFileSync,
} from "node:fs";
import { BtrfsDriver, changedDirs } from "./btrfs.ts";
import { treeChanges } from "./diff.ts";
import { EngineError } from "../lib/errors.ts";
import { BTRFS_SUBVOL_RDONLY, isSubvolume, subvolCreate, subvolGetFlags } from "../ffi/btrfs.ts";
import { records, type EntrySpec } from "./_testutil.ts";
import { lsetxattr } from "../ffi/fs.ts";
import { rootEnabled } from "../../test/helpers/root.ts";
import { loopBtrfs, type LoopBtrfs } from "../../test/helpers/btrfs.ts";

let fs: LoopBtrfs | undefined;

beforeAll(() => {
  if (rootEnabled) fs = loopBtrfs("cow");
});
afterAll(() => fs?.[Symbol.dispose]());

function subvolumes(mnt: string): string[] {
  const p = Bun.spawnSync(["btrfs", "subvolume", "list", mnt], { stdout: "pipe", stderr: "pipe" });
  if (p.exitCode !== 0) throw new Error(`btrfs subvolume list: ${p.stderr}`);
  return p.stdout
    .toString()
    .split("\n")
    .filter(Boolean)
    .map((l) => l.replace(/^.* path /, ""));
}

describe.skipIf(!rootEnabled)("btrfs driver specifics", () => {
  test("each snapshot is a subvolume, committed ones read-only, removal destroys them (nested ones too)", async () => {
    const root = mkdtempSync(`${fs!.mnt}/spec-`);
    const d = new BtrfsDriver(`${root}/driver`);
    await d.prepare("a", undefined);
    await d.applyLayer("a", records([{ name: "f", body: "1" }]));
    await d.commit("A", "a");
    const [m] = await d.prepare("c", "A");
    expect(m).toMatchObject({ type: "bind", options: ["rbind", "rw"] });
    const upperA = d.upperDir("A"),
      upperC = d.upperDir("c");
    expect(isSubvolume(upperA) && isSubvolume(upperC)).toBe(true);
    expect(subvolGetFlags(upperA) & BTRFS_SUBVOL_RDONLY).toBe(BTRFS_SUBVOL_RDONLY);
    expect(subvolGetFlags(upperC) & BTRFS_SUBVOL_RDONLY).toBe(0n);
    expect(() => writeFileSync(`${upperA}/g`, "x")).toThrow(/EROFS|read-only/);
    const [v] = await d.view("v", "A");
    expect(v!.options).toEqual(["rbind", "ro"]);
    expect(subvolGetFlags(d.upperDir("v")) & BTRFS_SUBVOL_RDONLY).toBe(BTRFS_SUBVOL_RDONLY);
    await d.view("e");
    expect(subvolGetFlags(d.upperDir("e")) & BTRFS_SUBVOL_RDONLY).toBe(BTRFS_SUBVOL_RDONLY);
    expect(readdirSync(d.upperDir("e"))).toEqual([]);
    await d.remove("e");
    // a subvolume made inside the container's rootfs must not block rm
    subvolCreate(upperC, "nested");
    writeFileSync(`${upperC}/nested/x`, "x");
    expect(subvolumes(fs!.mnt).filter((p) => p.includes(root.slice(fs!.mnt.length + 1))).length).toBe(4);
    await d.remove("c");
    await d.remove("v");
    await d.remove("A");
    expect(subvolumes(fs!.mnt).filter((p) => p.includes(root.slice(fs!.mnt.length + 1)))).toEqual([]);
    expect(readdirSync(`${root}/driver/snapshots`)).toEqual([]);
    rmSync(root, { recursive: true });
  });

  test("changes found from the subvolume's changed inodes equal a full tree walk", async () => {
    const root = mkdtempSync(`${fs!.mnt}/fast-`);
    const d = new BtrfsDriver(`${root}/driver`);
    const specs: EntrySpec[] = [];
    for (let i = 0; i < 10; i++) {
      specs.push({ name: `d${i}`, type: "dir" }, { name: `d${i}/sub`, type: "dir" }, { name: `d${i}/sub/deep`, type: "dir" });
      for (let j = 0; j < 40; j++) specs.push({ name: `d${i}/sub/deep/f${j}`, body: `${i}-${j}`, mtime: 1_600_000_000 });
      specs.push({ name: `d${i}/top`, body: "t" }, { name: `d${i}/sub/link`, type: "symlink", linkname: "deep/f0" });
    }
    specs.push({ name: "hard", body: "h" }, { name: "d7/sub/deep/hard2", type: "hardlink", linkname: "hard" });
    await d.prepare("a");
    await d.applyLayer("a", records(specs));
    await d.commit("A", "a");
    await d.prepare("c", "A");
    const up = d.upperDir("c"),
      low = d.upperDir("A");
    // nothing changed yet: only the root is looked at
    expect([...changedDirs(up, low)!]).toEqual([""]);
    expect(await d.changes("c")).toEqual([]);
    writeFileSync(`${up}/d0/sub/deep/f1`, "X-1"); // same size, new mtime
    writeFileSync(`${up}/d0/sub/deep/f2`, "0-2"); // same content and size, mtime put back
    utimesSync(`${up}/d0/sub/deep/f2`, 1_600_000_000, 1_600_000_000);
    appendFileSync(`${up}/d1/sub/deep/f3`, "more");
    chmodSync(`${up}/d2/sub/deep/f4`, 0o600);
    lsetxattr(`${up}/d2/sub/deep/f5`, "user.x", new TextEncoder().encode("1"));
    rmSync(`${up}/d3/sub/deep/f6`);
    renameSync(`${up}/d4/sub/deep/f7`, `${up}/d5/sub/moved`);
    mkdirSync(`${up}/d6/sub/deep/newdir`);
    writeFileSync(`${up}/d6/sub/deep/newdir/n`, "n");
    rmSync(`${up}/d3/sub/link`);
    symlinkSync("deep/f9", `${up}/d3/sub/link`);
    truncateSync(`${up}/hard`, 0); // reached through d7/sub/deep/hard2 as well
    linkSync(`${up}/d0/top`, `${up}/d1/sub/extra-link`);
    rmSync(`${up}/d5/sub/deep`, { recursive: true });
    writeFileSync(`${up}/d5/sub/deep`, "now a file");
    chmodSync(`${up}/d4`, 0o700);
    // reads rewrite inode items (atime) without changing anything
    const atimeBefore = statSync(`${up}/d9/sub/deep/f0`).atimeMs;
    readdirSync(`${up}/d8`);
    readFileSync(`${up}/d9/sub/deep/f0`);
    expect(statSync(`${up}/d9/sub/deep/f0`).atimeMs).not.toBe(atimeBefore);
    const dirs = changedDirs(up, low)!;
    for (const p of [
      "d0/sub/deep",
      "d1/sub",
      "d1/sub/deep",
      "d2/sub/deep",
      "d3/sub",
      "d3/sub/deep",
      "d4",
      "d4/sub/deep",
      "d5/sub",
      "d6/sub/deep",
      "d7/sub/deep",
      "",
    ])
      expect(dirs).toContain(p);
    for (const p of ["d7/sub", "d6/sub/deep/newdir"]) expect(dirs).toContain(p);
    for (const p of ["d8", "d9/sub/deep", "d0/sub/link"]) expect(dirs.has(p)).toBe(false); // untouched, or not a directory
    const fast = await d.changes("c");
    expect(fast).toEqual(await treeChanges(low, up));
    expect(fast.length).toBeGreaterThan(15);
    await d.remove("c");
    await d.remove("A");
    rmSync(root, { recursive: true });
  });

  test("usage of a child counts only what it added or changed", async () => {
    const root = mkdtempSync(`${fs!.mnt}/usage-`);
    const d = new BtrfsDriver(`${root}/driver`);
    await d.prepare("a");
    await d.applyLayer("a", records([{ name: "big", body: "x".repeat(1 << 20) }]));
    await d.commit("A", "a");
    await d.prepare("c", "A");
    writeFileSync(`${d.upperDir("c")}/small`, "y".repeat(8192));
    expect((await d.usage("A")).size).toBeGreaterThanOrEqual(1 << 20);
    expect(await d.usage("c")).toEqual({ size: 8192, inodes: 1, apparent: 8192 });
    await d.remove("c");
    await d.remove("A");
    rmSync(root, { recursive: true });
  });
});

test.skipIf(!rootEnabled)("refuses to start off btrfs, with one line", () => {
  const tmp = mkdtempSync("/tmp/berth-test-btrfs-off-");
  try {
    let err: unknown;
    try {
      new BtrfsDriver(`${tmp}/driver`);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(EngineError);
    expect((err as EngineError).kind).toBe("failed_precondition");
    expect((err as EngineError).message).toMatch(
      /^btrfs storage driver: \/tmp\/berth-test-btrfs-off-\S+\/driver is not on a btrfs filesystem \(.* has f_type 0x[0-9a-f]+\)$/,
    );
    expect(readdirSync(tmp)).toEqual([]); // nothing created
  } finally {
    rmSync(tmp, { recursive: true });
  }
});
