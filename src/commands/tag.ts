import { defineBerthCommand } from "./_command.ts";

export default defineBerthCommand({
  meta: {
    name: "tag",
    description: "Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE",
    usage: "SOURCE_IMAGE[:TAG] TARGET_IMAGE[:TAG]",
    aliases: ["berth image tag", "berth tag"],
    minArgs: 2,
    maxArgs: 2,
  },
  args: {},
  async run({ positionals, ctx }) {
    const engine = await ctx.engine();
    const img = await engine.images.resolve(positionals[0]!);
    engine.images.tag(positionals[1]!, img.id);
  },
});
