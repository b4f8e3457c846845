import { defineBerthCommand } from "./_command.ts";
import { forEach } from "./_session.ts";

export default defineBerthCommand({
  meta: {
    name: "unpause",
    description: "Unpause all processes within one or more containers",
    usage: "CONTAINER [CONTAINER...]",
    aliases: ["berth container unpause", "berth unpause"],
    minArgs: 1,
  },
  args: {},
  async run({ positionals, ctx }) {
    const svc = (await ctx.engine()).containers;
    return forEach(ctx, positionals, async (ref) => {
      svc.unpause(ref);
      return ref;
    });
  },
});
