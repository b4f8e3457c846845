/**
 * argv → command → exit code. The only place that calls process.exit (STYLE §1), and the one place
 * that reads the environment: once, here, merged over the engine's defaults (defu) and handed down.
 *
 * Global flags come before the command, as in docker: `berth --root /x --debug images`. With -H, --context,
 * BERTH_HOST/DOCKER_HOST or a context in use, berth is a client of that daemon (src/client, the verbs in
 * commands/_remote); otherwise it is the engine itself.
 * Exit codes follow docker's CLI: 125 for a bad flag, 1 for an unknown command or a wrong number of
 * arguments; an error a command raises maps through the one table in commands/_exit-codes.ts (1 for a
 * failed request, 125 for `run`'s engine errors, 126/127 when the command cannot be invoked / is not
 * found); `run`/`exec` otherwise exit with the container's own status.
 */
import { readFileSync } from "node:fs";
import { commands } from "./commands/index.ts";
import { hidden } from "./commands/_hidden.ts";
import type { BerthCommand } from "./commands/_command.ts";
import type { Context } from "./commands/_context.ts";
import { parseFlags, type FlagsDef } from "./commands/_parser.ts";
import { renderGroupUsage, renderUsage, topUsage, usageLine } from "./commands/_usage.ts";
import { EngineError, ExitStatus, UsageError } from "./lib/errors.ts";
import { exitCodeFor } from "./commands/_exit-codes.ts";
import { createLogger, parseLogLevel, useColor } from "./lib/log.ts";
import { VERSION } from "./version.ts";
import { mark, traceTo } from "./lib/trace.ts";
import { defu } from "defu";
import { existsSync, writeSync } from "node:fs";
import { homedir } from "node:os";
import { stdout, stdoutOpened, writeOut } from "./commands/_stdout.ts";
import { engineDefaults, type EngineOptions } from "./engine/options.ts";
import { dockerConfigPath } from "./image/registry/config-path.ts";
import { DEFAULT_DAEMON_CONFIG, loadDaemonConfig, type DaemonConfig } from "./lib/daemon-config.ts";
import { daemonArgv } from "./commands/_daemon-argv.ts";

/** the environment, read once */
const env: Readonly<Record<string, string | undefined>> = { ...process.env };
// process.stderr and process.stdout are not touched on the way to a command: the first of them built
// costs 2–8 ms (it loads node:stream), which `run` does not need (issue 13). Color is decided when
// something is painted, trace lines go straight to fd 2.
let colorOn: boolean | undefined;
const color = (): boolean => (colorOn ??= useColor(process.stderr, env));
traceTo(env.BERTH_TRACE ? (line) => void writeSync(2, line) : undefined);

const globalFlags: FlagsDef = {
  root: { type: "string", description: "Root directory of persistent berth state", default: "" },
  "storage-driver": { type: "string", alias: "s", description: "Storage driver to use", default: "" },
  "config-file": { type: "string", description: `Daemon configuration file (default "${DEFAULT_DAEMON_CONFIG}")`, default: "" },
  debug: { type: "boolean", alias: "D", description: "Enable debug mode" },
  "log-level": {
    type: "enum",
    alias: "l",
    options: ["debug", "info", "warn", "error", "fatal"],
    description: 'Set the logging level ("debug"|"info"|"warn"|"error"|"fatal")',
    default: "warn",
  },
  version: { type: "boolean", alias: "v", description: "Print version information and quit" },
  host: { type: "string", multiple: true, alias: "H", description: "Daemon socket to connect to (unix://PATH, tcp://HOST:PORT, ssh://[USER@]HOST)" },
  context: {
    type: "string",
    alias: "c",
    description: 'Name of the context to use to connect to the daemon (overrides BERTH_HOST/DOCKER_HOST and "berth context use")',
  },
  tls: { type: "boolean", description: "Use TLS; implied by --tlsverify (client mode)" },
  tlsverify: { type: "boolean", description: "Use TLS and verify the remote (client mode; env DOCKER_TLS_VERIFY)" },
  tlscacert: { type: "string", description: "Trust certs signed only by this CA (client mode)" },
  tlscert: { type: "string", description: "Path to TLS certificate file (client mode)" },
  tlskey: { type: "string", description: "Path to TLS key file (client mode)" },
  help: { type: "boolean", alias: "h", description: "Print usage" },
};

/** SIGCHLD for the runtime's waits (runtime/spawn.ts waitExit), listened to only while one waits */
const childSignal = (listener: () => void): (() => void) => {
  process.on("SIGCHLD", listener);
  return () => process.off("SIGCHLD", listener);
};

/** the daemon config file's network settings (the environment's win): default-address-pools as "BASE/size,…" */
function daemonNetwork(daemon: DaemonConfig): { addressPools?: string } {
  const pools = daemon["default-address-pools"];
  return pools?.length ? { addressPools: pools.map((p) => `${p.base}/${p.size}`).join(",") } : {};
}

/** how berth starts itself for its helper processes: the compiled binary passes on only PATH; under
 * `bun src/main.ts` (tests) the whole environment */
function selfCommand(env: Readonly<Record<string, string | undefined>>): { argv: string[]; env: Record<string, string> } {
  const compiled = Bun.main.startsWith("/$bunfs/") || Bun.main.startsWith("B:/~BUN/");
  // BERTH_MONITOR=bun (keep the Bun monitor for detached containers) reaches the monitor too
  const monitor: Record<string, string> = env.BERTH_MONITOR ? { BERTH_MONITOR: env.BERTH_MONITOR } : {};
  if (compiled) return { argv: [process.execPath], env: { PATH: env.PATH ?? "/usr/sbin:/usr/bin:/sbin:/bin", ...monitor } };
  return { argv: [process.execPath, Bun.main], env: { ...env } as Record<string, string> };
}

async function main(argv: string[]): Promise<number> {
  mark("main");
  // berth as an OCI runtime (issue 14): runc's command line as `berth-runc`/`runc` (argv0) or `berth oci …`
  const argv0 = (readFileSync("/proc/self/cmdline", "latin1").split("\0")[0] ?? "").split("/").pop() ?? "";
  if (argv0 === "berth-runc" || argv0 === "runc" || argv[0] === "oci") {
    const oci = argv[0] === "oci" && argv0 !== "berth-runc" && argv0 !== "runc";
    const { runOci } = await import("./commands/oci/index.ts");
    mark("oci front door loaded");
    return runOci(oci ? "berth oci" : argv0, oci ? argv.slice(1) : argv, {
      out: (s) => void process.stdout.write(s),
      err: (s) => void process.stderr.write(s),
      cwd: process.cwd(),
      execPath: process.execPath,
      readStdin: () => Bun.stdin.text(),
    });
  }
  argv = daemonArgv(argv);
  // global flags: everything up to the first word that is not a flag
  let i = 0;
  while (i < argv.length && argv[i]!.startsWith("-") && argv[i] !== "-") {
    const a = argv[i]!;
    const takesValue = [
      ...["--root", "--log-level", "-l", "--storage-driver", "-s", "--config-file"],
      ...["--host", "-H", "--context", "-c", "--tlscacert", "--tlscert", "--tlskey"],
    ].includes(a);
    i += takesValue ? 2 : 1;
  }
  let g;
  try {
    g = parseFlags(argv.slice(0, i), globalFlags);
  } catch (e) {
    process.stderr.write(`${(e as Error).message}\nSee 'berth --help'.\n`);
    return 125;
  }
  const debug = !!g.flags.debug;
  const level = debug ? 4 : (parseLogLevel(String(g.flags["log-level"])) ?? 1);
  const log = createLogger(level, (line) => void process.stderr.write(line), color);
  if (g.flags.version) {
    stdout().write(`berth version ${VERSION}\n`);
    return 0;
  }
  const rest = argv.slice(i);
  if (g.flags.help || rest.length === 0) {
    stdout().write(await topUsage());
    return 0;
  }

  // the daemon's config file (docker's daemon.json), under flags and the environment
  let daemon: DaemonConfig;
  try {
    const file = String(g.flags["config-file"] || "");
    const loaded = loadDaemonConfig(file || DEFAULT_DAEMON_CONFIG, file !== "");
    daemon = loaded.config;
    if (loaded.ignored.length) log.info(`${file || DEFAULT_DAEMON_CONFIG}: not supported by berth yet, ignored: ${loaded.ignored.join(", ")}`);
  } catch (e) {
    process.stderr.write(`berth: ${(e as Error).message}\n`);
    return 1;
  }

  // flags over the environment over the daemon's config file over the engine's defaults
  const read: Partial<EngineOptions> = {
    root: String(g.flags.root || "") || env.BERTH_ROOT || daemon["data-root"] || undefined,
    storageDriver: String(g.flags["storage-driver"] || "") || env.BERTH_STORAGE_DRIVER || daemon["storage-driver"] || undefined,
    registryAuthFile: dockerConfigPath(env),
    runtimeDir: env.XDG_RUNTIME_DIR || undefined,
    registryReadTimeoutMs: Number(env.BERTH_REGISTRY_READ_TIMEOUT_MS) || undefined,
    registryMirrors: daemon["registry-mirrors"],
    insecureRegistries: daemon["insecure-registries"],
    longLived: rest[0] === "daemon" || undefined,
  };
  const settings: EngineOptions = { ...defu(read, engineDefaults), log };
  // client mode (-H, --context, BERTH_HOST/DOCKER_HOST, a context in use): the client code loads only then
  const hostSel = { hosts: (g.flags.host as string[]) ?? [], context: String(g.flags.context || "") || undefined };
  let endpoint: import("./client/index.ts").Endpoint | undefined;
  // (the daemon itself, the OCI runtime and berth's own helper processes never are clients)
  const serverSide = rest[0] === "daemon" || rest[0] === "oci" || hidden[rest[0]!] !== undefined;
  if (serverSide) {
    if (hostSel.hosts.length) {
      process.stderr.write(`berth: -H before '${rest[0]}' makes berth a client; give the daemon's -H after it: berth ${rest[0]} -H …\n`);
      return 125;
    }
  } else if (
    hostSel.hosts.length ||
    hostSel.context ||
    env.BERTH_HOST ||
    env.DOCKER_HOST ||
    env.BERTH_CONTEXT ||
    env.DOCKER_CONTEXT ||
    clientConfigExists(env)
  ) {
    try {
      const str = (k: string) => (typeof g.flags[k] === "string" && g.flags[k] !== "" ? String(g.flags[k]) : undefined);
      const tls = { tls: !!g.flags.tls, tlsverify: !!g.flags.tlsverify, tlscacert: str("tlscacert"), tlscert: str("tlscert"), tlskey: str("tlskey") };
      endpoint = (await import("./client/index.ts")).selectEndpoint({ ...hostSel, env, tls });
    } catch (e) {
      // `context` must still work (to repair a context that went away); anything else would guess a store
      if (rest[0] !== "context") return report(e, debug, { meta: { name: "berth", description: "" }, args: {} }, [], "");
    }
  }
  const root = settings.root;
  let enginePromise: Promise<import("./engine/index.ts").Engine> | undefined;
  const ctx: Context = {
    root,
    log,
    debug,
    env,
    daemon,
    hostSelection: hostSel,
    endpoint,
    daemonConfigFile: String(g.flags["config-file"] || "") || undefined,
    engine: () =>
      (enginePromise ??= import("./engine/index.ts")
        .then((m) => (mark("engine module loaded"), m.useChildSignal(childSignal), m))
        .then((m) => m.openEngine({ ...settings, network: { ...daemonNetwork(daemon), ...m.networkSettingsFrom(env) }, self: selfCommand(env) }))
        .catch((e) => {
          throw rootDenied(e, root) ?? e;
        })),
    out: writeOut,
  };

  // resolve the command path (`image inspect`, `system df`, …)
  const name = rest[0]!;
  const lazy = commands[name] ?? hidden[name];
  if (!lazy) {
    process.stderr.write(`berth: unknown command: berth ${name}\n\nRun 'berth --help' for more information\n`);
    return 1;
  }
  let cmd: BerthCommand = (await lazy()).default;
  mark(`command ${name} loaded`);
  const path = [name];
  let args = rest.slice(1);
  while (cmd.subCommands) {
    const sub = args[0];
    if (sub === undefined || sub === "--help" || sub === "-h") {
      stdout().write(await renderGroupUsage(cmd, path));
      return 0;
    }
    const next = cmd.subCommands[sub];
    if (!next) {
      process.stderr.write(`berth: unknown command: berth ${[...path, sub].join(" ")}\n\nRun 'berth ${path.join(" ")} --help' for more information\n`);
      return 1;
    }
    cmd = (await next()).default;
    path.push(sub);
    args = args.slice(1);
  }

  let parsed;
  try {
    parsed = parseFlags(args, { ...cmd.args, help: { type: "boolean", description: "Print usage" } }, { stopAtPositional: cmd.meta.stopAtPositional });
  } catch (e) {
    if (e instanceof UsageError) {
      process.stderr.write(`${e.message}\n\n${usageLine(cmd, path)}\n\nRun 'berth ${path.join(" ")} --help' for more information\n`);
      return 125;
    }
    throw e;
  }
  if (parsed.flags.help) {
    stdout().write(renderUsage(cmd, path));
    return 0;
  }
  const { minArgs, maxArgs } = cmd.meta;
  const n = parsed.positionals.length;
  const countErr =
    minArgs !== undefined && n < minArgs
      ? `requires at least ${minArgs} argument${minArgs === 1 ? "" : "s"}`
      : maxArgs !== undefined && n > maxArgs
        ? maxArgs === 0
          ? "accepts no arguments"
          : `accepts at most ${maxArgs} argument${maxArgs === 1 ? "" : "s"}`
        : undefined;
  if (countErr) {
    // docker's words: "requires 2 arguments … Run '…'" for an exact count, "requires at least 1 argument … See '…'"
    const exactly = minArgs !== undefined && minArgs === maxArgs;
    const exact = exactly ? `requires ${minArgs} argument${minArgs === 1 ? "" : "s"}` : countErr;
    process.stderr.write(
      `berth: 'berth ${path.join(" ")}' ${exact}\n\n${usageLine(cmd, path)}\n\n${exactly ? "Run" : "See"} 'berth ${path.join(" ")} --help' for more information\n`,
    );
    return 1;
  }

  // the stream (and its EPIPE handler) before the command, unless it writes only through writeOut/stdout()
  if (!cmd.meta.lazyStdout) stdout();
  if (cmd.meta.shortLived) Bun.unsafe.setJITPolicy(10);
  try {
    const input = { flags: parsed.flags, positionals: parsed.positionals, rest: parsed.rest, ctx };
    if (endpoint && !hidden[name]) return await (await import("./commands/_remote/index.ts")).runRemote(endpoint, cmd, path, input);
    const code = await cmd.run!(input);
    return typeof code === "number" ? code : 0;
  } catch (e) {
    return report(e, debug, cmd, path, root);
  }
}

/** whether a berth client config (the context `berth context use` chose) may exist: one stat, no client code */
function clientConfigExists(env: Readonly<Record<string, string | undefined>>): boolean {
  return existsSync(`${env.BERTH_CONFIG || `${env.HOME || homedir()}/.berth`}/config.json`);
}

/** what a non-root user (or a read-only root) gets instead of a stack: docker's "permission denied while
 * trying to connect to the Docker daemon socket at …", said of berth's root directory */
function rootDenied(e: unknown, root: string): EngineError | undefined {
  // an engine error that wraps the filesystem's own (engine/index.ts "create berth root …")
  while (e instanceof EngineError && e.cause) e = e.cause;
  const code = (e as NodeJS.ErrnoException)?.code;
  if (code !== "EACCES" && code !== "EPERM" && code !== "EROFS") return undefined;
  return new EngineError(
    "permission_denied",
    `permission denied while trying to open the berth root directory at ${root}: ${goErrno(e as NodeJS.ErrnoException)}`,
    {
      cause: e,
      hint: `berth keeps its state under ${root} and needs root for it: run it with sudo, or pass --root DIR for a directory you own`,
    },
  );
}

/** a Node errno error as Go prints an *fs.PathError: "mkdir /var/lib/berth/x: permission denied" */
function goErrno(e: NodeJS.ErrnoException): string {
  const strerror =
    e.code === "EACCES"
      ? "permission denied"
      : e.code === "EPERM"
        ? "operation not permitted"
        : e.code === "EROFS"
          ? "read-only file system"
          : e.code === "ENOENT"
            ? "no such file or directory"
            : e.code === "ENOSPC"
              ? "no space left on device"
              : (e.message.split(":")[1]?.split(",")[0]?.trim().toLowerCase() ?? String(e.code));
  const op = e.syscall ? `${e.syscall === "scandir" ? "open" : e.syscall} ` : "";
  return e.path ? `${op}${e.path}: ${strerror}` : `${op.trim() || e.code}: ${strerror}`;
}

/** a filesystem error that escaped a command (a path berth may not read or write): one line, no stack */
function isErrno(e: unknown): e is NodeJS.ErrnoException {
  const code = (e as NodeJS.ErrnoException)?.code;
  return e instanceof Error && typeof code === "string" && /^E[A-Z0-9]+$/.test(code) && ("syscall" in e || "path" in e);
}

function report(e: unknown, debug: boolean, cmd: BerthCommand, path: string[], root: string): number {
  if (e instanceof ExitStatus) return exitCodeFor(e);
  if ((e as NodeJS.ErrnoException)?.code === "EPIPE") return 141;
  if (!(e instanceof EngineError) && isErrno(e)) {
    // the engine let a raw filesystem error through: say it as berth's own error, permission first
    const denied = e.path && (e.path === root || e.path.startsWith(root + "/")) ? rootDenied(e, root) : undefined;
    const kind =
      e.code === "ENOENT" ? "not_found" : e.code === "EEXIST" ? "already_exists" : e.code === "EACCES" || e.code === "EPERM" ? "permission_denied" : "internal";
    e = denied ?? new EngineError(kind, goErrno(e), { cause: e });
  }
  const red = (s: string) => (color() ? `\x1b[31m${s}\x1b[0m` : s);
  if (e instanceof UsageError) {
    process.stderr.write(`${red("berth:")} ${e.message}\n\n${usageLine(cmd, path)}\n\nRun 'berth ${path.join(" ")} --help' for more information\n`);
    return exitCodeFor(e, cmd.meta.exitPolicy);
  }
  if (e instanceof EngineError) {
    process.stderr.write(`${red("berth:")} ${e.message}\n`);
    if (e.hint) process.stderr.write(`hint: ${e.hint}\n`);
    if (debug && e.stack) process.stderr.write(e.stack + "\n");
    return exitCodeFor(e, cmd.meta.exitPolicy);
  }
  // a bug: one line for the user; the stack with --debug (issue 16 item 15: no stack reaches a user)
  process.stderr.write(`${red("berth: internal error:")} ${e instanceof Error ? e.message : String(e)}\n`);
  if (debug && e instanceof Error && e.stack) process.stderr.write(e.stack + "\n");
  else process.stderr.write("hint: run the command again with --debug for the stack trace, and report it\n");
  return 125;
}

const code = await main(process.argv.slice(2));
// let stdout drain before exiting (large `images --format json` or `logs` output through a pipe)
// (a stream the reader left is destroyed: nothing of it drains any more)
if (stdoutOpened() && !stdout().destroyed)
  await new Promise<void>((resolve) => (stdout().writableLength === 0 ? resolve() : stdout().once("drain", resolve).once("close", resolve)));
mark("exit");
process.exit(code);
