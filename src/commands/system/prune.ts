/** `berth system prune`: stopped containers, unused networks, dangling (or with -a unused) images, build cache */
import { defineBerthCommand } from "../_command.ts";
import { confirm, systemPruneWarning } from "../_confirm.ts";
import { humanSize } from "../../lib/human.ts";

export default defineBerthCommand({
  meta: { name: "prune", description: "Remove unused data", usage: "[OPTIONS]", maxArgs: 0 },
  args: {
    all: { type: "boolean", alias: "a", description: "Remove all unused images not just dangling ones" },
    force: { type: "boolean", alias: "f", description: "Do not prompt for confirmation" },
    volumes: { type: "boolean", description: "Prune anonymous volumes" },
    filter: { type: "string", multiple: true, description: "Provide filter values (e.g. 'label=<key>=<value>', 'until=24h')" },
  },
  async run({ flags, ctx }) {
    const { parsePruneFilters } = await import("../../engine/index.ts");
    const filter = await parsePruneFilters(flags.filter);
    if (!(await confirm(!!flags.force, systemPruneWarning({ volumes: !!flags.volumes, all: !!flags.all })))) return;
    const engine = await ctx.engine();
    const c = await engine.containerPrune(filter);
    if (c.deleted.length) ctx.out(`Deleted Containers:\n${c.deleted.join("\n")}\n\n`);
    const nets = await engine.networkPrune();
    if (nets.length) ctx.out(`Deleted Networks:\n${nets.join("\n")}\n\n`);
    let volReclaimed = 0;
    if (flags.volumes) {
      const v = engine.containers.volumes.prune({ all: false, labels: filter.labels });
      if (v.removed.length) ctx.out(`Deleted Volumes:\n${v.removed.join("\n")}\n\n`);
      volReclaimed = v.reclaimed;
    }
    const img = await engine.imagePrune({ all: !!flags.all });
    if (img.deleted.length) ctx.out(`Deleted Images:\n${img.deleted.join("\n")}\n\n`);
    const cache = await engine.buildCachePrune();
    if (cache.deleted.length) ctx.out(`Deleted build cache objects:\n${cache.deleted.join("\n")}\n\n`);
    const leftovers = await engine.pruneLeftovers();
    ctx.out(`Total reclaimed space: ${humanSize(c.reclaimed + volReclaimed + img.reclaimed + cache.reclaimed + leftovers, 4)}\n`);
  },
});
