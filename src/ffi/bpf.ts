/**
 * bpf(2), just enough for cgroup v2's device controller: on a unified hierarchy the kernel has no
 * devices.allow/deny files, and device access is decided by BPF_PROG_TYPE_CGROUP_DEVICE programs
 * attached to the cgroup (Documentation/admin-guide/cgroup-v2.rst, "Device controller"). The program
 * itself is built in TypeScript (src/runtime/devices.ts); this file only loads and attaches it.
 */
import { closeSync, openSync } from "node:fs";
import { EngineError } from "../lib/errors.ts";
import { T, lazyLib, cstr, ptr, errno, fail, keep } from "./_core.ts";

const lib = lazyLib({
  syscall: { args: [T.i64, T.i64, T.ptr, T.u64], returns: T.i64 },
} as const);

/** <asm/unistd.h> __NR_bpf */
const SYS_BPF: Record<string, number> = { x64: 321, arm64: 280, riscv64: 280 };

// <linux/bpf.h>
const BPF_PROG_LOAD = 5;
const BPF_PROG_ATTACH = 8;
export const BPF_PROG_TYPE_CGROUP_DEVICE = 15;
export const BPF_CGROUP_DEVICE = 6;
/** several programs per cgroup, all of which must allow (runc attaches this way too) */
export const BPF_F_ALLOW_MULTI = 1 << 1;

/** union bpf_attr is larger than what we fill; the kernel wants the unused tail zeroed */
const ATTR_SIZE = 128;

function bpf(cmd: number, attr: Uint8Array, what: string, paths: string[] = []): number {
  const nr = SYS_BPF[process.arch];
  if (nr === undefined) throw new EngineError("unavailable", `bpf: no syscall number for architecture ${process.arch}`);
  const rc = Number(lib().syscall(nr, cmd, attr, ATTR_SIZE));
  if (rc < 0) fail(what, paths, errno());
  return rc;
}

/** BPF_PROG_LOAD of a cgroup device program (`insns`: 8-byte instructions); returns the program fd.
 * Loaded without a verifier log (a log too small for a successful load fails it with ENOSPC); when the
 * verifier refuses the program, it is loaded again with a log, whose last lines join the error. */
export function loadDeviceProgram(insns: Uint8Array): number {
  try {
    return progLoad(insns, null);
  } catch (e) {
    const log = new Uint8Array(1 << 16);
    try {
      progLoad(insns, log);
    } catch {} // the retry only fetches the verifier's log; the first error is the one thrown
    const text = new TextDecoder().decode(log.subarray(0, Math.max(0, log.indexOf(0)))).trim();
    if (text && e instanceof Error) e.message += `: verifier: ${text.split("\n").slice(-3).join("; ")}`;
    throw e;
  }
}

function progLoad(insns: Uint8Array, log: Uint8Array | null): number {
  const attr = new Uint8Array(ATTR_SIZE);
  const v = new DataView(attr.buffer);
  const license = cstr("Apache-2.0");
  // struct { __u32 prog_type; __u32 insn_cnt; __aligned_u64 insns; __aligned_u64 license;
  //          __u32 log_level; __u32 log_size; __aligned_u64 log_buf; … }
  v.setUint32(0, BPF_PROG_TYPE_CGROUP_DEVICE, true); // prog_type  @0
  v.setUint32(4, insns.length / 8, true); //            insn_cnt   @4
  v.setBigUint64(8, BigInt(ptr(insns)), true); //       insns      @8
  v.setBigUint64(16, BigInt(ptr(license)), true); //    license    @16
  if (log) {
    v.setUint32(24, 1, true); //                        log_level  @24
    v.setUint32(28, log.length, true); //               log_size   @28
    v.setBigUint64(32, BigInt(ptr(log)), true); //      log_buf    @32
  }
  try {
    return bpf(BPF_PROG_LOAD, attr, "bpf(BPF_PROG_LOAD)", ["cgroup device program"]);
  } finally {
    keep(insns, license, log); // the kernel reads them through the addresses in attr
  }
}

/** BPF_PROG_ATTACH of program `progFd` to the cgroup directory `cgroupDir` as its device filter */
export function attachDeviceProgram(cgroupDir: string, progFd: number, flags = BPF_F_ALLOW_MULTI): void {
  const dirFd = openSync(cgroupDir, "r");
  try {
    const attr = new Uint8Array(ATTR_SIZE);
    const v = new DataView(attr.buffer);
    // struct { __u32 target_fd; __u32 attach_bpf_fd; __u32 attach_type; __u32 attach_flags; … }
    v.setUint32(0, dirFd, true); //              target_fd     @0
    v.setUint32(4, progFd, true); //             attach_bpf_fd @4
    v.setUint32(8, BPF_CGROUP_DEVICE, true); //  attach_type   @8
    v.setUint32(12, flags, true); //             attach_flags  @12
    bpf(BPF_PROG_ATTACH, attr, "bpf(BPF_PROG_ATTACH)", [cgroupDir]);
  } finally {
    closeSync(dirFd);
  }
}

/** load + attach; the attachment keeps the program alive until the cgroup is removed */
export function installDeviceFilter(cgroupDir: string, insns: Uint8Array): void {
  const prog = loadDeviceProgram(insns);
  try {
    attachDeviceProgram(cgroupDir, prog);
  } finally {
    closeSync(prog);
  }
}
