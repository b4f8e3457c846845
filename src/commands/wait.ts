import { defineBerthCommand } from "./_command.ts";
import { forEach } from "./_session.ts";

export default defineBerthCommand({
  meta: {
    name: "wait",
    description: "Block until one or more containers stop, then print their exit codes",
    usage: "CONTAINER [CONTAINER...]",
    aliases: ["berth container wait", "berth wait"],
    minArgs: 1,
  },
  args: {},
  async run({ positionals, ctx }) {
    const svc = (await ctx.engine()).containers;
    return forEach(ctx, positionals, async (ref) => String(await svc.wait(ref)));
  },
});
