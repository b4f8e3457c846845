/**
 * File work that may wait on the disk, done off berth's JS thread. On a filesystem mounted `discard`
 * without a journal every freed block waits for the device (0.1–0.2 ms a file on this kind of VM): the
 * last close of a replaced record (lib/atomic-write.ts holds the old version open across the rename) and
 * the delete of a removed tree are what free blocks on a `run`'s path.
 *
 * The work runs on a thread of the container shim's (runtime/shim.c berth_bg_*), which the runtime
 * provides here once it has loaded the shim. Until then (a process that starts no container) it is done
 * here, at once: node:fs's own async calls would load node:fs/promises, ~0.5–1.5 ms in a cold process.
 */
import { closeSync } from "node:fs";
import { setInodeReleaser } from "../lib/atomic-write.ts";

export interface BackgroundOps {
  /** false when the fd could not be handed over (the caller closes it) */
  close(fd: number): boolean;
  /** a job number, or -1 when the tree could not be handed over */
  removeTree(path: string): number;
  /** undefined while the job runs; then 0 or -errno */
  poll(job: number): number | undefined;
}

let ops: BackgroundOps | undefined;

/** the runtime, once the shim is loaded: from now on the work goes to the shim's thread */
export function provideBackground(o: BackgroundOps): void {
  ops = o;
  setInodeReleaser(closeLater);
}

/** close `fd` off this thread when possible */
export function closeLater(fd: number): void {
  if (!ops?.close(fd)) closeSync(fd);
}

/**
 * Delete the tree at `path` off this thread when possible; `here` deletes it on this thread (now,
 * without the shim's thread, or after a failure there: what the careful walk can still do)
 */
export async function removeTreeLater(path: string, here: (path: string) => void): Promise<void> {
  const job = ops ? ops.removeTree(path) : -1;
  if (job < 0) return here(path);
  for (;;) {
    const r = ops!.poll(job);
    if (r !== undefined) return r < 0 ? here(path) : undefined;
    await Bun.sleep(0);
  }
}
