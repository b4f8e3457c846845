/**
 * The process's stdout, built only when something is written. Building process.stdout costs 2–8 ms (the
 * first std stream loads node:stream), which `run --rm IMG true` or a `create` that prints one id need
 * not pay (issue 13). A command whose meta says `lazyStdout` writes only through `writeOut` or `stdout()`;
 * main.ts opens the stream before any other command runs, as before.
 *
 * The reader of our output going away (`berth stats | head`, `berth logs -f | grep -m1 …`): docker's CLI
 * dies of SIGPIPE, silently, status 141; the same here, from the stream's error or a direct write's EPIPE.
 */
import { writeSync } from "node:fs";

let opened = false;
let brokenPipe: (() => void) | undefined;

/**
 * While set, the reader of stdout going away calls `fn` instead of ending the process with 141 at once:
 * a foreground `run` stops its container and finishes its exit (--rm included) first (_session.ts).
 */
export function onBrokenPipe(fn: (() => void) | undefined): void {
  brokenPipe = fn;
}

function broken(): void {
  if (brokenPipe) brokenPipe();
  else process.exit(141);
}

function onError(e: NodeJS.ErrnoException): void {
  if (e.code === "EPIPE") broken();
}

/** process.stdout, with the EPIPE handler installed on first use */
export function stdout(): NodeJS.WriteStream {
  if (!opened) {
    opened = true;
    process.stdout.on("error", onError);
  }
  return process.stdout;
}

/** whether the stream was built (main.ts drains it before exiting) */
export function stdoutOpened(): boolean {
  return opened;
}

/**
 * Write `s` to stdout: straight to fd 1 while the stream was never built (nothing of ours is queued in
 * it, so the order holds), through the stream once it exists or when fd 1 would block.
 */
export function writeOut(s: string): void {
  if (opened) {
    stdout().write(s);
    return;
  }
  const buf = Buffer.from(s);
  let off = 0;
  try {
    while (off < buf.length) off += writeSync(1, buf, off, buf.length - off);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "EPIPE") return broken();
    if (code !== "EAGAIN") throw e;
    stdout().write(buf.subarray(off)); // a non-blocking fd 1 that is full: the stream waits for it
  }
}
