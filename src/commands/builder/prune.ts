/** `berth builder prune`: drop the build cache (cache entries and the intermediate images only it kept) */
import { defineBerthCommand } from "../_command.ts";
import { humanSize } from "../../lib/human.ts";
import { confirm } from "../_confirm.ts";

export default defineBerthCommand({
  meta: { name: "prune", description: "Remove build cache", usage: "[OPTIONS]", maxArgs: 0 },
  args: {
    all: { type: "boolean", alias: "a", description: "Remove all unused build cache, not just dangling ones" },
    force: { type: "boolean", alias: "f", description: "Do not prompt for confirmation" },
  },
  async run({ flags, ctx }) {
    if (!(await confirm(!!flags.force, "This will remove all dangling build cache."))) return;
    const engine = await ctx.engine();
    const { deleted, reclaimed } = await engine.buildCachePrune();
    if (deleted.length) ctx.out(`Deleted build cache objects:\n${deleted.map((d) => d.replace(/^sha256:/, "")).join("\n")}\n\n`);
    ctx.out(`Total reclaimed space: ${humanSize(reclaimed, 4)}\n`);
  },
});
