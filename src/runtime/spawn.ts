/**
 * The one place that enters namespaces (STYLE §4 "watch the threads"). Approach, per the experiment in
 * docs/bun-ffi.md §4: the TinyCC shim clone()s a C child into the new namespaces; the child joins
 * its cgroup and applies the mount plan while this (the parent, in JS) runs the beforeStart hook
 * (network wiring), then blocks on a sync pipe until the hook is done, drops capabilities, switches
 * user and execve()s. With a new user namespace (or for an OCI runtime's hooks) the child waits before
 * anything else instead, as the parent writes its id maps first. Bun's main thread never changes namespace, except pid_for_children around the clone
 * of an exec (restored in `finally`, §3: a Bun thread started meanwhile would abort).
 *
 * Reaping: Bun reaps only its own children, by pid (pidfd + wait4), never wait(-1), so waitpid(pid)
 * here keeps the container's status. There is no pollable handle for a foreign child in Bun: wait()
 * calls waitpid(WNOHANG) on every SIGCHLD, and polls as a fallback (every millisecond for half a second,
 * then every 5 ms, then every 20 ms).
 */
import { openSync, readSync, readdirSync, statSync, writeSync, mkdirSync, closeSync, readFileSync, writeFileSync, renameSync } from "node:fs";
import { EngineError, ExecError, SyscallError, wrap } from "../lib/errors.ts";
import { errnoName, strerror } from "../ffi/index.ts";
import { closeFd, pipe2, O_CLOEXEC } from "../ffi/container-io.ts";
import { CLONE_NEWCGROUP, CLONE_NEWIPC, CLONE_NEWNET, CLONE_NEWNS, CLONE_NEWPID, CLONE_NEWUSER, CLONE_NEWUTS, kill, setns } from "../ffi/proc.ts";
import type { ContainerSpec, ExitInfo, NamespaceMode, ProcessSpec, RunningContainer, Stdio } from "./types.ts";
import { encodePlan, loadShim, OCI_BLOCKING_STDIO, OCI_RESET_SIGNALS, OP, shimOrigin, STEP, ST_EXEC, ST_OP, ST_SETNS, type ShimPlan } from "./shim.ts";
import { planMounts, type PlannedOp } from "./mount-plan.ts";
import { capabilityMask } from "./capabilities.ts";
import { DEFAULT_PATH } from "../oci/defaults.ts";
import { compileSeccomp, DEFAULT_PROFILE, SECCOMP_COMPILER, type SeccompProfile } from "./seccomp.ts";
import { cgroupMountsFor, createCgroup, detectLayout, joinTargets, oomKilled, removeCgroup, type CgroupLayout } from "./cgroups.ts";
import { processStartTime } from "./process.ts";
import { mountDetached } from "../ffi/mount-api.ts";
import { mark, markAgo, tracing } from "../lib/trace.ts";

/** where each container's rootfs is mounted, inside its own private mount namespace only: one shared,
 * always-empty directory on the host is enough */
export const STAGING_DIR = "/run/berth/rootfs";

export interface CreateHooks {
  /**
   * runs while the kernel makes the child (its namespaces take ~1 ms), where the clone is made from the
   * shim's thread; else just before it: work that needs no pid (the network's address, bridge and NAT).
   * A throw kills the child unexec'd.
   */
  whileCloning?: () => void;
  /** runs while the child sets itself up, before it may exec (network wiring); needs only its netns */
  beforeStart?: (pid: number) => Promise<void>;
  /**
   * runs once the child may exec, while it finishes its mounts and execs (2–4 ms): bookkeeping that
   * needs the pid (and its start time) but not the exec's outcome. A throw kills the child.
   */
  whileStarting?: (pid: number, startTime: string) => void;
}

const O_PATH = 0o10000000;

export async function createContainer(spec: ContainerSpec, stdio: Stdio, hooks: CreateHooks = {}): Promise<RunningContainer> {
  mark("runtime: create");
  loadShim(); // loaded before the cgroup exists, so a load failure leaves nothing to undo
  mark(`runtime: shim loaded (${shimOrigin})`);
  const layout = detectLayout();
  const opened: number[] = [];
  createCgroup(spec.cgroupPath, spec.resources, { privileged: spec.privileged || spec.resources.allDevices, layout });
  mark("runtime: cgroup created");
  try {
    mkdirSync(STAGING_DIR, { recursive: true, mode: 0o700 });
    let cloneFlags = CLONE_NEWNS;
    const namespaces: [number, number][] = [];
    const ns = (mode: NamespaceMode, flag: number, name: string) => {
      if (mode === "new") cloneFlags |= flag;
      else if (mode !== "host") {
        const fd = openNs(mode.path, name);
        opened.push(fd);
        namespaces.push([fd, flag]);
      }
    };
    ns(spec.namespaces.ipc, CLONE_NEWIPC, "ipc");
    ns(spec.namespaces.uts, CLONE_NEWUTS, "uts");
    ns(spec.namespaces.net, CLONE_NEWNET, "net");
    ns(spec.namespaces.cgroup ?? "new", CLONE_NEWCGROUP, "cgroup");
    const user = spec.namespaces.user ?? "host";
    if (user === "new") cloneFlags |= CLONE_NEWUSER;
    else if (user !== "host") throw new EngineError("not_implemented", `joining a user namespace by path (${user.path}) is not supported by berth`);
    let pidNs: number | undefined;
    if (spec.namespaces.pid === "new") cloneFlags |= CLONE_NEWPID;
    else if (spec.namespaces.pid !== "host") opened.push((pidNs = openNs(spec.namespaces.pid.path, "pid")));

    const p = spec.process;
    let rootfsFd: number | undefined;
    if (spec.rootfs[0]?.type === "overlay") {
      try {
        opened.push((rootfsFd = mountDetached(spec.rootfs[0])));
      } catch (e) {
        throw wrap("prepare rootfs", e);
      }
    }
    mark("runtime: overlay mounted (detached)");
    const ops = planMounts({
      rootfsFd,
      spec,
      // an OCI bundle's rootfs is bound onto itself, as runc does: a user-namespaced root can reach it
      // where it could not traverse the root-only staging directory
      staging: spec.oci && spec.rootfs[0]?.type === "bind" ? spec.rootfs[0].source : STAGING_DIR,
      console: p.terminal ? consoleOf(stdio) : undefined,
      cgroupMounts: cgroupMountsFor(layout),
      hostDevices: spec.privileged ? hostDevices() : undefined,
      isDirectory: (path) => {
        try {
          return statSync(path).isDirectory();
        } catch {
          throw new EngineError("not_found", `invalid mount config for type "bind": bind source path does not exist: ${path}`);
        }
      },
    });
    let execFifoFd: number | undefined;
    if (spec.oci) opened.push((execFifoFd = openSync(spec.oci.execFifo, O_PATH | O_CLOEXEC)));
    mark("runtime: mounts planned");
    const plan: ShimPlan = {
      ...processPlan(p, stdio),
      mode: "create",
      cloneFlags,
      hostname: spec.namespaces.uts === "new" && spec.hostname ? spec.hostname : undefined,
      ops,
      namespaces,
      // every container process starts with default signal dispositions and nothing blocked, as under
      // dockerd: not with what berth's caller ignored (SIGINT of a background job, nohup's SIGHUP) nor
      // Bun's own (SIGPIPE, SIGXFSZ), which exec keeps
      oci: OCI_RESET_SIGNALS,
      ...(spec.oci ? { execFifoFd, preserveFds: spec.oci.preserveFds, oci: OCI_RESET_SIGNALS | OCI_BLOCKING_STDIO } : {}),
      // the child's mounts (3–4 ms) overlap the network wiring; not with a new user namespace, whose id
      // maps the parent writes before the child may set anything up, nor for an OCI runtime's hooks
      lateSync: !spec.oci && !(cloneFlags & CLONE_NEWUSER),
    };
    const oci = spec.oci;
    const beforeStart = oci
      ? async (pid: number) => {
          if (cloneFlags & CLONE_NEWUSER) {
            const map = (m: { containerID: number; hostID: number; size: number }[]) => m.map((x) => `${x.containerID} ${x.hostID} ${x.size}\n`).join("");
            writeFileSync(`/proc/${pid}/uid_map`, map(oci.uidMappings));
            writeFileSync(`/proc/${pid}/gid_map`, map(oci.gidMappings));
          }
          if (oci.oomScoreAdj !== undefined) writeFileSync(`/proc/${pid}/oom_score_adj`, String(oci.oomScoreAdj));
          await hooks.beforeStart?.(pid);
        }
      : hooks.beforeStart;
    return await start(plan, ops, {
      cgroupPath: spec.cgroupPath,
      layout,
      pidNs,
      whileCloning: hooks.whileCloning,
      beforeStart,
      whileStarting: hooks.whileStarting,
      oom: true,
    });
  } catch (e) {
    try {
      removeCgroup(spec.cgroupPath, layout);
    } catch {} // best-effort cleanup after the real error, which is rethrown
    throw e;
  } finally {
    for (const fd of opened) closeSync(fd);
  }
}

/** run `proc` inside the running container whose PID 1 is `pid`: same namespaces and cgroup */
export async function execInContainer(
  pid: number,
  proc: ProcessSpec,
  stdio: Stdio,
  cgroupPath: string,
  opts: { oci?: boolean; preserveFds?: number } = {},
): Promise<RunningContainer> {
  loadShim();
  const layout = detectLayout();
  const opened: number[] = [];
  try {
    const namespaces: [number, number][] = [];
    // a container in its own user namespace: that one first (the others are owned by it)
    if (statSync(`/proc/${pid}/ns/user`).ino !== statSync("/proc/self/ns/user").ino) {
      const fd = openNs(`/proc/${pid}/ns/user`, "user");
      opened.push(fd);
      namespaces.push([fd, CLONE_NEWUSER]);
    }
    // mnt last: after it, the child's view of /proc is the container's
    for (const [name, flag] of [
      ["ipc", CLONE_NEWIPC],
      ["uts", CLONE_NEWUTS],
      ["net", CLONE_NEWNET],
      ["cgroup", CLONE_NEWCGROUP],
      ["mnt", CLONE_NEWNS],
    ] as const) {
      const fd = openNs(`/proc/${pid}/ns/${name}`, name);
      opened.push(fd);
      namespaces.push([fd, flag]);
    }
    const pidNs = openNs(`/proc/${pid}/ns/pid`, "pid");
    opened.push(pidNs);
    // --oom-score-adj: an exec's too, as runc's (its bootstrap data carries the container's value), written
    // through the container's /proc once the child is in its mount namespace
    const adj = proc.oomScoreAdj;
    const ops: PlannedOp[] =
      adj === undefined || opts.oci
        ? []
        : [
            { kind: OP.ENTER, target: "/", what: `enter the container's root` },
            { kind: OP.WRITE, target: "proc/self/oom_score_adj", data: String(adj), what: `set oom_score_adj ${adj}` },
          ];
    const plan: ShimPlan = {
      ...processPlan(proc, stdio),
      mode: "exec",
      cloneFlags: 0,
      ops,
      namespaces,
      oci: OCI_RESET_SIGNALS, // default dispositions, as for the container's first process
      ...(opts.oci ? { oci: OCI_RESET_SIGNALS | OCI_BLOCKING_STDIO, preserveFds: opts.preserveFds ?? 0 } : {}),
    };
    return await start(plan, ops, { cgroupPath, layout, pidNs, oom: false });
  } finally {
    for (const fd of opened) closeSync(fd);
  }
}

function consoleOf(stdio: Stdio): { devptsFd: number; name: string } {
  if (!stdio.devpts) throw new EngineError("invalid_argument", "terminal: the pty must come from openConsole() (the container's own devpts)");
  return { devptsFd: stdio.devpts.mountFd, name: stdio.devpts.name };
}

function openCgroupDir(dir: string): number {
  try {
    return openSync(dir, "r");
  } catch (e) {
    throw new EngineError("not_found", `open cgroup ${dir}: ${(e as Error).message}`, { cause: e });
  }
}

function openNs(path: string, name: string): number {
  try {
    return openSync(path, "r");
  } catch (e) {
    throw new EngineError("not_found", `open ${name} namespace ${path}: ${(e as Error).message}`, { cause: e });
  }
}

/** char and block devices directly under the host's /dev (--privileged gets them all, like docker) */
function hostDevices(): string[] {
  const out: string[] = [];
  for (const d of readdirSync("/dev", { withFileTypes: true })) {
    if ((d.isCharacterDevice() || d.isBlockDevice()) && !["console", "ptmx", "tty"].includes(d.name)) out.push(d.name);
  }
  return ["tty", ...out];
}

const RLIMITS: Record<string, number> = {
  CPU: 0,
  FSIZE: 1,
  DATA: 2,
  STACK: 3,
  CORE: 4,
  RSS: 5,
  NPROC: 6,
  NOFILE: 7,
  MEMLOCK: 8,
  AS: 9,
  LOCKS: 10,
  SIGPENDING: 11,
  MSGQUEUE: 12,
  NICE: 13,
  RTPRIO: 14,
  RTTIME: 15,
};
const RLIM_INFINITY = (1n << 64n) - 1n;

function processPlan(p: ProcessSpec, stdio: Stdio): Omit<ShimPlan, "mode" | "cloneFlags" | "ops" | "namespaces"> {
  if (p.args.length === 0) throw new EngineError("invalid_argument", "no command specified");
  const pathVar = p.env.findLast((e) => e.startsWith("PATH="));
  return {
    argv: p.args,
    env: p.env,
    path: pathVar ? pathVar.slice(5) : DEFAULT_PATH,
    syncFd: -1,
    errFd: -1,
    stdin: stdio.stdin,
    stdout: stdio.stdout,
    stderr: stdio.stderr,
    tty: p.terminal,
    uid: p.uid,
    gid: p.gid,
    groups: p.additionalGids,
    capMask: capabilityMask(p.capabilities),
    noNewPrivs: p.noNewPrivileges,
    init: p.init,
    ...(p.umask !== undefined ? { umask: p.umask } : {}),
    cwd: p.cwd || "/",
    // docker's default profile unless the engine says otherwise; compiled for this process's capabilities
    ...(p.seccomp === "unconfined" ? {} : { seccomp: seccompFilter(p.seccomp ?? DEFAULT_PROFILE, p.capabilities) }),
    rlimits: (p.rlimits ?? []).map((r) => {
      const res = RLIMITS[r.type.toUpperCase().replace(/^RLIMIT_/, "")];
      if (res === undefined) throw new EngineError("invalid_argument", `unknown rlimit type: "${r.type}"`);
      const v = (n: number) => (n < 0 ? RLIM_INFINITY : BigInt(n));
      return [res, v(r.soft), v(r.hard)] as [number, bigint, bigint];
    }),
  };
}

interface StartOptions {
  cgroupPath: string;
  layout: CgroupLayout;
  /** a pid namespace to create the child in (pid_for_children is set around the clone) */
  pidNs?: number;
  whileCloning?: () => void;
  beforeStart?: (pid: number) => Promise<void>;
  whileStarting?: (pid: number, startTime: string) => void;
  /** report oomKilled from the cgroup (the container's PID 1, not an exec) */
  oom: boolean;
}

let borrowMemory = true;

/**
 * A process that serves many containers (berth daemon) forks the shim's child for every start: its
 * thread must not wait on a child's set-up, which can block (a bind mount over a dead NFS server)
 */
export function forkForEveryStart(): void {
  borrowMemory = false;
}

/** a clone from the shim's thread whose child has not exec'd yet: it lives in this process's memory
 * and reads the shim's plan and stack, so no other start may touch them until it is joined */
let bgInFlight: Promise<void> | undefined;

async function start(plan: ShimPlan, ops: PlannedOp[], o: StartOptions): Promise<RunningContainer> {
  while (bgInFlight) await bgInFlight;
  const shim = loadShim();
  mark("runtime: plan built");
  // the child joins the cgroup itself (shim.c cgroup_join): no global cgroup lock, no RCU wait here
  const join = joinTargets(o.cgroupPath, o.layout);
  const cgroupFd = join.v2Dir ? openCgroupDir(join.v2Dir) : -1;
  // nothing for this process to do between the clone and the exec: the child borrows our memory and
  // this thread waits (shim.c H_VFORK): no page tables copied, none torn down at the child's execve,
  // no copy-on-write faults here afterwards (1.3–1.8 ms of a `run`). Else it waits on the sync pipe
  // for the hook. Not for --init, whose reaper (the child) never execs
  const borrow = (plan.execFifoFd ?? -1) < 0 && !(plan.cloneFlags & CLONE_NEWUSER) && !plan.init && borrowMemory;
  const vfork = borrow && !o.beforeStart;
  // with a hook (the network): the same clone from a thread of the shim's, so this thread wires the
  // network while the child mounts, and the child waits for it before its exec (not into another pid
  // namespace: that is this thread's setting)
  const vforkBg = borrow && !!o.beforeStart && !!plan.lateSync && o.pidNs === undefined;
  // no clone from a thread of the shim's: nothing runs meanwhile, so the work comes first (a throw
  // leaves nothing to undo here)
  if (!vforkBg) o.whileCloning?.();
  let cloningError: { e: unknown } | undefined;
  let bgThread = false;
  let releaseBg = () => {};
  // the thread's clone has returned (the child exec'd or exited) and it is gone; idempotent
  const joinBg = () => {
    if (!vforkBg) return;
    if (bgThread) shim.berth_spawn_bg_join();
    bgThread = false;
    bgInFlight = undefined;
    releaseBg();
  };
  const [syncR, syncW] = vfork ? [-1, -1] : pipe2(O_CLOEXEC);
  const [errR, errW] = pipe2(O_CLOEXEC);
  let pid: number;
  try {
    const blob = encodePlan({
      ...plan,
      vfork: vfork || vforkBg,
      syncFd: syncR,
      errFd: errW,
      cgroupTasks: join.tasks,
      cgroupFd,
      cgroupProcs: join.v2Dir && `${join.v2Dir}/cgroup.procs`,
    });
    mark("runtime: plan encoded");
    if (o.pidNs !== undefined) {
      const own = openSync("/proc/self/ns/pid", "r");
      try {
        setns(o.pidNs, CLONE_NEWPID, "pid namespace");
        try {
          pid = shim.berth_spawn(blob, blob.length);
        } finally {
          setns(own, CLONE_NEWPID, "own pid namespace"); // before anything can start a thread
        }
      } finally {
        closeSync(own);
      }
    } else if (vforkBg) {
      bgInFlight = new Promise<void>((r) => (releaseBg = r));
      pid = shim.berth_spawn_bg(blob, blob.length);
      bgThread = pid === 0;
      if (bgThread && o.whileCloning) {
        try {
          o.whileCloning();
        } catch (e) {
          cloningError = { e }; // the child is killed below, once its pid is known
        }
        mark("runtime: work while cloning done");
      }
      if (bgThread) pid = shim.berth_spawn_bg_pid();
      if (pid < 0) joinBg();
    } else {
      pid = shim.berth_spawn(blob, blob.length);
    }
  } finally {
    closeFd(syncR);
    closeFd(errW);
    if (cgroupFd >= 0) closeSync(cgroupFd);
  }
  mark(vfork ? "runtime: cloned, exec'd (vfork)" : vforkBg ? "runtime: cloned (vfork, thread)" : "runtime: cloned");
  if (pid < 0) {
    closeFd(syncW);
    closeFd(errR);
    throw wrap("container init", new SyscallError("clone", -pid, errnoName(-pid), strerror(-pid)));
  }
  try {
    if (cloningError) throw cloningError.e;
    await o.beforeStart?.(pid);
    mark("runtime: network wired");
    try {
      if (syncW >= 0) writeSync(syncW, "x");
    } catch (e) {
      // a late-sync child that failed its set-up meanwhile is gone: its message is on the error pipe
      if ((e as NodeJS.ErrnoException).code !== "EPIPE") throw e;
    }
  } catch (e) {
    kill(pid, 9);
    joinBg();
    shim.berth_wait(pid, 0);
    // a late-sync child may have failed its own set-up first (and the hook then, finding it gone): its
    // error is the one to report. Reaped, it holds no end of the pipe: EOF comes at once
    const msg = plan.lateSync ? await readMessage(errR).catch(() => undefined) : undefined;
    closeFd(errR);
    if (msg && msg[0] !== 0) throw childError(msg, plan, ops);
    throw e;
  } finally {
    closeFd(syncW);
  }
  // the clone's start time: an exec does not change it
  const startTime = processStartTime(pid) ?? "";
  if (o.whileStarting) {
    try {
      o.whileStarting(pid, startTime);
    } catch (e) {
      kill(pid, 9);
      joinBg();
      shim.berth_wait(pid, 0);
      closeFd(errR);
      throw e;
    }
  }
  // a vfork clone returns once the child has exec'd or exited: its message (or EOF) is there already
  joinBg(); // the child's exec (or exit): a few syscalls after the sync
  const msg = vfork || vforkBg ? readMessageNow(errR) : await readMessage(errR);
  closeFd(errR);
  if ((vfork || vforkBg) && tracing()) traceChild(shim, ops);
  mark("runtime: mounts applied, exec'd");
  // {0,0,0}: an OCI container set up and parked before execve (shim.c park)
  if (msg && msg[0] !== 0) {
    shim.berth_wait(pid, 0); // it _exit()s right after writing
    throw childError(msg, plan, ops);
  }
  let exited: Promise<ExitInfo> | undefined;
  return {
    pid,
    startTime,
    wait: () => (exited ??= waitExit(pid, o.oom ? o.cgroupPath : undefined, o.layout)),
  };
}

/** the names of shim.c's MK_* stamps */
const CHILD_MARKS: Record<number, string> = {
  1: "started",
  2: "fds closed, signals reset",
  3: "cgroup joined",
  4: "namespaces, lo, hostname",
  5: "mount plan applied",
  6: "parent's go-ahead",
  7: "capabilities, seccomp: exec",
};

/** the stamps a vfork child left in the shim's memory, as marks on this process's time line */
function traceChild(shim: ReturnType<typeof loadShim>, ops: PlannedOp[]): void {
  const out = new BigUint64Array(256);
  const n = shim.berth_child_marks(out, 128);
  for (let i = 0; i < n; i++) {
    const id = Number(out[2 * i]);
    const op = id >= 100 ? ops[id - 100] : undefined;
    const name = op ? op.what : id >= 50 ? `cgroup ${id - 50} joined` : (CHILD_MARKS[id] ?? `mark ${id}`);
    markAgo(`  child: ${name}`, out[2 * i + 1]!);
  }
}

/**
 * The compiled filter, from a cache under /run/berth (tmpfs, root only) keyed by the SHA-256 of what it
 * is compiled from: compiling costs a few ms of a cold process on every start, reading 6 KB does not.
 */
function seccompFilter(profile: SeccompProfile, caps: string[]): Uint8Array {
  const key = new Bun.CryptoHasher("sha256").update(JSON.stringify([SECCOMP_COMPILER, process.arch, profile, [...caps].sort()])).digest("hex");
  const file = `${SECCOMP_CACHE}/${key}.bpf`;
  try {
    const b = readFileSync(file);
    if (b.length > 0 && b.length % 8 === 0) return new Uint8Array(b.buffer, b.byteOffset, b.length);
  } catch {} // no cached filter (or an unreadable one): compiled anew below
  const f = compileSeccomp(profile, caps);
  try {
    mkdirSync(SECCOMP_CACHE, { recursive: true, mode: 0o700 });
    const tmp = `${file}.${process.pid}.tmp`;
    writeFileSync(tmp, f, { mode: 0o600 });
    renameSync(tmp, file);
  } catch {} // a cache only
  return f;
}

const SECCOMP_CACHE = "/run/berth/seccomp";

/** readMessage for a pipe whose writers are all gone: a plain read cannot block */
function readMessageNow(fd: number): [number, number, number] | undefined {
  const got = new Uint8Array(12);
  let n = 0;
  try {
    for (let r = 1; n < 12 && r > 0; n += r) r = readSync(fd, got, n, 12 - n, null);
  } catch (e) {
    throw wrap("container init: read error pipe", e);
  }
  return messageOf(got, n);
}

/** {step, errno, index} as three ints, or undefined at EOF (execve succeeded). Read through Bun's
 * poll-driven file reader, so the event loop keeps running while the child sets itself up, and no
 * thread-pool thread is started for it (fs.read's callback form starts one: ~1–2 ms of `run`). */
async function readMessage(fd: number): Promise<[number, number, number] | undefined> {
  const got = new Uint8Array(12);
  let n = 0;
  try {
    for await (const chunk of Bun.file(fd).stream()) {
      got.set(chunk.subarray(0, 12 - n), n);
      n += Math.min(chunk.length, 12 - n);
      if (n === 12) break;
    }
  } catch (e) {
    throw wrap("container init: read error pipe", e);
  }
  return messageOf(got, n);
}

function messageOf(got: Uint8Array, n: number): [number, number, number] | undefined {
  if (n < 12) return undefined;
  const v = new DataView(got.buffer);
  return [v.getInt32(0, true), v.getInt32(4, true), v.getInt32(8, true)];
}

function childError([step, errno, index]: [number, number, number], plan: ShimPlan, ops: PlannedOp[]): EngineError {
  const code = errnoName(errno);
  const reason = strerror(errno);
  if (step === ST_EXEC) {
    const arg0 = plan.argv[0]!;
    const q = JSON.stringify(arg0);
    if (code === "ENOENT") {
      const msg = index === 0 ? `exec: ${q}: executable file not found in $PATH` : `exec: ${q}: stat ${arg0}: no such file or directory`;
      return new ExecError("not_found", msg);
    }
    if (code === "EACCES") return new ExecError("not_executable", `exec: ${q}: permission denied`);
    if (code === "ENOEXEC") return new ExecError("not_executable", `exec: ${q}: exec format error`);
    return new ExecError("not_executable", `exec: ${q}: ${reason.toLowerCase()}`);
  }
  let what: string = STEP[step] ?? `step ${step}`;
  if (step === ST_OP && ops[index]) what = ops[index]!.what;
  if (step === ST_SETNS) what = `setns ${["ipc", "uts", "net", "cgroup", "mnt"][index] ?? index}`;
  return wrap(plan.mode === "exec" ? "exec" : "container init", new SyscallError(what, errno, code, reason));
}

/**
 * SIGCHLD wakes a waiter at once (the container's PID 1 and exec'd processes are this process's
 * children); the poll stays as the fallback. The runtime does not touch the process: the command layer
 * hands in how to listen (main.ts: a SIGCHLD listener), subscribed only while someone waits.
 */
export type ChildSignal = (listener: () => void) => () => void;
let childSignal: ChildSignal | undefined;
export function useChildSignal(s: ChildSignal | undefined): void {
  childSignal = s;
}
const childWaiters = new Set<() => void>();
let unsubscribe: (() => void) | undefined;
function onChild(): void {
  for (const wake of childWaiters) wake();
}

async function waitExit(pid: number, cgroupPath: string | undefined, layout: CgroupLayout): Promise<ExitInfo> {
  const shim = loadShim();
  const started = performance.now();
  let wake = () => {};
  const waiter = () => wake();
  if (childWaiters.size === 0) unsubscribe = childSignal?.(onChild);
  childWaiters.add(waiter);
  try {
    for (;;) {
      // armed before the check, so an exit between the check and the sleep still wakes it
      const signalled = new Promise<void>((r) => (wake = r));
      const st = shim.berth_wait(pid, 1);
      if (st >= 0) return exitInfo(st, cgroupPath, layout);
      if (st < -1) {
        const e = -st - 1000;
        throw wrap(`wait for container process ${pid}`, new SyscallError("waitpid", e, errnoName(e), strerror(e)));
      }
      // the poll catches what a signal might not: every millisecond for half a second, then every 5 ms,
      // then every 20 ms
      const waited = performance.now() - started;
      await Promise.race([signalled, Bun.sleep(waited < 500 ? 1 : waited < 5000 ? 5 : 20)]);
    }
  } finally {
    childWaiters.delete(waiter);
    if (childWaiters.size === 0) {
      unsubscribe?.();
      unsubscribe = undefined;
    }
  }
}

function exitInfo(st: number, cgroupPath: string | undefined, layout: CgroupLayout): ExitInfo {
  mark("runtime: exit seen");
  const sig = st & 0x7f;
  const oom = cgroupPath ? oomKilled(cgroupPath, layout) : false;
  const read = cgroupPath ? { oomRead: true } : {};
  return sig ? { exitCode: 128 + sig, signal: sig, oomKilled: oom, ...read } : { exitCode: (st >> 8) & 0xff, oomKilled: oom, ...read };
}
