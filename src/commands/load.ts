import { existsSync } from "node:fs";
import { defineBerthCommand } from "./_command.ts";
import { EngineError } from "../lib/errors.ts";

export default defineBerthCommand({
  meta: {
    name: "load",
    description: "Load an image from a tar archive or STDIN",
    usage: "[OPTIONS]",
    aliases: ["berth image load", "berth load"],
    maxArgs: 0,
  },
  args: {
    input: { type: "string", alias: "i", description: "Read from tar archive file, instead of STDIN" },
    quiet: { type: "boolean", alias: "q", description: "Suppress the load output" },
    platform: { type: "string", description: "Load only the given platform variant" },
  },
  async run({ flags, ctx }) {
    const input = flags.input ? String(flags.input) : "";
    let stream: ReadableStream<Uint8Array>;
    if (input) {
      if (!existsSync(input)) throw new EngineError("not_found", `open ${input}: no such file or directory`);
      stream = Bun.file(input).stream();
    } else {
      if (process.stdin.isTTY) throw new EngineError("invalid_argument", "requested load from stdin, but stdin is empty");
      stream = Bun.stdin.stream();
    }
    const engine = await ctx.engine();
    const res = await engine.imagesLoad(stream);
    for (const l of res.lines) ctx.out(`${l}\n`);
  },
});
