import { expect, test } from "bun:test";
import { compileSeccomp, decode, DEFAULT_PROFILE, parseSeccompProfile, type SeccompProfile } from "./seccomp.ts";
import { SYSCALLS_AARCH64, SYSCALLS_X86_64 } from "./syscalls.ts";
import { DEFAULT_CAPABILITIES } from "./capabilities.ts";

const AUDIT = { x86_64: 0xc000003e, aarch64: 0xc00000b7 };

/** a classic-BPF interpreter for the instructions the compiler emits (the kernel's semantics) */
function run(filter: Uint8Array, data: { arch: number; nr: number; args?: bigint[] }): number {
  const prog = decode(filter);
  const mem = new DataView(new ArrayBuffer(64));
  mem.setUint32(0, data.nr, true);
  mem.setUint32(4, data.arch, true);
  (data.args ?? []).forEach((a, i) => mem.setBigUint64(16 + i * 8, BigInt.asUintN(64, a), true));
  let A = 0;
  for (let pc = 0; pc < prog.length; pc++) {
    const { code, jt, jf, k } = prog[pc]!;
    switch (code) {
      case 0x20:
        A = mem.getUint32(k, true);
        break;
      case 0x54:
        A = (A & k) >>> 0;
        break;
      case 0x05:
        pc += k;
        break;
      case 0x15:
        pc += A === k ? jt : jf;
        break;
      case 0x25:
        pc += A > k ? jt : jf;
        break;
      case 0x35:
        pc += A >= k ? jt : jf;
        break;
      case 0x06:
        return k;
      default:
        throw new Error(`opcode ${code.toString(16)}`);
    }
  }
  throw new Error("fell off the end");
}

const ALLOW = 0x7fff0000;
const ERRNO = (e: number) => 0x00050000 | e;
const x86 = (name: string, args: bigint[] = []) => ({ arch: AUDIT.x86_64, nr: SYSCALLS_X86_64[name]!, args });

test("docker's default profile for docker's default capabilities (x86_64)", () => {
  const f = compileSeccomp(DEFAULT_PROFILE, DEFAULT_CAPABILITIES, "x86_64");
  expect(f.length / 8).toBeLessThan(4096);
  for (const n of ["read", "write", "execve", "openat", "futex", "arch_prctl", "capset", "setresuid", "prctl", "close_range", "wait4", "ptrace"])
    expect(run(f, x86(n))).toBe(ALLOW);
  for (const n of [
    "mount",
    "umount2",
    "unshare",
    "setns",
    "reboot",
    "init_module",
    "kexec_load",
    "bpf",
    "keyctl",
    "add_key",
    "swapon",
    "open_by_handle_at",
    "settimeofday",
    "pivot_root",
  ])
    expect(run(f, x86(n))).toBe(ERRNO(1));
  // clone: a thread or a fork yes, a new namespace no; clone3 says ENOSYS so libc falls back to clone
  expect(run(f, x86("clone", [0x3d0f00n]))).toBe(ALLOW);
  expect(run(f, x86("clone", [17n]))).toBe(ALLOW);
  expect(run(f, x86("clone", [0x20000n | 17n]))).toBe(ERRNO(1)); // CLONE_NEWNS
  expect(run(f, x86("clone", [0x40000000n | 17n]))).toBe(ERRNO(1)); // CLONE_NEWNET
  expect(run(f, x86("clone3"))).toBe(ERRNO(38));
  // socket: not AF_VSOCK (the whole 64-bit argument is compared)
  expect(run(f, x86("socket", [2n]))).toBe(ALLOW);
  expect(run(f, x86("socket", [40n]))).toBe(ERRNO(1));
  expect(run(f, x86("socket", [(1n << 32n) | 40n]))).toBe(ALLOW);
  // personality: only the listed values
  for (const v of [0n, 8n, 0x20000n, 0x20008n, 0xffffffffn]) expect(run(f, x86("personality", [v]))).toBe(ALLOW);
  expect(run(f, x86("personality", [1n]))).toBe(ERRNO(1));
  // another architecture's calls, and x32 numbers, get the default
  expect(run(f, { arch: 0x40000003 /* i386 */, nr: 3 })).toBe(ERRNO(1));
  expect(run(f, { arch: AUDIT.x86_64, nr: 0x40000000 + 1 })).toBe(ERRNO(1));
  expect(run(f, { arch: AUDIT.x86_64, nr: 9999 })).toBe(ERRNO(1));
});

test("capabilities open their syscalls: CAP_SYS_ADMIN (mount, unshare, clone with flags, clone3), CAP_SYS_PTRACE, CAP_SYS_TIME", () => {
  const f = compileSeccomp(DEFAULT_PROFILE, [...DEFAULT_CAPABILITIES, "CAP_SYS_ADMIN", "CAP_SYS_TIME"], "x86_64");
  for (const n of ["mount", "umount2", "unshare", "setns", "sethostname", "settimeofday", "clone3"]) expect(run(f, x86(n))).toBe(ALLOW);
  expect(run(f, x86("clone", [0x20000n | 17n]))).toBe(ALLOW);
  expect(run(f, x86("reboot"))).toBe(ERRNO(1));
});

test("aarch64: its own numbers and arch; arm-only names allowed there, x86-only ones absent", () => {
  const f = compileSeccomp(DEFAULT_PROFILE, DEFAULT_CAPABILITIES, "aarch64");
  const arm = (name: string, args: bigint[] = []) => ({ arch: AUDIT.aarch64, nr: SYSCALLS_AARCH64[name]!, args });
  expect(run(f, arm("openat"))).toBe(ALLOW);
  expect(run(f, arm("newfstatat"))).toBe(ALLOW);
  expect(run(f, arm("mount"))).toBe(ERRNO(1));
  expect(run(f, arm("clone3"))).toBe(ERRNO(38));
  expect(run(f, { arch: AUDIT.x86_64, nr: 0 })).toBe(ERRNO(1));
});

test("a custom profile in docker's format: default allow, kill, comparisons on 64-bit arguments", () => {
  const p: SeccompProfile = parseSeccompProfile(
    JSON.stringify({
      defaultAction: "SCMP_ACT_ALLOW",
      syscalls: [
        { names: ["mkdir"], action: "SCMP_ACT_ERRNO", errnoRet: 13 },
        { names: ["kill"], action: "SCMP_ACT_ERRNO", args: [{ index: 1, value: 9, op: "SCMP_CMP_EQ" }] },
        { names: ["setpriority"], action: "SCMP_ACT_ERRNO", args: [{ index: 2, value: 10, op: "SCMP_CMP_GT" }] },
        { names: ["lseek"], action: "SCMP_ACT_KILL_PROCESS", args: [{ index: 1, value: 0x100000000, op: "SCMP_CMP_GE" }] },
        { names: ["ftruncate"], action: "SCMP_ACT_ERRNO", errnoRet: 22, args: [{ index: 1, value: 5, op: "SCMP_CMP_LT" }] },
      ],
    }),
    "test.json",
  );
  const f = compileSeccomp(p, [], "x86_64");
  expect(run(f, x86("read"))).toBe(ALLOW);
  expect(run(f, x86("mkdir"))).toBe(ERRNO(13));
  expect(run(f, x86("kill", [1n, 9n]))).toBe(ERRNO(1));
  expect(run(f, x86("kill", [1n, 15n]))).toBe(ALLOW);
  expect(run(f, x86("setpriority", [0n, 0n, 11n]))).toBe(ERRNO(1));
  expect(run(f, x86("setpriority", [0n, 0n, 10n]))).toBe(ALLOW);
  expect(run(f, x86("setpriority", [0n, 0n, 1n << 33n]))).toBe(ERRNO(1));
  expect(run(f, x86("lseek", [0n, 0xffffffffn]))).toBe(ALLOW);
  expect(run(f, x86("lseek", [0n, 0x100000000n]))).toBe(0x80000000);
  expect(run(f, x86("ftruncate", [0n, 4n]))).toBe(ERRNO(22));
  expect(run(f, x86("ftruncate", [0n, 5n]))).toBe(ALLOW);
  expect(run(f, x86("ftruncate", [0n, 1n << 32n]))).toBe(ALLOW);
  expect(() => parseSeccompProfile("{", "bad.json")).toThrow("opening seccomp profile (bad.json) failed");
  expect(() => compileSeccomp({ defaultAction: "SCMP_ACT_NOPE", syscalls: [] }, [], "x86_64")).toThrow('unknown action "SCMP_ACT_NOPE"');
});

test("the dispatch: runs of one verdict are one segment (docker's profile in ~120 instructions, not ~1300); a profile of ~500 alternating rules, grouped, agrees with the rules on every number", () => {
  expect(compileSeccomp(DEFAULT_PROFILE, DEFAULT_CAPABILITIES, "x86_64").length / 8).toBeLessThan(200);
  // every other syscall allowed, some refused with ENOSYS, some allowed for one argument value and
  // killed otherwise, some logged: hundreds of segments, so several groups with their own pads
  const byNr = Object.entries(SYSCALLS_X86_64).sort((x, y) => x[1] - y[1]);
  const syscalls: SeccompProfile["syscalls"] = [];
  const expected = new Map<number, (arg0: bigint) => number>();
  byNr.forEach(([name, nr], i) => {
    if (i % 2 === 0) {
      syscalls.push({ names: [name], action: "SCMP_ACT_ALLOW" });
      expected.set(nr, () => ALLOW);
    } else if (i % 7 === 1) {
      syscalls.push({ names: [name], action: "SCMP_ACT_ERRNO", errnoRet: 38 });
      expected.set(nr, () => ERRNO(38));
    } else if (i % 11 === 3) {
      syscalls.push({ names: [name], action: "SCMP_ACT_ALLOW", args: [{ index: 0, value: 2, op: "SCMP_CMP_EQ" }] });
      syscalls.push({ names: [name], action: "SCMP_ACT_KILL_PROCESS" });
      expected.set(nr, (a) => (a === 2n ? ALLOW : 0x80000000));
    } else if (i % 13 === 5) {
      syscalls.push({ names: [name], action: "SCMP_ACT_LOG" });
      expected.set(nr, () => 0x7ffc0000);
    }
  });
  for (const [defaultAction, def] of [
    ["SCMP_ACT_ERRNO", ERRNO(1)],
    ["SCMP_ACT_ALLOW", ALLOW],
  ] as const) {
    const f = compileSeccomp({ defaultAction, syscalls }, [], "x86_64");
    for (let nr = 0; nr < 1100; nr++)
      for (const a of [0n, 2n, 1n << 32n]) expect(run(f, { arch: AUDIT.x86_64, nr, args: [a] })).toBe(expected.get(nr)?.(a) ?? def);
    expect(run(f, { arch: AUDIT.x86_64, nr: 0x40000000 })).toBe(def); // x32
  }
});
