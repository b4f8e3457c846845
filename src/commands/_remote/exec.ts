/**
 * Client mode `exec`: `POST /containers/{id}/exec`, then `POST /exec/{id}/start` (hijacked unless -d),
 * resized with the terminal, and the exit status from `GET /exec/{id}/json` (126/127 when the command
 * could not run, as the daemon records it).
 */
import type { RunInput } from "../_command.ts";
import { DaemonError, type ApiClient } from "../../client/index.ts";
import { ArgCountError, during } from "../_exit-codes.ts";
import { execEnv, readEnvFiles } from "../_container-opts.ts";
import { detachKeys } from "../_detach-keys.ts";
import { fireAndForget, openLocal, pump, resizeQuery, type HijackOptions } from "./_hijack.ts";

export default async function exec(input: RunInput, api: ApiClient) {
  const { flags, positionals, rest, ctx } = input;
  if (rest.length === 0) throw new ArgCountError("'berth exec' requires at least 2 arguments");
  const tty = !!flags.tty;
  const interactive = !!flags.interactive;
  const detach = !!flags.detach;
  const files = readEnvFiles((flags["env-file"] as string[]) ?? []);
  const env = execEnv(files, (flags.env as string[]) ?? [], ctx.env);
  const keys = detach ? undefined : detachKeys(flags["detach-keys"], ctx.env);
  const opts: HijackOptions = {
    tty,
    stdin: interactive,
    stdout: true,
    stderr: true,
    sigProxy: false,
    keys: tty && interactive ? keys : undefined,
    kill: () => {},
  };
  const s = detach ? undefined : await openLocal(opts);
  try {
    const body = {
      AttachStdin: interactive && !detach,
      AttachStdout: !detach,
      AttachStderr: !detach,
      Tty: tty,
      Cmd: rest,
      Env: env,
      ...(typeof flags.workdir === "string" ? { WorkingDir: flags.workdir } : {}),
      ...(typeof flags.user === "string" ? { User: flags.user } : {}),
      Privileged: !!flags.privileged,
      ...(s?.initialSize ? { ConsoleSize: [s.initialSize.rows, s.initialSize.cols] } : {}),
    };
    let execId: string;
    try {
      ({ Id: execId } = await api.json<{ Id: string }>("POST", `/containers/${encodeURIComponent(positionals[0]!)}/exec`, { json: body }));
    } catch (e) {
      // a container that is not running (409) is exec's own failure, docker's exit 1, as the daemonless CLI's
      if (e instanceof DaemonError && e.status === 409) await during("exec", () => Promise.reject(e));
      throw e;
    }
    if (detach) {
      await api.ok("POST", `/exec/${execId}/start`, { json: { Detach: true, Tty: tty } });
      return 0;
    }
    opts.resize = tty ? (sz) => fireAndForget(api, "POST", `/exec/${execId}/resize`, resizeQuery(sz)) : undefined;
    // docker: a process that cannot be set up is the runtime's failure (the exec policy's stage)
    const res = await during("exec", () => api.call("POST", `/exec/${execId}/start`, { json: { Detach: false, Tty: tty }, hijack: true }));
    const { detached } = await pump(res, s!, opts);
    if (detached) return 0;
    const info = await api.json<{ ExitCode: number | null; Running: boolean }>("GET", `/exec/${execId}/json`);
    return info.ExitCode ?? 0;
  } finally {
    s?.dispose();
  }
}
