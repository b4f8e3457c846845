/**
 * copyTree: a faithful deep copy for the vfs driver (docker's vfs uses the same "copy everything"
 * approach: daemon/graphdriver/copy). Keeps file type, owner, mode incl. setuid/setgid/sticky, mtimes
 * with nanoseconds, xattrs, hardlinks (by source dev:ino), devices and fifos. Never follows symlinks:
 * every source node is lstat'ed and symlinks are recreated from readlink. Directory modes and times are
 * set after their contents, like the layer applier.
 */
import { chmodSync, copyFileSync, linkSync, lstatSync, mkdirSync, readdirSync, readlinkSync, symlinkSync, type BigIntStats } from "node:fs";
import { lchown, lgetxattr, llistxattr, lsetxattr, lutimes, mknod } from "../ffi/fs.ts";
import { geteuid } from "../ffi/proc.ts";
import { SyscallError } from "../lib/errors.ts";

/** only root may give files other owners (CAP_CHOWN); others keep their own (read on first use, not at import) */
let chownable: boolean | undefined;
const canChown = (): boolean => (chownable ??= geteuid() === 0);

export function timesOf(st: BigIntStats): { atime: [number, number]; mtime: [number, number] } {
  const split = (ns: bigint): [number, number] => [Number(ns / 1_000_000_000n), Number(ns % 1_000_000_000n)];
  return { atime: split(st.atimeNs), mtime: split(st.mtimeNs) };
}

export function copyXattrs(src: string, dst: string): void {
  for (const name of llistxattr(src)) {
    const v = lgetxattr(src, name);
    if (v === null) continue;
    try {
      lsetxattr(dst, name, v);
    } catch (e) {
      if (e instanceof SyscallError && (e.code === "EPERM" || e.code === "EOPNOTSUPP" || e.code === "ENOTSUP")) continue;
      throw e;
    }
  }
}

function attrs(src: string, dst: string, st: BigIntStats, chmod: boolean): void {
  if (canChown()) lchown(dst, Number(st.uid), Number(st.gid));
  if (chmod) chmodSync(dst, Number(st.mode) & 0o7777);
  copyXattrs(src, dst);
  const t = timesOf(st);
  lutimes(dst, t.atime, t.mtime);
}

/** copy the tree under `src` into the existing directory `dst` (its own attributes included) */
export function copyTree(src: string, dst: string): void {
  const links = new Map<string, string>();
  const dirs: [string, string, BigIntStats][] = [];
  const visit = (s: string, d: string, st: BigIntStats, isRoot: boolean) => {
    if (st.isDirectory()) {
      if (!isRoot) mkdirSync(d, 0o700);
      if (canChown()) lchown(d, Number(st.uid), Number(st.gid));
      copyXattrs(s, d);
      for (const name of readdirSync(s)) visit(`${s}/${name}`, `${d}/${name}`, lstatSync(`${s}/${name}`, { bigint: true }), false);
      dirs.push([s, d, st]);
      return;
    }
    if (st.nlink > 1n) {
      const key = `${st.dev}:${st.ino}`;
      const first = links.get(key);
      if (first !== undefined) {
        linkSync(first, d);
        return;
      }
      links.set(key, d);
    }
    if (st.isFile()) {
      copyFileSync(s, d);
      attrs(s, d, st, true);
    } else if (st.isSymbolicLink()) {
      symlinkSync(readlinkSync(s), d);
      if (canChown()) lchown(d, Number(st.uid), Number(st.gid));
      copyXattrs(s, d);
      const t = timesOf(st);
      lutimes(d, t.atime, t.mtime);
    } else {
      // char/block device, fifo, socket: same type bits and device number
      mknod(d, Number(st.mode), st.rdev);
      attrs(s, d, st, true);
    }
  };
  visit(src, dst, lstatSync(src, { bigint: true }), true);
  for (const [, d, st] of dirs) {
    chmodSync(d, Number(st.mode) & 0o7777);
    const t = timesOf(st);
    lutimes(d, t.atime, t.mtime);
  }
}
