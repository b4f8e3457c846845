import { afterAll, expect, test } from "bun:test";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { closeLater, removeTreeLater } from "../../src/ffi/background.ts";
import { loadShim } from "../../src/runtime/shim.ts";

const base = mkdtempSync(join(tmpdir(), "berth-bg-"));
afterAll(() => rmSync(base, { recursive: true, force: true }));

test("the shim's thread deletes a tree without following its symlinks; what it cannot delete is left to the caller's walk", async () => {
  loadShim(); // provides the thread (ffi/background.ts)
  const outside = join(base, "outside");
  mkdirSync(outside);
  writeFileSync(join(outside, "keep"), "host file");
  const tree = join(base, "tree");
  mkdirSync(join(tree, "a/b/c"), { recursive: true });
  for (let i = 0; i < 300; i++) writeFileSync(join(tree, "a", `f${i}`), "x"); // more than one getdents64 buffer
  writeFileSync(join(tree, "a/b/c/deep"), "x");
  symlinkSync(outside, join(tree, "a/link-to-dir")); // a container's symlink to a host path
  symlinkSync(join(outside, "keep"), join(tree, "link-to-file"));
  mkdirSync(join(tree, "locked"));
  writeFileSync(join(tree, "locked/inside"), "x");
  chmodSync(join(tree, "locked"), 0); // overlay's d--------- work/work
  let walked = "";
  await removeTreeLater(tree, (p) => {
    walked = p;
    rmSync(p, { recursive: true, force: true });
  });
  expect(existsSync(tree)).toBe(false);
  expect(readFileSync(join(outside, "keep"), "utf8")).toBe("host file");
  // as root the thread deletes the 0000 directory itself; otherwise the caller's walk does
  if (process.getuid?.() === 0) expect(walked).toBe("");
  // a missing tree is no error
  await removeTreeLater(join(base, "never-there"), () => {
    throw new Error("not expected");
  });
});

test("closeLater lets an fd go off this thread", async () => {
  loadShim();
  const fd = openSync(join(base, "f"), "w");
  closeLater(fd);
  for (let i = 0; i < 100; i++) {
    if (!existsSync(`/proc/self/fd/${fd}`)) break;
    await Bun.sleep(2);
  }
  expect(existsSync(`/proc/self/fd/${fd}`)).toBe(false);
});
