import { afterAll, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { buildImportTar } from "./fixtures.ts";

const dirs = [mkdtempSync("/tmp/berth-test-bench-"), mkdtempSync("/tmp/berth-test-bench-")];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

test("the synthetic import tarball is deterministic and GNU tar reads it cleanly", () => {
  const [a, b] = dirs.map((d) => buildImportTar(d, 2));
  const hash = (p: string) => new Bun.CryptoHasher("sha256").update(readFileSync(p)).digest("hex");
  expect(hash(a!)).toBe(hash(b!));
  const r = Bun.spawnSync(["tar", "-tvf", a!], { stdout: "pipe", stderr: "pipe" });
  expect(r.stderr.toString()).toBe("");
  expect(r.exitCode).toBe(0);
  const kinds = new Set(
    r.stdout
      .toString()
      .split("\n")
      .filter(Boolean)
      .map((l) => l[0]),
  );
  expect([...kinds].sort()).toEqual(["-", "d", "h", "l"]);
});
