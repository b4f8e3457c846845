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
  const tmp = join(dirname(path), `.${basename(path)}.tmp-${process.pid}-${Math.random().toString(36).slice(2, 8)}`);
  const fd = openSync(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | 0o2000000 /* O_CLOEXEC */, mode);
  try {
    const buf = typeof data === "string" ? Buffer.from(data) : data;
    let off = 0;
    while (off < buf.length) off += writeSync(fd, buf, off, buf.length - off);
    fsyncSync(fd);
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
  fsyncDir(dirname(path));
}

export function atomicWriteJson(path: string, value: unknown, mode = 0o644): void {
  atomicWriteFile(path, JSON.stringify(value, null, 2) + "\n", mode);
}
