/**
 * The TinyCC shim: compile shim.c once per process and encode the plan it executes.
 *
 * Why C at all (docs/bun-ffi.md §4–5): a JS fork()/clone() child crashes (the JSC heap and
 * JIT pool are MADV_DONTFORK), unshare/setns on Bun's main thread breaks its other threads, and a
 * re-exec'd Bun init costs 4 ms and 12–18 MB per container. bun:ffi `cc` compiles ~300 lines of C in
 * ~4.5 ms; the clone()d child is single-threaded C until execve.
 *
 * The source is embedded as text (a `file` import does not survive `bun build --compile`: tcc cannot
 * open /$bunfs paths) and written to a private temp dir, next to a `libc.so` symlink to the libc this
 * process runs on, so linking works without libc6-dev (-nostdlib -L<dir> -lc).
 */
import { cc, FFIType as T } from "bun:ffi";
import { mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { EngineError } from "../lib/errors.ts";
import shimSource from "./shim.c" with { type: "text" };

const SYMBOLS = {
  berth_spawn: { args: [T.ptr, T.i32], returns: T.i32 },
  berth_wait: { args: [T.i32, T.i32], returns: T.i32 },
} as const;

type Shim = ReturnType<typeof cc<typeof SYMBOLS>>["symbols"];
let shim: Shim | undefined;

function runningLibc(): string {
  for (const line of readFileSync("/proc/self/maps", "utf8").split("\n")) {
    const path = line.split(/\s+/)[5];
    if (path && /\/libc(\.so\.6|-[\d.]+\.so)$/.test(path)) return path;
  }
  throw new EngineError("unavailable", "compile container shim: cannot find the running libc in /proc/self/maps");
}

/** the compiled shim, built on first use (tcc writes its own headers under TMPDIR too) */
export function loadShim(): Shim {
  if (shim) return shim;
  const dir = mkdtempSync(`${tmpdir()}/berth-shim-`);
  try {
    writeFileSync(`${dir}/shim.c`, shimSource);
    symlinkSync(runningLibc(), `${dir}/libc.so`);
    shim = cc({ source: `${dir}/shim.c`, flags: ["-nostdlib", `-L${dir}`], library: ["c"], symbols: SYMBOLS }).symbols;
    return shim;
  } catch (e) {
    throw new EngineError("unavailable", `compile container shim: ${(e as Error).message}`, { cause: e });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
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
}

/** H_OCI bits, as in shim.c */
export const OCI_RESET_SIGNALS = 1;
export const OCI_BLOCKING_STDIO = 2;

const H_WORDS = 35;

/**
 * One blob the C side copies before clone: H_WORDS header words (u64), then data. Pointers are byte
 * offsets into the blob (0 = NULL); string vectors are offset arrays ending in 0. Layout mirrors the
 * H_* enum in shim.c.
 */
export function encodePlan(p: ShimPlan): Uint8Array {
  const chunks: Uint8Array[] = [];
  let size = H_WORDS * 8;
  const add = (bytes: Uint8Array): number => {
    const off = size;
    chunks.push(bytes);
    size += bytes.length;
    const pad = (8 - (size % 8)) % 8;
    if (pad) {
      chunks.push(new Uint8Array(pad));
      size += pad;
    }
    return off;
  };
  const str = (s: string | undefined): number => (s === undefined ? 0 : add(Buffer.from(s + "\0")));
  const words = (xs: (number | bigint)[]): number => add(new Uint8Array(new BigUint64Array(xs.map((x) => BigInt.asUintN(64, BigInt(x)))).buffer));
  const strv = (xs: string[]): number => words([...xs.map(str), 0]);

  const h: (number | bigint)[] = new Array(H_WORDS).fill(0);
  h[0] = p.mode === "create" ? 0 : 1;
  h[1] = p.cloneFlags;
  h[2] = str(p.hostname);
  h[3] = strv(p.argv);
  h[4] = strv(p.env);
  h[5] = p.ops.length ? words(p.ops.flatMap((o) => [o.kind, str(o.source), str(o.target), str(o.fstype), o.flags ?? 0, str(o.data)])) : 0;
  h[6] = p.ops.length;
  [h[7], h[8], h[9], h[10], h[11]] = [p.syncFd, p.errFd, p.stdin, p.stdout, p.stderr];
  h[12] = p.tty ? 1 : 0;
  [h[13], h[14], h[15]] = [p.uid, p.gid, p.groups.length];
  h[16] = p.groups.length ? add(new Uint8Array(new Uint32Array(p.groups).buffer)) : 0;
  h[17] = p.capMask;
  h[18] = p.noNewPrivs ? 1 : 0;
  h[19] = p.init ? 1 : 0;
  h[20] = str(p.cwd);
  h[21] = p.namespaces.length ? words(p.namespaces.flat()) : 0;
  h[22] = p.namespaces.length;
  h[23] = p.rlimits.length ? words(p.rlimits.flat()) : 0;
  h[24] = p.rlimits.length;
  h[25] = str(p.path);
  h[26] = p.cgroupTasks?.length ? strv(p.cgroupTasks) : 0;
  h[27] = p.cgroupFd ?? -1;
  h[28] = str(p.cgroupProcs);
  h[29] = p.seccomp?.length ? add(p.seccomp) : 0;
  h[30] = p.seccomp?.length ? p.seccomp.length / 8 : 0;
  h[31] = p.execFifoFd ?? -1;
  h[32] = p.preserveFds ?? 0;
  h[33] = p.oci ?? 0;
  h[34] = p.umask ?? -1;

  const out = new Uint8Array(size);
  out.set(new Uint8Array(new BigUint64Array(h.map((x) => BigInt.asUintN(64, BigInt(x)))).buffer), 0);
  let pos = H_WORDS * 8;
  for (const c of chunks) {
    out.set(c, pos);
    pos += c.length;
  }
  return out;
}
