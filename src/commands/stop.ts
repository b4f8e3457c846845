import { defineBerthCommand } from "./_command.ts";
import { forEach } from "./_session.ts";

export default defineBerthCommand({
  meta: {
    name: "stop",
    description: "Stop one or more running containers",
    usage: "[OPTIONS] CONTAINER [CONTAINER...]",
    aliases: ["berth container stop", "berth stop"],
    minArgs: 1,
  },
  args: {
    signal: { type: "string", alias: "s", description: "Signal to send to the container" },
    timeout: { type: "string", alias: "t", description: "Seconds to wait before killing the container", valueHint: "int" },
  },
  async run({ flags, positionals, ctx }) {
    // (an -t that is not an integer is refused by the parser: valueHint "int")
    const t = flags.timeout === undefined ? undefined : String(flags.timeout);
    const svc = (await ctx.engine()).containers;
    const sig = typeof flags.signal === "string" ? flags.signal : undefined;
    return forEach(ctx, positionals, async (ref) => {
      await svc.stop(ref, t === undefined ? undefined : Number(t), sig);
      return ref;
    });
  },
});
