/** `berth create`: docker's flags → a create request (_container-opts.ts) → a container. Also exports the shared flags. */
import { existsSync } from "node:fs";
import { defineBerthCommand } from "./_command.ts";
import type { FlagsDef } from "./_parser.ts";
import { EngineError } from "../lib/errors.ts";
import type { Context } from "./_context.ts";
import { during } from "./_exit-codes.ts";
import { mark } from "../lib/trace.ts";

const list = (description: string) => ({ type: "string" as const, multiple: true, description });
const str = (description: string, valueHint?: string) => ({ type: "string" as const, description, valueHint });
const bool = (description: string) => ({ type: "boolean" as const, description });

/** the flags `create` and `run` share (docker's container create flags) */
export const createFlags: FlagsDef = {
  "add-host": list("Add a custom host-to-IP mapping (host:ip)"),
  attach: { ...list("Attach to STDIN, STDOUT or STDERR"), alias: "a" },
  "blkio-weight": str("Block IO (relative weight), between 10 and 1000, or 0 to disable (default 0)", "uint16"),
  "cap-add": list("Add Linux capabilities"),
  "cap-drop": list("Drop Linux capabilities"),
  cgroupns: str("Cgroup namespace to use (host|private)"),
  cidfile: str("Write the container ID to the file"),
  "cpu-shares": { ...str("CPU shares (relative weight)", "int"), alias: "c" },
  cpus: str("Number of CPUs", "decimal"),
  "cpuset-cpus": str("CPUs in which to allow execution (0-3, 0,1)"),
  "cpuset-mems": str("MEMs in which to allow execution (0-3, 0,1)"),
  device: list("Add a host device to the container"),
  dns: list("Set custom DNS servers"),
  "dns-option": list("Set DNS options"),
  "dns-search": list("Set custom DNS search domains"),
  domainname: str("Container NIS domain name"),
  entrypoint: str("Overwrite the default ENTRYPOINT of the image"),
  env: { ...list("Set environment variables"), alias: "e" },
  expose: list("Expose a port or a range of ports"),
  "env-file": list("Read in a file of environment variables"),
  "group-add": list("Add additional groups to join"),
  "health-cmd": str("Command to run to check health"),
  "health-interval": str("Time between running the check (ms|s|m|h) (default 0s)", "duration"),
  "health-retries": str("Consecutive failures needed to report unhealthy", "int"),
  "health-start-period": str("Start period for the container to initialize before starting health-retries countdown (ms|s|m|h) (default 0s)", "duration"),
  "health-timeout": str("Maximum time to allow one check to run (ms|s|m|h) (default 0s)", "duration"),
  hostname: { ...str("Container host name"), alias: "h" },
  ip: str("IPv4 address (e.g., 172.30.100.104)"),
  link: list("Add link to another container"),
  "mac-address": str("Container MAC address (e.g., 92:d0:c6:0a:29:33)"),
  init: bool("Run an init inside the container that forwards signals and reaps processes"),
  ipc: str("IPC mode to use"),
  interactive: { ...bool("Keep STDIN open even if not attached"), alias: "i" },
  label: { ...list("Set meta data on a container"), alias: "l" },
  "label-file": list("Read in a line delimited file of labels"),
  "cpu-period": str("Limit CPU CFS (Completely Fair Scheduler) period", "int"),
  "cpu-quota": str("Limit CPU CFS (Completely Fair Scheduler) quota", "int"),
  "log-driver": str("Logging driver for the container"),
  "log-opt": list("Log driver options"),
  memory: { ...str("Memory limit", "bytes"), alias: "m" },
  mount: list("Attach a filesystem mount to the container"),
  "memory-reservation": str("Memory soft limit", "bytes"),
  "memory-swap": str("Swap limit equal to memory plus swap: '-1' to enable unlimited swap", "bytes"),
  name: str("Assign a name to the container"),
  "no-healthcheck": bool("Disable any container-specified HEALTHCHECK"),
  network: { ...str("Connect a container to a network", "network"), alias: "net" },
  "network-alias": list("Add network-scoped alias for the container"),
  "oom-kill-disable": bool("Disable OOM Killer"),
  "oom-score-adj": str("Tune host's OOM preferences (-1000 to 1000)", "int"),
  pid: str("PID namespace to use"),
  "pids-limit": str("Tune container pids limit (set -1 for unlimited)", "int"),
  platform: str("Set platform if server is multi-platform capable"),
  privileged: bool("Give extended privileges to this container"),
  publish: { ...list("Publish a container's port(s) to the host"), alias: "p" },
  "publish-all": { ...bool("Publish all exposed ports to random ports"), alias: "P" },
  pull: { ...str('Pull image before creating ("always", "missing", "never")'), default: "missing" },
  quiet: { ...bool("Suppress the pull output"), alias: "q" },
  "read-only": bool("Mount the container's root filesystem as read only"),
  restart: { ...str("Restart policy to apply when a container exits"), default: "no" },
  rm: bool("Automatically remove the container and its associated anonymous volumes when it exits"),
  "security-opt": list("Security Options"),
  "shm-size": str("Size of /dev/shm", "bytes"),
  "stop-signal": str("Signal to stop the container"),
  "stop-timeout": str("Timeout (in seconds) to stop a container", "int"),
  sysctl: list("Sysctl options"),
  tmpfs: list("Mount a tmpfs directory"),
  tty: { ...bool("Allocate a pseudo-TTY"), alias: "t" },
  ulimit: list("Ulimit options"),
  user: { ...str("Username or UID (format: <name|uid>[:<group|gid>])"), alias: "u" },
  uts: str("UTS namespace to use"),
  volume: { ...list("Bind mount a volume"), alias: "v" },
  "volumes-from": list("Mount volumes from the specified container(s)"),
  workdir: { ...str("Working directory inside the container"), alias: "w" },
};

const optStr = (v: unknown) => (typeof v === "string" ? v : undefined);

/** docker refuses an existing --cidfile before it creates anything */
export function checkCidfile(flags: Record<string, unknown>): void {
  const f = optStr(flags.cidfile);
  if (f !== undefined && existsSync(f))
    throw new EngineError("invalid_argument", `container ID file found, make sure the other container isn't running or delete ${f}`);
}

export function checkPull(flags: Record<string, unknown>): void {
  const p = String(flags.pull ?? "missing");
  if (!["always", "missing", "never"].includes(p))
    throw new EngineError("invalid_argument", `invalid pull option: '${p}': must be one of "always", "missing" or "never"`);
}

/**
 * docker's --pull before create: "missing" pulls an image that is not here (after "Unable to find
 * image 'X' locally", progress on stderr), "always" pulls first, "never" is "No such image" at once.
 */
export async function ensureImage(ctx: Context, flags: Record<string, unknown>, image: string): Promise<void> {
  const policy = String(flags.pull ?? "missing");
  const { normalizeRef } = await import("../engine/index.ts");
  mark("command: engine module loaded");
  if (policy !== "always") {
    try {
      const engine = await ctx.engine();
      mark("command: engine opened");
      await engine.images.resolve(image);
      mark("command: image resolved");
      return;
    } catch (e) {
      if (!(e instanceof EngineError && e.kind === "not_found")) throw e;
      if (policy === "never") throw new EngineError("not_found", `No such image: ${normalizeRef(image)}`, { cause: e });
    }
    process.stderr.write(`Unable to find image '${normalizeRef(image)}' locally\n`);
  }
  // docker's CLI parses the reference and the platform before it pulls: a bad one is an option error
  // (create's 125), not a failed pull (create's 1)
  const { parseDockerRef, parsePlatform } = await import("../engine/index.ts");
  parseDockerRef(image);
  if (optStr(flags.platform)) parsePlatform(optStr(flags.platform)!);
  const { pullWithProgress } = await import("./pull.ts");
  await during("pull", () => pullWithProgress(ctx, image, { quiet: !!flags.quiet, platform: optStr(flags.platform) }));
}

/**
 * Create through the engine as docker's CLI does: an image that went away between the check above and
 * the create (an `rmi` racing us) is docker's 404, after which the client pulls (--pull=missing) and
 * tries once more.
 */
export async function createWithPull<T extends { Warnings?: string[] | null }>(
  ctx: Context,
  flags: Record<string, unknown>,
  image: string,
  create: () => Promise<T>,
): Promise<T> {
  // dockerd's warnings (a setting the host cannot honour), as docker's CLI prints them
  const warn = (r: T) => {
    for (const w of r.Warnings ?? []) process.stderr.write(`WARNING: ${w}\n`);
    return r;
  };
  try {
    return warn(await create());
  } catch (e) {
    const policy = String(flags.pull ?? "missing");
    if (!(e instanceof EngineError && e.kind === "not_found" && e.message.startsWith("No such image:"))) throw e;
    if (policy === "never") {
      const { normalizeRef } = await import("../engine/index.ts");
      throw new EngineError("not_found", `No such image: ${normalizeRef(image)}`, { cause: e });
    }
    await ensureImage(ctx, { ...flags, pull: "missing" }, image);
    return warn(await create());
  }
}

export default defineBerthCommand({
  meta: {
    lazyStdout: true,
    shortLived: true,
    name: "create",
    description: "Create a new container",
    usage: "[OPTIONS] IMAGE [COMMAND] [ARG...]",
    aliases: ["berth container create", "berth create"],
    stopAtPositional: true,
    minArgs: 1,
    exitPolicy: "create",
  },
  args: createFlags,
  async run(input) {
    checkPull(input.flags);
    checkCidfile(input.flags);
    // as docker's CLI: create first, pull on its 404 (createWithPull); --pull=always pulls before
    if (String(input.flags.pull ?? "missing") === "always") await ensureImage(input.ctx, input.flags, input.positionals[0]!);
    const svc = (await input.ctx.engine()).containers;
    const { parseCreateFlags, daemonLog } = await import("./_container-opts.ts");
    const { request, name, platform } = parseCreateFlags(input, { detach: false, clientEnv: input.ctx.env, defaultLog: daemonLog(input.ctx) });
    mark("command: engine ready");
    const { Id: id } = await createWithPull(input.ctx, input.flags, input.positionals[0]!, () => svc.create(request, { name, platform }));
    mark("engine: created");
    const cidfile = optStr(input.flags.cidfile);
    if (cidfile) (await import("node:fs")).writeFileSync(cidfile, id, { flag: "wx" });
    input.ctx.out(id + "\n");
  },
});
