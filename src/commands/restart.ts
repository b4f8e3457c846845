import { defineBerthCommand } from "./_command.ts";
import { forEach } from "./_session.ts";

export default defineBerthCommand({
  meta: {
    name: "restart",
    description: "Restart one or more containers",
    usage: "[OPTIONS] CONTAINER [CONTAINER...]",
    aliases: ["berth container restart", "berth restart"],
    minArgs: 1,
  },
  args: {
    signal: { type: "string", alias: "s", description: "Signal to send to the container" },
    timeout: { type: "string", alias: "t", description: "Seconds to wait before killing the container", valueHint: "int" },
  },
  async run({ flags, positionals, ctx }) {
    const svc = (await ctx.engine()).containers;
    const t = flags.timeout === undefined ? undefined : Number(flags.timeout);
    return forEach(ctx, positionals, async (ref) => {
      await svc.restart(ref, t);
      return ref;
    });
  },
});
