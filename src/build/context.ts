/**
 * The build context on disk: COPY/ADD sources matched (globs per path component, like Go's
 * filepath.Match), `.dockerignore` applied, and each source walked into a copy plan with a checksum of
 * the content and metadata that matter (names, types, modes, link targets, file bytes — never mtimes),
 * which is what the cache key uses. Files are read in 1 MiB chunks; nothing is held whole in memory.
 *
 * The same walker serves COPY --from, with the mounted root of a stage or image as its "context" (and
 * no ignore file). Source paths are resolved inside the root: `..` is clamped and symlinks in parent
 * positions restart at the root, so no source can name a host file outside it.
 */
import { closeSync, lstatSync, openSync, readdirSync, readlinkSync, readSync, type Stats } from "node:fs";
import { join, posix } from "node:path";
import { EngineError } from "../lib/errors.ts";
import type { CopyEntry } from "../engine/build.ts";
import { resolveInRoot } from "../engine/containers/container-root.ts";
import { cleanPath, globTest, STAR, type IgnoreMatcher } from "./dockerignore.ts";

export interface SourceSet {
  entries: CopyEntry[];
  /** the single matched source when it is a file (docker's "copy to dest unless dest is a dir") */
  singleFile?: string;
  /** sha256 over names, types, modes, link targets and content */
  checksum: string;
  /** local archives (ADD unpacks them): host paths */
  archives: string[];
}

const GLOB = /[*?[]/;

function hasGlob(p: string): boolean {
  return GLOB.test(p);
}

/** Go's filepath.Match on whole slash paths: `*` and `?` never match `/` */
export function globMatch(pattern: string, name: string): boolean {
  const parts: string[] = [];
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === "*") parts.push(STAR);
    else if (c === "?") parts.push("[^/]");
    else if (c === "[") {
      const end = pattern.indexOf("]", i + 1);
      if (end < 0) return false;
      let cls = pattern.slice(i + 1, end);
      if (cls.startsWith("^") || cls.startsWith("!")) cls = "^" + cls.slice(1);
      parts.push(`[${cls.replace(/\\/g, "\\\\")}]`);
      i = end;
    } else if (c === "\\" && i + 1 < pattern.length) {
      parts.push(pattern[++i]!.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&"));
    } else parts.push(c.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&"));
  }
  let re: RegExp;
  try {
    re = new RegExp("^" + parts.join("") + "$");
  } catch {
    // a class JS refuses ([z-a]) matches nothing, like an unclosed one
    return false;
  }
  // several stars backtrack polynomially in a JS RegExp (*a*a*a*a*a*b: 6 s for a 100-character name)
  if (parts.filter((p) => p === STAR).length <= 1) return re.test(name);
  return globTest(
    parts.map((p) => (p === STAR ? p : new RegExp(`^${p}$`))),
    name,
  );
}

/** `p` (slash path relative to root) resolved inside root with its parents' symlinks followed there */
export function resolveRel(root: string, p: string): string {
  return resolveInRoot(root, p, false).slice(root.length).replace(/^\/+/, "");
}

export class SourceRoot {
  constructor(
    readonly root: string,
    readonly ignore?: IgnoreMatcher,
    readonly what = "build context",
  ) {}

  private ignored(rel: string): boolean {
    return !!this.ignore && rel !== "" && this.ignore.ignores(rel);
  }

  /** every non-ignored path under the root (for globs), pre-order */
  private *all(rel = ""): Generator<string> {
    let names: string[];
    try {
      names = readdirSync(rel ? join(this.root, rel) : this.root).sort();
    } catch {
      return; // removed or unreadable mid-walk: it contributes no glob matches (the CLI checked the root is a directory)
    }
    for (const n of names) {
      const r = rel ? `${rel}/${n}` : n;
      const st = lstatSync(join(this.root, r));
      if (this.ignored(r)) {
        if (st.isDirectory() && this.ignore!.canSkipDir(r)) continue;
      } else yield r;
      if (st.isDirectory()) yield* this.all(r);
    }
  }

  /** the context-relative paths a COPY source names */
  match(src: string, instr: string): string[] {
    const cleaned = cleanPath(src.startsWith("/") ? src.slice(1) || "." : src);
    if (cleaned === ".." || cleaned.startsWith("../"))
      throw new EngineError("invalid_argument", `${instr} failed: forbidden path outside the build context: ${src} ()`);
    const rel = cleaned === "." ? "" : cleaned;
    if (hasGlob(rel)) {
      const depth = rel.split("/").length;
      const hits = [...this.all()].filter((p) => p.split("/").length === depth && globMatch(rel, p));
      if (hits.length === 0) throw new EngineError("not_found", `${instr} failed: no source files were specified`);
      return hits;
    }
    const resolved = rel === "" ? "" : resolveRel(this.root, rel);
    const st = lstatSync(resolved ? join(this.root, resolved) : this.root, { throwIfNoEntry: false });
    if (!st || this.ignored(resolved)) {
      throw new EngineError("not_found", `${instr} failed: file not found in ${this.what} or excluded by .dockerignore: stat ${src}: file does not exist`);
    }
    return [resolved];
  }

  /** the entries of one matched path, relative to where it lands under the destination */
  *walk(rel: string, landAs: string): Generator<{ entry: CopyEntry; st: Stats }> {
    const abs = rel ? join(this.root, rel) : this.root;
    const st = lstatSync(abs);
    const mtime = Math.floor(st.mtimeMs / 1000);
    if (st.isDirectory()) {
      yield { entry: { rel: landAs, type: "dir", mode: st.mode & 0o7777, mtime }, st };
      for (const n of readdirSync(abs).sort()) {
        const r = rel ? `${rel}/${n}` : n;
        const childSt = lstatSync(join(this.root, r));
        if (this.ignored(r)) {
          if (!childSt.isDirectory() || this.ignore!.canSkipDir(r)) continue;
          // an ignored directory with re-included children: its walk skips what stays ignored
        }
        yield* this.walk(r, landAs ? `${landAs}/${n}` : n);
      }
      return;
    }
    if (st.isSymbolicLink()) {
      yield { entry: { rel: landAs, type: "symlink", mode: 0o777, mtime, linkname: readlinkSync(abs) }, st };
      return;
    }
    if (st.isFile()) {
      yield { entry: { rel: landAs, type: "file", src: abs, mode: st.mode & 0o7777, mtime }, st };
    }
    // devices, fifos and sockets are not copied (docker skips sockets; devices need a privileged context)
  }

  /** the copy plan for the sources of one COPY/ADD; archives are unpacked instead when `unpack` */
  collect(sources: string[], instr: string, unpack = false): SourceSet {
    const it = this.collecting(sources, instr, unpack);
    for (let r = it.next(); ; r = it.next()) if (r.done) return r.value;
  }

  /**
   * collect(), with `pace` awaited every ~1 MiB hashed or entry walked (a build lets its event loop
   * run there, so a signal stops the checksum of a big context, and throws from `pace` to cancel)
   */
  async collectPaced(sources: string[], instr: string, unpack: boolean, pace: () => Promise<void>): Promise<SourceSet> {
    const it = this.collecting(sources, instr, unpack);
    for (let r = it.next(); ; r = it.next()) {
      if (r.done) return r.value;
      await pace();
    }
  }

  private *collecting(sources: string[], instr: string, unpack: boolean): Generator<void, SourceSet> {
    const entries: CopyEntry[] = [];
    const archives: string[] = [];
    const h = new Bun.CryptoHasher("sha256");
    const matched: string[] = [];
    for (const s of sources) matched.push(...this.match(s, instr));
    let singleFile: string | undefined;
    if (matched.length === 1 && !sources.some(hasGlob)) {
      const st = lstatSync(matched[0] ? join(this.root, matched[0]) : this.root);
      if (!st.isDirectory()) singleFile = posix.basename(matched[0]!);
    }
    for (const m of matched) {
      const abs = m ? join(this.root, m) : this.root;
      const st = lstatSync(abs);
      if (unpack && st.isFile() && isArchive(abs)) {
        archives.push(abs);
        h.update(`archive\0${m}\0`);
        yield* hashFile(h, abs);
        continue;
      }
      const landAs = st.isDirectory() ? "" : posix.basename(m);
      for (const { entry } of this.walk(m, landAs)) {
        entries.push(entry);
        h.update(`${entry.rel}\0${entry.type}\0${entry.mode.toString(8)}\0${entry.linkname ?? ""}\0`);
        if (entry.type === "file") yield* hashFile(h, entry.src!);
        h.update("\n");
        yield;
      }
    }
    // an archive ADD unpacks into dest as a directory, trailing slash or not
    return { entries, singleFile: archives.length ? undefined : singleFile, checksum: h.digest("hex"), archives };
  }
}

/** hash a file's bytes, a pause point after each MiB */
function* hashFile(h: Bun.CryptoHasher, path: string): Generator<void> {
  const fd = openSync(path, "r");
  try {
    const buf = Buffer.allocUnsafe(1 << 20);
    for (;;) {
      const n = readSync(fd, buf, 0, buf.length, null);
      if (n <= 0) break;
      h.update(buf.subarray(0, n));
      yield;
    }
  } finally {
    closeSync(fd);
  }
}

/** tar, gzip or zstd by magic (docker's ADD also unpacks bzip2 and xz; src/tar cannot read them yet) */
export function isArchive(path: string): boolean {
  const fd = openSync(path, "r");
  const b = Buffer.alloc(512);
  let n = 0;
  try {
    n = readSync(fd, b, 0, 512, 0);
  } finally {
    closeSync(fd);
  }
  if (n >= 2 && b[0] === 0x1f && b[1] === 0x8b) return true;
  if (n >= 4 && b.readUInt32LE(0) === 0xfd2fb528) return true;
  return n >= 262 && b.subarray(257, 262).toString("latin1") === "ustar";
}
