import { defineBerthCommand } from "./_command.ts";

export default defineBerthCommand({
  meta: {
    name: "diff",
    description: "Inspect changes to files or directories on a container's filesystem",
    usage: "CONTAINER",
    aliases: ["berth container diff", "berth diff"],
    minArgs: 1,
    maxArgs: 1,
  },
  args: {},
  async run({ positionals, ctx }) {
    const changes = await (await ctx.engine()).containerChanges(positionals[0]!);
    ctx.out(changes.map((c) => `${c.kind} ${c.path}\n`).join(""));
  },
});
