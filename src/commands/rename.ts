import { defineBerthCommand } from "./_command.ts";

export default defineBerthCommand({
  meta: {
    name: "rename",
    description: "Rename a container",
    usage: "CONTAINER NEW_NAME",
    aliases: ["berth container rename", "berth rename"],
    minArgs: 2,
    maxArgs: 2,
  },
  args: {},
  async run({ positionals, ctx }) {
    const svc = (await ctx.engine()).containers;
    svc.rename(positionals[0]!, positionals[1]!);
  },
});
