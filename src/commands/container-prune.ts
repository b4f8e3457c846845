/** `berth container prune`: every stopped container, with docker's prompt and filters */
import { defineBerthCommand } from "./_command.ts";
import { confirm } from "./_confirm.ts";
import { humanSize } from "../lib/human.ts";

export default defineBerthCommand({
  meta: { name: "prune", description: "Remove all stopped containers", usage: "[OPTIONS]", maxArgs: 0 },
  args: {
    force: { type: "boolean", alias: "f", description: "Do not prompt for confirmation" },
    filter: { type: "string", multiple: true, description: "Provide filter values (e.g. 'until=<timestamp>', 'label=<key>=<value>')" },
  },
  async run({ flags, ctx }) {
    const { parsePruneFilters } = await import("../engine/index.ts");
    const filter = await parsePruneFilters(flags.filter);
    if (!(await confirm(!!flags.force, "This will remove all stopped containers."))) return;
    const { deleted, reclaimed } = await (await ctx.engine()).containerPrune(filter);
    if (deleted.length) ctx.out(`Deleted Containers:\n${deleted.join("\n")}\n\n`);
    ctx.out(`Total reclaimed space: ${humanSize(reclaimed, 4)}\n`);
  },
});
