/**
 * A whole-file flock(2) lock, for any store that serialises its writers through a lock file. flock locks
 * belong to the open file description, so they exclude other processes *and* other fds of this process;
 * they vanish when the holder dies, so no stale-lock cleanup is ever needed (flock(2), "NOTES").
 */
import { closeSync, constants, openSync } from "node:fs";
import { flock, LOCK_EX, LOCK_NB, LOCK_SH, LOCK_UN } from "./fs.ts";
import { wrap } from "../lib/errors.ts";

export type LockMode = "shared" | "exclusive";
export const O_CLOEXEC = 0o2000000;

export class FileLock implements Disposable {
  private constructor(
    readonly path: string,
    private fd: number,
  ) {}

  /**
   * Lock `path` (created if missing). With `wait: false` returns undefined when another holder
   * conflicts instead of blocking.
   */
  static acquire(path: string, mode: LockMode, opts: { wait?: boolean } = {}): FileLock | undefined {
    let fd: number;
    try {
      fd = openSync(path, constants.O_RDWR | constants.O_CREAT | O_CLOEXEC, 0o600);
    } catch (e) {
      throw wrap(`open lock ${path}`, e);
    }
    try {
      const op = (mode === "shared" ? LOCK_SH : LOCK_EX) | (opts.wait === false ? LOCK_NB : 0);
      if (!flock(fd, op)) {
        closeSync(fd);
        return undefined;
      }
    } catch (e) {
      closeSync(fd);
      throw wrap(`lock ${path}`, e);
    }
    return new FileLock(path, fd);
  }

  /** blocking acquire; never undefined */
  static hold(path: string, mode: LockMode): FileLock {
    return FileLock.acquire(path, mode)!;
  }

  get held(): boolean {
    return this.fd >= 0;
  }

  release(): void {
    if (this.fd < 0) return;
    const fd = this.fd;
    this.fd = -1;
    try {
      flock(fd, LOCK_UN);
    } finally {
      closeSync(fd);
    }
  }

  [Symbol.dispose](): void {
    this.release();
  }
}
