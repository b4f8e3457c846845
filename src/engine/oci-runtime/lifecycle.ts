/**
 * berth as an OCI runtime (runc's lifecycle): create parks the container's process before execve on
 * <root>/<id>/exec.fifo and returns, leaving it to the caller's subreaper (containerd-shim, conmon);
 * start opens the fifo; kill, delete, exec, pause/resume, update, ps and stats act on the cgroup and the
 * pid recorded in the state file. The container itself is made by src/runtime's createContainer, the
 * same code `berth run` uses: config.json → ContainerSpec (spec.ts) → mount plan → shim.
 */
import { closeSync, existsSync, openSync, readFileSync, readSync, rmSync, unlinkSync, writeFileSync, chmodSync, renameSync, mkdirSync } from "node:fs";
import { dirname } from "node:path";
import { EngineError, wrap } from "../../lib/errors.ts";
import { mark } from "../../lib/trace.ts";
import {
  cgroupExists,
  cgroupPids,
  createContainer,
  detectLayout,
  execInContainer,
  freeze,
  isAlive,
  killContainer,
  openConsole,
  openContainerPty,
  processStartTime,
  removeCgroup,
  stats as cgroupStats,
  thaw,
  updateCgroup,
  type ProcessSpec,
  type RunningContainer,
  type Stdio,
} from "../../runtime/index.ts";
import { closeFd, pipe2, setWinsize } from "../../ffi/container-io.ts";
import { ioprioSet, mkfifo, sendFdTo } from "../../ffi/oci-io.ts";
import { parseSignal } from "../containers/signals.ts";
import {
  cgroupPathOf,
  parseSpec,
  processOf,
  resourcesOf,
  rootfsOf,
  seccompOf,
  toContainerSpec,
  type HookName,
  type OciProcess,
  type OciResources,
  type OciSpec,
} from "./spec.ts";
import { checkId, dirOf, fifoOf, listIds, load, save, stateDoc, statusOf, type OciRecord, type OciStateDoc } from "./state.ts";

export interface OciRuntimeOptions {
  /** --root: where state lives (default /run/berth-runc) */
  root: string;
  /** warnings and debug lines (--log / stderr, the command decides) */
  log?: (level: "debug" | "warn", msg: string) => void;
}

export interface CreateOptions {
  id: string;
  bundle: string;
  pidFile?: string;
  consoleSocket?: string;
  preserveFds?: number;
  /** a foreground run without --console-socket: the pty master is handed here (the caller relays it
   * and closes it), as runc relays its own terminal */
  onConsole?: (master: number) => void;
}

const notRunning = () => new EngineError("conflict", "container not running");

/** write a file the way runc does for --pid-file: to a temp name, then rename (readers never see half) */
function writePidFile(path: string, pid: number): void {
  const tmp = `${dirname(path)}/.${path.split("/").pop()}.${process.pid}`;
  writeFileSync(tmp, String(pid));
  renameSync(tmp, path);
}

export class OciRuntime {
  constructor(readonly o: OciRuntimeOptions) {}

  private debug(msg: string): void {
    this.o.log?.("debug", msg);
  }

  state(id: string): OciStateDoc {
    return stateDoc(this.o.root, load(this.o.root, id));
  }

  list(): OciStateDoc[] {
    const out: OciStateDoc[] = [];
    for (const id of listIds(this.o.root)) {
      try {
        out.push(stateDoc(this.o.root, load(this.o.root, id)));
      } catch {
        // removed meanwhile by a concurrent delete: not listed
      }
    }
    return out;
  }

  /** create: set the container up, park its process on the exec fifo, record it */
  async create(c: CreateOptions): Promise<OciRecord> {
    return (await this.createRunning(c)).rec;
  }

  private async createRunning(c: CreateOptions): Promise<{ rec: OciRecord; running: RunningContainer }> {
    const root = this.o.root;
    checkId(c.id);
    const bundle = c.bundle;
    let text: string;
    try {
      text = readFileSync(`${bundle}/config.json`, "utf8");
    } catch (e) {
      throw new EngineError(
        "not_found",
        `JSON specification file config.json not found: open ${bundle}/config.json: ${(e as NodeJS.ErrnoException).code === "ENOENT" ? "no such file or directory" : (e as Error).message}`,
      );
    }
    const spec = parseSpec(text, `${bundle}/config.json`);
    const dir = dirOf(root, c.id);
    mkdirSync(root, { recursive: true, mode: 0o700 });
    try {
      mkdirSync(dir, { mode: 0o711 });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "EEXIST") throw new EngineError("already_exists", `container with id exists: ${c.id}`);
      throw e;
    }
    const layout = detectLayout();
    const rec: OciRecord = {
      id: c.id,
      pid: 0,
      startTime: "",
      bundle,
      rootfs: rootfsOf(spec, bundle),
      created: new Date().toISOString(),
      owner: "",
      cgroupPath: cgroupPathOf(spec, c.id),
      creating: true,
      spec,
    };
    let tty: ReturnType<typeof openConsole> | undefined;
    try {
      save(root, rec);
      const fifo = fifoOf(root, c.id);
      mkfifo(fifo, 0o622);
      chmodSync(fifo, 0o622);
      const cspec = toContainerSpec({ id: c.id, bundle, spec, execFifo: fifo, preserveFds: c.preserveFds ?? 0, layout });
      if (cspec.process.terminal && !c.consoleSocket && !c.onConsole)
        throw new EngineError("invalid_argument", "cannot allocate tty if runc will detach without setting console socket");
      if (!cspec.process.terminal && c.consoleSocket)
        throw new EngineError("invalid_argument", "cannot use console socket if runc will not detach or allocate tty");
      let stdio: Stdio = { stdin: 0, stdout: 1, stderr: 2 };
      if (cspec.process.terminal) {
        tty = openConsole();
        stdio = { stdin: tty.slave, stdout: tty.slave, stderr: tty.slave, devpts: { mountFd: tty.mountFd, name: tty.name } };
        const size = spec.process?.consoleSize;
        if (size) setWinsize(tty.master, { rows: size.height, cols: size.width });
      }
      const io = spec.process?.ioPriority;
      mark("oci: spec converted");
      const running = await createContainer(cspec, stdio, {
        beforeStart: async (pid) => {
          rec.pid = pid;
          rec.startTime = processStartTime(pid) ?? "";
          save(root, rec);
          if (io) ioprioSet(pid, io.class, io.priority);
          const doc = stateDoc(root, rec, "creating");
          await runHooks(spec, "prestart", doc, true);
          await runHooks(spec, "createRuntime", doc, true);
        },
      });
      mark("oci: container parked");
      rec.pid = running.pid;
      rec.startTime = running.startTime;
      delete rec.creating;
      save(root, rec);
      if (tty && c.consoleSocket) sendFdTo(c.consoleSocket, tty.master, "/dev/ptmx");
      else if (tty && c.onConsole) {
        c.onConsole(tty.master);
        tty.master = -1; // the caller's now
      }
      if (c.pidFile) writePidFile(c.pidFile, running.pid);
      // runc runs createContainer hooks inside the container's mount namespace before pivot_root; berth
      // runs them here, after the container is set up, in the runtime's namespaces (README)
      await runHooks(spec, "createContainer", stateDoc(root, rec, "creating"), true);
      this.debug(`created ${c.id}: pid ${running.pid}`);
      return { rec, running };
    } catch (e) {
      if (rec.pid && isAlive(rec.pid, rec.startTime)) killContainer(rec.pid, 9);
      await this.waitGone(rec, 2000);
      try {
        if (cgroupExists(rec.cgroupPath)) removeCgroup(rec.cgroupPath, layout);
      } catch {} // best effort: the real error follows
      rmSync(dir, { recursive: true, force: true });
      throw e;
    } finally {
      if (tty) {
        if (tty.master >= 0) closeFd(tty.master);
        closeFd(tty.slave);
        closeFd(tty.mountFd);
      }
    }
  }

  /** start: run startContainer hooks, release the parked process, run poststart hooks */
  async start(id: string): Promise<void> {
    const root = this.o.root;
    const rec = load(root, id);
    const status = statusOf(root, rec);
    if (status === "stopped") throw new EngineError("conflict", "cannot start a container that has stopped");
    if (status !== "created") throw new EngineError("conflict", `cannot start an already running container`);
    if (rec.spec.hooks?.startContainer?.length) await this.startContainerHooks(rec);
    const fifo = fifoOf(root, id);
    let fd: number;
    try {
      fd = openSync(fifo, 0o4000 /* O_RDONLY|O_NONBLOCK: a reader that does not wait for the writer */);
    } catch (e) {
      throw new EngineError("conflict", `cannot start an already running container: ${(e as Error).message}`);
    }
    try {
      const buf = Buffer.alloc(1);
      const deadline = Date.now() + 10_000;
      const take = () => {
        try {
          return readSync(fd, buf, 0, 1, null) === 1;
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code !== "EAGAIN") throw e;
          return false; // nothing written yet
        }
      };
      for (;;) {
        if (take()) break;
        // a process that ran and ended between the two checks (`sh -c 'exit 3'`) left its byte behind
        if (!isAlive(rec.pid, rec.startTime)) {
          if (take()) break;
          throw new EngineError("conflict", "cannot start a container that has stopped");
        }
        if (Date.now() > deadline) throw new EngineError("unavailable", `container ${id}: the process did not take the start signal`);
        await Bun.sleep(1);
      }
    } finally {
      closeSync(fd);
    }
    try {
      unlinkSync(fifo);
    } catch {} // already gone: a concurrent start
    await runHooks(rec.spec, "poststart", stateDoc(root, rec, "running"), false, this.o.log);
  }

  /** startContainer hooks run in the container's namespaces (their path resolves there), before the
   * user's process is released */
  private async startContainerHooks(rec: OciRecord): Promise<void> {
    const doc = JSON.stringify(stateDoc(this.o.root, rec, "created"));
    for (const [i, h] of (rec.spec.hooks?.startContainer ?? []).entries()) {
      const [r, w] = pipe2();
      writeFileSync(w, doc);
      closeFd(w);
      let proc: RunningContainer;
      try {
        proc = await execInContainer(
          rec.pid,
          {
            args: [h.path, ...(h.args ?? []).slice(1)],
            env: h.env ?? [],
            cwd: "/",
            uid: 0,
            gid: 0,
            additionalGids: [],
            terminal: false,
            capabilities: rec.spec.process?.capabilities?.bounding ?? [],
            noNewPrivileges: false,
            init: false,
            seccomp: "unconfined",
          },
          { stdin: r, stdout: 2, stderr: 2 },
          rec.cgroupPath,
          { oci: true },
        );
      } finally {
        closeFd(r);
      }
      const exit = await proc.wait();
      if (exit.exitCode !== 0) throw new EngineError("failed_precondition", `error running startContainer hook #${i}: exit status ${exit.exitCode}`);
    }
  }

  /** create + start; with `detach` false, wait for the process and delete the container (runc run) */
  async run(c: CreateOptions & { detach: boolean; keep: boolean }): Promise<number> {
    const { running } = await this.createRunning(c);
    await this.start(c.id);
    if (c.detach) return 0;
    // this process cloned it: it reaps it
    const code = (await running.wait()).exitCode;
    if (!c.keep) await this.delete(c.id, true);
    return code;
  }

  kill(id: string, signal: string, all: boolean): void {
    const rec = load(this.o.root, id);
    const sig = parseSignal(signal);
    const status = statusOf(this.o.root, rec);
    if (status === "stopped" || status === "creating") throw notRunning();
    if (all) {
      for (const pid of cgroupPids(rec.cgroupPath)) killContainer(pid, sig);
      if (status === "paused" && sig === 9) thaw(rec.cgroupPath);
      return;
    }
    if (!killContainer(rec.pid, sig)) throw notRunning();
  }

  async delete(id: string, force: boolean): Promise<void> {
    const root = this.o.root;
    let rec: OciRecord;
    try {
      rec = load(root, id);
    } catch (e) {
      if (e instanceof EngineError && e.kind === "not_found") {
        checkId(id);
        // a create that died before writing state.json leaves a directory runc would not see either
        rmSync(dirOf(root, id), { recursive: true, force: true });
        if (force) return;
      }
      throw e;
    }
    const status = statusOf(root, rec);
    if (status === "running" || status === "paused" || status === "creating") {
      if (!force) throw new EngineError("conflict", `cannot delete container ${id} that is not stopped: ${status}`);
    }
    if (status !== "stopped") {
      for (const pid of cgroupExists(rec.cgroupPath) ? cgroupPids(rec.cgroupPath) : []) killContainer(pid, 9);
      if (isAlive(rec.pid, rec.startTime)) killContainer(rec.pid, 9);
      if (status === "paused") thaw(rec.cgroupPath);
      await this.waitGone(rec, 5000);
    }
    await this.destroy(rec);
  }

  /** wait until the container's first process and its cgroup's processes are gone */
  private async waitGone(rec: OciRecord, ms: number): Promise<void> {
    const deadline = Date.now() + ms;
    while (Date.now() < deadline) {
      const left = (rec.cgroupPath && cgroupExists(rec.cgroupPath) ? cgroupPids(rec.cgroupPath) : []).length;
      if (!left && !(rec.pid && isAlive(rec.pid, rec.startTime))) return;
      await Bun.sleep(2);
    }
  }

  private async destroy(rec: OciRecord): Promise<void> {
    const root = this.o.root;
    try {
      if (cgroupExists(rec.cgroupPath)) removeCgroup(rec.cgroupPath, detectLayout());
    } catch (e) {
      throw wrap(`delete container ${rec.id}: remove cgroup`, e);
    }
    await runHooks(rec.spec, "poststop", stateDoc(root, rec, "stopped"), false, this.o.log);
    rmSync(dirOf(root, rec.id), { recursive: true, force: true });
  }

  /** exec: a new process in the running container; resolves to its exit code, or its pid with detach */
  async exec(
    id: string,
    e: {
      process?: OciProcess;
      args?: string[];
      env?: string[];
      cwd?: string;
      user?: string;
      caps?: string[];
      additionalGids?: number[];
      tty?: boolean;
      noNewPrivs?: boolean;
      consoleSocket?: string;
      onConsole?: (master: number) => void;
      pidFile?: string;
      detach: boolean;
      preserveFds?: number;
    },
  ): Promise<{ pid: number; wait?: () => Promise<number> }> {
    const root = this.o.root;
    const rec = load(root, id);
    const status = statusOf(root, rec);
    if (status === "stopped") throw new EngineError("conflict", "cannot exec in a stopped container");
    if (status === "paused") throw new EngineError("conflict", "cannot exec in a paused container");
    const base = rec.spec.process!;
    let p: OciProcess;
    if (e.process) p = e.process;
    else {
      if (!e.args?.length) throw new EngineError("invalid_argument", "exec: args must not be empty (pass a command or --process)");
      p = { ...base, args: e.args, terminal: !!e.tty };
      if (e.env?.length) p.env = [...(base.env ?? []), ...e.env];
      if (e.cwd) p.cwd = e.cwd;
      if (e.user) {
        const [u, g] = e.user.split(":");
        p.user = { ...base.user, uid: Number(u), gid: g === undefined ? base.user.gid : Number(g), additionalGids: [] };
        if (!Number.isInteger(p.user.uid) || !Number.isInteger(p.user.gid))
          throw new EngineError("invalid_argument", `invalid user ${JSON.stringify(e.user)}: uid[:gid] expected`);
      }
      if (e.additionalGids?.length) p.user = { ...p.user, additionalGids: e.additionalGids };
      if (e.caps?.length) {
        const add = (xs?: string[]) => [...new Set([...(xs ?? []), ...e.caps!])];
        const c = base.capabilities ?? {};
        p.capabilities = {
          bounding: add(c.bounding),
          effective: add(c.effective),
          permitted: add(c.permitted),
          inheritable: c.inheritable,
          ambient: c.ambient,
        };
      }
      if (e.noNewPrivs) p.noNewPrivileges = true;
    }
    if (!p.cwd) p = { ...p, cwd: base.cwd || "/" };
    const proc: ProcessSpec = processOf(p, seccompOf(rec.spec));
    if (proc.terminal && !e.consoleSocket && (!e.onConsole || e.detach))
      throw new EngineError("invalid_argument", "cannot allocate tty if runc will detach without setting console socket");
    let stdio: Stdio = { stdin: 0, stdout: 1, stderr: 2 };
    let pty: { master: number; slave: number } | undefined;
    if (proc.terminal) {
      pty = openContainerPty(rec.pid);
      stdio = { stdin: pty.slave, stdout: pty.slave, stderr: pty.slave };
      if (p.consoleSize) setWinsize(pty.master, { rows: p.consoleSize.height, cols: p.consoleSize.width });
    }
    let running: RunningContainer;
    try {
      running = await execInContainer(rec.pid, proc, stdio, rec.cgroupPath, { oci: true, preserveFds: e.preserveFds ?? 0 });
      if (pty && e.consoleSocket) sendFdTo(e.consoleSocket, pty.master, "/dev/ptmx");
      else if (pty && e.onConsole) {
        e.onConsole(pty.master);
        pty.master = -1; // the caller's now
      }
    } finally {
      if (pty) {
        if (pty.master >= 0) closeFd(pty.master);
        closeFd(pty.slave);
      }
    }
    if (e.pidFile) writePidFile(e.pidFile, running.pid);
    if (e.detach) return { pid: running.pid };
    return { pid: running.pid, wait: async () => (await running.wait()).exitCode };
  }

  pause(id: string): void {
    const rec = load(this.o.root, id);
    const status = statusOf(this.o.root, rec);
    if (status !== "running" && status !== "created") throw notRunning();
    freeze(rec.cgroupPath);
  }

  resume(id: string): void {
    const rec = load(this.o.root, id);
    if (statusOf(this.o.root, rec) !== "paused") throw new EngineError("conflict", "container not paused");
    thaw(rec.cgroupPath);
  }

  pids(id: string): number[] {
    const rec = load(this.o.root, id);
    return cgroupExists(rec.cgroupPath) ? cgroupPids(rec.cgroupPath) : [];
  }

  /** runc's `events --stats` document */
  stats(id: string): { type: "stats"; id: string; data: Record<string, unknown> } {
    const rec = load(this.o.root, id);
    if (statusOf(this.o.root, rec) === "stopped") throw notRunning();
    const s = cgroupStats(rec.cgroupPath);
    const lim = Number.isFinite(s.memoryLimit) ? s.memoryLimit : 2 ** 64;
    return {
      type: "stats",
      id,
      data: {
        cpu: { usage: { total: s.cpuNs }, throttling: {} },
        memory: { usage: { usage: s.memoryUsage, limit: lim }, raw: {} },
        pids: { current: s.pids },
        // runc's rows: per device and operation as the cgroup file has them
        blkio: { ioServiceBytesRecursive: s.blkioDevices ?? [] },
        hugetlb: {},
        intel_rdt: {},
        network_interfaces: null,
      },
    };
  }

  /** update: new limits for a created, running or paused container (LinuxResources JSON) */
  update(id: string, r: OciResources): void {
    const rec = load(this.o.root, id);
    if (statusOf(this.o.root, rec) === "stopped") throw new EngineError("conflict", `container ${id} is not running`);
    const res = resourcesOf(r, detectLayout());
    updateCgroup(rec.cgroupPath, { ...res, deviceRules: undefined, allDevices: undefined });
    rec.spec.linux = { ...rec.spec.linux, resources: { ...rec.spec.linux?.resources, ...r } };
    save(this.o.root, rec);
  }

  exists(id: string): boolean {
    return existsSync(`${dirOf(this.o.root, id)}/state.json`);
  }

  /** the recorded spec (tests, `state` consumers) */
  spec(id: string): OciSpec {
    return load(this.o.root, id).spec;
  }
}

/**
 * Run one kind of hook with the state on stdin (runtime-spec config.md#posix-platform-hooks). A failing
 * prestart/createRuntime/createContainer/startContainer hook fails the operation; poststart and poststop
 * failures are warnings, as in runc.
 */
export async function runHooks(
  spec: OciSpec,
  kind: HookName,
  state: OciStateDoc,
  fatal: boolean,
  log?: (level: "debug" | "warn", msg: string) => void,
): Promise<void> {
  for (const [i, h] of (spec.hooks?.[kind] ?? []).entries()) {
    const args = h.args?.length ? h.args : [h.path];
    let proc: ReturnType<typeof Bun.spawn>;
    try {
      proc = Bun.spawn({
        cmd: [h.path, ...args.slice(1)],
        argv0: args[0],
        env: Object.fromEntries((h.env ?? []).map((e) => [e.slice(0, e.indexOf("=") < 0 ? e.length : e.indexOf("=")), e.slice(e.indexOf("=") + 1)])),
        stdin: new Blob([JSON.stringify(state)]),
        stdout: "pipe",
        stderr: "pipe",
      });
    } catch (e) {
      const err = new EngineError("failed_precondition", `error running ${kind} hook #${i}: ${(e as Error).message}`);
      if (fatal) throw err;
      log?.("warn", err.message);
      continue;
    }
    let timer: ReturnType<typeof setTimeout> | undefined;
    let timedOut = false;
    if (h.timeout && h.timeout > 0)
      timer = setTimeout(() => {
        timedOut = true;
        proc.kill(9);
      }, h.timeout * 1000);
    const code = await proc.exited;
    if (timer) clearTimeout(timer);
    if (code !== 0 || timedOut) {
      const out = await new Response(proc.stdout as ReadableStream).text();
      const err = await new Response(proc.stderr as ReadableStream).text();
      const msg = timedOut
        ? `error running ${kind} hook #${i}: timeout after ${h.timeout} seconds`
        : `error running ${kind} hook #${i}: exit status ${code}, stdout: ${out.trim()}, stderr: ${err.trim()}`;
      if (fatal) throw new EngineError("failed_precondition", msg);
      log?.("warn", msg);
    }
  }
}
