/**
 * Client mode: the verbs as calls to a daemon's Engine API. main.ts hands a command here, flags already
 * parsed by the command's own definition, when an endpoint is selected (-H, --context,
 * BERTH_HOST/DOCKER_HOST, `context use`). A verb with a remote implementation runs it; a verb that never
 * touches a store (context, login, completion…) runs as usual; any other verb is refused with one line,
 * never run against the local store.
 */
import type { BerthCommand, RunInput } from "../_command.ts";
import { CliError, exitCodeFor } from "../_exit-codes.ts";
import { ApiClient, DaemonError, type Endpoint } from "../../client/index.ts";

export type RemoteVerb = (input: RunInput, api: ApiClient) => Promise<number | void> | number | void;
type LazyVerb = () => Promise<{ default: RemoteVerb }>;

/** verbs that run here even in client mode: they keep client-side state only (contexts, credentials, scripts) */
const LOCAL = new Set(["context", "completion", "help", "login", "logout", "system dial-stdio"]);

const table: Record<string, LazyVerb> = {
  version: () => import("./version.ts"),
  info: () => import("./info.ts"),
  "system info": () => import("./info.ts"),
  ps: () => import("./ps.ts"),
  images: () => import("./images.ts"),
  inspect: () => import("./inspect.ts"),
  "container inspect": () => import("./inspect.ts"),
  "image inspect": () => import("./inspect.ts"),
  "network inspect": () => import("./inspect.ts"),
  "volume inspect": () => import("./inspect.ts"),
  pull: () => import("./pull.ts"),
  push: () => import("./push.ts"),
  run: () => import("./run.ts"),
  create: () => import("./create.ts"),
  start: () => import("./start.ts"),
  stop: () => import("./simple.ts").then((m) => ({ default: m.stop })),
  restart: () => import("./simple.ts").then((m) => ({ default: m.restart })),
  kill: () => import("./simple.ts").then((m) => ({ default: m.kill })),
  rm: () => import("./simple.ts").then((m) => ({ default: m.rm })),
  pause: () => import("./simple.ts").then((m) => ({ default: m.pause })),
  unpause: () => import("./simple.ts").then((m) => ({ default: m.unpause })),
  wait: () => import("./simple.ts").then((m) => ({ default: m.wait })),
  rename: () => import("./simple.ts").then((m) => ({ default: m.rename })),
  top: () => import("./simple.ts").then((m) => ({ default: m.top })),
  port: () => import("./simple.ts").then((m) => ({ default: m.port })),
  rmi: () => import("./simple.ts").then((m) => ({ default: m.rmi })),
  tag: () => import("./simple.ts").then((m) => ({ default: m.tag })),
  logs: () => import("./logs.ts"),
  exec: () => import("./exec.ts"),
  attach: () => import("./attach.ts"),
  cp: () => import("./cp.ts"),
  save: () => import("./archive.ts").then((m) => ({ default: m.save })),
  load: () => import("./archive.ts").then((m) => ({ default: m.load })),
  build: () => import("./build.ts"),
  events: () => import("./events.ts"),
  "system events": () => import("./events.ts"),
  "system df": () => import("./df.ts"),
  "network ls": () => import("./network.ts").then((m) => ({ default: m.ls })),
  "network create": () => import("./network.ts").then((m) => ({ default: m.create })),
  "network rm": () => import("./network.ts").then((m) => ({ default: m.rm })),
  "network connect": () => import("./network.ts").then((m) => ({ default: m.connect })),
  "network disconnect": () => import("./network.ts").then((m) => ({ default: m.disconnect })),
  "volume ls": () => import("./volume.ts").then((m) => ({ default: m.ls })),
  "volume create": () => import("./volume.ts").then((m) => ({ default: m.create })),
  "volume rm": () => import("./volume.ts").then((m) => ({ default: m.rm })),
  commit: () => import("./more.ts").then((m) => ({ default: m.commit })),
  diff: () => import("./more.ts").then((m) => ({ default: m.diff })),
  export: () => import("./more.ts").then((m) => ({ default: m.exportContainer })),
  update: () => import("./more.ts").then((m) => ({ default: m.update })),
  history: () => import("./more.ts").then((m) => ({ default: m.history })),
  "image history": () => import("./more.ts").then((m) => ({ default: m.history })),
  stats: () => import("./more.ts").then((m) => ({ default: m.stats })),
  "container prune": () => import("./more.ts").then((m) => ({ default: m.containerPrune })),
  "image prune": () => import("./more.ts").then((m) => ({ default: m.imagePrune })),
  "volume prune": () => import("./more.ts").then((m) => ({ default: m.volumePrune })),
  "network prune": () => import("./more.ts").then((m) => ({ default: m.networkPrune })),
  import: () => import("./more.ts").then((m) => ({ default: m.importImage })),
  "builder prune": () => import("./more.ts").then((m) => ({ default: m.builderPrune })),
  "system prune": () => import("./more.ts").then((m) => ({ default: m.systemPrune })),
};

/** the names a command answers to: its path, then docker's aliases (`container ls` is `ps`) */
function names(cmd: BerthCommand, path: string[]): string[] {
  const out = [path.join(" ")];
  for (const a of cmd.meta.aliases ?? []) out.push(a.replace(/^berth /, ""));
  return out;
}

/** the remote implementation of `cmd`, or undefined when the verb runs locally in client mode too */
async function lookup(cmd: BerthCommand, path: string[]): Promise<RemoteVerb | "local" | undefined> {
  const ns = names(cmd, path);
  for (const n of ns) if (table[n]) return (await table[n]()).default;
  if (ns.some((n) => LOCAL.has(n)) || LOCAL.has(path[0]!)) return "local";
  return undefined;
}

export async function runRemote(endpoint: Endpoint, cmd: BerthCommand, path: string[], input: RunInput): Promise<number> {
  const verb = await lookup(cmd, path);
  // client mode never opens the local store (no split brain): a verb that reaches for it is refused
  const refused = () => Promise.reject(new CliError(`berth ${path.join(" ")}: not available in client mode (${endpoint.host})`, 1));
  input = { ...input, ctx: { ...input.ctx, engine: refused } };
  if (verb === "local") return (await cmd.run!(input)) ?? 0;
  if (!verb) throw new CliError(`berth ${path.join(" ")}: not available in client mode (${endpoint.host})`, 1);
  const api = new ApiClient(endpoint, input.ctx.env);
  try {
    return (await verb({ ...input, flags: { ...input.flags, __path: path } }, api)) ?? 0;
  } catch (e) {
    if (!(e instanceof DaemonError)) throw e;
    // docker's CLI: the daemon's answer as it came ("Error response from daemon: …"); run adds its name
    process.stderr.write(`${cmd.meta.exitPolicy === "run" ? "berth: " : ""}${e.message}\n`);
    return exitCodeFor(e, cmd.meta.exitPolicy);
  }
}
