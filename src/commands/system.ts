import { defineBerthCommand } from "./_command.ts";

export default defineBerthCommand({
  meta: { name: "system", description: "Manage berth", usage: "COMMAND" },
  args: {},
  subCommands: {
    df: () => import("./system/df.ts"),
    check: () => import("./system/check.ts"),
    info: () => import("./info.ts"),
    events: () => import("./events.ts"),
    prune: () => import("./system/prune.ts"),
    restore: () => import("./system/restore.ts"),
    "dial-stdio": () => import("./system/dial-stdio.ts"),
  },
});
