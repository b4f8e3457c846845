/**
 * `.dockerignore` with docker's rules (moby/patternmatcher + the CLI's ReadAll): one pattern a line,
 * `#` comments, surrounding whitespace trimmed, patterns cleaned like Go's filepath.Clean with a leading
 * `/` dropped, `*` `?` `[...]` within one path component, `**` across any number of them, `!` re-includes.
 * The last matching pattern decides, and a pattern that matches a directory matches everything under it.
 * Pure.
 */
export interface IgnorePattern {
  text: string;
  exclusion: boolean;
  re: RegExp;
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

function patternRegExp(pattern: string): RegExp {
  let re = "^";
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === "*") {
      if (pattern[i + 1] === "*") {
        i++;
        // `**/` matches zero or more directories
        if (pattern[i + 1] === "/") {
          i++;
          re += "(?:.*/)?";
        } else re += ".*";
      } else re += "[^/]*";
    } else if (c === "?") re += "[^/]";
    else if (c === "[") {
      const end = pattern.indexOf("]", i + 1);
      if (end < 0) throw new Error(`syntax error in pattern ${JSON.stringify(pattern)}`);
      let cls = pattern.slice(i + 1, end);
      if (cls.startsWith("^") || cls.startsWith("!")) cls = "^" + cls.slice(1);
      re += `[${cls.replace(/\\/g, "\\\\")}]`;
      i = end;
    } else if (c === "\\") {
      const n = pattern[i + 1];
      if (n !== undefined) {
        re += n.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");
        i++;
      }
    } else re += c.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");
  }
  return new RegExp(re + "$");
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
      if (!hit) for (const par of parents) if (p.re.test(par)) { hit = true; break; }
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
