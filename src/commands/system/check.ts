import { defineBerthCommand } from "../_command.ts";

export default defineBerthCommand({
  meta: { name: "check", description: "Verify the store: re-hash every blob, resolve every reference, find orphans", usage: "[OPTIONS]", maxArgs: 0 },
  args: {
    quiet: { type: "boolean", alias: "q", description: "Only print problems" },
    repair: { type: "boolean", description: "First fix what is safe to fix (leftovers of dead processes, orphans, dangling tags) and say what was done" },
  },
  async run({ flags, ctx }) {
    const engine = await ctx.engine();
    if (flags.repair) for (const line of await engine.repair()) ctx.out(`repaired: ${line}\n`);
    const r = await engine.check();
    for (const p of r.problems) ctx.out(`problem: ${p}\n`);
    if (!flags.quiet)
      ctx.out(
        `checked ${r.blobs} blobs, ${r.images} images, ${r.tags} tags, ${r.snapshots} snapshots, ${r.containers} containers: ${r.problems.length ? `${r.problems.length} problem(s)` : "ok"}\n`,
      );
    return r.problems.length ? 1 : 0;
  },
});
