/** Client mode `start`: `POST /containers/{id}/start` each; with -a/-i one container attached first (docker's start -a) */
import type { RunInput } from "../_command.ts";
import { DaemonError, type ApiClient } from "../../client/index.ts";
import { EngineError } from "../../lib/errors.ts";
import { detachKeys } from "../_detach-keys.ts";
import { attachAndStart } from "./run.ts";

const enc = encodeURIComponent;

interface Inspect {
  Id: string;
  Config: { Tty: boolean; OpenStdin: boolean };
  State: { Running: boolean; Paused?: boolean };
  HostConfig?: { AutoRemove?: boolean };
}

export default async function start(input: RunInput, api: ApiClient) {
  const { flags, positionals, ctx } = input;
  if (flags.attach || flags.interactive) {
    if (positionals.length > 1) throw new EngineError("invalid_argument", "you cannot start and attach multiple containers at once");
    const keys = detachKeys(flags["detach-keys"], ctx.env);
    const c = await api.json<Inspect>("GET", `/containers/${enc(positionals[0]!)}/json`);
    const stdin = !!flags.interactive && c.Config.OpenStdin;
    return attachAndStart(api, c.Id, {
      tty: c.Config.Tty,
      stdin,
      stdout: true,
      stderr: true,
      sigProxy: true,
      keys,
      autoRemove: !!c.HostConfig?.AutoRemove,
      start: !c.State.Running,
    });
  }
  const failed: string[] = [];
  for (const ref of positionals) {
    try {
      await api.ok("POST", `/containers/${enc(ref)}/start`);
      ctx.out(ref + "\n");
    } catch (e) {
      if (!(e instanceof DaemonError)) throw e;
      process.stderr.write(`${e.message}\n`);
      failed.push(ref);
    }
  }
  // docker's summary after the per-container errors
  if (failed.length) process.stderr.write(`Error: failed to start containers: ${failed.join(", ")}\n`);
  return failed.length ? 1 : 0;
}
