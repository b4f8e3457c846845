/**
 * The btrfs storage driver through the real CLI: BERTH_STORAGE_DRIVER=btrfs with --root on a btrfs made
 * for this file (a loop-mounted image, test/helpers/btrfs.ts). Import busybox, run containers, check the
 * store, remove them, and look at the filesystem's own subvolume list to see that what berth removed is
 * gone. Root only; the loop device, the mount and the image file are gone afterwards.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { join } from "node:path";
import { berth as berthRaw, repo, type CliResult } from "../helpers/cli.ts";
import { rootEnabled } from "../helpers/root.ts";
import { loopBtrfs, type LoopBtrfs } from "../helpers/btrfs.ts";

let fs: LoopBtrfs | undefined;
let root = "/nonexistent";
const env = { BERTH_STORAGE_DRIVER: "btrfs" };
const run = (args: string[]): Promise<CliResult> => berthRaw(args, { root, env });
const ok = (r: CliResult) => expect(r).toMatchObject({ exitCode: 0 });

/** subvolume paths on the test filesystem, relative to its top level */
function subvolumes(): string[] {
  const p = Bun.spawnSync(["btrfs", "subvolume", "list", fs!.mnt], { stdout: "pipe", stderr: "pipe" });
  if (p.exitCode !== 0) throw new Error(`btrfs subvolume list: ${p.stderr}`);
  return p.stdout
    .toString()
    .split("\n")
    .filter(Boolean)
    .map((l) => l.replace(/^.* path /, ""));
}

beforeAll(async () => {
  if (!rootEnabled) return;
  fs = loopBtrfs("cli");
  root = `${fs.mnt}/root`;
  const tar = join(fs.dir, "busybox.tar");
  const p = Bun.spawnSync(["bash", join(repo, "scripts/busybox-rootfs.sh"), tar]);
  if (p.exitCode !== 0) throw new Error(`busybox-rootfs.sh: ${p.stderr}`);
  const r = await run(["import", "-c", 'CMD ["sh"]', tar, "busybox:latest"]);
  if (r.exitCode !== 0) throw new Error(`import: ${r.stderr}`);
});

afterAll(async () => {
  if (!fs) return;
  try {
    const ids = (await run(["ps", "-aq", "--no-trunc"])).stdout.split("\n").filter(Boolean);
    if (ids.length) await run(["rm", "-f", ...ids]);
  } finally {
    fs[Symbol.dispose](); // throws when the mount or the loop device is left
  }
});

describe.skipIf(!rootEnabled)("btrfs storage driver", () => {
  test("the image layer is a subvolume of the btrfs root", () => {
    expect(subvolumes()).toEqual(["root/btrfs/snapshots/1/fs"]);
  });

  test("run --rm writes into its own snapshot, which is destroyed afterwards", async () => {
    expect(await run(["run", "--rm", "--network", "none", "busybox", "sh", "-c", "echo hi > /x; cat /x"])).toMatchObject({ stdout: "hi\n", exitCode: 0 });
    expect(subvolumes()).toEqual(["root/btrfs/snapshots/1/fs"]);
  });

  test("a kept container: its own subvolume, system check, rm destroys it", async () => {
    ok(await run(["run", "--name", "keep-btrfs", "--network", "none", "busybox", "sh", "-c", "echo hi > /x; rm /etc/group"]));
    const inspect = await run(["inspect", "-f", "{{.GraphDriver.Name}}", "keep-btrfs"]);
    expect(inspect).toMatchObject({ stdout: "btrfs\n", exitCode: 0 });
    expect(subvolumes().length).toBe(2);
    // the image is untouched: a new container still has /etc/group and no /x
    expect(await run(["run", "--rm", "--network", "none", "busybox", "sh", "-c", "ls /x 2>/dev/null; ls /etc/group"])).toMatchObject({
      stdout: "/etc/group\n",
      exitCode: 0,
    });
    expect(await run(["system", "check"])).toMatchObject({ stdout: expect.stringContaining(": ok"), exitCode: 0 });
    ok(await run(["rm", "keep-btrfs"]));
    expect(subvolumes()).toEqual(["root/btrfs/snapshots/1/fs"]);
    expect(await run(["system", "check"])).toMatchObject({ exitCode: 0 });
  });

  test("rmi destroys the layer's subvolume", async () => {
    ok(await run(["rmi", "busybox"]));
    expect(subvolumes()).toEqual([]);
  });

  test("off btrfs the driver refuses to start, in one line and a hint", async () => {
    const tmp = mkdtempSync("/tmp/berth-test-btrfs-off-");
    try {
      const r = await berthRaw(["images"], { root: tmp, env });
      expect(r.exitCode).not.toBe(0);
      expect(r.stderr).toMatch(/^berth: btrfs storage driver: \S+ is not on a btrfs filesystem \([^\n]*\)\nhint: [^\n]+\n$/);
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  });
});
