/** Client mode `save` and `load`: `GET /images/get` into stdout or -o (atomically), `POST /images/load` from -i or stdin */
import { existsSync } from "node:fs";
import type { RunInput } from "../_command.ts";
import type { ApiClient } from "../../client/index.ts";
import { EngineError } from "../../lib/errors.ts";
import { writeArchive } from "../_archive-out.ts";
import { showProgress } from "./_progress.ts";

export async function save(input: RunInput, api: ApiClient) {
  const { flags, positionals } = input;
  const out = flags.output ? String(flags.output) : undefined;
  if (!out && process.stdout.isTTY) await writeArchive(undefined, "save image", async () => {});
  await writeArchive(out, "save image", async (sink) => {
    const { body } = await api.stream("GET", "/images/get", {
      query: { names: positionals, platform: typeof flags.platform === "string" ? flags.platform : undefined },
    });
    for await (const chunk of body) await sink(chunk);
  });
}

export async function load(input: RunInput, api: ApiClient) {
  const { flags, ctx } = input;
  const file = flags.input ? String(flags.input) : "";
  let body: AsyncIterable<Uint8Array>;
  if (file) {
    if (!existsSync(file)) throw new EngineError("not_found", `open ${file}: no such file or directory`);
    body = Bun.file(file).stream() as unknown as AsyncIterable<Uint8Array>;
  } else {
    if (process.stdin.isTTY) throw new EngineError("invalid_argument", "requested load from stdin, but stdin is empty");
    body = Bun.stdin.stream() as unknown as AsyncIterable<Uint8Array>;
  }
  const { res, body: out } = await api.stream("POST", "/images/load", {
    query: { quiet: !!flags.quiet, platform: typeof flags.platform === "string" ? flags.platform : undefined },
    body,
    headers: { "Content-Type": "application/x-tar" },
  });
  if (!(res.headers["content-type"] ?? "").includes("json")) {
    for await (const b of out) process.stdout.write(b);
    return;
  }
  await showProgress(out, { quiet: false, write: ctx.out, tty: !!process.stdout.isTTY });
}
