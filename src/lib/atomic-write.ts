/** tmp file → fsync → rename → fsync(dir), as crun's status.c does. Nothing is ever half-written. */
import { closeSync, fsyncSync, ftruncateSync, openSync, renameSync, writeSync, unlinkSync, constants } from "node:fs";
import { dirname, basename, join } from "node:path";

export function fsyncDir(dir: string): void {
  const fd = openSync(dir, constants.O_RDONLY | constants.O_DIRECTORY);
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

export function atomicWriteFile(path: string, data: string | Uint8Array, mode = 0o644): void {
  writeViaTmp(path, data, mode, true);
}

export function atomicWriteJson(path: string, value: unknown, mode = 0o644): void {
  atomicWriteFile(path, JSON.stringify(value, null, 2) + "\n", mode);
}

/**
 * tmp file → rename, without the fsyncs: readers never see a half-written file, but a power loss may
 * lose the new content. Only for files derived from durable state and rewritten at every use (a
 * container's /etc/hosts at each start, runtime records of network endpoints that die with the kernel's
 * links anyway): the two fsyncs cost ~10 ms each on a busy disk, on the hot path of `run`.
 */
export function replaceFile(path: string, data: string | Uint8Array, mode = 0o644): void {
  writeViaTmp(path, data, mode, false);
}

/**
 * Rewrite `path` in place, keeping its inode: for a file bind-mounted into a running container (its
 * /etc/hosts), where a rename would leave the container looking at the old inode. Not atomic — docker
 * rewrites these the same way — so only for such derived files; written first, then truncated to the
 * new length, so a reader never sees an empty file.
 */
export function overwriteInPlace(path: string, data: string | Uint8Array): void {
  const buf = typeof data === "string" ? Buffer.from(data) : data;
  const fd = openSync(path, constants.O_WRONLY | 0o2000000 /* O_CLOEXEC */ | constants.O_NOFOLLOW);
  try {
    let off = 0;
    while (off < buf.length) off += writeSync(fd, buf, off, buf.length - off, off);
    ftruncateSync(fd, buf.length);
  } finally {
    closeSync(fd);
  }
}

function writeViaTmp(path: string, data: string | Uint8Array, mode: number, durable: boolean): void {
  const tmp = join(dirname(path), `.${basename(path)}.tmp-${process.pid}-${Math.random().toString(36).slice(2, 8)}`);
  const fd = openSync(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | 0o2000000 /* O_CLOEXEC */, mode);
  try {
    const buf = typeof data === "string" ? Buffer.from(data) : data;
    let off = 0;
    while (off < buf.length) off += writeSync(fd, buf, off, buf.length - off);
    if (durable) fsyncSync(fd);
  } catch (e) {
    closeSync(fd);
    try {
      unlinkSync(tmp);
    } catch {} // best-effort cleanup after the real error, which is rethrown
    throw e;
  }
  closeSync(fd);
  const old = holdInode(path);
  try {
    renameSync(tmp, path);
  } catch (e) {
    try {
      unlinkSync(tmp);
    } catch {} // best-effort cleanup after the real error, which is rethrown
    throw e;
  } finally {
    if (old >= 0) releaseInode(old);
  }
  if (durable) fsyncDir(dirname(path));
}

const O_PATH = 0o10000000;

let releaseInode: (fd: number) => void = closeSync;

/** how a held old version is let go: closed here, until ffi/background.ts has a thread for it */
export function setInodeReleaser(release: (fd: number) => void): void {
  releaseInode = release;
}

/**
 * The version about to be replaced, held open (O_PATH) across the rename and let go by releaseInode:
 * the rename then only unlinks it, and its blocks are freed at that last close, off this thread once
 * the runtime has one for it (ffi/background.ts). On a filesystem mounted `discard` without a journal
 * each freed block waits for the device (0.1–0.2 ms a file on this kind of VM; a `run` replaces five
 * records). -1 when there is nothing to replace.
 */
function holdInode(path: string): number {
  try {
    return openSync(path, O_PATH | 0o2000000 /* O_CLOEXEC */);
  } catch {
    return -1;
  }
}
