import { defineBerthCommand } from "./_command.ts";

import { userChanges } from "../engine/init-paths.ts";

export default defineBerthCommand({
  meta: {
    name: "diff",
    description: "Inspect changes to files or directories on a container's filesystem",
    usage: "CONTAINER",
    aliases: ["berth container diff", "berth diff"],
    minArgs: 1,
    maxArgs: 1,
  },
  args: {},
  async run({ positionals, ctx }) {
    const { containerChanges } = await import("../engine/container-fs.ts");
    const engine = await ctx.engine();
    const svc = (await ctx.engine()).containers;
    const changes = userChanges(await containerChanges(svc, engine.snapshots, positionals[0]!));
    ctx.out(changes.map((c) => `${c.kind} ${c.path}\n`).join(""));
  },
});
