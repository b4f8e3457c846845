/**
 * `berth daemon` (Docker 0.8's `berth -d` too): the Docker Engine API on unix, tcp and systemd-activated
 * sockets, over the same engine and the same --root as the daemonless CLI. SIGHUP reloads the config
 * file; SIGTERM/SIGINT drain (stop accepting, let requests finish briefly, abort streams, remove the
 * socket and pidfile). Containers keep running: each has its own monitor process.
 */
import { existsSync, mkdirSync, readFileSync, unlinkSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import { dirname, join } from "node:path";
import { defineBerthCommand } from "./_command.ts";
import { EngineError } from "../lib/errors.ts";
import { DEFAULT_DAEMON_CONFIG, loadDaemonConfig } from "../lib/daemon-config.ts";

const DEFAULT_ROOT = "/var/lib/berth";

export default defineBerthCommand({
  meta: {
    name: "daemon",
    description:
      "Serve the Docker Engine API (any docker client can drive berth)\n\nThe global flags --root, -s/--storage-driver, --config-file, --log-level and -D may also follow the command.",
    usage: "[OPTIONS]",
    aliases: ["berth daemon", "berth -d"],
    maxArgs: 0,
  },
  args: {
    host: {
      type: "string",
      alias: "H",
      multiple: true,
      description: "Daemon socket(s) to listen on: unix://PATH, tcp://HOST:PORT, fd://[NAME] (default unix:///run/berth/berth.sock)",
    },
    group: { type: "string", alias: "G", description: 'Group for the unix socket (default "docker" when it exists, else root only)' },
    pidfile: { type: "string", alias: "p", description: 'Path to use for daemon PID file (default "/run/berth/berth.pid")' },
    tls: { type: "boolean", description: "Use TLS; implied by --tlsverify" },
    tlsverify: { type: "boolean", description: "Use TLS and verify the remote" },
    tlscacert: { type: "string", description: "Trust certs signed only by this CA" },
    tlscert: { type: "string", description: "Path to TLS certificate file" },
    tlskey: { type: "string", description: "Path to TLS key file" },
  },
  async run({ flags, ctx }) {
    const [{ ApiServer, MAX_API_VERSION, MIN_API_VERSION }, { openListeners, closeListeners, groupId }, { routes }] = await Promise.all([
      import("../daemon/server.ts"),
      import("../daemon/listeners.ts"),
      import("../daemon/routes/index.ts"),
    ]);
    const engine = await ctx.engine();
    // a client's registry credentials come in its request (X-Registry-Auth), never from the docker config
    // of the user who started the daemon: dockerd never reads one, and every client of the socket would
    // otherwise push and pull as that user
    engine.images.registryAuthFile = undefined;
    const log = ctx.log;

    // one daemon per pidfile (dockerd's check); the default lives beside the default root only
    const pidfile = typeof flags.pidfile === "string" ? flags.pidfile : ctx.root === DEFAULT_ROOT ? "/run/berth/berth.pid" : join(ctx.root, "berth-daemon.pid");
    if (pidfile) claimPidfile(pidfile);

    let gid: number | undefined;
    if (typeof flags.group === "string") {
      if (flags.group !== "") {
        gid = groupId(flags.group);
        if (gid === undefined) throw new EngineError("not_found", `group ${flags.group} not found`, { hint: "create it (groupadd) or pass --group ''" });
      }
    } else gid = groupId("docker");

    const certDir = ctx.env.DOCKER_CERT_PATH || join(homedir(), ".docker");
    const verify = !!flags.tlsverify;
    const useTls = verify || !!flags.tls || typeof flags.tlscert === "string";
    const tls = useTls
      ? {
          verify,
          ca: typeof flags.tlscacert === "string" ? flags.tlscacert : join(certDir, "ca.pem"),
          cert: typeof flags.tlscert === "string" ? flags.tlscert : join(certDir, "cert.pem"),
          key: typeof flags.tlskey === "string" ? flags.tlskey : join(certDir, "key.pem"),
        }
      : undefined;

    const dctx = { engine, minVersion: MIN_API_VERSION, maxVersion: MAX_API_VERSION, debug: ctx.debug, daemon: ctx.daemon };
    const server = new ApiServer({ ctx: dctx, routes, log });
    const hosts = (flags.host as string[] | undefined)?.length ? (flags.host as string[]) : ["unix:///run/berth/berth.sock"];
    let listeners;
    try {
      listeners = await openListeners(hosts, {
        gid,
        tls,
        activation: { pid: process.pid, env: ctx.env },
        onConnection: (s) => server.handleConnection(s),
      });
    } catch (e) {
      if (pidfile) releasePidfile(pidfile);
      throw e;
    }
    // the activation variables are for this process only (sd_listen_fds' unset_environment)
    delete process.env.LISTEN_PID;
    delete process.env.LISTEN_FDS;
    delete process.env.LISTEN_FDNAMES;
    for (const l of listeners) log.info(`API listen on ${l.address}`);
    log.info(`berth daemon ready (root ${ctx.root}, storage driver ${engine.snapshots.name}, API ${MIN_API_VERSION}–${MAX_API_VERSION})`);

    // dockerd's start: what the restart policies say should run (e.g. after a reboot)
    void engine.containers
      .restore()
      .then((r) => log.debug(`restore: ${JSON.stringify(r)}`))
      .catch((e) => log.warn(`restore: ${(e as Error).message}`));

    // a long-lived process: JSC's normal tier-up (the binary starts at ×4 for short commands, scripts/build.ts)
    Bun.unsafe.setJITPolicy(1);

    // a bug in one request must not take the API down for every client (and never the containers: they have monitors)
    process.on("unhandledRejection", (e) => log.error(`internal error (unhandled rejection): ${(e as Error)?.stack ?? String(e)}`));
    process.on("uncaughtException", (e) => log.error(`internal error (uncaught exception): ${e?.stack ?? String(e)}`));

    const configFile = ctx.daemonConfigFile || DEFAULT_DAEMON_CONFIG;
    process.on("SIGHUP", () => {
      try {
        const loaded = loadDaemonConfig(configFile, !!ctx.daemonConfigFile);
        dctx.daemon = loaded.config;
        engine.images.registryMirrors = loaded.config["registry-mirrors"];
        log.info(`reloaded ${configFile}${loaded.ignored.length ? ` (not supported, ignored: ${loaded.ignored.join(", ")})` : ""}`);
      } catch (e) {
        log.error(`reload ${configFile}: ${(e as Error).message} (the previous configuration stays)`);
      }
    });

    const stopped = Promise.withResolvers<void>();
    let stopping = false;
    const shutdown = async (sig: string) => {
      if (stopping) return;
      stopping = true;
      log.info(`${sig}: draining (containers keep running)`);
      await closeListeners(listeners);
      await server.drain(5000);
      if (pidfile) releasePidfile(pidfile);
      stopped.resolve();
    };
    for (const sig of ["SIGTERM", "SIGINT", "SIGQUIT"] as const) process.on(sig, () => void shutdown(sig));
    await stopped.promise;
    return 0;
  },
});

function claimPidfile(path: string) {
  if (existsSync(path)) {
    const pid = Number(readFileSync(path, "utf8").trim());
    let alive = false;
    if (pid > 0 && pid !== process.pid) {
      try {
        process.kill(pid, 0);
        alive = existsSync(`/proc/${pid}`);
      } catch {
        alive = false; // no such process: a stale pidfile
      }
    }
    if (alive) throw new EngineError("already_exists", `pid file found, ensure berth is not running or delete ${path}`);
  }
  try {
    mkdirSync(dirname(path), { recursive: true, mode: 0o755 });
    writeFileSync(path, String(process.pid));
  } catch (e) {
    throw new EngineError("permission_denied", `write pid file ${path}: ${(e as Error).message}`, { hint: "pass --pidfile PATH" });
  }
}

function releasePidfile(path: string) {
  try {
    if (readFileSync(path, "utf8").trim() === String(process.pid)) unlinkSync(path);
  } catch {
    // gone already: nothing to release
  }
}
