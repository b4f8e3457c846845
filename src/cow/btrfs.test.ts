/**
 * The conformance suite on a real btrfs (a loop-mounted image made for this file), plus what only btrfs
 * has: subvolumes per snapshot, read-only committed layers, destroyed subvolumes, the refusal to start
 * off btrfs. Root only (mkfs, losetup, mount, subvolume ioctls).
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { snapshotterSuite } from "./testsuite.ts";
import { BtrfsDriver } from "./btrfs.ts";
import { EngineError } from "../lib/errors.ts";
import { BTRFS_SUBVOL_RDONLY, isSubvolume, subvolCreate, subvolGetFlags } from "../ffi/btrfs.ts";
import { records } from "./_testutil.ts";
import { rootEnabled } from "../../test/helpers/root.ts";
import { loopBtrfs, type LoopBtrfs } from "../../test/helpers/btrfs.ts";

let fs: LoopBtrfs | undefined;

beforeAll(() => {
  if (rootEnabled) fs = loopBtrfs("cow");
});
afterAll(() => fs?.[Symbol.dispose]());

snapshotterSuite("btrfs", (root) => new BtrfsDriver(root), { requiresRoot: true, rootEnabled, tmpParent: () => fs!.mnt });

function subvolumes(mnt: string): string[] {
  const p = Bun.spawnSync(["btrfs", "subvolume", "list", mnt], { stdout: "pipe", stderr: "pipe" });
  if (p.exitCode !== 0) throw new Error(`btrfs subvolume list: ${p.stderr}`);
  return p.stdout.toString().split("\n").filter(Boolean).map((l) => l.replace(/^.* path /, ""));
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
    const upperA = d.upperDir("A"), upperC = d.upperDir("c");
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

  test("usage of a child counts only what it added or changed", async () => {
    const root = mkdtempSync(`${fs!.mnt}/usage-`);
    const d = new BtrfsDriver(`${root}/driver`);
    await d.prepare("a");
    await d.applyLayer("a", records([{ name: "big", body: "x".repeat(1 << 20) }]));
    await d.commit("A", "a");
    await d.prepare("c", "A");
    writeFileSync(`${d.upperDir("c")}/small`, "y".repeat(8192));
    expect((await d.usage("A")).size).toBeGreaterThanOrEqual(1 << 20);
    expect(await d.usage("c")).toEqual({ size: 8192, inodes: 1 });
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
    expect((err as EngineError).message).toMatch(/^btrfs storage driver: \/tmp\/berth-test-btrfs-off-\S+\/driver is not on a btrfs filesystem \(.* has f_type 0x[0-9a-f]+\)$/);
    expect(readdirSync(tmp)).toEqual([]); // nothing created
  } finally {
    rmSync(tmp, { recursive: true });
  }
});
