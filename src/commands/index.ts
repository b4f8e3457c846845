/**
 * The command table: docker's verbs, each a lazy import so only the command being run is loaded. Keep
 * the specifiers string literals: `bun build --compile` bundles them.
 */
import type { Lazy } from "./_command.ts";

export const commands: Record<string, Lazy> = {
  run: () => import("./run.ts"),
  create: () => import("./create.ts"),
  start: () => import("./start.ts"),
  ps: () => import("./ps.ts"),
  stop: () => import("./stop.ts"),
  kill: () => import("./kill.ts"),
  restart: () => import("./restart.ts"),
  rm: () => import("./rm.ts"),
  wait: () => import("./wait.ts"),
  inspect: () => import("./inspect.ts"),
  logs: () => import("./logs.ts"),
  exec: () => import("./exec.ts"),
  attach: () => import("./attach.ts"),
  top: () => import("./top.ts"),
  rename: () => import("./rename.ts"),
  pause: () => import("./pause.ts"),
  unpause: () => import("./unpause.ts"),
  stats: () => import("./stats.ts"),
  cp: () => import("./cp.ts"),
  container: () => import("./container.ts"),
  image: () => import("./image.ts"),
  images: () => import("./images.ts"),
  import: () => import("./import.ts"),
  rmi: () => import("./rmi.ts"),
  system: () => import("./system.ts"),
  tag: () => import("./tag.ts"),
  pull: () => import("./pull.ts"),
  push: () => import("./push.ts"),
  save: () => import("./save.ts"),
  load: () => import("./load.ts"),
  login: () => import("./login.ts"),
  logout: () => import("./logout.ts"),
  commit: () => import("./commit.ts"),
  export: () => import("./export.ts"),
  diff: () => import("./diff.ts"),
  history: () => import("./image/history.ts"),
  version: () => import("./version.ts"),
  build: () => import("./build.ts"),
  builder: () => import("./builder.ts"),
  network: () => import("./network.ts"),
  volume: () => import("./volume.ts"),
  port: () => import("./port.ts"),
  info: () => import("./info.ts"),
  update: () => import("./update.ts"),
  events: () => import("./events.ts"),
};

/** hidden commands: not listed in --help */
export const hidden: Record<string, Lazy> = {
  __monitor: () => import("./__monitor.ts"),
  __dns: () => import("./__dns.ts"),
  // docker's help command is not in its command list either
  help: () => import("./help.ts"),
};
