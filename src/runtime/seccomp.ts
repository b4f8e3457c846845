/**
 * seccomp: docker's profile format (the subset engines use: defaultAction, defaultErrnoRet, syscalls with
 * names, action, errnoRet, args, includes/excludes by caps and arches) compiled to a classic BPF filter
 * the shim installs with prctl(PR_SET_SECCOMP) just before it drops capabilities and execs. Pure.
 *
 * The default profile is docker's: an allow-list, ERRNO(EPERM) for everything else, and the rules that
 * depend on the container's capabilities (CAP_SYS_ADMIN opens mount/unshare/setns/clone with namespace
 * flags…, CAP_SYS_PTRACE ptrace, …), clone without CLONE_NEW* flags, clone3 answered ENOSYS (so libc falls
 * back to clone, whose flags the filter can see), socket(AF_VSOCK) refused, personality limited to the
 * values glibc and tools use.
 *
 * Filter layout (struct sock_filter {u16 code; u8 jt; u8 jf; u32 k}, seccomp_data {nr, arch, ip, args[6]}):
 *   ld arch; jeq AUDIT_ARCH_<this> else default
 *   ld nr; (x86_64) jge 0x40000000 (x32) → default
 *   per syscall with a rule:  jeq NR, +0, +1;  ja <its block>
 *   ret default
 *   blocks: each rule's argument tests (64-bit, as two 32-bit halves), ret action; last: ret default
 * The kernel caches syscalls whose verdict does not depend on arguments, so the linear dispatch costs
 * nothing after the first call of each.
 */
import { EngineError } from "../lib/errors.ts";
import { SYSCALLS_AARCH64, SYSCALLS_X86_64 } from "./syscalls.ts";

export interface SeccompArg {
  index: number;
  value: number;
  valueTwo?: number;
  op: string;
}

export interface SeccompRule {
  names: string[];
  action: string;
  errnoRet?: number;
  args?: SeccompArg[] | null;
  includes?: { caps?: string[]; arches?: string[]; minKernel?: string };
  excludes?: { caps?: string[]; arches?: string[] };
  comment?: string;
}

export interface SeccompProfile {
  defaultAction: string;
  defaultErrnoRet?: number;
  syscalls: SeccompRule[] | null;
  architectures?: string[];
  archMap?: unknown;
}

const EPERM = 1;
const ENOSYS = 38;

/** what docker allows every container, whatever its capabilities (the 32-bit-only names resolve to nothing here) */
const BASE_ALLOW = `accept accept4 access adjtimex alarm bind brk capget capset chdir chmod chown chown32 clock_adjtime
clock_adjtime64 clock_getres clock_getres_time64 clock_gettime clock_gettime64 clock_nanosleep clock_nanosleep_time64
close close_range connect copy_file_range creat dup dup2 dup3 epoll_create epoll_create1 epoll_ctl epoll_ctl_old
epoll_pwait epoll_pwait2 epoll_wait epoll_wait_old eventfd eventfd2 execve execveat exit exit_group faccessat
faccessat2 fadvise64 fadvise64_64 fallocate fanotify_mark fchdir fchmod fchmodat fchown fchown32 fchownat fcntl
fcntl64 fdatasync fgetxattr flistxattr flock fork fremovexattr fsetxattr fstat fstat64 fstatat64 fstatfs fstatfs64
fsync ftruncate ftruncate64 futex futex_time64 futex_waitv futimesat getcpu getcwd getdents getdents64 getegid
getegid32 geteuid geteuid32 getgid getgid32 getgroups getgroups32 getitimer getpeername getpgid getpgrp getpid
getppid getpriority getrandom getresgid getresgid32 getresuid getresuid32 getrlimit get_robust_list getrusage
getsid getsockname getsockopt get_thread_area gettid gettimeofday getuid getuid32 getxattr inotify_add_watch
inotify_init inotify_init1 inotify_rm_watch io_cancel ioctl io_destroy io_getevents io_pgetevents
io_pgetevents_time64 ioprio_get ioprio_set io_setup io_submit io_uring_enter io_uring_register io_uring_setup ipc
kill landlock_add_rule landlock_create_ruleset landlock_restrict_self lchown lchown32 lgetxattr link linkat listen
listxattr llistxattr _llseek lremovexattr lseek lsetxattr lstat lstat64 madvise membarrier memfd_create
memfd_secret mincore mkdir mkdirat mknod mknodat mlock mlock2 mlockall mmap mmap2 mprotect mq_getsetattr mq_notify
mq_open mq_timedreceive mq_timedreceive_time64 mq_timedsend mq_timedsend_time64 mq_unlink mremap msgctl msgget
msgrcv msgsnd msync munlock munlockall munmap name_to_handle_at nanosleep newfstatat _newselect open openat openat2
pause pidfd_open pidfd_send_signal pipe pipe2 pkey_alloc pkey_free pkey_mprotect poll ppoll ppoll_time64 prctl
pread64 preadv preadv2 prlimit64 process_mrelease pselect6 pselect6_time64 pwrite64 pwritev pwritev2 read readahead
readlink readlinkat readv recv recvfrom recvmmsg recvmmsg_time64 recvmsg remap_file_pages removexattr rename
renameat renameat2 restart_syscall rmdir rseq rt_sigaction rt_sigpending rt_sigprocmask rt_sigqueueinfo
rt_sigreturn rt_sigsuspend rt_sigtimedwait rt_sigtimedwait_time64 rt_tgsigqueueinfo sched_getaffinity
sched_getattr sched_getparam sched_get_priority_max sched_get_priority_min sched_getscheduler sched_rr_get_interval
sched_rr_get_interval_time64 sched_setaffinity sched_setattr sched_setparam sched_setscheduler sched_yield seccomp
select semctl semget semop semtimedop semtimedop_time64 send sendfile sendfile64 sendmmsg sendmsg sendto setfsgid
setfsgid32 setfsuid setfsuid32 setgid setgid32 setgroups setgroups32 setitimer setpgid setpriority setregid
setregid32 setresgid setresgid32 setresuid setresuid32 setreuid setreuid32 setrlimit set_robust_list setsid
setsockopt set_thread_area set_tid_address setuid setuid32 setxattr shmat shmctl shmdt shmget shutdown sigaltstack
signalfd signalfd4 sigprocmask sigreturn socketcall socketpair splice stat stat64 statfs statfs64 statx symlink
symlinkat sync sync_file_range syncfs sysinfo tee tgkill time timer_create timer_delete timer_getoverrun
timer_gettime timer_gettime64 timer_settime timer_settime64 timerfd_create timerfd_gettime timerfd_gettime64
timerfd_settime timerfd_settime64 times tkill truncate truncate64 ugetrlimit umask uname unlink unlinkat utime
utimensat utimensat_time64 utimes vfork vmsplice wait4 waitid waitpid write writev
process_vm_readv process_vm_writev ptrace`.split(/\s+/);

/** the namespace flags clone may not carry without CAP_SYS_ADMIN: NEWNS|NEWCGROUP|NEWUTS|NEWIPC|NEWUSER|NEWPID|NEWNET */
const CLONE_NS_MASK = 0x7e020000;

const allow = (names: string, includes?: SeccompRule["includes"], args?: SeccompArg[]): SeccompRule => ({
  names: names.split(" "),
  action: "SCMP_ACT_ALLOW",
  ...(includes ? { includes } : {}),
  ...(args ? { args } : {}),
});
const withCap = (cap: string) => ({ caps: [cap] });

/** docker's default profile, as rules in docker's format */
export const DEFAULT_PROFILE: SeccompProfile = {
  defaultAction: "SCMP_ACT_ERRNO",
  defaultErrnoRet: EPERM,
  syscalls: [
    { names: BASE_ALLOW, action: "SCMP_ACT_ALLOW" },
    allow("socket", undefined, [{ index: 0, value: 40 /* AF_VSOCK */, op: "SCMP_CMP_NE" }]),
    ...[0, 8, 0x20000, 0x20008, 0xffffffff].map((v) => allow("personality", undefined, [{ index: 0, value: v, op: "SCMP_CMP_EQ" }])),
    allow("arm_fadvise64_64 arm_sync_file_range sync_file_range2 breakpoint cacheflush set_tls", { arches: ["arm", "arm64"] }),
    allow("arch_prctl", { arches: ["amd64", "x32"] }),
    allow("modify_ldt", { arches: ["amd64", "x32", "x86"] }),
    allow("open_by_handle_at", withCap("CAP_DAC_READ_SEARCH")),
    allow(
      "bpf clone clone3 fanotify_init fsconfig fsmount fsopen fspick lookup_dcookie mount mount_setattr move_mount open_tree perf_event_open quotactl quotactl_fd setdomainname sethostname setns syslog umount umount2 unshare",
      withCap("CAP_SYS_ADMIN"),
    ),
    {
      names: ["clone"],
      action: "SCMP_ACT_ALLOW",
      args: [{ index: 0, value: CLONE_NS_MASK, valueTwo: 0, op: "SCMP_CMP_MASKED_EQ" }],
      excludes: { caps: ["CAP_SYS_ADMIN"] },
    },
    { names: ["clone3"], action: "SCMP_ACT_ERRNO", errnoRet: ENOSYS, excludes: { caps: ["CAP_SYS_ADMIN"] } },
    allow("reboot", withCap("CAP_SYS_BOOT")),
    allow("chroot", withCap("CAP_SYS_CHROOT")),
    allow("delete_module init_module finit_module", withCap("CAP_SYS_MODULE")),
    allow("acct", withCap("CAP_SYS_PACCT")),
    allow("kcmp pidfd_getfd process_madvise process_vm_readv process_vm_writev ptrace", withCap("CAP_SYS_PTRACE")),
    allow("iopl ioperm", withCap("CAP_SYS_RAWIO")),
    allow("settimeofday stime clock_settime clock_settime64", withCap("CAP_SYS_TIME")),
    allow("vhangup", withCap("CAP_SYS_TTY_CONFIG")),
    allow("get_mempolicy mbind set_mempolicy set_mempolicy_home_node", withCap("CAP_SYS_NICE")),
    allow("syslog", withCap("CAP_SYSLOG")),
    allow("bpf", withCap("CAP_BPF")),
    allow("perf_event_open", withCap("CAP_PERFMON")),
  ],
};

export type SeccompArch = "x86_64" | "aarch64";

/** bumped whenever the compiler's output changes (the filter cache in spawn.ts is keyed by it) */
export const SECCOMP_COMPILER = 2;

const ARCH = {
  x86_64: { audit: 0xc000003e, table: SYSCALLS_X86_64, docker: "amd64" },
  aarch64: { audit: 0xc00000b7, table: SYSCALLS_AARCH64, docker: "arm64" },
} as const;

export function hostArch(): SeccompArch {
  if (process.arch === "x64") return "x86_64";
  if (process.arch === "arm64") return "aarch64";
  throw new EngineError("unavailable", `seccomp: architecture ${process.arch} is not supported`);
}

// classic BPF opcodes (linux/filter.h, bpf_common.h)
const LD_W_ABS = 0x20;
const JEQ_K = 0x15;
const JGT_K = 0x25;
const JGE_K = 0x35;
const JA = 0x05;
const RET_K = 0x06;
const ALU_AND_K = 0x54;

const RET_KILL_PROCESS = 0x80000000;
const RET_KILL_THREAD = 0;
const RET_TRAP = 0x00030000;
const RET_ERRNO = 0x00050000;
const RET_TRACE = 0x7ff00000;
const RET_LOG = 0x7ffc0000;
const RET_ALLOW = 0x7fff0000;

function actionValue(action: string, errnoRet: number | undefined, fallbackErrno: number): number {
  switch (action) {
    case "SCMP_ACT_ALLOW":
      return RET_ALLOW;
    case "SCMP_ACT_ERRNO":
      return (RET_ERRNO | ((errnoRet ?? fallbackErrno) & 0xffff)) >>> 0;
    case "SCMP_ACT_KILL":
    case "SCMP_ACT_KILL_THREAD":
      return RET_KILL_THREAD;
    case "SCMP_ACT_KILL_PROCESS":
      return RET_KILL_PROCESS;
    case "SCMP_ACT_TRAP":
      return RET_TRAP;
    case "SCMP_ACT_LOG":
      return RET_LOG;
    case "SCMP_ACT_TRACE":
      return (RET_TRACE | ((errnoRet ?? 0) & 0xffff)) >>> 0;
    default:
      throw new EngineError("invalid_argument", `seccomp profile: unknown action "${action}"`);
  }
}

interface Insn {
  code: number;
  jt: number;
  jf: number;
  k: number;
}

/** which rules of `p` apply to a container with these capabilities on this architecture */
function applicable(p: SeccompProfile, arch: SeccompArch, caps: Set<string>): SeccompRule[] {
  const dockerArch = ARCH[arch].docker;
  return (p.syscalls ?? []).filter((r) => {
    if (r.includes?.caps && !r.includes.caps.every((c) => caps.has(c))) return false;
    if (r.includes?.arches && !r.includes.arches.includes(dockerArch)) return false;
    if (r.excludes?.caps?.some((c) => caps.has(c))) return false;
    if (r.excludes?.arches?.includes(dockerArch)) return false;
    return true;
  });
}

/**
 * Compile `profile` for a process holding `capabilities` ("CAP_…" names). Returns the filter as the
 * bytes of a struct sock_filter array. Names unknown on `arch` are skipped, as libseccomp does.
 */
export function compileSeccomp(profile: SeccompProfile, capabilities: string[], arch: SeccompArch = hostArch()): Uint8Array {
  const a = ARCH[arch];
  const caps = new Set(capabilities);
  const defaultErrno = profile.defaultErrnoRet ?? EPERM;
  const def = actionValue(profile.defaultAction, profile.defaultErrnoRet, defaultErrno);
  // per syscall number: its rules, in profile order (the first whose arguments match decides)
  const bySys = new Map<number, SeccompRule[]>();
  for (const r of applicable(profile, arch, caps)) {
    for (const op of r.args ?? []) {
      if (op.index < 0 || op.index > 5) throw new EngineError("invalid_argument", `seccomp profile: argument index ${op.index} out of range`);
    }
    actionValue(r.action, r.errnoRet, defaultErrno); // validate now
    for (const name of r.names) {
      const nr = (a.table as Record<string, number>)[name];
      if (nr === undefined) continue;
      const list = bySys.get(nr) ?? [];
      if (!list.includes(r)) list.push(r);
      bySys.set(nr, list);
    }
  }
  // a syscall whose first rule has no arguments always takes that rule
  for (const [nr, rules] of bySys) {
    const first = rules.findIndex((r) => !r.args?.length);
    if (first >= 0) bySys.set(nr, rules.slice(0, first + 1));
  }

  const head: Insn[] = [];
  const ins = (code: number, k: number, jt = 0, jf = 0): Insn => ({ code, jt, jf, k: k >>> 0 });
  head.push(ins(LD_W_ABS, 4)); // seccomp_data.arch
  head.push(ins(JEQ_K, a.audit, 1, 0));
  head.push(ins(RET_K, def));
  head.push(ins(LD_W_ABS, 0)); // seccomp_data.nr
  if (arch === "x86_64") {
    head.push(ins(JGE_K, 0x40000000, 0, 1)); // x32 syscalls
    head.push(ins(RET_K, def));
  }
  // The dispatch: the syscall numbers as ascending segments, a run of consecutive numbers with the same
  // plain verdict (no argument tests: most of docker's ~350) being one segment, a syscall with rules of
  // its own a segment of one. Each segment is two jumps (past it? in it?), so the program is ~1/4 of
  // one jeq per syscall (1300 → ~300 instructions for docker's profile: the kernel checks and JITs it
  // at ~0.33 µs per instruction as the container starts, and a syscall walks ~60 compares, not ~700).
  // Conditional jumps reach 255 instructions: the segments go in groups, each followed by a pad with
  // the verdicts its segments jump to (a RET, or a JA to a syscall's own block after the dispatch).
  type Segment = { lo: number; hi: number; ret?: number; block?: number };
  const segments: Segment[] = [];
  const blocks: Insn[][] = [];
  for (const nr of [...bySys.keys()].sort((x, y) => x - y)) {
    const rules = bySys.get(nr)!;
    const plain = rules.length === 1 && !rules[0]!.args?.length ? actionValue(rules[0]!.action, rules[0]!.errnoRet, defaultErrno) : undefined;
    const last = segments.at(-1);
    if (plain === undefined) {
      blocks.push(block(rules, def, defaultErrno));
      segments.push({ lo: nr, hi: nr, block: blocks.length - 1 });
    } else if (plain === def) {
      // (an explicit rule with the default's verdict: the same as no rule)
    } else if (last && last.ret === plain && last.hi === nr - 1) last.hi = nr;
    else segments.push({ lo: nr, hi: nr, ret: plain });
  }
  const GROUP = 48; // 2 insns per segment + its pad (≤ 2 + 48 entries) stays within a jump's 255
  const prog: Insn[] = [...head];
  const farJumps: { at: number; block: number }[] = []; // JAs to blocks, patched once their place is known
  for (let g = 0; g < segments.length; g += GROUP) {
    const group = segments.slice(g, g + GROUP);
    // the pad: [JA past the pad] RET def, then one entry per distinct verdict / block of the group
    const entries: string[] = ["def"];
    const key = (sg: Segment) => (sg.block !== undefined ? `b${sg.block}` : `r${sg.ret}`);
    for (const sg of group) if (!entries.includes(key(sg))) entries.push(key(sg));
    const padStart = prog.length + group.length * 2; // the JA past the pad
    for (const sg of group) {
      const here = prog.length;
      // above this segment: on to the next one (the last one's next is the pad's leading JA)
      prog.push(ins(JGT_K, sg.hi, 1, 0));
      const target = padStart + 1 + entries.indexOf(key(sg));
      const dflt = padStart + 1;
      prog.push(ins(JGE_K, sg.lo, target - (here + 2), dflt - (here + 2)));
    }
    prog.push(ins(JA, entries.length)); // A is above every segment of this group: the next group
    for (const e of entries) {
      if (e === "def") prog.push(ins(RET_K, def));
      else if (e.startsWith("r")) prog.push(ins(RET_K, Number(e.slice(1))));
      else {
        farJumps.push({ at: prog.length, block: Number(e.slice(1)) });
        prog.push(ins(JA, 0));
      }
    }
  }
  prog.push(ins(RET_K, def)); // above the last segment
  const blockStart: number[] = [];
  for (const b of blocks) {
    blockStart.push(prog.length);
    prog.push(...b);
  }
  for (const f of farJumps) prog[f.at]!.k = blockStart[f.block]! - (f.at + 1);
  if (prog.length > 4096) throw new EngineError("invalid_argument", `seccomp profile: the filter has ${prog.length} instructions, more than the kernel's 4096`);
  const out = new Uint8Array(prog.length * 8);
  const dv = new DataView(out.buffer);
  prog.forEach((p, i) => {
    dv.setUint16(i * 8, p.code, true);
    dv.setUint8(i * 8 + 2, p.jt);
    dv.setUint8(i * 8 + 3, p.jf);
    dv.setUint32(i * 8 + 4, p.k, true);
  });
  return out;
}

/** one syscall's rules: each rule's argument tests (all must hold), its verdict; none matched → default */
function block(rules: SeccompRule[], def: number, defaultErrno: number): Insn[] {
  const out: Insn[] = [];
  for (const r of rules) {
    const ret = actionValue(r.action, r.errnoRet, defaultErrno);
    const tests: Insn[][] = (r.args ?? []).map(argTest);
    const total = tests.reduce((n, t) => n + t.length, 0);
    // each test jumps to "fail" (past this rule's ret) with an offset computed from its position
    let pos = 0;
    for (const t of tests) {
      for (let j = 0; j < t.length; j++) {
        const insn = t[j]!;
        const remaining = total - (pos + j + 1); // insns after this one before the rule's ret
        if (insn.jf === FAIL) insn.jf = remaining + 1;
        if (insn.jt === FAIL) insn.jt = remaining + 1;
        if (insn.jf > 255 || insn.jt > 255) throw new EngineError("invalid_argument", "seccomp profile: too many argument conditions on one rule");
      }
      out.push(...t);
      pos += t.length;
    }
    out.push({ code: RET_K, jt: 0, jf: 0, k: ret >>> 0 });
  }
  out.push({ code: RET_K, jt: 0, jf: 0, k: def >>> 0 });
  return out;
}

const FAIL = 0xfff; // placeholder patched by block()

/** seccomp_data.args[i] is 64 bits at 16 + 8i, little-endian: low word first */
function argTest(c: SeccompArg): Insn[] {
  const lo = 16 + c.index * 8;
  const hi = lo + 4;
  const v = BigInt.asUintN(64, BigInt(c.value));
  const vLo = Number(v & 0xffffffffn);
  const vHi = Number(v >> 32n);
  const ld = (off: number): Insn => ({ code: LD_W_ABS, jt: 0, jf: 0, k: off });
  const j = (code: number, k: number, jt: number, jf: number): Insn => ({ code, jt, jf, k: k >>> 0 });
  switch (c.op) {
    case "SCMP_CMP_EQ":
      return [ld(hi), j(JEQ_K, vHi, 0, FAIL), ld(lo), j(JEQ_K, vLo, 0, FAIL)];
    case "SCMP_CMP_NE":
      // fails only when both halves are equal
      return [ld(hi), j(JEQ_K, vHi, 0, 2), ld(lo), j(JEQ_K, vLo, FAIL, 0)];
    case "SCMP_CMP_MASKED_EQ": {
      const w = BigInt.asUintN(64, BigInt(c.valueTwo ?? 0));
      return [
        ld(hi),
        { code: ALU_AND_K, jt: 0, jf: 0, k: vHi >>> 0 },
        j(JEQ_K, Number(w >> 32n), 0, FAIL),
        ld(lo),
        { code: ALU_AND_K, jt: 0, jf: 0, k: vLo >>> 0 },
        j(JEQ_K, Number(w & 0xffffffffn), 0, FAIL),
      ];
    }
    case "SCMP_CMP_GT":
    case "SCMP_CMP_GE":
      // hi > vHi → pass; hi < vHi → fail; equal → compare lo
      return [ld(hi), j(JGT_K, vHi, 3, 0), j(JEQ_K, vHi, 0, FAIL), ld(lo), j(c.op === "SCMP_CMP_GT" ? JGT_K : JGE_K, vLo, 0, FAIL)];
    case "SCMP_CMP_LT":
    case "SCMP_CMP_LE":
      // hi > vHi → fail; hi < vHi → pass; equal → lo < / <= vLo
      return [ld(hi), j(JGT_K, vHi, FAIL, 0), j(JEQ_K, vHi, 0, 2), ld(lo), j(c.op === "SCMP_CMP_LT" ? JGE_K : JGT_K, vLo, FAIL, 0)];
    default:
      throw new EngineError("invalid_argument", `seccomp profile: unknown operator "${c.op}"`);
  }
}

/** docker's --security-opt seccomp=PROFILE.json, checked for the fields berth reads */
export function parseSeccompProfile(text: string, source: string): SeccompProfile {
  let p: SeccompProfile;
  try {
    p = JSON.parse(text);
  } catch (e) {
    throw new EngineError("invalid_argument", `opening seccomp profile (${source}) failed: ${(e as Error).message}`);
  }
  if (!p || typeof p.defaultAction !== "string") throw new EngineError("invalid_argument", `seccomp profile ${source}: defaultAction missing`);
  for (const r of p.syscalls ?? []) {
    const legacy = (r as unknown as { name?: string }).name;
    if (!Array.isArray(r.names) && typeof legacy === "string") r.names = [legacy];
    if (!Array.isArray(r.names) || typeof r.action !== "string")
      throw new EngineError("invalid_argument", `seccomp profile ${source}: each syscalls entry needs names and action`);
  }
  return p;
}

/** this filter's instruction at index i (tests) */
export function decode(filter: Uint8Array): Insn[] {
  const dv = new DataView(filter.buffer, filter.byteOffset, filter.byteLength);
  const out: Insn[] = [];
  for (let i = 0; i < filter.length; i += 8)
    out.push({ code: dv.getUint16(i, true), jt: dv.getUint8(i + 2), jf: dv.getUint8(i + 3), k: dv.getUint32(i + 4, true) });
  return out;
}
