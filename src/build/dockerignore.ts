/**
 * `.dockerignore` with docker's rules (moby/patternmatcher + the CLI's ReadAll): one pattern a line,
 * `#` comments, surrounding whitespace trimmed, patterns cleaned like Go's filepath.Clean with a leading
 * `/` dropped, `*` `?` `[...]` within one path component, `**` across any number of them, `!` re-includes.
 * The last matching pattern decides, and a pattern that matches a directory matches everything under it.
 * Pure.
 */
import { EngineError } from "../lib/errors.ts";

export interface IgnorePattern {
  text: string;
  exclusion: boolean;
  /** a RegExp, or a linear matcher for patterns with several stars */
  re: Matcher;
}

export interface Matcher {
  test(s: string): boolean;
}

/** Go's path.Clean for slash paths */
export function cleanPath(p: string): string {
  const abs = p.startsWith("/");
  const out: string[] = [];
  for (const c of p.split("/")) {
    if (c === "" || c === ".") continue;
    if (c === "..") {
      if (out.length && out.at(-1) !== "..") out.pop();
      else if (!abs) out.push("..");
      continue;
    }
    out.push(c);
  }
  const s = out.join("/");
  return abs ? "/" + s : s || ".";
}

export const STAR = "[^/]*";
const ANY = ".*",
  ANY_DIRS = "(?:.*/)?";

function patternRegExp(pattern: string): Matcher {
  // one regexp piece per glob element: a star kind, or a piece that matches exactly one character
  const parts: string[] = [];
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === "*") {
      if (pattern[i + 1] === "*") {
        i++;
        // `**/` matches zero or more directories
        if (pattern[i + 1] === "/") {
          i++;
          parts.push(ANY_DIRS);
        } else parts.push(ANY);
      } else parts.push(STAR);
    } else if (c === "?") parts.push("[^/]");
    else if (c === "[") {
      const end = pattern.indexOf("]", i + 1);
      if (end < 0) throw badPattern(pattern);
      let cls = pattern.slice(i + 1, end);
      if (cls.startsWith("^") || cls.startsWith("!")) cls = "^" + cls.slice(1);
      parts.push(`[${cls.replace(/\\/g, "\\\\")}]`);
      i = end;
    } else if (c === "\\") {
      const n = pattern[i + 1];
      if (n !== undefined) {
        parts.push(n.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&"));
        i++;
      }
    } else parts.push(c.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&"));
  }
  let re: RegExp;
  try {
    re = new RegExp("^" + parts.join("") + "$");
  } catch {
    // a class JS refuses ([z-a]) is one Go's filepath.Match refuses too: ErrBadPattern
    throw badPattern(pattern);
  }
  const isStar = (p: string) => p === STAR || p === ANY || p === ANY_DIRS;
  if (parts.filter(isStar).length <= 1) return re;
  // two or more stars backtrack polynomially in a JS RegExp (`**a**a**b` against a long path takes
  // minutes; Go's RE2 does not backtrack): match these with one linear pass per piece instead
  const pieces = parts.map((p) => (isStar(p) ? p : new RegExp(`^${p}$`)));
  return { test: (s) => globTest(pieces, s) };
}

/**
 * Does `s` match the pieces (STAR, ANY, ANY_DIRS, or a RegExp for one character)? Linear in the
 * pieces times the length of s; `at[j]`: the pieces so far can match s[0..j).
 */
export function globTest(pieces: (string | RegExp)[], s: string): boolean {
  const n = s.length;
  let at = new Uint8Array(n + 1);
  at[0] = 1;
  for (const p of pieces) {
    const next = new Uint8Array(n + 1);
    let seen = false;
    let live = false;
    for (let j = 0; j <= n; j++) {
      if (p === STAR) {
        // from any earlier reachable position without crossing a '/'
        seen ||= at[j] === 1;
        if (seen) next[j] = 1;
        if (s[j] === "/") seen = false;
      } else if (p === ANY) {
        seen ||= at[j] === 1;
        if (seen) next[j] = 1;
      } else if (p === ANY_DIRS) {
        // nothing, or anything that ends with '/'
        if (at[j] === 1 || (seen && s[j - 1] === "/")) next[j] = 1;
        seen ||= at[j] === 1;
      } else if (j < n && at[j] === 1 && (p as RegExp).test(s[j]!)) next[j + 1] = 1;
      live ||= next[j] === 1;
    }
    if (!live) return false;
    at = next;
  }
  return at[n] === 1;
}

function badPattern(pattern: string): EngineError {
  return new EngineError("invalid_argument", `syntax error in pattern ${JSON.stringify(pattern)}`);
}

export function parseDockerignore(text: string): IgnorePattern[] {
  const out: IgnorePattern[] = [];
  for (let line of text.split(/\r?\n/)) {
    if (line.startsWith("#")) continue;
    line = line.trim();
    if (line === "") continue;
    let exclusion = false;
    if (line.startsWith("!")) {
      exclusion = true;
      line = line.slice(1).trim();
      if (line === "") continue;
    }
    let p = cleanPath(line);
    if (p.startsWith("/")) p = p.slice(1) || ".";
    out.push({ text: p, exclusion, re: patternRegExp(p) });
  }
  return out;
}

export class IgnoreMatcher {
  readonly hasExclusions: boolean;
  constructor(readonly patterns: IgnorePattern[]) {
    this.hasExclusions = patterns.some((p) => p.exclusion);
  }

  /** is the context-relative slash path `rel` ignored? (the path or one of its parents matched) */
  ignores(rel: string): boolean {
    const parents: string[] = [];
    const parts = rel.split("/");
    for (let i = 1; i < parts.length; i++) parents.push(parts.slice(0, i).join("/"));
    let matched = false;
    for (const p of this.patterns) {
      if (p.exclusion !== matched) continue;
      let hit = p.re.test(rel);
      if (!hit)
        for (const par of parents)
          if (p.re.test(par)) {
            hit = true;
            break;
          }
      if (hit) matched = !p.exclusion;
    }
    return matched;
  }

  /**
   * May the walk skip the ignored directory `rel` entirely? Only when no `!` pattern could re-include
   * something below it (docker's walker makes the same check).
   */
  canSkipDir(rel: string): boolean {
    if (!this.hasExclusions) return true;
    for (const p of this.patterns) {
      if (!p.exclusion) continue;
      if (p.text.includes("**") || p.text.startsWith(rel + "/") || /^[*?[]/.test(p.text)) return false;
      // a wildcard in a leading component could also reach below rel
      const first = p.text.split("/")[0]!;
      if (/[*?[\\]/.test(first)) return false;
    }
    return true;
  }
}
