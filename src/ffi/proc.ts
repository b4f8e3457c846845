/** Process and namespace calls node has no (or no fd-based) form of: setns(2), kill(2) with ESRCH as a
 * normal outcome, geteuid(2) for code that may not read `process`, and the CLONE_* namespace flags
 * spelled as in <sched.h>. */
import { T, lazyLib, errno, fail } from "./_core.ts";

const lib = lazyLib({
  setns: { args: [T.i32, T.i32], returns: T.i32 },
  kill: { args: [T.i32, T.i32], returns: T.i32 },
  geteuid: { args: [], returns: T.u32 },
} as const);

/** geteuid(2): cannot fail */
export function geteuid(): number {
  return lib().geteuid();
}

// <sched.h>
export const CLONE_NEWNS = 0x00020000;
export const CLONE_NEWCGROUP = 0x02000000;
export const CLONE_NEWUTS = 0x04000000;
export const CLONE_NEWIPC = 0x08000000;
export const CLONE_NEWUSER = 0x10000000;
export const CLONE_NEWPID = 0x20000000;
export const CLONE_NEWNET = 0x40000000;

/** setns(2) on the calling thread */
export function setns(fd: number, nstype: number, what = `fd ${fd}`): void {
  if (lib().setns(fd, nstype) !== 0) fail("setns", [what]);
}

/** kill(2); false when the process no longer exists (ESRCH), which callers treat as done */
export function kill(pid: number, signal: number): boolean {
  if (lib().kill(pid, signal) === 0) return true;
  const e = errno();
  if (e === 3 /* ESRCH */) return false;
  fail("kill", [`pid ${pid}`], e);
}
