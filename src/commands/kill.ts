import { defineBerthCommand } from "./_command.ts";
import { containers, forEach } from "./container.ts";

export default defineBerthCommand({
  meta: { name: "kill", description: "Kill one or more running containers", usage: "[OPTIONS] CONTAINER [CONTAINER...]", aliases: ["berth container kill", "berth kill"], minArgs: 1 },
  args: {
    signal: { type: "string", alias: "s", description: "Signal to send to the container" },
  },
  async run({ flags, positionals, ctx }) {
    const svc = await containers(ctx);
    const sig = typeof flags.signal === "string" && flags.signal !== "" ? flags.signal : "SIGKILL";
    return forEach(ctx, positionals, async (ref) => {
      await svc.kill(ref, sig);
      return ref;
    });
  },
});
