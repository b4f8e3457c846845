/**
 * The new mount API (Linux ≥5.2; overlay's `lowerdir+` needs ≥6.8): fsopen/fsconfig/fsmount build a
 * *detached* mount (an fd, in no mount namespace yet), open_tree clones a bind mount the same way, and
 * move_mount attaches either one. The runtime uses this to hand a prepared rootfs to a container
 * without ever mounting it in the host mount namespace, so nothing is left behind when the container
 * dies; and overlay stacks whose `lowerdir=a:b:…` string would not fit in one page (the limit of the
 * classic mount(2) data argument) are built one `lowerdir+` call per layer
 * (kernel Documentation/filesystems/overlayfs.rst, "Multiple lower layers").
 *
 * Called through syscall(2) with per-arch numbers, so the binary does not depend on glibc ≥2.36 wrappers.
 * Each fsconfig string value is limited to 255 bytes by the kernel (fs/fsopen.c strndup_user(…, 256)).
 */
import { closeSync, readSync } from "node:fs";
import type { Mount } from "../oci/index.ts";
import { EngineError } from "../lib/errors.ts";
import { T, lazyLib, cstr, ptr, errno, fail, keep } from "./_core.ts";
import { AT_FDCWD } from "./fs.ts";

const lib = lazyLib({
  syscall: { args: [T.i64, T.i64, T.i64, T.i64, T.i64, T.i64], returns: T.i64 },
} as const);

/** <asm/unistd.h>: the mount-API syscalls were added after the arch tables were unified, so x86_64 and
 * the generic table (arm64, riscv64) share the numbers */
const SYSCALLS: Record<string, Record<"open_tree" | "move_mount" | "fsopen" | "fsconfig" | "fsmount" | "mount_setattr", number>> = {
  x64: { open_tree: 428, move_mount: 429, fsopen: 430, fsconfig: 431, fsmount: 432, mount_setattr: 442 },
  arm64: { open_tree: 428, move_mount: 429, fsopen: 430, fsconfig: 431, fsmount: 432, mount_setattr: 442 },
  riscv64: { open_tree: 428, move_mount: 429, fsopen: 430, fsconfig: 431, fsmount: 432, mount_setattr: 442 },
};

function nr(name: keyof (typeof SYSCALLS)["x64"]): number {
  const table = SYSCALLS[process.arch];
  if (!table) throw new EngineError("unavailable", `mount api: no syscall table for architecture ${process.arch}`);
  return table[name];
}

// <linux/mount.h>
export const FSOPEN_CLOEXEC = 0x1;
export const FSCONFIG_SET_FLAG = 0;
export const FSCONFIG_SET_STRING = 1;
export const FSCONFIG_CMD_CREATE = 6;
export const FSMOUNT_CLOEXEC = 0x1;
export const MOVE_MOUNT_F_EMPTY_PATH = 0x4;
export const OPEN_TREE_CLONE = 1;
export const OPEN_TREE_CLOEXEC = 0o2000000;
export const AT_RECURSIVE = 0x8000;
export const AT_EMPTY_PATH = 0x1000;
export const MOUNT_ATTR_RDONLY = 0x1;
export const MOUNT_ATTR_NOSUID = 0x2;
export const MOUNT_ATTR_NODEV = 0x4;
export const MOUNT_ATTR_NOEXEC = 0x8;
export const MOUNT_ATTR_NOATIME = 0x10;
export const MOUNT_ATTR_STRICTATIME = 0x20;
export const MOUNT_ATTR_NODIRATIME = 0x80;

function sys(name: Parameters<typeof nr>[0], paths: string[], a = 0, b = 0, c = 0, d = 0, e = 0): number {
  for (;;) {
    const rc = Number(lib().syscall(nr(name), a, b, c, d, e));
    if (rc >= 0) return rc;
    const en = errno();
    if (en === 4 /* EINTR */) continue;
    fail(name, paths, en);
  }
}

/** fsopen(2): a filesystem context for `fstype`; returns its fd */
export function fsopen(fstype: string, flags = FSOPEN_CLOEXEC): number {
  const t = cstr(fstype);
  const fd = sys("fsopen", [fstype], ptr(t), flags);
  keep(t);
  return fd;
}

/** fsconfig(2). On failure the kernel's own explanation (e.g. "overlayfs: failed to resolve …") is read
 * from the context fd's message queue and added to the error. */
export function fsconfig(fd: number, cmd: number, key: string | null = null, value: string | null = null, aux = 0): void {
  const k = key == null ? null : cstr(key);
  const v = value == null ? null : cstr(value);
  const rc = Number(lib().syscall(nr("fsconfig"), fd, cmd, k ? ptr(k) : 0, v ? ptr(v) : 0, aux));
  keep(k, v);
  if (rc >= 0) return;
  const en = errno();
  const where = key == null ? ["create"] : value == null ? [key] : [`${key}=${value}`];
  try {
    fail("fsconfig", where, en);
  } catch (e) {
    const msgs = contextMessages(fd);
    if (msgs && e instanceof Error) e.message += `: ${msgs}`;
    throw e;
  }
}

/** the fs context's log ("e overlayfs: …" lines), joined; empty when there is none */
function contextMessages(fd: number): string {
  const out: string[] = [];
  const buf = Buffer.alloc(1024);
  for (let i = 0; i < 8; i++) {
    try {
      const n = readSync(fd, buf, 0, buf.length, null);
      if (n <= 0) break;
      out.push(buf.toString("utf8", 0, n).replace(/^[ewi] /, ""));
    } catch {
      break; // ENODATA: queue empty
    }
  }
  return out.join("; ");
}

/** fsmount(2): turn a created context into a detached mount fd */
export function fsmount(fd: number, attrFlags = 0, flags = FSMOUNT_CLOEXEC): number {
  return sys("fsmount", [`fd ${fd}`], fd, flags, attrFlags);
}

/** move_mount(2) of a detached mount fd onto `target` (MOVE_MOUNT_F_EMPTY_PATH) */
export function moveMount(fromFd: number, target: string, flags = MOVE_MOUNT_F_EMPTY_PATH, toDirFd = AT_FDCWD): void {
  const empty = cstr(""),
    t = cstr(target);
  sys("move_mount", [target], fromFd, ptr(empty), toDirFd, ptr(t), flags);
  keep(empty, t);
}

/** open_tree(2); with OPEN_TREE_CLONE a detached copy of the mount (tree with AT_RECURSIVE) at `path` */
export function openTree(path: string, flags = OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC, dirFd = AT_FDCWD): number {
  const p = cstr(path);
  const fd = sys("open_tree", [path], dirFd, ptr(p), flags);
  keep(p);
  return fd;
}

/** mount_setattr(2) on a mount fd: set/clear MOUNT_ATTR_* (optionally on the whole tree) */
export function mountSetattr(fd: number, attrSet: number, attrClr = 0, recursive = false): void {
  const empty = cstr("");
  // struct mount_attr { u64 attr_set (0); u64 attr_clr (8); u64 propagation (16); u64 userns_fd (24) } = 32 bytes
  const attr = new BigUint64Array([BigInt(attrSet), BigInt(attrClr), 0n, 0n]);
  sys("mount_setattr", [`fd ${fd}`], fd, ptr(empty), AT_EMPTY_PATH | (recursive ? AT_RECURSIVE : 0), ptr(attr), 32);
  keep(empty, attr);
}

/** mount-level flags in a Mount's options and their MOUNT_ATTR_* bit; `rw`/`relatime`-style defaults map to 0 */
const ATTR_OPTIONS: Record<string, number> = {
  ro: MOUNT_ATTR_RDONLY,
  rw: 0,
  nosuid: MOUNT_ATTR_NOSUID,
  suid: 0,
  nodev: MOUNT_ATTR_NODEV,
  dev: 0,
  noexec: MOUNT_ATTR_NOEXEC,
  exec: 0,
  noatime: MOUNT_ATTR_NOATIME,
  strictatime: MOUNT_ATTR_STRICTATIME,
  relatime: 0,
  nodiratime: MOUNT_ATTR_NODIRATIME,
};

/**
 * A detached mount for `m` (not attached anywhere; close the fd to drop it, or attachMount it).
 * - overlay: every `lowerdir=a:b:c` layer becomes its own `lowerdir+` call (top first, as in the string),
 *   so stacks of any depth up to the kernel's 500 work; other `key=value` options are set as strings,
 *   bare words as flags, and mount-level words (ro, nosuid, …) become fsmount attributes.
 * - bind/rbind: open_tree(OPEN_TREE_CLONE [| AT_RECURSIVE with "rbind"]), then mount_setattr for ro & co.
 * - anything else (tmpfs, proc, …): fsopen(type) with `source` and its options.
 */
export function mountDetached(m: Mount): number {
  if (m.type === "bind" || m.options.includes("bind") || m.options.includes("rbind")) return bindDetached(m);
  const fsfd = fsopen(m.type);
  try {
    let attrs = 0;
    if (m.source) fsconfig(fsfd, FSCONFIG_SET_STRING, "source", m.source);
    for (const opt of m.options) {
      if (opt in ATTR_OPTIONS) {
        attrs |= ATTR_OPTIONS[opt]!;
        continue;
      }
      const eq = opt.indexOf("=");
      if (eq < 0) {
        fsconfig(fsfd, FSCONFIG_SET_FLAG, opt);
        continue;
      }
      const key = opt.slice(0, eq),
        value = opt.slice(eq + 1);
      if (m.type === "overlay" && key === "lowerdir") {
        // split on unescaped ':' (overlayfs.rst: "\:" escapes a colon in a path)
        for (const dir of value.split(/(?<!\\):/)) fsconfig(fsfd, FSCONFIG_SET_STRING, "lowerdir+", dir.replace(/\\:/g, ":"));
      } else {
        fsconfig(fsfd, FSCONFIG_SET_STRING, key, value);
      }
    }
    fsconfig(fsfd, FSCONFIG_CMD_CREATE);
    return fsmount(fsfd, attrs);
  } finally {
    closeSync(fsfd);
  }
}

function bindDetached(m: Mount): number {
  const recursive = m.options.includes("rbind");
  const fd = openTree(m.source, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | (recursive ? AT_RECURSIVE : 0));
  try {
    let attrs = 0;
    for (const opt of m.options) attrs |= ATTR_OPTIONS[opt] ?? 0;
    if (attrs) mountSetattr(fd, attrs, 0, recursive);
    return fd;
  } catch (e) {
    closeSync(fd);
    throw e;
  }
}

/** attach a detached mount fd at `target` (move_mount); the fd stays open, the caller closes it */
export function attachMount(fd: number, target: string): void {
  moveMount(fd, target);
}

/** mountDetached + attachMount: for tests and host-side uses (export, cp, commit) */
export function mountAt(m: Mount, target: string): void {
  const fd = mountDetached(m);
  try {
    attachMount(fd, target);
  } finally {
    closeSync(fd);
  }
}
