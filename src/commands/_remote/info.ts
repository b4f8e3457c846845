/** Client mode `info`: the daemon's `GET /info`, printed by info's own layout */
import type { RunInput } from "../_command.ts";
import type { ApiClient } from "../../client/index.ts";
import type { SystemInfo } from "../../engine/index.ts";
import { VERSION } from "../../version.ts";
import { renderTemplate } from "../_format/template.ts";
import { renderInfo } from "../_format/info.ts";

export default async function info(input: RunInput, api: ApiClient) {
  const { flags, ctx } = input;
  const i = await api.json<SystemInfo>("GET", "/info");
  const client = { Version: VERSION, Context: api.endpoint.context ?? "default", Debug: ctx.debug };
  if (flags.format) {
    const f = flags.format === "json" ? "{{json .}}" : String(flags.format);
    ctx.out(renderTemplate(f, { ...i, ClientInfo: client }) + "\n");
    return;
  }
  ctx.out(`Client:\n Version:    ${client.Version}\n Context:    ${client.Context}\n Debug Mode: ${client.Debug}\n\n`);
  ctx.out(renderInfo(i));
  if (i.Warnings?.length) process.stderr.write(i.Warnings.join("\n") + "\n");
}
