import { defineBerthCommand } from "./_command.ts";

export default defineBerthCommand({
  meta: { name: "builder", description: "Manage builds", usage: "COMMAND" },
  args: {},
  subCommands: {
    build: () => import("./build.ts"),
    prune: () => import("./builder/prune.ts"),
  },
});
