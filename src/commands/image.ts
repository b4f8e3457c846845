import { defineBerthCommand } from "./_command.ts";

export default defineBerthCommand({
  meta: { name: "image", description: "Manage images", usage: "COMMAND" },
  args: {},
  subCommands: {
    build: () => import("./build.ts"),
    import: () => import("./import.ts"),
    inspect: () => import("./image/inspect.ts"),
    history: () => import("./image/history.ts"),
    load: () => import("./load.ts"),
    pull: () => import("./pull.ts"),
    push: () => import("./push.ts"),
    save: () => import("./save.ts"),
    ls: () => import("./images.ts"),
    list: () => import("./images.ts"),
    prune: () => import("./image/prune.ts"),
    rm: () => import("./rmi.ts"),
    remove: () => import("./rmi.ts"),
    tag: () => import("./tag.ts"),
  },
});
