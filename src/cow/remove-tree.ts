/**
 * removeTree: a snapshot's (or any of our own trees') removal. Apart from apply.ts so that removing a
 * container's snapshot does not load the layer unpacker.
 */
import { chmodSync, lstatSync, readdirSync, rmdirSync, unlinkSync, type Stats } from "node:fs";

/** remove a path without following symlinks; directories recursively, making unreadable/unwritable
 * ones (0000, overlay's d--------- work/work) accessible first. What another process deleted meanwhile
 * (a crash leftover swept by two commands at once) is gone, as wanted: no error */
export function removeTree(abs: string, st?: Stats): void {
  try {
    const s = st ?? lstatSync(abs, { throwIfNoEntry: false });
    if (!s) return;
    if (!s.isDirectory()) {
      unlinkSync(abs);
      return;
    }
    if ((s.mode & 0o700) !== 0o700) chmodSync(abs, (s.mode & 0o7777) | 0o700);
    for (const child of readdirSync(abs)) removeTree(`${abs}/${child}`);
    rmdirSync(abs);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw e;
  }
}
