import { afterAll, expect, test } from "bun:test";
import { linkSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync, utimesSync } from "node:fs";
import { join } from "node:path";
import { makedev } from "../ffi/fs.ts";
import { readDirectoryRecords, splitDev } from "./fs-source.ts";
import type { TarEntry } from "./types.ts";

const dir = mkdtempSync("/tmp/berth-test-tar-fs-");
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function list(root: string, opts = {}) {
  const out: [TarEntry, number][] = [];
  for await (const r of readDirectoryRecords(root, opts)) {
    let n = 0;
    for await (const c of r.body) n += c.length;
    out.push([r.entry, n]);
  }
  return out;
}

test("sorted walk, no symlink following, hardlinks, ns mtimes, prefix and filter", async () => {
  mkdirSync(join(dir, "t/b/c"), { recursive: true });
  mkdirSync(join(dir, "t/a"));
  writeFileSync(join(dir, "t/b/c/file"), "12345");
  writeFileSync(join(dir, "t/a/z"), Buffer.alloc(3 << 20, 1)); // several read chunks
  linkSync(join(dir, "t/b/c/file"), join(dir, "t/b/hard"));
  symlinkSync("/etc", join(dir, "t/a/etc")); // must not be followed
  utimesSync(join(dir, "t/b/c/file"), 1, 1_600_000_000.123);
  const got = await list(join(dir, "t"));
  expect(got.map(([e]) => `${e.type} ${e.name}`)).toEqual(["dir a", "symlink a/etc", "file a/z", "dir b", "dir b/c", "file b/c/file", "hardlink b/hard"]);
  const byName = new Map(got.map(([e, n]) => [e.name, { e, n }]));
  expect(byName.get("a/etc")!.e.linkname).toBe("/etc");
  expect(byName.get("a/z")!.n).toBe(3 << 20);
  expect(byName.get("b/hard")!.e).toMatchObject({ linkname: "b/c/file", size: 0 });
  const fe = byName.get("b/c/file")!.e;
  expect(Math.floor(fe.mtime)).toBe(1_600_000_000);
  expect(Math.abs(fe.mtimeNsec! - 123_000_000)).toBeLessThan(1000);

  const pre = await list(join(dir, "t"), { prefix: "root/", filter: (n: string) => n !== "b" });
  expect(pre.map(([e]) => e.name)).toEqual(["root", "root/a", "root/a/etc", "root/a/z"]);
  const single = await list(join(dir, "t/b/c/file"));
  expect(single.map(([e, n]) => [e.name, n])).toEqual([["file", 5]]);
});

test("a file that shrinks while read is an error naming it", async () => {
  const p = join(dir, "shrink");
  writeFileSync(p, Buffer.alloc(2 << 20));
  const it = readDirectoryRecords(p);
  const r = (await it.next()).value!;
  writeFileSync(p, "tiny");
  await expect(
    (async () => {
      for await (const _ of r.body);
    })(),
  ).rejects.toThrow(/file "shrink" changed as we read it: expected 2097152 bytes, got 4/);
});

test("splitDev inverts makedev", () => {
  for (const [M, m] of [
    [1, 3],
    [8, 0],
    [259, 1],
    [4095, 255],
    [4096, 1 << 19],
  ])
    expect(splitDev(makedev(M, m))).toEqual([M, m]);
});
