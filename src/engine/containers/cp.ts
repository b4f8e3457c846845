/**
 * `cp` between a container and the host. Container paths are resolved inside the container's root in
 * userspace, one component at a time with lstat/readlink, absolute symlink targets restarting at the
 * container's root and `..` clamped at it (what openat2's RESOLVE_IN_ROOT does), so no symlink in the
 * container can lead a copy out to the host. The root is /proc/<pid>/root of a running container (its
 * mount namespace, volumes included) or, for a stopped one, its snapshot mounted privately for the copy.
 *
 * Residual race (also docker's, CVE-2018-15664): a process inside a running container can swap a
 * checked directory for a symlink between the check and the copy. Stop the container (or pause it) to
 * copy from an untrusted one.
 */
import {
  closeSync,
  cpSync,
  existsSync,
  linkSync,
  lstatSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  chmodSync,
  statSync,
  writeSync,
  constants,
} from "node:fs";
import { basename, dirname, join, posix } from "node:path";
import { EngineError } from "../../lib/errors.ts";
import { lchown, lutimes } from "../../ffi/fs.ts";
import { readDirectoryRecords, readTar, TarWriter, type TarRecord } from "../../tar/index.ts";
import { resolveInRoot } from "./container-root.ts";

/** what a running container's kernel filesystems hold is not its content (dockerd copies from the
 * rootfs and volumes, never /proc, /sys, /dev's tmpfs or a --tmpfs) */
const PSEUDO_FS = new Set([
  "proc",
  "sysfs",
  "devpts",
  "mqueue",
  "cgroup",
  "cgroup2",
  "tmpfs",
  "devtmpfs",
  "securityfs",
  "debugfs",
  "tracefs",
  "fusectl",
  "configfs",
  "pstore",
  "bpf",
  "hugetlbfs",
  "binfmt_misc",
  "autofs",
  "efivarfs",
]);

/**
 * For a running container's root (/proc/PID/root): a test that a container path lies below one of its
 * kernel filesystem mounts, whose mount points are copied as empty directories. Any other root: none.
 */
function underPseudoMount(root: string): (containerPath: string) => boolean {
  const pid = /^\/proc\/(\d+)\/root$/.exec(root)?.[1];
  if (!pid) return () => false;
  const points: string[] = [];
  let text = "";
  try {
    text = readFileSync(`/proc/${pid}/mountinfo`, "latin1");
  } catch {
    return () => false; // exited meanwhile: the copy itself reports the vanished root
  }
  for (const line of text.split("\n")) {
    const [pre, post] = line.split(" - ");
    const mp = pre?.split(" ")[4];
    const fstype = post?.split(" ")[0];
    if (mp && mp !== "/" && fstype && PSEUDO_FS.has(fstype)) points.push(mp.replace(/\\([0-7]{3})/g, (_, o) => String.fromCharCode(Number.parseInt(o, 8))));
  }
  return (p) => points.some((mp) => p.startsWith(`${mp}/`));
}

const noSuch = (ctr: string, p: string) => new EngineError("not_found", `Could not find the file ${p} in container ${ctr}`);

/** container → host (or a tar on `out` when dest is "-") */
export async function copyOut(
  root: string,
  ctrName: string,
  src: string,
  dest: string,
  out: (b: Uint8Array) => Promise<void> | void,
  followLink = false,
): Promise<void> {
  // the container's root itself is a symlink on the host while it runs (/proc/<pid>/root): a trailing
  // slash makes every lstat/copy below see the directory it leads to, never the link to the host's "/"
  const resolved = resolveInRoot(root, src, followLink);
  const hostSrc = resolved === join(root) ? `${resolved}/` : resolved;
  try {
    lstatSync(hostSrc);
  } catch {
    throw noSuch(ctrName, src);
  }
  // docker's "DIR/." is the directory's content: its entries are named "./…" (the client rebases them)
  const name = /(^|\/)\.$/.test(src) ? "." : basename(posix.normalize("/" + src)) || ".";
  const srcPath = posix.normalize(`/${resolved.slice(join(root).length)}`);
  const skip = underPseudoMount(root);
  if (dest === "-") {
    // the container's root (`cp c:/ …`) is archived as dockerd does: "/", "/bin/", …; the docker CLI
    // rebases those names onto the destination (with "./…" it would make "DEST.")
    const wholeRoot = name === "." && !/(^|\/)\.$/.test(src);
    const rootName = (n: string) => (n === "." || n === "./" ? "/" : n.startsWith("./") ? n.slice(1) : n);
    const w = new TarWriter(out);
    const filter = (rel: string) => !skip(posix.join(srcPath, rel));
    for await (const r of readDirectoryRecords(hostSrc, { prefix: name, wholeSeconds: true, filter })) {
      if (wholeRoot) {
        r.entry.name = rootName(r.entry.name);
        if (r.entry.type === "hardlink" && r.entry.linkname) r.entry.linkname = rootName(r.entry.linkname);
      }
      await w.add(r.entry, r.body);
    }
    await w.finish();
    return;
  }
  // docker: into an existing directory as its basename; otherwise as `dest` itself
  let target = dest;
  if (existsSync(dest) && statSync(dest).isDirectory()) target = join(dest, name);
  else if (src.endsWith("/") && lstatSync(hostSrc).isDirectory() && !existsSync(dirname(dest))) {
    throw new EngineError("not_found", `destination directory ${dirname(dest)} does not exist`);
  }
  const filter = (from: string) => !skip(posix.join(srcPath, posix.relative(hostSrc, from)));
  cpSync(hostSrc, target, { recursive: true, verbatimSymlinks: true, dereference: false, preserveTimestamps: true, force: true, errorOnExist: false, filter });
  keepDirTimes(hostSrc, target, undefined, (p) => skip(posix.join(srcPath, posix.relative(hostSrc, p))));
}

/**
 * docker's cp keeps directory mtimes (its tar carries them and the extractor sets them after the
 * contents); cpSync keeps only the files'. Set each copied directory's times from its source, children
 * first, since writing into a directory changed its mtime. lstat: a symlink is never followed.
 */
function keepDirTimes(src: string, target: string, root?: string, skip?: (src: string) => boolean): void {
  const st = lstatSync(src, { bigint: true });
  if (!st.isDirectory()) return;
  for (const name of readdirSync(src)) if (!skip?.(join(src, name))) keepDirTimes(join(src, name), join(target, name), root, skip);
  const ts = (ns: bigint): [number, number] => [Number(ns / 1_000_000_000n), Number(ns % 1_000_000_000n)];
  // into a container (`root`): resolved again inside it, so a directory the container swapped for a
  // symlink meanwhile leads nowhere outside
  lutimes(root ? resolveInRoot(root, target.slice(root.length), false) : target, ts(st.atimeNs), ts(st.mtimeNs));
}

/** how a copy into a container treats what it finds and whose files it makes (docker's archive PUT) */
export interface CopyInOptions {
  /** `cp -a` / copyUIDGID: the copied entries keep their owners; otherwise they belong to root (0:0) */
  keepOwners?: boolean;
  /** noOverwriteDirNonDir (the docker CLI always sets it): an entry never replaces a directory with a
   * non-directory or the other way round; the copy fails instead */
  noOverwriteDirNonDir?: boolean;
}

/** host file/dir → container directory/path */
export function copyIn(root: string, src: string, dest: string, opts: CopyInOptions = {}): void {
  if (!existsSync(src)) throw new EngineError("not_found", `could not find the file ${src} on the host`);
  const hostDest = resolveInRoot(root, dest, true);
  let target = hostDest;
  // the container's root itself may be a symlink on the host (/proc/<pid>/root): stat, not lstat, there
  if (existsSync(hostDest) && (hostDest === join(root) ? statSync(hostDest) : lstatSync(hostDest)).isDirectory()) target = join(hostDest, basename(src));
  else if (!existsSync(dirname(hostDest))) throw new EngineError("not_found", `Could not find the file ${dirname(dest)} in container`);
  // the parent was resolved inside the root; never write through a symlink that sits at the target
  try {
    if (lstatSync(target).isSymbolicLink()) rmSync(target);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw new EngineError("internal", `cp: replace ${target}: ${(e as Error).message}`, { cause: e });
  } // ENOENT: a new file; a symlink we fail to remove must not be written through
  cpSync(src, target, { recursive: true, verbatimSymlinks: true, dereference: false, preserveTimestamps: true, force: true });
  if (opts.keepOwners) keepOwners(src, target, root);
  keepDirTimes(src, target, root);
}

/** `cp -a`: each copied entry gets its source's owner (cpSync makes them the copier's, root) */
function keepOwners(src: string, target: string, root: string): void {
  const st = lstatSync(src);
  // resolved again inside the container, so a path it swapped for a symlink meanwhile leads nowhere outside
  const inRoot = resolveInRoot(root, target.slice(root.length), false);
  try {
    lchown(inRoot, st.uid, st.gid);
  } catch {} // EPERM without root: the copier's owner stays, as an unprivileged tar -x leaves it
  if (st.isDirectory()) for (const name of readdirSync(src)) keepOwners(join(src, name), join(target, name), root);
}

/** a tar stream (stdin) → extracted under container directory `dest`; names may not escape */
export async function extractIn(root: string, dest: string, source: AsyncIterable<Uint8Array>, opts: CopyInOptions = {}): Promise<void> {
  const base = resolveInRoot(root, dest, true);
  // the container's root itself may be a symlink on the host (/proc/PID/root): stat, not lstat, there
  if (!existsSync(base) || !(base === join(root) ? statSync(base) : lstatSync(base)).isDirectory())
    throw new EngineError("not_found", `Could not find the file ${dest} in container`);
  const rel = base.slice(root.length);
  const dirs: [string, TarRecord["entry"]][] = [];
  for await (const r of readTar(source)) {
    const e = r.entry;
    const parts = e.name.split("/").filter((x) => x && x !== ".");
    if (e.name.startsWith("/") || parts.includes(".."))
      throw new EngineError("invalid_argument", `tar: refusing entry ${e.name}: path escapes the destination`);
    if (parts.length === 0) continue;
    const parent = resolveInRoot(root, join(rel, ...parts.slice(0, -1)), true);
    if (!parent.startsWith(root)) throw new EngineError("invalid_argument", `tar: refusing entry ${e.name}`);
    mkdirSync(parent, { recursive: true });
    const target = join(parent, parts[parts.length - 1]!);
    try {
      const st = lstatSync(target);
      const where = posix.join("/", rel, ...parts);
      if (opts.noOverwriteDirNonDir && st.isDirectory() !== (e.type === "dir"))
        throw new EngineError(
          "invalid_argument",
          st.isDirectory()
            ? `cannot overwrite directory "${where}" with non-directory "${e.name}"`
            : `cannot overwrite non-directory "${where}" with directory "${e.name}"`,
        );
      if (!(st.isDirectory() && e.type === "dir")) rmSync(target, { recursive: true, force: true });
    } catch (e) {
      if (e instanceof EngineError) throw e;
      if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw new EngineError("internal", `cp: replace ${target}: ${(e as Error).message}`, { cause: e });
    } // ENOENT: a new entry; one we fail to remove must not be written through
    switch (e.type) {
      case "dir":
        mkdirSync(target, { recursive: true });
        dirs.push([target, e]);
        break;
      case "file": {
        const fd = openSync(target, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
        try {
          for await (const chunk of r.body) {
            let off = 0;
            while (off < chunk.length) off += writeSync(fd, chunk, off, chunk.length - off);
          }
        } finally {
          closeSync(fd);
        }
        chmodSync(target, e.mode);
        break;
      }
      case "symlink":
        symlinkSync(e.linkname ?? "", target);
        break;
      case "hardlink": {
        const lp = (e.linkname ?? "").split("/").filter((x) => x && x !== ".");
        if (lp.includes("..")) throw new EngineError("invalid_argument", `tar: refusing hardlink ${e.name}`);
        linkSync(resolveInRoot(root, join(rel, ...lp), false), target);
        break;
      }
      default:
        continue; // devices and fifos are not copied into containers
    }
    // owners: the archive's with copyUIDGID (`cp -a`), else the container's root, as dockerd makes them;
    // EPERM when not root, and the files stay the caller's, as an unprivileged tar -x leaves them
    try {
      if (opts.keepOwners) lchown(target, e.uid, e.gid);
      else lchown(target, 0, 0);
    } catch {
      /* see above */
    }
    // times are best effort: a failure leaves the time of the copy, not worth failing the copy for
    if (e.type !== "dir")
      try {
        lutimes(target, [Math.floor(e.mtime), 0], [Math.floor(e.mtime), e.mtimeNsec ?? 0]);
      } catch {
        /* see above */
      }
  }
  for (const [d, e] of dirs.reverse()) {
    // a directory the tar made: mode and times after its contents; best effort like the entries' times
    try {
      chmodSync(d, e.mode);
    } catch {
      /* see above */
    }
    try {
      lutimes(d, [Math.floor(e.mtime), 0], [Math.floor(e.mtime), e.mtimeNsec ?? 0]);
    } catch {
      /* see above */
    }
  }
}
