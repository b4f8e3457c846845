import { defineBerthCommand } from "./_command.ts";

export default defineBerthCommand({
  meta: {
    name: "commit",
    description: "Create a new image from a container's changes",
    usage: "[OPTIONS] CONTAINER [REPOSITORY[:TAG]]",
    aliases: ["berth container commit", "berth commit"],
    minArgs: 1,
    maxArgs: 2,
  },
  args: {
    author: { type: "string", alias: "a", description: 'Author (e.g., "John Hannibal Smith <hannibal@a-team.com>")' },
    change: { type: "string", alias: "c", multiple: true, description: "Apply Dockerfile instruction to the created image" },
    message: { type: "string", alias: "m", description: "Commit message" },
    pause: { type: "boolean", alias: "p", default: true, description: "Pause container during commit" },
  },
  async run({ flags, positionals, ctx }) {
    const { parseReference } = await import("../engine/index.ts");
    const [ctr, ref] = positionals as [string, string | undefined];
    // a bad name is refused before anything is written (no dangling image left behind)
    if (ref !== undefined) parseReference(ref);
    const engine = await ctx.engine();
    const id = await engine.containerCommit(ctr, {
      ref,
      message: flags.message,
      author: flags.author,
      changes: flags.change,
      pause: flags.pause !== false,
    });
    ctx.out(`${id}\n`);
  },
});
