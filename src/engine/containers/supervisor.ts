/**
 * The supervisor of one running container: the `__monitor` process for detached containers, or the
 * foreground `run`/`start -a` process itself (see service.ts and ops/start.ts for why). It creates the
 * container through the runtime, holds the pty master or the pipes, writes the json-file log, serves
 * the attach socket, records state (running with pid + start time, then stopped with exit code,
 * OOMKilled and FinishedAt), removes the cgroup, and honours --rm.
 */
import { unlinkSync, write as fsWrite } from "node:fs";
import { EngineError, ExecError } from "../../lib/errors.ts";
import { closeFd, pipe2, setWinsize } from "../../ffi/container-io.ts";
import type { ExitInfo, Stdio } from "../../runtime/types.ts";
import { attachSocketPath, frame, FrameReader, F_EXIT, F_HELLO, F_RESIZE, F_STDERR, F_STDIN, F_STDIN_EOF, F_STDOUT } from "./attach-proto.ts";
import { JsonLogWriter, nowNano, type LogOptions, type StreamName } from "./logs.ts";
import type { ContainerRuntime, RunningContainer } from "./runtime-port.ts";
import type { ContainerConfigFile } from "./types.ts";

/** the local end of a foreground session */
export interface LocalIO {
  stdout(b: Uint8Array): void;
  stderr(b: Uint8Array): void;
  /** local stdin, forwarded when the container has OpenStdin */
  stdin?: AsyncIterable<Uint8Array> | NodeJS.ReadableStream;
}

export interface Prepared {
  cfg: ContainerConfigFile;
  spec: import("../../runtime/types.ts").ContainerSpec;
  logPath: string;
  /** --log-driver/--log-opt (logs.ts parseLogConfig) */
  log: LogOptions;
  dir: string;
  /** where the attach socket goes when its path under `dir` is too long (ContainerDeps.attachDir) */
  attachDir: string;
  /** the network's part that needs no process (address, bridge, NAT), run while the kernel clones */
  whileCloning?: () => void;
  /** network wiring, run by the runtime while the container's PID 1 waits before its mounts and exec */
  beforeStart?: (pid: number) => Promise<void>;
  /** the 127.0.0.11 relay's bound socket, set by beforeStart for the native monitor to serve */
  relay?: { fd: number; upstream: string };
  /** the [::] port proxies' listening sockets, set by beforeStart for the native monitor to serve */
  proxies?: { fd: number; target: string; port: number }[];
}

/**
 * Read a container's output fd until EOF, then close it. Not through node's fs.ReadStream: that parks
 * a blocking read(2) on the shared thread pool per stream, and with two of them the pool had no thread
 * left for the stdin writes (a detached `-i` container never saw its input). Pipes go through Bun's
 * own poll-driven file reader; a pty master through tty.ReadStream (ends with EIO once the last slave
 * closes, which is its EOF).
 */
export function pumpFd(fd: number, isPty: boolean, onData: (b: Uint8Array) => void): Promise<void> {
  if (isPty) {
    // node:tty is loaded only here: importing it costs ~3 ms on the start path of every run (issue 13)
    return import("node:tty").then(
      (tty) =>
        new Promise<void>((resolve) => {
          const rs = new tty.ReadStream(fd);
          const done = () => {
            rs.removeAllListeners("data");
            resolve();
          };
          rs.on("data", (d) => onData(typeof d === "string" ? Buffer.from(d) : d));
          rs.on("error", done);
          rs.on("end", done);
          rs.on("close", done);
        }),
    );
  }
  return (async () => {
    try {
      for await (const chunk of Bun.file(fd).stream()) onData(chunk);
    } catch {
      // the fd went away (container gone): end of output
    } finally {
      try {
        closeFd(fd);
      } catch {} // closed already by a racing end
    }
  })();
}

/** writes to a fd in order without blocking the event loop */
class FdWriter {
  private chain: Promise<void> = Promise.resolve();
  private closed = false;
  constructor(
    private fd: number,
    private closeOnEnd: boolean,
  ) {}
  write(b: Uint8Array): void {
    if (this.closed) return;
    const data = Buffer.from(b);
    this.chain = this.chain.then(
      () =>
        new Promise<void>((res) => {
          const go = (off: number) =>
            fsWrite(this.fd, data, off, data.length - off, null, (err, n) => {
              if (err || off + n >= data.length) res();
              else go(off + n);
            });
          go(0);
        }),
    );
  }
  end(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.closeOnEnd) this.chain = this.chain.then(() => closeFd(this.fd));
  }
}

export interface SuperviseHooks {
  /** called once the container runs (pid known) or failed to start */
  onStarted?(pid: number): void;
  local?: LocalIO;
  /** local terminal size to copy to the pty at start */
  initialSize?: { rows: number; cols: number };
  /** a session attaches just after the start: keep the early output for it (as for a creator that attaches stdin) */
  awaitAttach?: boolean;
  /** receives the resize function for SIGWINCH forwarding */
  onResizer?(resize: (size: { rows: number; cols: number }) => void): void;
  /** the state "running": while the child execs (runtime's whileStarting), else right after the start */
  recordRunning(pid: number, startTime: string, startedAt: string): void;
  /** once the exec succeeded: events, health checks */
  onRunning?(): void;
  recordStartFailure(err: EngineError): void;
  recordExit(info: ExitInfo, finishedAt: string): void;
  /**
   * once the container runs and is recorded so: hand it to the native monitor (ops/native-monitor.ts),
   * which replaces this process and never returns; returning means it stays here (the Bun monitor)
   */
  handoff?(h: Handoff): Promise<void>;
}

/** what the native monitor takes over: the container's pid and the fds this process holds for it */
export interface Handoff {
  pid: number;
  /** the pty master (tty), else -1 */
  master: number;
  /** output pipes' read ends (no tty) */
  stdout: number;
  stderr: number;
  /** where stdin goes (the master, or a pipe's write end), -1 without OpenStdin */
  stdin: number;
  /** the attach socket's path */
  sock: string;
  /** keep output for the first session's replay (a creator that attaches stdin) */
  early: boolean;
}

/**
 * Run a prepared container to its end. Throws if the runtime cannot start it (an ExecError for docker's
 * 127/126); otherwise resolves with the exit information.
 */
export async function supervise(p: Prepared, hooks: SuperviseHooks, runtime: ContainerRuntime): Promise<ExitInfo> {
  const c = p.cfg.Config;
  const tty = c.Tty;
  const childFds: number[] = [];
  const ours: number[] = [];
  let stdio: Stdio;
  let master = -1;
  let stdinWriter: FdWriter | undefined;
  const outputs: { fd: number; stream: StreamName }[] = [];
  try {
    if (tty) {
      const pty = runtime.openConsole();
      master = pty.master;
      ours.push(master);
      childFds.push(pty.slave, pty.mountFd);
      stdio = { stdin: pty.slave, stdout: pty.slave, stderr: pty.slave, devpts: { mountFd: pty.mountFd, name: pty.name } };
      if (hooks.initialSize) setWinsize(master, hooks.initialSize);
      else setWinsize(master, { rows: 24, cols: 80 });
      outputs.push({ fd: master, stream: "stdout" });
      if (c.OpenStdin) stdinWriter = new FdWriter(master, false);
    } else {
      let stdinFd: number;
      if (c.OpenStdin) {
        const [r, w] = pipe2();
        childFds.push(r);
        ours.push(w);
        stdinFd = r;
        stdinWriter = new FdWriter(w, true);
      } else {
        const [r, w] = pipe2();
        closeFd(w); // an empty, closed stdin: reads see EOF at once, like docker without -i
        childFds.push(r);
        stdinFd = r;
      }
      const [or, ow] = pipe2();
      const [er, ew] = pipe2();
      childFds.push(ow, ew);
      ours.push(or, er);
      stdio = { stdin: stdinFd, stdout: ow, stderr: ew };
      outputs.push({ fd: or, stream: "stdout" }, { fd: er, stream: "stderr" });
    }
  } catch (e) {
    for (const fd of [...childFds, ...ours]) closeFd(fd);
    throw e;
  }

  let running: RunningContainer;
  let recorded = false;
  try {
    running = await runtime.create(p.spec, stdio, {
      whileCloning: p.whileCloning,
      beforeStart: p.beforeStart,
      // recorded while the child finishes its mounts and execs; a failed exec overwrites it below
      whileStarting: (pid, startTime) => {
        hooks.recordRunning(pid, startTime, nowNano());
        recorded = true;
      },
    });
  } catch (e) {
    for (const fd of [...childFds, ...ours]) closeFd(fd);
    const err = startError(e, p.spec.process.args[0] ?? "");
    hooks.recordStartFailure(err);
    throw err;
  } finally {
    for (const fd of childFds) {
      try {
        closeFd(fd);
      } catch {} // the runtime took it over; nothing of ours leaks
    }
  }
  if (!recorded) hooks.recordRunning(running.pid, running.startTime, nowNano());
  hooks.onRunning?.();
  if (hooks.handoff) {
    const out = outputs.find((o) => o.stream === "stdout")?.fd ?? -1;
    const err = outputs.find((o) => o.stream === "stderr")?.fd ?? -1;
    const stdinFd = !c.OpenStdin ? -1 : tty ? master : (ours.find((fd) => fd !== out && fd !== err) ?? -1);
    await hooks.handoff({
      pid: running.pid,
      master,
      stdout: master >= 0 ? -1 : out,
      stderr: master >= 0 ? -1 : err,
      stdin: stdinFd,
      sock: attachSocketPath(p.dir, p.attachDir),
      early: !hooks.local && (!!c.AttachStdin || !!hooks.awaitAttach),
    });
  }
  hooks.onStarted?.(running.pid);
  if (hooks.onResizer && master >= 0)
    hooks.onResizer((s) => {
      try {
        setWinsize(master, s);
      } catch {
        // ended: no terminal to resize
      }
    });

  const log = p.log.driver === "none" ? { write() {}, flush() {}, close() {} } : new JsonLogWriter(p.logPath, p.log);
  const clients = new Set<{ write(b: Uint8Array): void; end(): void; want: Record<StreamName, boolean> }>();
  // output from before the first session attached, for a client that asks for it (`run -it` started
  // under a monitor attaches just after the start; only a container whose creator attaches stdin):
  // bounded, dropped once a session came
  let early: { stream: StreamName; b: Uint8Array }[] | undefined = !hooks.local && (p.cfg.Config.AttachStdin || hooks.awaitAttach) ? [] : undefined;
  let earlyBytes = 0;
  const firstClient = Promise.withResolvers<void>();

  // attach socket: later sessions (`berth attach`, `start -a` of a detached container)
  const sockPath = attachSocketPath(p.dir, p.attachDir);
  try {
    unlinkSync(sockPath);
  } catch {} // none left by an earlier run
  let server: ReturnType<typeof Bun.listen> | undefined;
  try {
    server = Bun.listen<{ reader: FrameReader; client?: { write(b: Uint8Array): void; end(): void; want: Record<StreamName, boolean> } }>({
      unix: sockPath,
      socket: {
        open(s) {
          s.data = { reader: new FrameReader() };
        },
        data(s, chunk) {
          s.data.reader.push(chunk, (type, payload) => {
            if (type === F_HELLO) {
              let want = { stdin: false, stdout: true, stderr: true, replay: false };
              try {
                want = { ...want, ...JSON.parse(Buffer.from(payload).toString()) };
              } catch {} // a bad hello: the default streams
              const client = {
                want: { stdout: want.stdout, stderr: want.stderr },
                write: (b: Uint8Array) => void s.write(b),
                end: () => s.end(),
              };
              if (want.replay && early) for (const e of early) if (client.want[e.stream]) client.write(frame(e.stream === "stdout" ? F_STDOUT : F_STDERR, e.b));
              early = undefined;
              firstClient.resolve();
              s.data.client = client;
              clients.add(client);
            } else if (type === F_STDIN) stdinWriter?.write(payload);
            else if (type === F_STDIN_EOF) {
              if (!tty) stdinWriter?.end();
            } else if (type === F_RESIZE && master >= 0) {
              const [rows, cols] = Buffer.from(payload).toString().split(" ").map(Number);
              if (rows && cols)
                try {
                  setWinsize(master, { rows, cols });
                } catch {} // the pty is gone: nothing to resize
            }
          });
        },
        close(s) {
          if (s.data.client) clients.delete(s.data.client);
        },
      },
    });
  } catch {
    server = undefined; // attach is a convenience; the container runs without it
  }

  // local stdin (foreground -i)
  if (hooks.local?.stdin && stdinWriter) {
    const w = stdinWriter;
    void (async () => {
      try {
        for await (const chunk of hooks.local!.stdin as AsyncIterable<Uint8Array>) w.write(chunk);
      } catch {
        // the local stdin failed: the container sees EOF, as when it ends
      }
      // docker closes the container's stdin when the attached client's stdin ends (StdinOnce)
      if (!tty) w.end();
    })();
  }

  const ended = outputs.map(({ fd, stream }) =>
    pumpFd(fd, master >= 0, (b) => {
      log.write(stream, b);
      if (hooks.local) (stream === "stdout" ? hooks.local.stdout : hooks.local.stderr)(b);
      if (early) {
        early.push({ stream, b: Uint8Array.from(b) });
        earlyBytes += b.length;
        if (earlyBytes > 1 << 20) early = undefined;
      }
      if (clients.size) {
        const f = frame(stream === "stdout" ? F_STDOUT : F_STDERR, b);
        for (const cl of clients) if (cl.want[stream]) cl.write(f);
      }
    }),
  );

  const info = await running.wait();
  // the pid namespace is gone with PID 1, so the pipes reach EOF promptly; the timeout guards a pty
  // slave leaked to another namespace (e.g. an exec session still running)
  await Promise.race([Promise.all(ended), Bun.sleep(2000)]);
  // a container whose creator attaches stdin (`run -it`, started under a monitor so that it can detach)
  // and that ended before the session came: wait a little for it, so the session sees the output and
  // the exit code (recorded after this, so the container still counts as running for the attach)
  if (early && server) await Promise.race([firstClient.promise, Bun.sleep(2000)]);
  log.close();
  stdinWriter?.end();
  const finishedAt = nowNano();
  hooks.recordExit(info, finishedAt);
  for (const cl of clients) {
    cl.write(frame(F_EXIT, String(info.exitCode)));
    cl.end();
  }
  server?.stop(true);
  try {
    unlinkSync(sockPath);
  } catch {} // rm took the directory already
  return info;
}

/** docker's State.ExitCode after a start that failed: 127/126 for the command, 125 for anything else */
export function startFailureStatus(err: EngineError): number {
  if (err instanceof ExecError) return err.reason === "not_found" ? 127 : 126;
  return 125;
}

/**
 * docker's classification of a start failure: an ExecError (the CLI's 127 not found, 126 not
 * invokable) or an engine error. The runtime reports exec failures as ExecError already.
 */
export function startError(e: unknown, cmd: string): EngineError {
  if (e instanceof ExecError) return new ExecError(e.reason, `failed to create task for container: ${e.message}`, { cause: e, hint: e.hint });
  if (e instanceof EngineError) return new EngineError(e.kind, e.message, { cause: e, hint: e.hint });
  const msg = e instanceof Error ? e.message : String(e);
  const code = (e as { code?: string }).code ?? "";
  if (code === "ENOENT") {
    const m = cmd.includes("/") ? `exec: "${cmd}": stat ${cmd}: no such file or directory` : `exec: "${cmd}": executable file not found in $PATH`;
    return new ExecError("not_found", `failed to create task for container: ${m}`, { cause: e });
  }
  if (code === "EACCES") return new ExecError("not_executable", `failed to create task for container: exec: "${cmd}": permission denied`, { cause: e });
  return new EngineError("internal", msg, { cause: e });
}
