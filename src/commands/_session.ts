/**
 * The container commands' shared CLI helpers: the foreground session (the user's terminal in raw mode,
 * restored on every exit path; SIGWINCH sizes; docker's --sig-proxy), the foreground run of a
 * container, and docker's multi-container loop.
 */
import type { Context } from "./_context.ts";
import { CliError } from "./_exit-codes.ts";
import { EngineError } from "../lib/errors.ts";
import type { ContainerService } from "../engine/index.ts";
import { escapeFilter } from "./_detach-keys.ts";
import { onBrokenPipe, stdout } from "./_stdout.ts";

const FORWARDED = ["SIGINT", "SIGTERM", "SIGHUP", "SIGQUIT", "SIGUSR1", "SIGUSR2"] as const;

export interface Session {
  local: { stdout(b: Uint8Array): void; stderr(b: Uint8Array): void; stdin?: AsyncIterable<Uint8Array> };
  initialSize?: { rows: number; cols: number };
  onResizer(r: (s: { rows: number; cols: number }) => void): void;
  onStarted(pid: number): void;
  dispose(): void;
}

/**
 * The local end of a foreground session. With a tty the user's terminal goes raw (Ctrl-C travels as a
 * byte to the container's pty); without one, SIGINT/SIGTERM/… are forwarded to the container's PID 1
 * (docker's --sig-proxy, default true).
 */
export async function openSession(o: {
  tty: boolean;
  stdin: boolean;
  stdout: boolean;
  stderr: boolean;
  sigProxy: boolean;
  kill(sig: string): void;
  /** the reader of our stdout or stderr went away (`berth run … | head`): output stops, this is called once */
  onBrokenPipe?: () => void;
}): Promise<Session> {
  const { getWinsize, isatty, makeRaw } = await import("../engine/index.ts");
  const cleanups: (() => void)[] = [];
  const localTty = o.tty && isatty(0);
  if (o.tty && o.stdin && !isatty(0)) throw new CliError("the input device is not a TTY", 1);
  let initialSize: { rows: number; cols: number } | undefined;
  if (localTty) {
    initialSize = getWinsize(1) ?? getWinsize(0) ?? undefined;
    if (o.stdin) {
      const restore = makeRaw(0);
      cleanups.push(restore);
      process.on("exit", restore);
    }
  }
  let resizer: ((s: { rows: number; cols: number }) => void) | undefined;
  const onWinch = () => {
    const s = getWinsize(1) ?? getWinsize(0);
    if (s && resizer) resizer(s);
  };
  if (localTty) {
    process.on("SIGWINCH", onWinch);
    cleanups.push(() => process.off("SIGWINCH", onWinch));
  }
  let started = false;
  const pending: string[] = [];
  if (!o.tty && o.sigProxy) {
    for (const sig of FORWARDED) {
      const h = () => (started ? o.kill(sig) : pending.push(sig));
      process.on(sig, h);
      cleanups.push(() => process.off(sig, h));
    }
  }
  // A reader that went away: docker's client dies of SIGPIPE and its daemon goes on supervising the
  // container. Here this process is the supervisor, so the output stops and the caller ends the container
  // and its exit (--rm included) before exiting 141; without onBrokenPipe, 141 at once (_stdout.ts)
  let broken = false;
  const brokenPipe = () => {
    if (broken) return;
    broken = true;
    o.onBrokenPipe!();
  };
  // process.stderr is built on the first write only, as stdout (2–8 ms: _stdout.ts), and watched from then
  let watching = false;
  const onStderrError = (e: NodeJS.ErrnoException) => void (e.code === "EPIPE" && brokenPipe());
  const stderr = (): NodeJS.WriteStream => {
    if (o.onBrokenPipe && !watching) {
      watching = true;
      process.stderr.on("error", onStderrError);
    }
    return process.stderr;
  };
  if (o.onBrokenPipe) {
    onBrokenPipe(brokenPipe);
    cleanups.push(() => {
      onBrokenPipe(undefined);
      if (watching) process.stderr.off("error", onStderrError);
    });
  }
  const stdin = o.stdin ? (process.stdin as unknown as AsyncIterable<Uint8Array>) : undefined;
  return {
    local: {
      stdout: (b) => void (o.stdout && !broken && stdout().write(b)),
      stderr: (b) => void (o.stderr && !broken && (o.tty ? stdout() : stderr()).write(b)),
      stdin,
    },
    initialSize,
    onResizer: (r) => (resizer = r),
    onStarted: () => {
      started = true;
      for (const s of pending.splice(0)) o.kill(s);
    },
    dispose: () => {
      for (const c of cleanups.reverse()) {
        try {
          c();
        } catch {} // each restores one thing; one failing must not keep the terminal raw
      }
      if (stdin) process.stdin.pause();
    },
  };
}

/**
 * A session on a container supervised elsewhere (its attach socket), stdin watched for docker's detach
 * keys. `detached`: the user typed them; the container runs on. `replay`: first the output from before
 * the session (a `run -it` that started the container just now).
 */
export async function attachSession(
  svc: ContainerService,
  id: string,
  o: { stdin: boolean; stdout: boolean; stderr: boolean; sigProxy: boolean; keys: Uint8Array; replay?: boolean },
): Promise<{ code: number; detached: boolean }> {
  const cfg = svc.store.readConfig(id);
  // a forwarded signal to a container that just ended has nothing to reach: the session ends anyway
  const kill = (sig: string) => void svc.kill(id, sig).catch(() => {});
  const s = await openSession({ tty: cfg.Config.Tty, stdin: o.stdin, stdout: o.stdout, stderr: o.stderr, sigProxy: o.sigProxy, kill });
  s.onStarted(0);
  const detach = new AbortController();
  const stdin = s.local.stdin ? escapeFilter(s.local.stdin, o.keys, () => detach.abort()) : undefined;
  try {
    const code = await svc.attach(id, {
      stdin,
      stdout: s.local.stdout,
      stderr: s.local.stderr,
      want: { stdin: o.stdin, stdout: o.stdout, stderr: o.stderr, ...(o.replay ? { replay: true } : {}) },
      initialSize: s.initialSize,
      onResizer: s.onResizer,
      detach: detach.signal,
    });
    return { code, detached: detach.signal.aborted };
  } finally {
    s.dispose();
  }
}

/**
 * supervise `id` in this process with the user's terminal attached; the container's exit status. With
 * `detachKeys` and the user's terminal on a -it container, the container runs under a monitor instead
 * and this process attaches to it, as docker's client does, so that the detach keys can leave it running.
 */
export async function runForeground(
  svc: ContainerService,
  id: string,
  o: { sigProxy: boolean; attachStdin?: boolean; detachKeys?: Uint8Array },
): Promise<number> {
  const cfg = svc.store.readConfig(id);
  const c = cfg.Config;
  const stdin = (o.attachStdin ?? c.AttachStdin) && c.OpenStdin;
  if (o.detachKeys && c.Tty && stdin && (await import("../engine/index.ts")).isatty(0)) {
    try {
      await svc.startDetached(id);
    } catch (e) {
      if (cfg.HostConfig.AutoRemove) await svc.rm(id, true).catch(() => {}); // the start error is the one to report
      throw e;
    }
    return (await attachSession(svc, id, { stdin, stdout: c.AttachStdout, stderr: c.AttachStderr, sigProxy: o.sigProxy, keys: o.detachKeys, replay: true }))
      .code;
  }
  let readerGone = false;
  const kill = (sig: string) => void svc.kill(id, sig).catch(() => {}); // a proxied signal may find the container exited: the session reports the end
  const s = await openSession({
    tty: c.Tty,
    stdin: (o.attachStdin ?? c.AttachStdin) && c.OpenStdin,
    stdout: c.AttachStdout,
    stderr: c.AttachStderr,
    sigProxy: o.sigProxy,
    kill,
    // `berth run … | head`: the container is killed (a process writing to the pipe itself would have
    // died of SIGPIPE), its exit recorded and --rm done here, then 141 as docker's client's. One with a
    // restart policy is left to it as before: this process exits 141 at once, and the next command finds
    // the container's end and restarts it (state.ts refreshState), as docker's daemon keeps such a
    // container going
    onBrokenPipe: ["", "no"].includes(cfg.HostConfig.RestartPolicy?.Name ?? "")
      ? () => {
          readerGone = true;
          kill("SIGKILL");
        }
      : undefined,
  });
  try {
    const info = await svc.supervise(id, { local: s.local, initialSize: s.initialSize, onResizer: s.onResizer, onStarted: s.onStarted });
    return readerGone ? 141 : info.exitCode;
  } finally {
    s.dispose();
  }
}

/** docker's multi-container verbs: print each result, report each failure, exit 1 if any failed */
export async function forEach(ctx: Context, refs: string[], fn: (ref: string) => Promise<string | void>): Promise<number> {
  let failed = false;
  for (const ref of refs) {
    try {
      const out = await fn(ref);
      if (out !== undefined) ctx.out(out + "\n");
    } catch (e) {
      if (!(e instanceof EngineError)) throw e;
      process.stderr.write(`berth: ${e.message}\n`);
      failed = true;
    }
  }
  return failed ? 1 : 0;
}
