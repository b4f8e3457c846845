// ENOSPC inside the content store (issue 15 item 6): a blob commit whose final flush finds the disk
// full must remove its ingest, and putBytes must leave no temp file. A small tmpfs is the store.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { rootEnabled } from "../helpers/root.ts";
import { ContentStore } from "../../src/image/index.ts";
import { createDriver } from "../../src/cow/index.ts";
import { EngineError } from "../../src/lib/errors.ts";
import { berth, importBusybox } from "../helpers/cli.ts";

describe.skipIf(!rootEnabled)("content store on a full disk", () => {
  let dir = "";
  beforeAll(() => {
    dir = mkdtempSync("/tmp/berth-test-enospc-");
    const r = Bun.spawnSync(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", dir]);
    if (r.exitCode !== 0) throw new Error(r.stderr.toString());
  });
  afterAll(() => {
    Bun.spawnSync(["umount", "-l", dir]);
    rmSync(dir, { recursive: true, force: true });
  });

  const chunk = (n: number, seed: number) => new Uint8Array(n).map((_, i) => (i * 31 + seed) & 0xff);

  test("ENOSPC at the final flush of a commit removes the ingest", async () => {
    const cs = new ContentStore(join(dir, "content"));
    const w = await cs.writer("layer-enospc");
    // 120 KB in 10 KB pieces: all of it sits in the write buffer until commit's flush
    for (let i = 0; i < 12; i++) w.write(chunk(10_000, i));
    let err: unknown;
    try {
      await w.commit();
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(EngineError);
    expect((err as Error).message).toMatch(/ENOSPC|no space/i);
    expect(w.closed).toBe(true);
    expect(cs.listIngests()).toEqual([]);
    expect(readdirSync(cs.ingestDir)).toEqual([]);
    expect(cs.listSync()).toEqual([]);
  });

  test("ENOSPC in putBytes leaves no temp file", () => {
    const cs = new ContentStore(join(dir, "content2"));
    expect(() => cs.putBytes(chunk(200_000, 3))).toThrow(EngineError);
    expect(readdirSync(cs.ingestDir)).toEqual([]);
  });
});

describe.skipIf(!rootEnabled)("image commands on a full disk (item 9)", () => {
  let root = "";
  beforeAll(async () => {
    root = mkdtempSync("/tmp/berth-test-fullroot-");
    const r = Bun.spawnSync(["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", root]);
    if (r.exitCode !== 0) throw new Error(r.stderr.toString());
    await importBusybox(root);
    rmSync(join(root, "busybox.tar"), { force: true });
    // fill what is left
    Bun.spawnSync(["dd", "if=/dev/zero", `of=${join(root, "fill")}`, "bs=4k"]);
  });
  afterAll(() => {
    Bun.spawnSync(["umount", "-l", root]);
    rmSync(root, { recursive: true, force: true });
  });

  for (const args of [
    ["tag", "busybox", "other:1"],
    ["rmi", "busybox"],
    ["import", "-", "more:1"],
  ]) {
    test(`${args[0]}: one error line naming what failed, no stack trace`, async () => {
      const r = await berth(args, { root, stdin: "not really a tar, the disk is full anyway" });
      expect(r.exitCode).toBe(1);
      expect(r.stderr).not.toContain("    at ");
      expect(r.stderr).not.toContain("internal error");
      expect(r.stderr).toMatch(/no space left on device/i);
      expect(r.stderr.trim().split("\n").length).toBe(1);
    });
  }

  test("after the disk has room again, check is clean and nothing was half-done", async () => {
    rmSync(join(root, "fill"));
    const r = await berth(["system", "check"], { root });
    expect(r, r.stdout).toMatchObject({ exitCode: 0 });
    expect((await berth(["images", "--format", "{{.Repository}}:{{.Tag}}"], { root })).stdout).toBe("busybox:latest\n");
  });
});

describe.skipIf(!rootEnabled)("snapshots on a full disk", () => {
  let dir = "";
  beforeAll(() => {
    dir = mkdtempSync("/tmp/berth-test-snapfull-");
    const r = Bun.spawnSync(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", dir]);
    if (r.exitCode !== 0) throw new Error(r.stderr.toString());
  });
  afterAll(() => {
    Bun.spawnSync(["umount", "-l", dir]);
    rmSync(dir, { recursive: true, force: true });
  });

  test("a snapshot whose files filled the disk is removed all the same: its files first, then its record", async () => {
    const d = createDriver("vfs", join(dir, "vfs"));
    await d.prepare("extract-full", undefined);
    const [m] = await d.mounts("extract-full");
    // the unpack that filled the disk: nothing is left for the metadata's rewrite
    Bun.spawnSync(["dd", "if=/dev/zero", `of=${join(m!.source, "big")}`, "bs=4k"]);
    expect(Bun.spawnSync(["sh", "-c", `echo x > ${join(dir, "probe")}`]).exitCode).not.toBe(0);
    await d.remove("extract-full");
    expect(await err(() => d.stat("extract-full"))).toMatchObject({ kind: "not_found" });
    expect(readdirSync(join(dir, "vfs", "snapshots"))).toEqual([]);
  });
});

async function err(fn: () => Promise<unknown>): Promise<unknown> {
  try {
    await fn();
  } catch (e) {
    return e;
  }
  return undefined;
}
