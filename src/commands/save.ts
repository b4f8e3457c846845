import { defineBerthCommand } from "./_command.ts";
import { writeArchive } from "./_archive-out.ts";

export default defineBerthCommand({
  meta: {
    name: "save",
    description: "Save one or more images to a tar archive (streamed to STDOUT by default)",
    usage: "[OPTIONS] IMAGE [IMAGE...]",
    aliases: ["berth image save", "berth save"],
    minArgs: 1,
  },
  args: {
    output: { type: "string", alias: "o", description: "Write to a file, instead of STDOUT" },
    platform: { type: "string", description: "Save only the given platform variant" },
  },
  async run({ flags, positionals, ctx }) {
    const out = flags.output ? String(flags.output) : undefined;
    if (!out && process.stdout.isTTY) await writeArchive(undefined, "save image", async () => {});
    const engine = await ctx.engine();
    await writeArchive(out, "save image", (sink) => engine.imagesSave(positionals, sink));
  },
});
