/**
 * A directory tree as tar records, for export, cp, save and commit: depth-first, names sorted
 * (code-unit order, which is byte order for ASCII) so the same tree always gives the same archive.
 *
 * Symlinks are never followed: every path is lstat'ed, symlinks become symlink entries, and xattrs are
 * read with the l* calls. The second and later names of an inode with nlink > 1 become hardlink entries
 * pointing at the first name (what GNU tar and docker's archive package do). Sockets are skipped, as
 * GNU tar does ("socket ignored"). File bodies are read from disk in 1 MiB chunks only when the consumer
 * iterates them; a file that shrinks while being read is an error (the header already promised its size),
 * a file that grows is cut at the size lstat reported.
 */
import { constants } from "node:fs";
// node:fs/promises is loaded on first use: importing it with the engine costs ~1.5 ms (it brings
// node:events), on the start path of every `run` (issue 13)
let fspModule: typeof import("node:fs/promises") | undefined;
const fsp = async () => (fspModule ??= await import("node:fs/promises"));
import type { BigIntStats } from "node:fs";
import { basename, join } from "node:path";
import { EngineError } from "../lib/errors.ts";
import { lgetxattr, llistxattr } from "../ffi/fs.ts";
import type { EntryType, TarEntry, TarRecord } from "./types.ts";

export interface DirectorySourceOptions {
  /** called with the archive name (without prefix) and the lstat result; false leaves the entry out,
   * and for a directory its whole subtree */
  filter?: (name: string, st: BigIntStats) => boolean;
  /** archive names become `prefix/name`, and the root itself is emitted as directory `prefix` */
  prefix?: string;
  /** which xattrs to record; default: all but system.* (ACLs, stored differently), security.selinux
   * (host labels: docker's archive package leaves them out too) and trusted.overlay.* / user.overlay.*
   * (overlayfs' own bookkeeping, never layer content). false records none. */
  xattrs?: false | ((name: string) => boolean);
  /** mtimes cut to whole seconds, as docker's archive package writes them (cp, export, layer diffs):
   * plain ustar headers then hold every ordinary entry, with no pax record for the nanoseconds */
  wholeSeconds?: boolean;
}

const CHUNK = 1 << 20;

function defaultXattrFilter(name: string): boolean {
  return !name.startsWith("system.") && name !== "security.selinux" && !name.startsWith("trusted.overlay.") && !name.startsWith("user.overlay.");
}

/** glibc's gnu_dev_major/gnu_dev_minor encoding of dev_t */
export function splitDev(dev: bigint): [major: number, minor: number] {
  const major = ((dev >> 8n) & 0xfffn) | ((dev >> 32n) & ~0xfffn);
  const minor = (dev & 0xffn) | ((dev >> 12n) & ~0xffn);
  return [Number(major), Number(minor & 0xffffffffn)];
}

function typeOfMode(mode: number): EntryType | null {
  switch (mode & constants.S_IFMT) {
    case constants.S_IFREG:
      return "file";
    case constants.S_IFDIR:
      return "dir";
    case constants.S_IFLNK:
      return "symlink";
    case constants.S_IFCHR:
      return "char";
    case constants.S_IFBLK:
      return "block";
    case constants.S_IFIFO:
      return "fifo";
    default:
      return null; // sockets
  }
}

function readXattrs(path: string, accept: (name: string) => boolean): Record<string, Uint8Array> | undefined {
  let names: string[];
  try {
    names = llistxattr(path);
  } catch {
    return undefined; // filesystems without xattr support
  }
  let out: Record<string, Uint8Array> | undefined;
  for (const n of names.sort()) {
    if (!accept(n)) continue;
    const v = lgetxattr(path, n);
    if (v !== null) (out ??= {})[n] = v.slice();
  }
  return out;
}

async function* fileBody(path: string, name: string, size: number): AsyncGenerator<Uint8Array> {
  const fh = await (await fsp()).open(path, constants.O_RDONLY | constants.O_NOFOLLOW);
  try {
    let done = 0;
    while (done < size) {
      // a fresh buffer per chunk: the consumer may keep what it was given
      const buf = Buffer.allocUnsafe(Math.min(CHUNK, size - done));
      let got = 0;
      while (got < buf.length) {
        const { bytesRead } = await fh.read(buf, got, buf.length - got, done + got);
        if (bytesRead === 0) {
          throw new EngineError("failed_precondition", `tar: file "${name}" changed as we read it: expected ${size} bytes, got ${done + got}`);
        }
        got += bytesRead;
      }
      done += got;
      yield buf;
    }
  } finally {
    await fh.close();
  }
}

async function* noBody(): AsyncGenerator<Uint8Array> {}

/**
 * Walk `dir` and yield one record per entry (see the module comment for the rules). If `dir` is not a
 * directory, it alone is yielded, named `prefix` or its basename. Throws SyscallError/node errors from
 * the filesystem, EngineError("failed_precondition") when a file shrinks while read.
 */
export async function* readDirectoryRecords(dir: string, opts: DirectorySourceOptions = {}): AsyncGenerator<TarRecord> {
  const accept = opts.xattrs === false ? null : (opts.xattrs ?? defaultXattrFilter);
  const prefix = opts.prefix?.replace(/\/+$/, "") || undefined;
  const seen = new Map<string, string>();

  const record = async (path: string, rel: string, st: BigIntStats): Promise<TarRecord | null> => {
    const mode = Number(st.mode);
    const type = typeOfMode(mode);
    if (type === null) return null;
    const name = prefix ? (rel ? `${prefix}/${rel}` : prefix) : rel;
    const ns = st.mtimeNs;
    let sec = ns / 1_000_000_000n;
    let nsec = ns % 1_000_000_000n;
    if (nsec < 0n) {
      nsec += 1_000_000_000n;
      sec -= 1n;
    }
    if (opts.wholeSeconds) nsec = 0n;
    const e: TarEntry = {
      name,
      type,
      mode: mode & 0o7777,
      uid: Number(st.uid),
      gid: Number(st.gid),
      size: 0,
      mtime: Number(sec) + Number(nsec) / 1e9,
    };
    if (nsec) e.mtimeNsec = Number(nsec);
    if (type !== "dir" && st.nlink > 1n) {
      const key = `${st.dev}:${st.ino}`;
      const first = seen.get(key);
      if (first !== undefined) {
        e.type = "hardlink";
        e.linkname = first;
        if (accept) e.xattrs = readXattrs(path, accept);
        if (!e.xattrs) delete e.xattrs;
        return { entry: e, body: noBody() };
      }
      seen.set(key, name);
    }
    if (type === "symlink") e.linkname = await (await fsp()).readlink(path);
    if (type === "char" || type === "block") [e.devmajor, e.devminor] = splitDev(st.rdev);
    if (accept) {
      const x = readXattrs(path, accept);
      if (x) e.xattrs = x;
    }
    if (type === "file") {
      e.size = Number(st.size);
      return { entry: e, body: fileBody(path, name, e.size) };
    }
    return { entry: e, body: noBody() };
  };

  async function* walk(path: string, rel: string): AsyncGenerator<TarRecord> {
    const names = (await (await fsp()).readdir(path)).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    for (const n of names) {
      const p = join(path, n);
      const r = rel ? `${rel}/${n}` : n;
      const st = await (await fsp()).lstat(p, { bigint: true });
      if (opts.filter && !opts.filter(r, st)) continue;
      const rec = await record(p, r, st);
      if (!rec) continue;
      yield rec;
      if (rec.entry.type === "dir") yield* walk(p, r);
    }
  }

  const st = await (await fsp()).lstat(dir, { bigint: true });
  if ((Number(st.mode) & constants.S_IFMT) !== constants.S_IFDIR) {
    const rec = await record(dir, prefix ? "" : basename(dir), st);
    if (rec) yield rec;
    return;
  }
  if (prefix) {
    const rec = await record(dir, "", st);
    if (rec) yield rec;
  }
  yield* walk(dir, "");
}
