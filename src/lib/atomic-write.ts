/** tmp file → fsync → rename → fsync(dir), as crun's status.c does. Nothing is ever half-written. */
import { closeSync, fsyncSync, openSync, renameSync, writeSync, unlinkSync, constants } from "node:fs";
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
    try { unlinkSync(tmp); } catch {}
    throw e;
  }
  closeSync(fd);
  try {
    renameSync(tmp, path);
  } catch (e) {
    try { unlinkSync(tmp); } catch {}
    throw e;
  }
  if (durable) fsyncDir(dirname(path));
}
