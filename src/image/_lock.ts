/**
 * flock(2)-based locks for the image module. flock locks belong to the open file description, so they
 * exclude other processes *and* other fds of this process; they vanish when the holder dies, which is
 * why berth never needs stale-lock cleanup (flock(2), "NOTES").
 *
 * Callers hold a lock only across synchronous code: a blocking flock runs on the JS thread, so holding
 * one across an `await` could deadlock against another fd of this same process.
 */
import { closeSync, constants, fstatSync, openSync, statSync } from "node:fs";
import { flock, LOCK_EX, LOCK_NB, LOCK_SH, LOCK_UN } from "../ffi/fs.ts";
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

/**
 * Try to lock the file open as `fd` exclusively without blocking, then make sure `path` still names
 * that inode: a holder may have renamed or removed the file between our open and our flock (the
 * classic lock-file race), in which case the lock we got protects nothing.
 */
export function tryLockFd(fd: number, path: string): "locked" | "busy" | "stale" {
  if (!flock(fd, LOCK_EX | LOCK_NB)) return "busy";
  try {
    const a = fstatSync(fd), b = statSync(path);
    if (a.ino === b.ino && a.dev === b.dev) return "locked";
  } catch {
    // path gone: stale
  }
  flock(fd, LOCK_UN);
  return "stale";
}

/** is some other open file description holding a lock on `path`? (probe; false when missing) */
export function isLockedElsewhere(path: string): boolean {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | O_CLOEXEC);
  } catch {
    return false;
  }
  try {
    // a shared probe only conflicts with an exclusive holder, which is what a writer takes
    const got = flock(fd, LOCK_SH | LOCK_NB);
    if (got) flock(fd, LOCK_UN);
    return !got;
  } finally {
    closeSync(fd);
  }
}
