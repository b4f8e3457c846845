/** Client mode `pull` (and the pull of `run`/`create` for a missing image): `POST /images/create` */
import type { RunInput } from "../_command.ts";
import type { Context } from "../_context.ts";
import type { ApiClient } from "../../client/index.ts";
import { qualify, registryAuth, showProgress } from "./_progress.ts";
import { splitTag } from "./simple.ts";

/** pull `ref` through the daemon, docker's progress on stdout (`pull`) or stderr (`run`/`create`) */
export async function remotePull(ctx: Context, api: ApiClient, ref: string, o: { quiet: boolean; platform?: string; toStdout: boolean }): Promise<void> {
  const at = ref.indexOf("@");
  const { repo, tag } = at >= 0 ? { repo: ref.slice(0, at), tag: ref.slice(at + 1) } : splitTag(ref);
  const { body } = await api.stream("POST", "/images/create", {
    query: { fromImage: repo, tag: tag || "latest", platform: o.platform },
    headers: { "X-Registry-Auth": await registryAuth(ctx, ref) },
  });
  const write = o.toStdout ? ctx.out : (s: string) => void process.stderr.write(s);
  await showProgress(body, { quiet: o.quiet, write, tty: !!(o.toStdout ? process.stdout : process.stderr).isTTY });
}

export default async function pull(input: RunInput, api: ApiClient) {
  const { flags, positionals, ctx } = input;
  if (flags["all-tags"]) {
    const { EngineError } = await import("../../lib/errors.ts");
    throw new EngineError("invalid_argument", "pull --all-tags is not supported");
  }
  await remotePull(ctx, api, positionals[0]!, { quiet: !!flags.quiet, platform: flags.platform ? String(flags.platform) : undefined, toStdout: true });
  ctx.out(`${qualify(positionals[0]!)}\n`);
}
