/**
 * The container shim (shim.c): load it once per process and encode the plan it executes.
 *
 * Why C at all (docs/bun-ffi.md §4–5): a JS fork()/clone() child crashes (the JSC heap and
 * JIT pool are MADV_DONTFORK), unshare/setns on Bun's main thread breaks its other threads, and a
 * re-exec'd Bun init costs 4 ms and 12–18 MB per container. The clone()d child is single-threaded C
 * until execve.
 *
 * Two ways to get it, fastest first:
 *  - prebuilt: `bun run build` compiles shim.c with the system C compiler (scripts/build.ts) and embeds
 *    the shared object in the executable (Bun.embeddedFiles, named `berth-shim-<hash of shim.c>`). It is
 *    copied into a sealed memfd and dlopen()ed from /proc/self/fd/N: no file on disk, nothing to clean
 *    up or verify later, ~0.4 ms. The hash in the name ties the object to the shim.c text this binary
 *    carries; an object built from another text is not used. (dlopen of the /$bunfs path itself also
 *    works, but Bun extracts it to a predictable name in /tmp, which a local user could plant first.)
 *  - TinyCC: `bun src/main.ts` (no embedded files) or a build without a C compiler: bun:ffi `cc` compiles
 *    the embedded source in ~5–13 ms. tcc cannot open /$bunfs paths, so the source is written to a
 *    private temp dir, next to a `libc.so` symlink to the libc this process runs on, so linking works
 *    without libc6-dev (-nostdlib -L<dir> -lc).
 */
import { cc, FFIType as T } from "bun:ffi";
import { mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { EngineError } from "../lib/errors.ts";
import { dlopenSealed, embeddedObject, lazySource } from "../ffi/embedded-object.ts";
import { provideBackground } from "../ffi/background.ts";
// the C text as an embedded file, read only when needed (the prebuilt object's name, a TinyCC compile):
// as a text import its 31 KB were part of every command's engine chunk
import shimPath from "./shim.c" with { type: "file" };

const SYMBOLS = {
  berth_spawn: { args: [T.ptr, T.i32], returns: T.i32 },
  berth_wait: { args: [T.i32, T.i32], returns: T.i32 },
  berth_spawn_bg: { args: [T.ptr, T.i32], returns: T.i32 },
  berth_spawn_bg_pid: { args: [], returns: T.i32 },
  berth_spawn_bg_join: { args: [], returns: T.i32 },
  berth_child_marks: { args: [T.ptr, T.i32], returns: T.i32 },
  berth_bg_close: { args: [T.i32], returns: T.i32 },
  berth_bg_rmtree: { args: [T.ptr], returns: T.i32 },
  berth_bg_poll: { args: [T.i32, T.ptr], returns: T.i32 },
} as const;

type Shim = ReturnType<typeof cc<typeof SYMBOLS>>["symbols"];
let shim: Shim | undefined;
/** how the shim in use was obtained (BERTH_TRACE and the tests show it) */
export let shimOrigin: "embedded" | "tinycc" | undefined;

const shimSource = lazySource(shimPath);

declare const BERTH_SHIM_STEM: string | undefined;

/**
 * the name stem scripts/build.ts gives the compiled object: the hash ties it to this shim.c text. A
 * built binary has it from the build (hashed from the very text it embeds); from source it is hashed here
 */
export function prebuiltShimName(source?: string): string {
  if (source === undefined && typeof BERTH_SHIM_STEM === "string") return BERTH_SHIM_STEM;
  return `berth-shim-${Bun.hash(source ?? shimSource()).toString(16)}`;
}

function runningLibc(): string {
  for (const line of readFileSync("/proc/self/maps", "utf8").split("\n")) {
    const path = line.split(/\s+/)[5];
    if (path && /\/libc(\.so\.6|-[\d.]+\.so)$/.test(path)) return path;
  }
  throw new EngineError("unavailable", "compile container shim: cannot find the running libc in /proc/self/maps");
}

function compileWithTinyCC(): Shim {
  const dir = mkdtempSync(`${tmpdir()}/berth-shim-`);
  try {
    writeFileSync(`${dir}/shim.c`, shimSource());
    symlinkSync(runningLibc(), `${dir}/libc.so`);
    return cc({ source: `${dir}/shim.c`, flags: ["-nostdlib", `-L${dir}`], library: ["c"], symbols: SYMBOLS }).symbols;
  } catch (e) {
    throw new EngineError("unavailable", `compile container shim: ${(e as Error).message}`, { cause: e });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** the shim, loaded on first use: the embedded prebuilt object, else compiled by TinyCC */
export function loadShim(): Shim {
  if (shim) return shim;
  const bytes = embeddedObject(prebuiltShimName());
  if (bytes) {
    try {
      shim = dlopenSealed("berth-shim", bytes, SYMBOLS) as unknown as Shim;
      shimOrigin = "embedded";
    } catch {} // a kernel without memfd_create or a dlopen refusal: TinyCC still works, so fall back to it
  }
  if (!shim) {
    shim = compileWithTinyCC();
    shimOrigin = "tinycc";
  }
  offerBackground(shim);
  return shim;
}

/** the shim's file-work thread, for what would wait on the disk (ffi/background.ts) */
function offerBackground(s: Shim): void {
  const result = new Int32Array(1);
  provideBackground({
    close: (fd) => s.berth_bg_close(fd) === 0,
    removeTree: (path) => s.berth_bg_rmtree(Buffer.from(`${path}\0`)),
    poll: (job) => (s.berth_bg_poll(job, result) === 1 ? result[0]! : undefined),
  });
}

/** mount-plan op kinds, numbered as in shim.c */
export const OP = {
  PRIVATE: 1,
  ROOTFS: 2,
  ENTER: 3,
  MOUNT: 4,
  MOUNT_FILE: 5,
  REMOUNT: 6,
  SYMLINK: 7,
  MASK: 8,
  READONLY: 9,
  PIVOT: 10,
  /* 11: unused */ MKDIR: 12,
  ATTACH: 13,
  WRITE: 14,
  MKFILE: 15,
  MKNOD: 16,
  PROPAGATE: 17,
} as const;

/** failure steps reported by the child, numbered as in shim.c */
export const STEP = [
  "",
  "wait for parent",
  "unshare cgroup namespace",
  "sethostname",
  "mount",
  "setns",
  "chdir",
  "setsid",
  "set controlling terminal",
  "dup2",
  "setrlimit",
  "drop bounding capability",
  "setgroups",
  "setresgid",
  "setresuid",
  "capset",
  "clear ambient capabilities",
  "set no_new_privs",
  "exec",
  "fork init",
  "close fds",
  "bring up loopback",
  "join cgroup",
  "install seccomp filter",
] as const;
export const ST_OP = 4;
export const ST_SETNS = 5;
export const ST_EXEC = 18;

export interface ShimOp {
  kind: number;
  source?: string;
  target?: string;
  fstype?: string;
  flags?: number;
  data?: string;
}

export interface ShimPlan {
  mode: "create" | "exec";
  cloneFlags: number;
  hostname?: string;
  argv: string[];
  env: string[];
  /** PATH searched for argv[0] (the container's, not ours) */
  path: string;
  ops: ShimOp[];
  syncFd: number;
  errFd: number;
  stdin: number;
  stdout: number;
  stderr: number;
  tty: boolean;
  uid: number;
  gid: number;
  groups: number[];
  capMask: bigint;
  noNewPrivs: boolean;
  init: boolean;
  cwd?: string;
  /** [fd, CLONE_NEW*] pairs the child setns()es into, in order */
  namespaces: [number, number][];
  /** [resource, soft, hard] for setrlimit(2) */
  rlimits: [number, bigint, bigint][];
  /** v1 `tasks` files the child writes "0" into (joins itself, see shim.c cgroup_join) */
  cgroupTasks?: string[];
  /** fd of the v2 cgroup directory: clone3(CLONE_INTO_CGROUP); -1/undefined: none */
  cgroupFd?: number;
  /** that cgroup's cgroup.procs, written by the child only when clone3 cannot place it (kernel < 5.7) */
  cgroupProcs?: string;
  /** a compiled seccomp filter (struct sock_filter[], seccomp.ts), installed before the caps are dropped */
  seccomp?: Uint8Array;
  /** OCI create: O_PATH fd of the exec fifo; the child reports ready ({0,0,0}) and parks before execve */
  execFifoFd?: number;
  /** fds 3..3+n-1 are passed to the container (runc --preserve-fds) */
  preserveFds?: number;
  /** OCI_* bits (shim.c): reset signal dispositions, blocking stdio */
  oci?: number;
  /** the container process's umask (undefined: the runtime's) */
  umask?: number;
  /** the child sets itself up (cgroup, namespaces, mounts) before it waits on syncFd, and waits only
   * before exec: the parent's hook must not be something the set-up needs (a user namespace's id maps) */
  lateSync?: boolean;
  /** clone with CLONE_VM|CLONE_VFORK: no sync fd, no exec fifo, no user namespace */
  vfork?: boolean;
}

/** H_OCI bits, as in shim.c */
export const OCI_RESET_SIGNALS = 1;
export const OCI_BLOCKING_STDIO = 2;

const H_WORDS = 37;

/** a growing little-endian byte buffer for encodePlan: one allocation per doubling, no BigInt for small words */
class Blob8 {
  buf = new Uint8Array(16384);
  view = new DataView(this.buf.buffer);
  size = 0;
  private room(n: number): void {
    if (this.size + n <= this.buf.length) return;
    let len = this.buf.length * 2;
    while (len < this.size + n) len *= 2;
    const next = new Uint8Array(len);
    next.set(this.buf.subarray(0, this.size));
    this.buf = next;
    this.view = new DataView(next.buffer);
  }
  /** a u64 at byte offset `at` (two's complement for negative numbers, as BigInt.asUintN(64) gives) */
  setWord(at: number, x: number | bigint): void {
    if (typeof x === "number" && Number.isSafeInteger(x) && x >= 0) {
      this.view.setUint32(at, x % 0x1_0000_0000, true);
      this.view.setUint32(at + 4, Math.floor(x / 0x1_0000_0000), true);
    } else this.view.setBigUint64(at, BigInt.asUintN(64, BigInt(x)), true);
  }
  /** reserve n bytes (zeroed), then pad to 8; returns their offset */
  reserve(n: number): number {
    const off = this.size;
    const padded = n + ((8 - (n % 8)) % 8);
    this.room(padded);
    this.buf.fill(0, off, off + padded);
    this.size += padded;
    return off;
  }
  bytes(b: Uint8Array): number {
    const off = this.reserve(b.length);
    this.buf.set(b, off);
    return off;
  }
  words(xs: (number | bigint)[]): number {
    const off = this.reserve(xs.length * 8);
    for (let i = 0; i < xs.length; i++) this.setWord(off + i * 8, xs[i]!);
    return off;
  }
  str(s: string | undefined): number {
    if (s === undefined) return 0;
    // UTF-8 is at most 3 bytes per UTF-16 unit, plus the NUL and the padding
    this.room(s.length * 3 + 8);
    const off = this.size;
    const { written } = encoder.encodeInto(s, this.buf.subarray(off));
    const end = off + written + 1;
    const padded = end + ((8 - (end % 8)) % 8);
    this.buf.fill(0, off + written, padded);
    this.size = padded;
    return off;
  }
  strv(xs: string[]): number {
    const offs = xs.map((x) => this.str(x));
    offs.push(0);
    return this.words(offs);
  }
}
const encoder = new TextEncoder();

/**
 * One blob the C side copies before clone: H_WORDS header words (u64), then data. Pointers are byte
 * offsets into the blob (0 = NULL); string vectors are offset arrays ending in 0. Layout mirrors the
 * H_* enum in shim.c. Written into one buffer without BigInt for the small words: this runs once per
 * process, cold (interpreted), where the obvious version cost ~3.5 ms (issue 13).
 */
export function encodePlan(p: ShimPlan): Uint8Array {
  const b = new Blob8();
  b.reserve(H_WORDS * 8);
  const h: (number | bigint)[] = new Array(H_WORDS).fill(0);
  h[0] = p.mode === "create" ? 0 : 1;
  h[1] = p.cloneFlags;
  h[2] = b.str(p.hostname);
  h[3] = b.strv(p.argv);
  h[4] = b.strv(p.env);
  if (p.ops.length) {
    const words: number[] = [];
    for (const o of p.ops) words.push(o.kind, b.str(o.source), b.str(o.target), b.str(o.fstype), o.flags ?? 0, b.str(o.data));
    h[5] = b.words(words);
  }
  h[6] = p.ops.length;
  [h[7], h[8], h[9], h[10], h[11]] = [p.syncFd, p.errFd, p.stdin, p.stdout, p.stderr];
  h[12] = p.tty ? 1 : 0;
  [h[13], h[14], h[15]] = [p.uid, p.gid, p.groups.length];
  h[16] = p.groups.length ? b.bytes(new Uint8Array(new Uint32Array(p.groups).buffer)) : 0;
  h[17] = p.capMask;
  h[18] = p.noNewPrivs ? 1 : 0;
  h[19] = p.init ? 1 : 0;
  h[20] = b.str(p.cwd);
  h[21] = p.namespaces.length ? b.words(p.namespaces.flat()) : 0;
  h[22] = p.namespaces.length;
  h[23] = p.rlimits.length ? b.words(p.rlimits.flat()) : 0;
  h[24] = p.rlimits.length;
  h[25] = b.str(p.path);
  h[26] = p.cgroupTasks?.length ? b.strv(p.cgroupTasks) : 0;
  h[27] = p.cgroupFd ?? -1;
  h[28] = b.str(p.cgroupProcs);
  h[29] = p.seccomp?.length ? b.bytes(p.seccomp) : 0;
  h[30] = p.seccomp?.length ? p.seccomp.length / 8 : 0;
  h[31] = p.execFifoFd ?? -1;
  h[32] = p.preserveFds ?? 0;
  h[33] = p.oci ?? 0;
  h[34] = p.umask ?? -1;
  h[35] = p.lateSync ? 1 : 0;
  h[36] = p.vfork ? 1 : 0;

  for (let i = 0; i < H_WORDS; i++) b.setWord(i * 8, h[i]!);
  return b.buf.slice(0, b.size);
}
