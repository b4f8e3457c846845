import { defineBerthCommand } from "../_command.ts";
import { humanSize } from "../../lib/human.ts";

export default defineBerthCommand({
  meta: { name: "prune", description: "Remove unused images", usage: "[OPTIONS]", maxArgs: 0 },
  args: {
    all: { type: "boolean", alias: "a", description: "Remove all unused images, not just dangling ones" },
    force: { type: "boolean", alias: "f", description: "Do not prompt for confirmation" },
    filter: { type: "string", multiple: true, description: "Provide filter values (not supported yet: refused)" },
  },
  async run({ flags, ctx }) {
    if (flags.filter.length) {
      const { UsageError } = await import("../../lib/errors.ts");
      throw new UsageError("image prune --filter is not supported by berth yet");
    }
    if (!flags.force && process.stdin.isTTY) {
      process.stderr.write(`WARNING! This will remove all ${flags.all ? "images without at least one container associated to them" : "dangling images"}.\nAre you sure you want to continue? [y/N] `);
      const answer = await new Promise<string>((r) => process.stdin.once("data", (d) => r(String(d))));
      process.stdin.pause();
      if (!/^y(es)?$/i.test(answer.trim())) return;
    }
    const engine = await ctx.engine();
    const { deleted, reclaimed } = await engine.images.prune(flags.all);
    if (deleted.length) ctx.out(`Deleted Images:\n${deleted.join("\n")}\n\n`);
    ctx.out(`Total reclaimed space: ${humanSize(reclaimed)}\n`);
  },
});
