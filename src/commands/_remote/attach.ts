/** Client mode `attach`: the running container's streams through a hijacked `POST /containers/{id}/attach` */
import type { RunInput } from "../_command.ts";
import type { ApiClient } from "../../client/index.ts";
import { EngineError } from "../../lib/errors.ts";
import { detachKeys } from "../_detach-keys.ts";
import { attachAndStart } from "./run.ts";

export default async function attach(input: RunInput, api: ApiClient) {
  const { flags, positionals, ctx } = input;
  const c = await api.json<{ Id: string; Config: { Tty: boolean; OpenStdin: boolean }; State: { Running: boolean } }>(
    "GET",
    `/containers/${encodeURIComponent(positionals[0]!)}/json`,
  );
  if (!c.State.Running) throw new EngineError("conflict", "You cannot attach to a stopped container, start it first");
  return attachAndStart(api, c.Id, {
    tty: c.Config.Tty,
    stdin: c.Config.OpenStdin && !flags["no-stdin"],
    stdout: true,
    stderr: true,
    sigProxy: flags["sig-proxy"] !== false,
    keys: detachKeys(flags["detach-keys"], ctx.env),
    autoRemove: false,
    start: false,
  });
}
