import { defineBerthCommand } from "./_command.ts";
import { containers } from "./container.ts";

export default defineBerthCommand({
  meta: { name: "rename", description: "Rename a container", usage: "CONTAINER NEW_NAME", aliases: ["berth container rename", "berth rename"], minArgs: 2, maxArgs: 2 },
  args: {},
  async run({ positionals, ctx }) {
    const svc = await containers(ctx);
    svc.rename(positionals[0]!, positionals[1]!);
  },
});
