import { defineBerthCommand } from "./_command.ts";
import { writeArchive } from "./_archive-out.ts";

export default defineBerthCommand({
  meta: {
    name: "export",
    description: "Export a container's filesystem as a tar archive",
    usage: "[OPTIONS] CONTAINER",
    aliases: ["berth container export", "berth export"],
    minArgs: 1,
    maxArgs: 1,
  },
  args: {
    output: { type: "string", alias: "o", description: "Write to a file, instead of STDOUT" },
  },
  async run({ flags, positionals, ctx }) {
    const out = flags.output ? String(flags.output) : undefined;
    if (!out && process.stdout.isTTY) await writeArchive(undefined, "export container", async () => {});
    const engine = await ctx.engine();
    await writeArchive(out, "export container", (sink) => engine.containerExport(positionals[0]!, sink));
  },
});
