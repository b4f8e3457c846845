/**
 * flock(2)-based locks for the image module: FileLock (src/ffi/lock.ts) and the probes below.
 *
 * Callers hold a lock only across synchronous code: a blocking flock runs on the JS thread, so holding
 * one across an `await` could deadlock against another fd of this same process.
 */
import { closeSync, constants, fstatSync, openSync, statSync } from "node:fs";
import { flock, LOCK_EX, LOCK_NB, LOCK_SH, LOCK_UN } from "../ffi/fs.ts";
import { FileLock, O_CLOEXEC, type LockMode } from "../ffi/lock.ts";

export { FileLock, O_CLOEXEC, type LockMode } from "../ffi/lock.ts";

/**
 * Try to lock the file open as `fd` exclusively without blocking, then make sure `path` still names
 * that inode: a holder may have renamed or removed the file between our open and our flock (the
 * classic lock-file race), in which case the lock we got protects nothing.
 */
export function tryLockFd(fd: number, path: string): "locked" | "busy" | "stale" {
  if (!flock(fd, LOCK_EX | LOCK_NB)) return "busy";
  try {
    const a = fstatSync(fd),
      b = statSync(path);
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
    return false; // missing: nothing can hold a lock on it
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

/**
 * Take a lock on `path` without ever blocking the JS thread: a non-blocking flock(2) tried every
 * `pollMs` until it is granted. For locks held across `await` (the image-use lock: a `create` holds
 * it from resolving the image until its record is written): a blocking flock there could wait on
 * another fd of this very process, which can only let go once the thread runs again.
 */
export async function acquireAsync(path: string, mode: LockMode, pollMs = 5): Promise<FileLock> {
  for (;;) {
    const l = FileLock.acquire(path, mode, { wait: false });
    if (l) return l;
    await Bun.sleep(pollMs);
  }
}
