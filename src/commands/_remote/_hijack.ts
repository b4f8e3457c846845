/**
 * Client mode's interactive streams: a hijacked attach or exec connection joined to this process's
 * terminal (docker's holdHijackedConnection). stdin goes up the connection and is half-closed at EOF;
 * output comes down raw with a TTY, else in docker's 8-byte frames, split to stdout and stderr. The
 * session ends when the output does (the daemon closes after the process ended). Detach keys are
 * watched here, on the client: typing them drops the connection and the container runs on.
 */
import type { ApiClient, HttpResponse } from "../../client/index.ts";
import { demux } from "../../client/index.ts";
import { openSession } from "../_session.ts";
import { escapeFilter } from "../_detach-keys.ts";

export interface HijackOptions {
  tty: boolean;
  stdin: boolean;
  stdout: boolean;
  stderr: boolean;
  sigProxy: boolean;
  keys?: Uint8Array;
  /** forward a signal (sig-proxy without a TTY) */
  kill(sig: string): void;
  /** tell the daemon the terminal's size */
  resize?(s: { rows: number; cols: number }): void;
}

/** a session's local end, opened before the hijack so that `-it` without a terminal fails first */
export type LocalSession = Awaited<ReturnType<typeof openSession>>;

export function openLocal(o: HijackOptions): Promise<LocalSession> {
  return openSession({ tty: o.tty, stdin: o.stdin, stdout: o.stdout, stderr: o.stderr, sigProxy: o.sigProxy, kill: o.kill });
}

/** pump the hijacked `res` until the daemon ends the output; `detached` when the user typed the keys */
export async function pump(res: HttpResponse, s: LocalSession, o: HijackOptions): Promise<{ detached: boolean }> {
  const detach = new AbortController();
  const conn = res.conn;
  const output = (async () => {
    if (o.tty) for await (const b of res.body) s.local.stdout(b);
    else {
      for await (const [stream, b] of demux(res.body)) {
        if (stream === 1) s.local.stdout(b);
        else if (stream === 2 || stream === 3) s.local.stderr(b);
      }
    }
  })();
  if (o.resize) {
    if (s.initialSize) o.resize(s.initialSize);
    s.onResizer(o.resize);
  }
  s.onStarted(0);
  if (o.stdin && s.local.stdin) {
    const input = o.keys ? escapeFilter(s.local.stdin, o.keys, () => detach.abort()) : s.local.stdin;
    void (async () => {
      try {
        for await (const b of input) {
          if (detach.signal.aborted) break;
          await conn.write(b);
        }
        // docker: stdin's EOF is a half-close; the output keeps coming until the process ends
        if (!detach.signal.aborted) conn.closeWrite();
      } catch {
        // the connection is gone (the process ended): the output side reports the end
      }
    })();
  }
  const detached = new Promise<void>((resolve) => detach.signal.addEventListener("abort", () => resolve()));
  const out = output.catch((e) => {
    if (!detach.signal.aborted) throw e;
  });
  await Promise.race([out, detached]);
  conn.close();
  return { detached: detach.signal.aborted };
}

/** the terminal size as docker's resize query */
export function resizeQuery(s: { rows: number; cols: number }): { h: number; w: number } {
  return { h: s.rows, w: s.cols };
}

/** a best-effort POST whose failure does not matter (a resize or a forwarded signal racing the end) */
export function fireAndForget(api: ApiClient, method: string, path: string, query: Record<string, string | number>): void {
  void api.ok(method, path, { query }).catch(() => {}); // the process may have ended already: nothing to resize or signal
}
