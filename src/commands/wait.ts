import { defineBerthCommand } from "./_command.ts";
import { containers, forEach } from "./container.ts";

export default defineBerthCommand({
  meta: { name: "wait", description: "Block until one or more containers stop, then print their exit codes", usage: "CONTAINER [CONTAINER...]", aliases: ["berth container wait", "berth wait"], minArgs: 1 },
  args: {},
  async run({ positionals, ctx }) {
    const svc = await containers(ctx);
    return forEach(ctx, positionals, async (ref) => String(await svc.wait(ref)));
  },
});
