/**
 * Imports point one way (STYLE §1): commands → build → engine → image | cow | runtime | net → ffi,
 * with oci (types) and lib (errors, log) usable everywhere. tar is a leaf like ffi's users: it may use
 * ffi (xattrs) but no domain module. This test scans src/** and fails on an upward or sideways arrow.
 */
import { expect, test } from "bun:test";
import { Glob } from "bun";
import { readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";

const src = join(import.meta.dir, "../src");
const allowed: Record<string, string[]> = {
  lib: ["lib"],
  oci: ["oci"],
  ffi: ["ffi", "lib", "oci"],
  tar: ["tar", "ffi", "lib", "oci"],
  image: ["image", "tar", "ffi", "lib", "oci"],
  cow: ["cow", "tar", "ffi", "lib", "oci"],
  runtime: ["runtime", "ffi", "lib", "oci"],
  net: ["net", "ffi", "lib", "oci"],
  engine: ["engine", "image", "cow", "runtime", "net", "tar", "ffi", "lib", "oci"],
  build: ["build", "engine", "tar", "lib", "oci"],
  commands: ["commands", "build", "engine", "image", "tar", "lib", "oci", "version.ts", "main.ts"],
};
const moduleOf = (file: string) => relative(src, file).split("/")[0]!;

test("imports point down the module map", () => {
  const bad: string[] = [];
  for (const rel of new Glob("**/*.ts").scanSync(src)) {
    if (rel.endsWith(".test.ts")) continue;
    const file = join(src, rel);
    const from = moduleOf(file);
    const ok = allowed[from];
    if (!ok) continue; // main.ts, version.ts
    const text = readFileSync(file, "utf8");
    for (const m of text.matchAll(/(?:from|import)\s*\(?\s*["'](\.{1,2}\/[^"']+)["']/g)) {
      const to = moduleOf(resolve(dirname(file), m[1]!));
      if (!ok.includes(to)) bad.push(`${rel} imports ${m[1]} (${from} → ${to})`);
    }
  }
  expect(bad).toEqual([]);
});
