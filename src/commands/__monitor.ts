/** hidden: `berth __monitor <id>` — the detached supervisor of one container (engine/containers/service.ts) */
import { defineBerthCommand } from "./_command.ts";

export default defineBerthCommand({
  meta: { name: "__monitor", description: "Supervise a container (internal)", usage: "CONTAINER", minArgs: 1, maxArgs: 1 },
  args: {},
  async run({ positionals, ctx }) {
    const svc = (await ctx.engine()).containers;
    return svc.monitorMain(svc.resolve(positionals[0]!));
  },
});
