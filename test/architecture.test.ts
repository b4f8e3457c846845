/**
 * Imports point one way (STYLE §1): commands → build → engine → image | cow | runtime | net → ffi,
 * with oci (types) and lib (errors, log) usable everywhere. tar is a leaf like ffi's users: it may use
 * ffi (xattrs) but no domain module. This test scans src/** and fails on an upward or sideways arrow,
 * on a command that reaches the engine other than through src/engine/index.ts, on an import cycle, on
 * `process.` below the commands, and on an engine file that does not say what it does.
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
  daemon: ["daemon", "build", "engine", "lib", "oci", "version.ts"],
  client: ["client", "lib", "version.ts"],
  commands: ["commands", "client", "daemon", "build", "engine", "lib", "oci", "version.ts", "main.ts"],
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

/** the engine's public surface is one module (issue 11): a command (tests too) reaches the engine only
 * through src/engine/index.ts, so that file lists everything the engine can do */
test("commands import only the engine's public module", () => {
  const bad: string[] = [];
  const front = join(src, "engine/index.ts");
  for (const rel of new Glob("{commands,daemon}/**/*.ts").scanSync(src)) {
    const file = join(src, rel);
    const text = readFileSync(file, "utf8");
    for (const m of text.matchAll(/(?:from|import)\s*\(?\s*["'](\.{1,2}\/[^"']+)["']/g)) {
      const to = resolve(dirname(file), m[1]!);
      if (moduleOf(to) === "engine" && to !== front) bad.push(`${rel} imports ${m[1]}`);
    }
  }
  expect(bad).toEqual([]);
});

/** every relative import of a source file: static (`import … from`, `export … from`, `import "…"`) and
 * dynamic `import("…")` with a string literal; `import type` too (a cycle of types is a cycle of design) */
function importsOf(file: string): string[] {
  const text = readFileSync(file, "utf8");
  const out: string[] = [];
  for (const m of text.matchAll(/(?:\bfrom\s*|\bimport\s*\(\s*|^\s*import\s+)["'](\.{1,2}\/[^"']+)["']/gm)) out.push(resolve(dirname(file), m[1]!));
  return out;
}

test("no import cycles in src", () => {
  const files = [...new Glob("**/*.ts").scanSync(src)].filter((r) => !r.endsWith(".test.ts")).map((r) => join(src, r));
  const graph = new Map(files.map((f) => [f, importsOf(f).filter((t) => t !== f)]));
  const state = new Map<string, "open" | "done">();
  const cycles: string[] = [];
  const stack: string[] = [];
  const visit = (f: string) => {
    state.set(f, "open");
    stack.push(f);
    for (const t of graph.get(f) ?? []) {
      if (!graph.has(t)) continue;
      if (state.get(t) === "open") cycles.push([...stack.slice(stack.indexOf(t)), t].map((x) => relative(src, x)).join(" → "));
      else if (!state.has(t)) visit(t);
    }
    stack.pop();
    state.set(f, "done");
  };
  for (const f of files) if (!state.has(f)) visit(f);
  expect(cycles).toEqual([]);
});

/**
 * The core does not touch the process (issue 11): below src/commands nothing reads the environment,
 * argv or stdin, writes stdout/stderr, exits or installs signal handlers; main.ts reads them once and
 * passes options, streams, callbacks and an AbortSignal (Bun.env, Bun's stdio and console are the same
 * doors). Facts about the process itself (pid, arch, uid, memoryUsage) and kill(2) are not its
 * environment and stay allowed.
 */
const processUse =
  /(?<![\w.$])(process\.(env|argv|argv0|execArgv|stdin|stdout|stderr|exit|exitCode|on|once|off|addListener|removeListener|removeAllListeners|emit|chdir|cwd|umask|title)\b|Bun\.(env|argv|stdin|stdout|stderr)\b|console\.)/;

test("no process. below src/commands", () => {
  const bad: string[] = [];
  for (const rel of new Glob("{engine,image,cow,runtime,net,tar,ffi,build,lib,oci}/**/*.ts").scanSync(src)) {
    if (rel.endsWith(".test.ts") || rel.includes("_testutil")) continue;
    const lines = readFileSync(join(src, rel), "utf8").split("\n");
    for (const [i, line] of lines.entries()) if (processUse.test(line)) bad.push(`${rel}:${i + 1}: ${line.trim()}`);
  }
  expect(bad).toEqual([]);
});

/**
 * Every swallowed error says why (issue 11 item 7): an empty catch block, one that only returns a
 * literal default, `continue`s or `break`s, and a promise's `.catch(() => {})` (or `=> undefined/null`)
 * carry a comment inside, at the end of their line, or on the line above. A catch that collects the
 * error (net/index.ts's AggregateError), logs it or rethrows it needs none.
 */
const literal = String.raw`(?:undefined|null|true|false|-?\d+|"[^"\n]*"|'[^'\n]*'|\[\]|\{\})`;
const silentCatch = new RegExp(String.raw`\bcatch\s*(?:\(\s*\w*\s*\))?\s*\{\s*(?:(?:return(?:\s+${literal})?|continue|break)\s*;?\s*)?\}`, "g");
const silentPromiseCatch = /\.catch\(\s*(?:\(\s*\w*\s*\)|\w+)\s*=>\s*(?:\{\s*\}|undefined|null|void 0)\s*\)/g;
const hasComment = (s: string) => /\/\/|\/\*/.test(s);

function uncommentedCatches(text: string): number[] {
  const lines = text.split("\n");
  const lineAt = (i: number) => text.slice(0, i).split("\n").length; // 1-based
  const out: number[] = [];
  for (const re of [silentCatch, silentPromiseCatch]) {
    for (const m of text.matchAll(re)) {
      const first = lineAt(m.index!);
      const last = lineAt(m.index! + m[0].length);
      const rest = lines[last - 1]!.slice(lines[last - 1]!.indexOf(m[0].split("\n").at(-1)!) + m[0].split("\n").at(-1)!.length);
      // the reason may sit above the whole `try` (the formatter puts a one-line try/catch on 3 lines)
      const above = lines.slice(Math.max(0, first - 4), first - 1);
      if (!hasComment(m[0]) && !hasComment(rest) && !above.some(hasComment)) out.push(first);
    }
  }
  return out.sort((a, b) => a - b);
}

test("the swallowed-error check sees what it should", () => {
  expect(uncommentedCatches("try { a(); } catch {}")).toEqual([1]);
  expect(uncommentedCatches("try {\n  a();\n} catch (e) {\n}\n")).toEqual([3]);
  expect(uncommentedCatches("try {\n  a();\n} catch {\n  return undefined;\n}\n")).toEqual([3]);
  expect(uncommentedCatches("for (;;) try { a(); } catch { continue; }")).toEqual([1]);
  expect(uncommentedCatches('try { a(); } catch {\n  return "?";\n}\ntry { b(); } catch {\n  return [];\n}')).toEqual([1, 4]);
  expect(uncommentedCatches("try { a(); } catch (e) {\n  return report(e);\n}")).toEqual([]);
  expect(uncommentedCatches("await p.catch(() => {});\nawait q.catch((_e) => undefined);")).toEqual([1, 2]);
  expect(uncommentedCatches("try { a(); } catch {} // ENOENT: gone already")).toEqual([]);
  expect(uncommentedCatches("// best effort\ntry { a(); } catch {}")).toEqual([]);
  expect(uncommentedCatches("try {\n  a();\n} catch {\n  // the real error is rethrown\n}")).toEqual([]);
  expect(uncommentedCatches("await p.catch(() => {}); // exited already")).toEqual([]);
  expect(uncommentedCatches("try { a(); } catch (e) {\n  log.warn(e);\n}")).toEqual([]);
  expect(uncommentedCatches("try { a(); } catch (e) { throw wrap(e); }")).toEqual([]);
});

test("every swallowed error in src says why", () => {
  const bad: string[] = [];
  for (const rel of new Glob("**/*.ts").scanSync(src)) {
    if (rel.endsWith(".test.ts")) continue;
    const text = readFileSync(join(src, rel), "utf8");
    const lines = text.split("\n");
    for (const n of uncommentedCatches(text)) bad.push(`${rel}:${n}: ${lines[n - 1]!.trim()}`);
  }
  expect(bad).toEqual([]);
});

/** no engine file is a catch-all (issue 11): each opens with a comment (`/**` or `//`) that says the one
 * thing it does, before any import or code */
test("every src/engine file opens with a comment saying what it does", () => {
  const bad: string[] = [];
  for (const rel of new Glob("engine/**/*.ts").scanSync(src)) {
    if (rel.endsWith(".test.ts") || rel.includes("_testutil")) continue;
    const text = readFileSync(join(src, rel), "utf8")
      .replace(/^#!.*\n/, "")
      .trimStart();
    const m = /^(?:\/\*\*([\s\S]*?)\*\/|\/\/(.*))/.exec(text);
    const words = (m?.[1] ?? m?.[2] ?? "").replace(/^\s*\*/gm, "").trim();
    if (words.length < 10) bad.push(rel);
  }
  expect(bad).toEqual([]);
});
