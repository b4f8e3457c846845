/** overlay specifics; the conformance suite runs over every registered driver in conformance.test.ts */
import { expect, test } from "bun:test";
import { OverlayDriver } from "./overlay.ts";

test("overlay root paths that would break the option string are refused", () => {
  expect(() => new OverlayDriver("/tmp/a:b")).toThrow("must not contain");
  expect(() => new OverlayDriver("relative")).toThrow("absolute");
});

test("cleanup: the trash of a removal killed half-way and a directory no record names go; live snapshots stay", async () => {
  const { mkdtempSync, mkdirSync, writeFileSync, existsSync, readdirSync, rmSync } = await import("node:fs");
  const { tmpdir } = await import("node:os");
  const { VfsDriver } = await import("./vfs.ts");
  const root = mkdtempSync(`${tmpdir()}/berth-cleanup-`);
  try {
    const d = new VfsDriver(root);
    await d.prepare("live");
    const [live] = readdirSync(`${root}/snapshots`);
    await d.prepare("gone");
    const [gone] = readdirSync(`${root}/snapshots`).filter((n) => n !== live);
    await d.remove("gone"); // its id is below `next` now, and nothing names it
    // what a kill leaves: the trash a removal was deleting (with a 0000 directory, as overlay's work/work)
    mkdirSync(`${root}/snapshots/rm-7/fs/locked`, { recursive: true });
    writeFileSync(`${root}/snapshots/rm-7/fs/locked/f`, "x");
    // a directory of a snapshot whose record never got written (its id below `next`)
    mkdirSync(`${root}/snapshots/${gone}/fs`, { recursive: true });
    await d.cleanup();
    expect(readdirSync(`${root}/snapshots`)).toEqual([live]);
    expect(existsSync(`${root}/snapshots/${live}/fs`)).toBe(true);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
