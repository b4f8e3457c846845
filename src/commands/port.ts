/** `berth port CONTAINER [PRIVATE_PORT[/PROTO]]`: the container's published ports, docker's format */
import { defineBerthCommand } from "./_command.ts";

export default defineBerthCommand({
  meta: {
    name: "port",
    description: "List port mappings or a specific mapping for the container",
    usage: "CONTAINER [PRIVATE_PORT[/PROTO]]",
    aliases: ["berth container port", "berth port"],
    minArgs: 1,
    maxArgs: 2,
  },
  args: {},
  async run({ positionals, ctx }) {
    const { portLines } = await import("../engine/index.ts");
    const svc = (await ctx.engine()).containers;
    const id = svc.resolve(positionals[0]!);
    const running = svc.refreshState(id).Status === "running" || svc.refreshState(id).Status === "paused";
    const lines = portLines(running ? svc.ports(id) : [], positionals[1], positionals[0]);
    ctx.out(lines.map((l) => l + "\n").join(""));
  },
});
