import { defineBerthCommand } from "./_command.ts";
import { forEach } from "./_session.ts";

export default defineBerthCommand({
  meta: {
    name: "kill",
    description: "Kill one or more running containers",
    usage: "[OPTIONS] CONTAINER [CONTAINER...]",
    aliases: ["berth container kill", "berth kill"],
    minArgs: 1,
  },
  args: {
    signal: { type: "string", alias: "s", description: "Signal to send to the container" },
  },
  async run({ flags, positionals, ctx }) {
    const svc = (await ctx.engine()).containers;
    const sig = typeof flags.signal === "string" && flags.signal !== "" ? flags.signal : "SIGKILL";
    return forEach(ctx, positionals, async (ref) => {
      await svc.kill(ref, sig);
      return ref;
    });
  },
});
