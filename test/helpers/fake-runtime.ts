/**
 * A recording fake of the container runtime (youki's TestHelperSyscall) and of a snapshot driver, and a
 * ContainerService built on them in a temporary root: the lifecycle's unit tests run without root,
 * namespaces or cgroups. Processes are bookkeeping: a "container" lives until it is killed or told to
 * exit; every call is recorded in `calls`, in order.
 */
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { EngineError } from "../../src/lib/errors.ts";
import { createLogger } from "../../src/lib/log.ts";
import type { SnapshotDriver } from "../../src/cow/driver.ts";
import type { Mount } from "../../src/oci/index.ts";
import type { ContainerSpec, ExitInfo, ProcessSpec, ResourceSpec, RunningContainer, Stdio } from "../../src/runtime/types.ts";
import type { CgroupStats, ContainerRuntime, CreateHooks, NetStats } from "../../src/engine/containers/runtime-port.ts";
import type { ImageResolver, ResolvedImage } from "../../src/engine/image-types.ts";
import { ContainerService } from "../../src/engine/containers/service.ts";

export interface Call {
  op: string;
  args: unknown[];
}

interface FakeProcess {
  pid: number;
  startTime: string;
  cgroup?: string;
  alive: boolean;
  exit: PromiseWithResolvers<ExitInfo>;
}

export class FakeRuntime implements ContainerRuntime {
  readonly calls: Call[] = [];
  readonly procs = new Map<number, FakeProcess>();
  /** cgroup path → pids */
  readonly cgroups = new Map<string, Set<number>>();
  readonly frozen = new Set<string>();
  /** SIGKILLed while frozen: they die at the thaw */
  private readonly killedFrozen = new Set<number>();
  /** the next create fails with this (once) */
  failCreate?: Error;
  /** the next exec fails with this (once) */
  failExec?: Error;
  /** create waits for this before it returns (for races) */
  createGate?: Promise<void>;
  private nextPid = 40_000;

  private record(op: string, ...args: unknown[]): void {
    this.calls.push({ op, args });
  }

  /** ops recorded so far, e.g. ["create", "kill", "removeCgroup"] */
  ops(): string[] {
    return this.calls.map((c) => c.op);
  }

  /** a live process that is not a container (the test process as supervisor) */
  adopt(pid: number): void {
    this.procs.set(pid, { pid, startTime: `t${pid}`, alive: true, exit: Promise.withResolvers() });
  }

  private spawn(cgroup: string): FakeProcess {
    const pid = this.nextPid++;
    const p: FakeProcess = { pid, startTime: `t${pid}`, cgroup, alive: true, exit: Promise.withResolvers() };
    this.procs.set(pid, p);
    if (!this.cgroups.has(cgroup)) this.cgroups.set(cgroup, new Set());
    this.cgroups.get(cgroup)!.add(pid);
    return p;
  }

  /** the process ends by itself with `code` */
  exit(pid: number, code: number, signal?: number): void {
    const p = this.procs.get(pid);
    if (!p?.alive) return;
    p.alive = false;
    if (p.cgroup) this.cgroups.get(p.cgroup)?.delete(pid);
    p.exit.resolve({ exitCode: code, ...(signal ? { signal } : {}), oomKilled: false });
  }

  async create(spec: ContainerSpec, _stdio: Stdio, hooks: CreateHooks = {}): Promise<RunningContainer> {
    this.record("create", spec.cgroupPath);
    if (this.createGate) await this.createGate;
    if (this.failCreate) {
      const e = this.failCreate;
      this.failCreate = undefined;
      this.record("create failed", spec.cgroupPath);
      throw e;
    }
    const p = this.spawn(spec.cgroupPath);
    await hooks.beforeStart?.(p.pid);
    return { pid: p.pid, startTime: p.startTime, wait: () => p.exit.promise };
  }

  async exec(pid: number, proc: ProcessSpec, _stdio: Stdio, cgroupPath: string): Promise<RunningContainer> {
    this.record("exec", pid, proc.args, proc.env);
    if (this.failExec) {
      const e = this.failExec;
      this.failExec = undefined;
      throw e;
    }
    const p = this.spawn(cgroupPath);
    return { pid: p.pid, startTime: p.startTime, wait: () => p.exit.promise };
  }

  kill(pid: number, signal: number): void {
    this.record("kill", pid, signal);
    const p = this.procs.get(pid);
    if (!p?.alive) return; // ESRCH: done
    if (p.cgroup && this.frozen.has(p.cgroup)) {
      // cgroup v1's freezer: even SIGKILL waits for the thaw (other signals: not modelled)
      if (signal === 9) this.killedFrozen.add(pid);
      return;
    }
    this.exit(pid, 128 + signal, signal);
  }

  processStartTime(pid: number): string | undefined {
    const p = this.procs.get(pid);
    return p?.alive ? p.startTime : undefined;
  }

  isAlive(pid: number, startTime: string): boolean {
    return !!pid && !!startTime && this.processStartTime(pid) === startTime;
  }

  openConsole(): never {
    throw new EngineError("not_implemented", "fake runtime: no pty");
  }

  openContainerPty(): never {
    throw new EngineError("not_implemented", "fake runtime: no pty");
  }

  freeze(cg: string): void {
    this.record("freeze", cg);
    this.frozen.add(cg);
  }

  thaw(cg: string): void {
    this.record("thaw", cg);
    this.frozen.delete(cg);
    for (const pid of [...(this.cgroups.get(cg) ?? [])]) if (this.killedFrozen.delete(pid)) this.exit(pid, 137, 9);
  }

  stats(cg: string): CgroupStats {
    this.record("stats", cg);
    return { memoryUsage: 0, memoryLimit: Infinity, cpuNs: 0, pids: this.cgroups.get(cg)?.size ?? 0 } as unknown as CgroupStats;
  }

  netStats(): NetStats {
    return { netRx: 0, netTx: 0 };
  }

  oomKilled(): boolean {
    return false;
  }

  cgroupExists(cg: string): boolean {
    return this.cgroups.has(cg);
  }

  cgroupPids(cg: string): number[] {
    return [...(this.cgroups.get(cg) ?? [])];
  }

  /** as the real one: nothing to do for a missing cgroup; a frozen one is thawed and what still runs
   * in it killed before it goes (runtime/cgroups.ts removeBusy) */
  removeCgroup(cg: string): void {
    if (!this.cgroups.has(cg)) return;
    const live = [...(this.cgroups.get(cg) ?? [])].filter((pid) => this.procs.get(pid)?.alive);
    if (live.length || this.frozen.has(cg)) {
      for (const pid of live) this.kill(pid, 9);
      if (this.frozen.has(cg)) this.thaw(cg);
    }
    this.record("removeCgroup", cg);
    this.cgroups.delete(cg);
    this.frozen.delete(cg);
  }

  updateCgroup(cg: string, r: ResourceSpec): void {
    this.record("updateCgroup", cg, r);
  }
}

/** snapshots as plain directories; records prepare/remove */
export function fakeSnapshots(root: string, calls: Call[] = []): SnapshotDriver & { live: Set<string>; failPrepare?: Error } {
  const live = new Set<string>();
  const dir = (key: string) => join(root, key);
  const mounts = (key: string): Mount[] => [{ type: "bind", source: dir(key), target: "/", options: ["rbind", "rw"] }];
  const d = {
    name: "fake",
    live,
    failPrepare: undefined as Error | undefined,
    async prepare(key: string) {
      calls.push({ op: "snapshot.prepare", args: [key] });
      if (d.failPrepare) throw d.failPrepare;
      mkdirSync(dir(key), { recursive: true });
      live.add(key);
      return mounts(key);
    },
    async mounts(key: string) {
      if (!live.has(key)) throw new EngineError("not_found", `snapshot ${key} does not exist`);
      return mounts(key);
    },
    async cleanup() {
      calls.push({ op: "snapshot.cleanup", args: [] });
    },
    async remove(key: string) {
      calls.push({ op: "snapshot.remove", args: [key] });
      if (!live.delete(key)) throw new EngineError("not_found", `snapshot ${key} does not exist`);
      rmSync(dir(key), { recursive: true, force: true });
    },
    upperDir: (key: string) => dir(key),
  };
  return d as unknown as SnapshotDriver & { live: Set<string>; failPrepare?: Error };
}

export const fakeImage: ResolvedImage = {
  id: `sha256:${"ab".repeat(32)}` as ResolvedImage["id"],
  config: { config: { Cmd: ["/bin/sh"], Env: ["PATH=/usr/bin:/bin"] } } as unknown as ResolvedImage["config"],
  topLayer: undefined,
  names: ["fake:latest"],
};

export const fakeImages: ImageResolver = {
  async resolve(ref) {
    if (ref === "fake" || ref === "fake:latest") return fakeImage;
    throw new EngineError("not_found", `No such image: ${ref}`);
  },
};

/** the few create flags the lifecycle tests vary */
export interface FakeCreate {
  name?: string;
  network?: string;
  rm?: boolean;
  /** "always", "on-failure:N", … */
  restart?: string;
}

export interface FakeEngine {
  svc: ContainerService;
  runtime: FakeRuntime;
  snapshots: ReturnType<typeof fakeSnapshots>;
  root: string;
  /** monitors launched detached (`__monitor --resume|--adopt`), run in this process: their argv and outcome */
  launched: { args: string[]; done: Promise<number> }[];
  /** `create` of the fake image with --network none and the given options (docker's flag words) */
  create(over?: FakeCreate): Promise<string>;
  dispose(): void;
}

/** a ContainerService over the fake runtime and snapshots in a fresh temporary root */
export function fakeEngine(): FakeEngine {
  const root = mkdtempSync(join(tmpdir(), "berth-fake-"));
  const runtime = new FakeRuntime();
  runtime.adopt(process.pid);
  const snapshots = fakeSnapshots(join(root, "snapshots"), runtime.calls);
  const launched: FakeEngine["launched"] = [];
  // a detached monitor is this process too: it runs after the launcher's state update, as a real one would
  const launch = (args: string[]): number => {
    const id = args[args.length - 1]!;
    const done = Bun.sleep(0).then(() => svc.monitorMain(id, () => {}, { resume: args.includes("--resume"), adopt: args.includes("--adopt") }));
    launched.push({ args, done });
    return process.pid;
  };
  const svc: ContainerService = new ContainerService({
    root: join(root, "containers"),
    berthRoot: root,
    log: createLogger(0, () => {}),
    images: fakeImages,
    snapshots,
    runtime,
    self: { pid: process.pid, argv: ["/bin/false"], monitorEnv: () => ({}), launch },
  });
  return {
    svc,
    runtime,
    snapshots,
    root,
    launched,
    async create(over = {}) {
      const [name = "no", count = "0"] = (over.restart ?? "no").split(":");
      const { Id } = await svc.create(
        {
          Image: "fake",
          Cmd: ["sleep", "1d"],
          HostConfig: { NetworkMode: over.network ?? "none", AutoRemove: !!over.rm, RestartPolicy: { Name: name, MaximumRetryCount: Number(count) } },
        },
        { name: over.name },
      );
      return Id;
    },
    dispose() {
      rmSync(root, { recursive: true, force: true });
    },
  };
}
