/** `attach`: a session on the attach socket of a container supervised elsewhere (canAttach) */
import { EngineError } from "../../../lib/errors.ts";
import { shortId } from "../../../lib/ids.ts";
import { attachSocketPath, frame, FrameReader, F_EXIT, F_HELLO, F_RESIZE, F_STDERR, F_STDIN, F_STDIN_EOF, F_STDOUT } from "../attach-proto.ts";
import { NoSuchContainer } from "../store.ts";
import { canAttach } from "../types.ts";
import type { ContainerDeps } from "./deps.ts";
import { refreshState, waitStopped } from "./state.ts";

export interface AttachIO {
  stdin?: AsyncIterable<Uint8Array>;
  stdout(b: Uint8Array): void;
  stderr(b: Uint8Array): void;
  /** `replay`: first the output from before any session attached (the supervisor keeps up to 1 MiB) */
  want: { stdin: boolean; stdout: boolean; stderr: boolean; replay?: boolean };
  initialSize?: { rows: number; cols: number };
  onResizer?(r: (s: { rows: number; cols: number }) => void): void;
  /** the client detached (its detach keys): the session ends, the container keeps running; attach resolves 0 */
  detach?: AbortSignal;
}

/** attach to a container supervised elsewhere; resolves with its exit code when it ends */
export async function attach(d: ContainerDeps, id: string, io: AttachIO): Promise<number> {
  const st = refreshState(d, id);
  if (st.Status === "paused") throw new EngineError("conflict", "You cannot attach to a paused container, unpause it first");
  if (!canAttach(st.Status)) throw new EngineError("conflict", "You cannot attach to a stopped container, start it first");
  const path = attachSocketPath(d.store.dir(id), d.attachDir);
  let exitCode: number | undefined;
  const done = Promise.withResolvers<void>();
  const reader = new FrameReader();
  // the supervisor reports the start before its attach socket listens: a session right after a start
  // (the API's attach before start) may find no socket yet, or one bound but not listening, for a moment
  const handlers = {
    data(_s: unknown, chunk: Uint8Array) {
      reader.push(chunk, (type, payload) => {
        if (type === F_STDOUT) io.stdout(payload);
        else if (type === F_STDERR) io.stderr(payload);
        else if (type === F_EXIT) exitCode = Number(Buffer.from(payload).toString());
      });
    },
    close() {
      done.resolve();
    },
    error() {
      done.resolve();
    },
  };
  let sock: Awaited<ReturnType<typeof Bun.connect>>;
  for (let attempt = 0; ; attempt++) {
    try {
      sock = await Bun.connect({ unix: path, socket: handlers });
      break;
    } catch (e) {
      let running = false;
      try {
        running = canAttach(refreshState(d, id).Status);
      } catch {
        running = false; // removed meanwhile: nothing to attach to
      }
      if (attempt >= 100 || !running) throw new EngineError("unavailable", `attach to container ${shortId(id)}: ${(e as Error).message}`);
      await Bun.sleep(20); // not listening yet (ENOENT, ECONNREFUSED): the supervisor is still setting up
    }
  }
  sock.write(frame(F_HELLO, JSON.stringify(io.want)));
  if (io.initialSize) sock.write(frame(F_RESIZE, `${io.initialSize.rows} ${io.initialSize.cols}`));
  io.onResizer?.((s) => sock.write(frame(F_RESIZE, `${s.rows} ${s.cols}`)));
  if (io.stdin && io.want.stdin) {
    void (async () => {
      try {
        for await (const chunk of io.stdin!) sock.write(frame(F_STDIN, chunk));
      } catch {
        // the client's stdin failed: the container sees EOF, as when it ends
      }
      // a detach leaves the container's stdin open, as docker's
      if (!io.detach?.aborted) sock.write(frame(F_STDIN_EOF, ""));
    })();
  }
  io.detach?.addEventListener("abort", () => sock.end(), { once: true });
  await done.promise;
  if (exitCode !== undefined) return exitCode;
  if (io.detach?.aborted) return 0;
  // the socket closed without an exit frame: read the recorded status
  await waitStopped(d, id, 5000);
  try {
    return refreshState(d, id).ExitCode;
  } catch (e) {
    if (e instanceof NoSuchContainer) return 0; // removed meanwhile (--rm): its code is gone with it
    throw e;
  }
}
