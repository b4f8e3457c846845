import { defineBerthCommand } from "../_command.ts";
import { humanSize } from "../../lib/human.ts";
import { confirm } from "../_confirm.ts";

export default defineBerthCommand({
  meta: { name: "prune", description: "Remove unused images", usage: "[OPTIONS]", maxArgs: 0 },
  args: {
    all: { type: "boolean", alias: "a", description: "Remove all unused images, not just dangling ones" },
    force: { type: "boolean", alias: "f", description: "Do not prompt for confirmation" },
    filter: { type: "string", multiple: true, description: "Provide filter values (e.g. 'until=<timestamp>', 'label=<key>=<value>')" },
  },
  async run({ flags, ctx }) {
    const { parsePruneFilters } = await import("../../engine/index.ts");
    const filter = await parsePruneFilters(flags.filter);
    if (!(await confirm(!!flags.force, `This will remove all ${flags.all ? "images without at least one container associated to them" : "dangling images"}.`)))
      return;
    const engine = await ctx.engine();
    const { deleted, reclaimed } = await engine.imagePrune({ all: flags.all, filter });
    if (deleted.length) ctx.out(`Deleted Images:\n${deleted.join("\n")}\n\n`);
    ctx.out(`Total reclaimed space: ${humanSize(reclaimed, 4)}\n`);
  },
});
