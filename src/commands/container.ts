/**
 * `berth container COMMAND`: docker's management command grouping the container verbs. A pure table:
 * the verbs' shared helpers are in _session.ts.
 */
import { defineBerthCommand } from "./_command.ts";

export default defineBerthCommand({
  meta: { name: "container", description: "Manage containers" },
  args: {},
  subCommands: {
    attach: () => import("./attach.ts"),
    commit: () => import("./commit.ts"),
    cp: () => import("./cp.ts"),
    create: () => import("./create.ts"),
    diff: () => import("./diff.ts"),
    exec: () => import("./exec.ts"),
    export: () => import("./export.ts"),
    inspect: () => import("./inspect.ts").then((m) => ({ default: m.containerInspect })),
    kill: () => import("./kill.ts"),
    logs: () => import("./logs.ts"),
    ls: () => import("./ps.ts"),
    list: () => import("./ps.ts"),
    ps: () => import("./ps.ts"),
    pause: () => import("./pause.ts"),
    prune: () => import("./container-prune.ts"),
    port: () => import("./port.ts"),
    rename: () => import("./rename.ts"),
    restart: () => import("./restart.ts"),
    rm: () => import("./rm.ts"),
    run: () => import("./run.ts"),
    start: () => import("./start.ts"),
    stats: () => import("./stats.ts"),
    stop: () => import("./stop.ts"),
    top: () => import("./top.ts"),
    unpause: () => import("./unpause.ts"),
    update: () => import("./update.ts"),
    wait: () => import("./wait.ts"),
  },
});
