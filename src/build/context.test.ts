import { afterAll, describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { globMatch, isArchive, resolveRel, SourceRoot } from "./context.ts";
import { IgnoreMatcher, parseDockerignore } from "./dockerignore.ts";

const dir = mkdtempSync(join(tmpdir(), "berth-ctx-test-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const put = (name: string, body = name) => {
  mkdirSync(join(dir, name, ".."), { recursive: true });
  writeFileSync(join(dir, name), body);
};
put("a1.txt");
put("a2.txt");
put("b.md");
put("src/x.ts");
put("src/deep/y.ts");
put("logs/keep.log");
put("logs/drop.log");
symlinkSync("/etc", join(dir, "escape"));

describe("context", () => {
  test("globMatch: * and ? stay within a component", () => {
    expect(globMatch("a*.txt", "a1.txt")).toBe(true);
    expect(globMatch("*", "src/x.ts")).toBe(false);
    expect(globMatch("src/*.ts", "src/x.ts")).toBe(true);
    expect(globMatch("a?.txt", "a12.txt")).toBe(false);
    expect(globMatch("[ab]1.txt", "a1.txt")).toBe(true);
  });
  test("resolveRel keeps symlinked parents inside the root", () => {
    expect(resolveRel(dir, "escape/passwd")).toBe("etc/passwd");
    expect(resolveRel(dir, "../../x")).toBe("x");
  });
  test("collect: a directory's contents, a single file, globs; sorted", () => {
    const r = new SourceRoot(dir);
    expect(r.collect(["src"], "COPY").entries.map((e) => [e.rel, e.type])).toEqual([
      ["", "dir"],
      ["deep", "dir"],
      ["deep/y.ts", "file"],
      ["x.ts", "file"],
    ]);
    expect(r.collect(["b.md"], "COPY")).toMatchObject({ singleFile: "b.md", entries: [{ rel: "b.md", type: "file" }] });
    expect(r.collect(["a*.txt"], "COPY").entries.map((e) => e.rel)).toEqual(["a1.txt", "a2.txt"]);
    expect(() => r.collect(["nope"], "COPY")).toThrow("file not found in build context or excluded by .dockerignore");
    expect(() => r.collect(["../x"], "COPY")).toThrow("forbidden path outside the build context");
  });
  test("checksum: mtimes do not count, content and modes do", () => {
    const r = new SourceRoot(dir);
    const before = r.collect(["src"], "COPY").checksum;
    utimesSync(join(dir, "src/x.ts"), new Date(0), new Date(0));
    expect(r.collect(["src"], "COPY").checksum).toBe(before);
    writeFileSync(join(dir, "src/x.ts"), "changed");
    const edited = r.collect(["src"], "COPY").checksum;
    expect(edited).not.toBe(before);
    Bun.spawnSync(["chmod", "600", join(dir, "src/x.ts")]);
    expect(r.collect(["src"], "COPY").checksum).not.toBe(edited);
  });
  test(".dockerignore: ignored files are invisible, ! re-includes inside an ignored directory", () => {
    const r = new SourceRoot(dir, new IgnoreMatcher(parseDockerignore("*.md\nlogs\n!logs/keep.log\n")));
    const all = r.collect(["."], "COPY").entries.map((e) => e.rel);
    expect(all).toContain("logs/keep.log");
    expect(all).not.toContain("logs/drop.log");
    expect(all).not.toContain("b.md");
    expect(() => r.collect(["b.md"], "COPY")).toThrow("excluded by .dockerignore");
  });
  test("isArchive by magic", () => {
    put("plain.txt", "hello");
    expect(isArchive(join(dir, "plain.txt"))).toBe(false);
    writeFileSync(join(dir, "g.gz"), Bun.gzipSync(new TextEncoder().encode("x")));
    expect(isArchive(join(dir, "g.gz"))).toBe(true);
  });
});
