/** Client mode `push`: `POST /images/{name}/push`, docker's progress and digest line on stdout */
import type { RunInput } from "../_command.ts";
import type { ApiClient } from "../../client/index.ts";
import { registryAuth, showProgress } from "./_progress.ts";
import { splitTag } from "./simple.ts";

export default async function push(input: RunInput, api: ApiClient) {
  const { flags, positionals, ctx } = input;
  const ref = positionals[0]!;
  const { repo, tag } = splitTag(ref);
  const { body } = await api.stream("POST", `/images/${repo}/push`, {
    query: { tag: flags["all-tags"] ? undefined : tag || "latest" },
    headers: { "X-Registry-Auth": await registryAuth(ctx, ref) },
  });
  // the "TAG: digest: … size: …" line is the stream's last status
  await showProgress(body, { quiet: !!flags.quiet, write: ctx.out, tty: !!process.stdout.isTTY });
  if (flags.quiet) ctx.out(`${ref}\n`);
}
