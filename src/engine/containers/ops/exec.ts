/**
 * `exec`: a new process in a running container's namespaces and cgroup (canExec), with the container's
 * user, environment (and its links'), working directory and capabilities unless overridden.
 */
import { openSync, write } from "node:fs";
import { EngineError, ExecError } from "../../../lib/errors.ts";
import { closeFd, pipe2, setWinsize } from "../../../ffi/container-io.ts";
import type { ProcessSpec, Stdio } from "../../../runtime/types.ts";
import { readRootfsFile } from "../rootfs-files.ts";
import { buildSpec, computeCapabilities, resolveUser } from "../oci-spec.ts";
import { pumpFd, startError } from "../supervisor.ts";
import { canExec } from "../types.ts";
import { randomBytes } from "../../../lib/ids.ts";
import { ev, type ContainerDeps } from "./deps.ts";
import { linkedContainers, withLinkEnv } from "./links.ts";
import { refreshState } from "./state.ts";
import { Undo } from "./undo.ts";

export interface ExecOptions {
  cmd: string[];
  /** KEY=VAL only: the client resolves docker's bare `-e VAR` from its own environment */
  env: string[];
  workdir?: string;
  user?: string;
  tty: boolean;
  interactive: boolean;
  privileged?: boolean;
  detach: boolean;
}

export interface ExecIO {
  stdin?: AsyncIterable<Uint8Array>;
  stdout(b: Uint8Array): void;
  stderr(b: Uint8Array): void;
  initialSize?: { rows: number; cols: number };
  onResizer?(r: (s: { rows: number; cols: number }) => void): void;
  onStarted?(pid: number): void;
  /**
   * detach: the exec's end, for a caller that lives on (the daemon): the process is waited for here,
   * in the background, so that it is reaped (an unreaped one keeps the container's PID 1 from ever
   * finishing its exit), then exec_die and this. Without it (`berth exec -d`, whose process ends at
   * once) nothing waits: the orphan goes to the container's PID 1.
   */
  onExit?(exitCode: number): void;
}

export async function exec(d: ContainerDeps, ref: string, o: ExecOptions, io: ExecIO): Promise<number> {
  const id = d.store.resolve(ref);
  const cfg = d.store.readConfig(id);
  const st = refreshState(d, id);
  if (st.Status === "paused") throw new EngineError("conflict", `container ${id} is paused, unpause the container before exec`);
  if (!canExec(st.Status) || !st.Pid) throw new EngineError("conflict", `container ${id} is not running`);
  const rootfs = await d.snapshots.mounts(cfg.Berth.SnapshotKey);
  const user = resolveUser(
    o.user ?? cfg.Config.User,
    { passwd: readRootfsFile(rootfs, "/etc/passwd"), group: readRootfsFile(rootfs, "/etc/group") },
    cfg.HostConfig.GroupAdd ?? [],
  );
  const base = buildSpec(cfg, rootfs, user, { hostnamePath: cfg.HostnamePath, hostsPath: cfg.HostsPath, resolvConfPath: cfg.ResolvConfPath });
  let linkEnv: string[] = [];
  if (cfg.HostConfig.Links?.length) {
    try {
      linkEnv = linkedContainers(d, cfg).env;
    } catch {} // docker's exec sees the link variables too; a linked container gone since is no error here
  }
  let env = withLinkEnv(base.process.env, linkEnv).filter((e) => !e.startsWith("TERM=") || o.tty);
  if (o.tty && !env.some((e) => e.startsWith("TERM="))) env.push("TERM=xterm");
  for (const kv of o.env) {
    if (!kv.includes("=")) continue;
    const k = kv.split("=")[0];
    env = [...env.filter((x) => x.split("=")[0] !== k), kv];
  }
  // a detached exec with a terminal needs someone to hold and drain the pty's master for as long as it
  // runs (docker's shim does): the daemon does (io.onExit); `berth exec -dt`, which ends at once, runs
  // it without a terminal instead of leaving it a hung-up one (SIGHUP at its first output)
  const pty = o.tty && (!o.detach || !!io.onExit);
  const proc: ProcessSpec = {
    ...base.process,
    args: o.cmd,
    env,
    cwd: o.workdir ?? base.process.cwd,
    terminal: pty,
    init: false,
    capabilities: o.privileged ? computeCapabilities([], [], true) : base.process.capabilities,
  };

  // docker's exec events: exec_create / exec_start name the command, exec_die its exit code
  const execID = randomBytes(32).toString("hex");
  const what = o.cmd.join(" ");
  ev(d, `exec_create: ${what}`, cfg, { execID });

  // our ends of the pipes or the pty master: closed again if the exec fails; the child's ends are
  // closed in any case once the runtime has passed them on
  const ours = new Undo();
  const child: number[] = [];
  let master = -1;
  let stdio: Stdio;
  const outputs: { fd: number; sink: (b: Uint8Array) => void }[] = [];
  let stdinFd = -1;
  let running;
  try {
    if (pty) {
      const p = d.runtime.openContainerPty(st.Pid);
      master = p.master;
      ours.push(() => closeFd(master));
      child.push(p.slave);
      setWinsize(master, io.initialSize ?? { rows: 24, cols: 80 });
      stdio = { stdin: p.slave, stdout: p.slave, stderr: p.slave };
      outputs.push({ fd: master, sink: io.stdout });
      if (o.interactive) stdinFd = master;
    } else if (o.detach) {
      // docker's detached exec: no stream, its output discarded (a pipe with no reader would kill it
      // with SIGPIPE at its first write)
      const nul = openSync("/dev/null", "r+");
      child.push(nul);
      stdio = { stdin: nul, stdout: nul, stderr: nul };
    } else {
      const [ir, iw] = pipe2();
      child.push(ir);
      if (o.interactive && !o.detach) {
        stdinFd = iw;
        ours.push(() => closeFd(iw));
      } else closeFd(iw);
      const [or, ow] = pipe2();
      ours.push(() => closeFd(or));
      child.push(ow);
      const [er, ew] = pipe2();
      ours.push(() => closeFd(er));
      child.push(ew);
      stdio = { stdin: ir, stdout: ow, stderr: ew };
      outputs.push({ fd: or, sink: io.stdout }, { fd: er, sink: io.stderr });
    }
    running = await d.runtime.exec(st.Pid, proc, stdio, cfg.Berth.CgroupPath);
    ours.commit();
  } catch (e) {
    const err = startError(e, o.cmd[0] ?? "");
    const msg = err.message.replace("failed to create task for container", "OCI runtime exec failed");
    throw await ours.rollback(err instanceof ExecError ? new ExecError(err.reason, msg, { cause: e }) : new EngineError(err.kind, msg, { cause: e }));
  } finally {
    for (const fd of child) closeFd(fd);
  }
  ev(d, `exec_start: ${what}`, cfg, { execID });
  io.onStarted?.(running.pid);
  if (master >= 0) {
    io.onResizer?.((s) => {
      try {
        setWinsize(master, s);
      } catch {
        // the session ended meanwhile: no terminal to resize
      }
    });
  }
  if (o.detach) {
    const onExit = io.onExit;
    if (!onExit) {
      for (const { fd } of outputs) closeFd(fd);
      return 0;
    }
    // the pty's master (-dt) is drained into the caller's sinks until the exec ends, then closed
    const drained = outputs.map(({ fd, sink }) => pumpFd(fd, fd === master, sink));
    void running.wait().then(
      async (info) => {
        ev(d, "exec_die", cfg, { execID, exitCode: String(info.exitCode) });
        await Promise.race([Promise.all(drained), Bun.sleep(1000)]);
        onExit(info.exitCode);
      },
      () => onExit(126), // the wait itself failed (ECHILD: reaped by another waiter): no code to report
    );
    return 0;
  }
  if (stdinFd >= 0 && io.stdin) {
    const fd = stdinFd;
    void (async () => {
      try {
        for await (const chunk of io.stdin!) await new Promise((r) => write(fd, Buffer.from(chunk), () => r(undefined)));
      } catch {
        // the client's stdin failed: the process sees EOF, as when it ends
      }
      if (fd !== master) closeFd(fd);
    })();
  } else if (stdinFd >= 0 && stdinFd !== master) closeFd(stdinFd);
  const ended = outputs.map(({ fd, sink }) => pumpFd(fd, fd === master, sink));
  const info = await running.wait();
  ev(d, "exec_die", cfg, { execID, exitCode: String(info.exitCode) });
  await Promise.race([Promise.all(ended), Bun.sleep(1000)]);
  return info.exitCode;
}
