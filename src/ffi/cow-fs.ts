/** Filesystem calls the layer appliers (src/cow) need beyond src/ffi/fs.ts. */
import { T, lazyLib, retryEintr } from "./_core.ts";

const lib = lazyLib({
  syncfs: { args: [T.i32], returns: T.i32 },
} as const);

/** syncfs(2): flush the whole filesystem holding `fd` (one call after a layer instead of fsync per file) */
export function syncfs(fd: number): void {
  retryEintr("syncfs", [`fd ${fd}`], () => lib().syncfs(fd));
}
