/** Filesystem calls the layer appliers (src/cow) need beyond src/ffi/fs.ts. */
import { T, lazyLib, retryEintr } from "./_core.ts";

const lib = lazyLib({
  syncfs: { args: [T.i32], returns: T.i32 },
  sync_file_range: { args: [T.i32, T.i64, T.i64, T.u32], returns: T.i32 },
} as const);

/** syncfs(2): flush the whole filesystem holding `fd` (one call after a layer instead of fsync per file) */
export function syncfs(fd: number): void {
  retryEintr("syncfs", [`fd ${fd}`], () => lib().syncfs(fd));
}

const SYNC_FILE_RANGE_WRITE = 2;

/**
 * sync_file_range(fd, 0, 0, SYNC_FILE_RANGE_WRITE): start writing the file's dirty pages back without
 * waiting, so the syncfs(2) that ends a layer finds less left to do. Best effort: a failure (a
 * filesystem that refuses it) only means the later syncfs does all the work, so it is not reported.
 */
export function startWriteback(fd: number): void {
  lib().sync_file_range(fd, 0, 0, SYNC_FILE_RANGE_WRITE);
}
