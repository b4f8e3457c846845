/**
 * runc's command line (issue 14): `berth oci <command>` and, when the binary runs as `berth-runc` (or
 * `runc`), the same without the prefix, so containerd's runc shim, conmon (podman) and dockerd can drive
 * berth as their OCI runtime. Flags are runc's (urfave/cli spellings: -x, --xx, --xx=v), not docker's,
 * so this front door has its own small parser. Errors are reported as runc reports them (a logrus line
 * on stderr, or JSON/text in --log with the bare message on stderr), exit status 1.
 */
import { existsSync, lstatSync, mkdirSync, readFileSync, symlinkSync, unlinkSync, writeFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { EngineError } from "../../lib/errors.ts";
import { getWinsize, isatty, loadOciRuntime, makeRaw, setWinsize, useChildSignal, type OciProcess, type OciResources } from "../../engine/index.ts";
import { closeSync, createReadStream, writeSync } from "node:fs";
import { VERSION } from "../../version.ts";

export interface OciIo {
  out(s: string): void;
  err(s: string): void;
  /** the caller's working directory (bundle paths are relative to it) */
  cwd: string;
  /** the path of this executable (for install-link) */
  execPath: string;
  /** stdin, read whole (update -r -) */
  readStdin(): Promise<string>;
}

type FlagType = "bool" | "string" | "strings" | "int";
interface FlagDef {
  type: FlagType;
  alias?: string;
}
type Flags = Record<string, FlagDef>;
type Parsed = { flags: Record<string, string | boolean | string[] | number>; args: string[] };

class OciUsage extends Error {}

/** urfave/cli v1: flags before positionals; `stopAt` positionals end flag parsing (exec's command) */
function parse(argv: string[], defs: Flags, stopAt = Infinity): Parsed {
  const flags: Parsed["flags"] = {};
  const args: string[] = [];
  const byName = new Map<string, [string, FlagDef]>();
  for (const [k, d] of Object.entries(defs)) {
    byName.set(k, [k, d]);
    if (d.alias) byName.set(d.alias, [k, d]);
  }
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (args.length >= stopAt) {
      args.push(a);
      continue;
    }
    if (a === "--") {
      args.push(...argv.slice(i + 1));
      break;
    }
    if (!a.startsWith("-") || a === "-") {
      args.push(a);
      continue;
    }
    const body = a.replace(/^--?/, "");
    const eq = body.indexOf("=");
    const name = eq < 0 ? body : body.slice(0, eq);
    const hit = byName.get(name);
    if (!hit) throw new OciUsage(`flag provided but not defined: -${name}`);
    const [key, d] = hit;
    let value: string | undefined = eq < 0 ? undefined : body.slice(eq + 1);
    if (d.type === "bool") {
      flags[key] = value === undefined ? true : value === "true" || value === "1";
      continue;
    }
    if (value === undefined) {
      if (i + 1 >= argv.length) throw new OciUsage(`flag needs an argument: -${name}`);
      value = argv[++i]!;
    }
    if (d.type === "strings") flags[key] = [...((flags[key] as string[]) ?? []), value];
    else if (d.type === "int") {
      if (!/^-?\d+$/.test(value)) throw new OciUsage(`invalid value "${value}" for flag -${name}: parse error`);
      flags[key] = Number(value);
    } else flags[key] = value;
  }
  return { flags, args };
}

const GLOBAL: Flags = {
  root: { type: "string" },
  log: { type: "string" },
  "log-format": { type: "string" },
  "systemd-cgroup": { type: "bool" },
  debug: { type: "bool" },
  rootless: { type: "string" },
  criu: { type: "string" },
  version: { type: "bool", alias: "v" },
  help: { type: "bool", alias: "h" },
};

const CREATE: Flags = {
  bundle: { type: "string", alias: "b" },
  "console-socket": { type: "string" },
  "pid-file": { type: "string" },
  "no-pivot": { type: "bool" },
  "no-new-keyring": { type: "bool" },
  "preserve-fds": { type: "int" },
};

const COMMANDS: Record<string, { flags: Flags; usage: string; stopAt?: number }> = {
  create: { flags: CREATE, usage: "create [command options] <container-id>" },
  run: { flags: { ...CREATE, detach: { type: "bool", alias: "d" }, keep: { type: "bool" } }, usage: "run [command options] <container-id>" },
  start: { flags: {}, usage: "start <container-id>" },
  state: { flags: {}, usage: "state <container-id>" },
  kill: { flags: { all: { type: "bool", alias: "a" } }, usage: "kill [command options] <container-id> [signal]" },
  delete: { flags: { force: { type: "bool", alias: "f" } }, usage: "delete [command options] <container-id>" },
  exec: {
    flags: {
      "console-socket": { type: "string" },
      cwd: { type: "string" },
      env: { type: "strings", alias: "e" },
      tty: { type: "bool", alias: "t" },
      user: { type: "string", alias: "u" },
      "additional-gids": { type: "strings", alias: "g" },
      process: { type: "string", alias: "p" },
      detach: { type: "bool", alias: "d" },
      "pid-file": { type: "string" },
      "process-label": { type: "string" },
      apparmor: { type: "string" },
      "no-new-privs": { type: "bool" },
      cap: { type: "strings", alias: "c" },
      "preserve-fds": { type: "int" },
      cgroup: { type: "strings" },
      "ignore-paused": { type: "bool" },
    },
    usage: "exec [command options] <container-id> <command> [command options]",
    stopAt: 1,
  },
  ps: { flags: { format: { type: "string", alias: "f" } }, usage: "ps [command options] <container-id> [ps options]", stopAt: 1 },
  pause: { flags: {}, usage: "pause <container-id>" },
  resume: { flags: {}, usage: "resume <container-id>" },
  events: { flags: { stats: { type: "bool" }, interval: { type: "string" } }, usage: "events [command options] <container-id>" },
  update: {
    flags: {
      resources: { type: "string", alias: "r" },
      memory: { type: "string" },
      "memory-swap": { type: "string" },
      "memory-reservation": { type: "string" },
      "cpu-shares": { type: "string" },
      "cpu-quota": { type: "string" },
      "cpu-period": { type: "string" },
      "cpuset-cpus": { type: "string" },
      "cpuset-mems": { type: "string" },
      "pids-limit": { type: "string" },
      "blkio-weight": { type: "string" },
    },
    usage: "update [command options] <container-id>",
  },
  list: { flags: { format: { type: "string", alias: "f" }, quiet: { type: "bool", alias: "q" } }, usage: "list [command options]" },
  spec: { flags: { bundle: { type: "string", alias: "b" }, rootless: { type: "bool" } }, usage: "spec [command options]" },
  features: { flags: {}, usage: "features" },
  "install-link": { flags: {}, usage: "install-link [PATH]  (a berth-runc symlink to this binary; default /usr/local/bin/berth-runc)" },
};

function usage(prog: string): string {
  return [
    "NAME:",
    `   ${prog} - berth as an OCI runtime (runc's command line)`,
    "",
    "USAGE:",
    `   ${prog} [global options] command [command options] [arguments...]`,
    "",
    "COMMANDS:",
    ...Object.values(COMMANDS).map((c) => `   ${c.usage}`),
    "",
    "GLOBAL OPTIONS:",
    "   --debug                 enable debug logging",
    "   --log value             set the log file to write runtime logs to (default: stderr)",
    "   --log-format value      set the log format ('text' (default), or 'json')",
    `   --root value            root directory for storage of container state (default: "${oci.DEFAULT_OCI_ROOT}")`,
    "   --systemd-cgroup        not supported: berth manages cgroupfs directly",
    "   --version, -v           print the version",
    "",
  ].join("\n");
}

function versionText(prog: string): string {
  return `${prog} version ${VERSION}\nspec: ${oci.OCI_VERSION}\n`;
}

/** one log line in runc's formats (logrus text or JSON) */
function logLine(format: string, level: string, msg: string): string {
  const time = new Date().toISOString().replace(/\.\d{3}Z$/, "Z");
  if (format === "json") return `${JSON.stringify({ level, msg, time })}\n`;
  return `time="${time}" level=${level} msg=${JSON.stringify(msg)}\n`;
}

/** runc's exact wording where callers match on it */
function messageOf(e: unknown): string {
  if (e instanceof EngineError) return e.message;
  if (e instanceof Error) return e.message;
  return String(e);
}

/** `argv` after the program name (or after `berth oci`) → exit status */
/** the engine's OCI runtime, loaded by runOci (the engine loads it for this front door only) */
let oci: Awaited<ReturnType<typeof loadOciRuntime>>;

export async function runOci(prog: string, argv: string[], io: OciIo): Promise<number> {
  oci ??= await loadOciRuntime();
  // `run` and `exec` wait for their process: woken by SIGCHLD, as the engine's waits are (main.ts)
  useChildSignal((listener) => {
    process.on("SIGCHLD", listener);
    return () => process.off("SIGCHLD", listener);
  });
  let g: Parsed;
  // global flags: everything up to the first word that is not a flag
  let i = 0;
  while (i < argv.length && argv[i]!.startsWith("-")) {
    const name = argv[i]!.replace(/^--?/, "").split("=")[0]!;
    const d = GLOBAL[name] ?? Object.values(GLOBAL).find((x) => x.alias === name);
    i += d && d.type !== "bool" && !argv[i]!.includes("=") ? 2 : 1;
  }
  try {
    g = parse(argv.slice(0, i), GLOBAL);
  } catch (e) {
    io.err(`${(e as Error).message}\n`);
    return 1;
  }
  const logFile = g.flags.log as string | undefined;
  const logFormat = (g.flags["log-format"] as string | undefined) ?? "text";
  const debug = !!g.flags.debug;
  const log = (level: "debug" | "warn" | "error", msg: string) => {
    if (level === "debug" && !debug) return;
    const line = logLine(logFormat, level === "warn" ? "warning" : level, msg);
    if (logFile) {
      try {
        writeFileSync(logFile, line, { flag: "a" });
        return;
      } catch {} // an unwritable log file: the line goes to stderr instead
    }
    io.err(logLine("text", level === "warn" ? "warning" : level, msg));
  };
  const fatal = (e: unknown): number => {
    const msg = messageOf(e);
    log("error", msg);
    if (logFile) io.err(`${msg}\n`);
    return 1;
  };
  if (logFormat !== "text" && logFormat !== "json") return fatal(new Error(`invalid log-format: ${logFormat}`));
  if (g.flags.version) {
    io.out(versionText(prog));
    return 0;
  }
  const rest = argv.slice(i);
  const name = rest[0];
  if (!name || g.flags.help || name === "help") {
    io.out(usage(prog));
    return 0;
  }
  const cmd = COMMANDS[name];
  if (!cmd) return fatal(new Error(`No help topic for '${name}'`));
  if (g.flags["systemd-cgroup"])
    return fatal(
      new EngineError("not_implemented", "systemd cgroup flag passed, but systemd support for managing cgroups is not available", {
        hint: "configure the caller for cgroupfs (containerd: SystemdCgroup = false; podman: --cgroup-manager cgroupfs)",
      }),
    );
  let p: Parsed;
  try {
    p = parse(rest.slice(1), { ...cmd.flags, help: { type: "bool", alias: "h" } }, cmd.stopAt);
  } catch (e) {
    io.err(`Incorrect Usage: ${(e as Error).message}\n\n${prog} ${cmd.usage}\n`);
    return 1;
  }
  if (p.flags.help) {
    io.out(`USAGE:\n   ${prog} ${cmd.usage}\n`);
    return 0;
  }
  const rt = new oci.OciRuntime({ root: resolve(io.cwd, (g.flags.root as string) || oci.DEFAULT_OCI_ROOT), log: (l, m) => log(l, m) });
  const id = p.args[0] ?? "";
  const needId = () => {
    if (!id) throw new OciUsage(`"${name}" requires a minimum of 1 argument`);
  };
  const bundleOf = (b: unknown) => resolve(io.cwd, (b as string) || ".");
  try {
    log("debug", `${name} ${p.args.join(" ")}`);
    switch (name) {
      case "create": {
        needId();
        await rt.create({
          id,
          bundle: bundleOf(p.flags.bundle),
          pidFile: p.flags["pid-file"] ? resolve(io.cwd, p.flags["pid-file"] as string) : undefined,
          consoleSocket: p.flags["console-socket"] as string | undefined,
          preserveFds: (p.flags["preserve-fds"] as number | undefined) ?? 0,
        });
        return 0;
      }
      case "run": {
        needId();
        let session: ReturnType<typeof relay> | undefined;
        const detach = !!p.flags.detach;
        const onConsole = !detach && !p.flags["console-socket"] ? (fd: number) => void (session = relay(fd)) : undefined;
        // runc forwards the signals it gets to the container it waits for
        const unforward = detach ? () => {} : forwardSignals((sig) => rt.kill(id, sig, false));
        try {
          return await rt.run({
            onConsole,
            id,
            bundle: bundleOf(p.flags.bundle),
            pidFile: p.flags["pid-file"] ? resolve(io.cwd, p.flags["pid-file"] as string) : undefined,
            consoleSocket: p.flags["console-socket"] as string | undefined,
            preserveFds: (p.flags["preserve-fds"] as number | undefined) ?? 0,
            detach,
            keep: !!p.flags.keep,
          });
        } finally {
          unforward();
          await session?.done();
        }
      }
      case "start":
        needId();
        await rt.start(id);
        return 0;
      case "state":
        needId();
        io.out(`${JSON.stringify(rt.state(id), null, "  ")}\n`);
        return 0;
      case "kill":
        needId();
        rt.kill(id, p.args[1] ?? "SIGTERM", !!p.flags.all);
        return 0;
      case "delete":
        needId();
        for (const x of p.args) await rt.delete(x, !!p.flags.force);
        return 0;
      case "exec": {
        needId();
        let procJson: OciProcess | undefined;
        if (p.flags.process) {
          const text = p.flags.process === "-" ? await io.readStdin() : readFileSync(resolve(io.cwd, p.flags.process as string), "utf8");
          try {
            procJson = JSON.parse(text) as OciProcess;
          } catch (e) {
            throw new EngineError("invalid_argument", `parse process.json: ${(e as Error).message}`);
          }
        }
        let session: ReturnType<typeof relay> | undefined;
        const detach = !!p.flags.detach;
        const r = await rt.exec(id, {
          onConsole: !detach && !p.flags["console-socket"] ? (fd: number) => void (session = relay(fd)) : undefined,
          process: procJson,
          args: p.args.slice(1),
          env: p.flags.env as string[] | undefined,
          cwd: p.flags.cwd as string | undefined,
          user: p.flags.user as string | undefined,
          caps: p.flags.cap as string[] | undefined,
          additionalGids: ((p.flags["additional-gids"] as string[] | undefined) ?? []).flatMap((g) => g.split(",")).map(Number),
          tty: !!p.flags.tty,
          noNewPrivs: !!p.flags["no-new-privs"],
          consoleSocket: p.flags["console-socket"] as string | undefined,
          pidFile: p.flags["pid-file"] ? resolve(io.cwd, p.flags["pid-file"] as string) : undefined,
          detach,
          preserveFds: (p.flags["preserve-fds"] as number | undefined) ?? 0,
        });
        const unforward = r.wait ? forwardSignals((sig) => void process.kill(r.pid, sig)) : () => {};
        try {
          return r.wait ? await r.wait() : 0;
        } finally {
          unforward();
          await session?.done();
        }
      }
      case "ps": {
        needId();
        const pids = rt.pids(id);
        if (p.flags.format === "json") {
          io.out(`${JSON.stringify(pids)}\n`);
          return 0;
        }
        if (p.flags.format && p.flags.format !== "table") throw new EngineError("invalid_argument", `invalid format option`);
        const ps = Bun.spawnSync(["ps", ...(p.args.length > 1 ? p.args.slice(1) : ["-ef"])], { stdout: "pipe", stderr: "inherit" });
        const lines = ps.stdout.toString().split("\n");
        const head = lines[0] ?? "";
        const col = head.trim().split(/\s+/).indexOf("PID");
        if (col < 0) throw new EngineError("internal", "couldn't find PID field in ps output");
        io.out(`${head}\n`);
        for (const l of lines.slice(1)) if (l && pids.includes(Number(l.trim().split(/\s+/)[col]))) io.out(`${l}\n`);
        return 0;
      }
      case "pause":
        needId();
        rt.pause(id);
        return 0;
      case "resume":
        needId();
        rt.resume(id);
        return 0;
      case "events": {
        needId();
        if (p.flags.stats) {
          io.out(`${JSON.stringify(rt.stats(id))}\n`);
          return 0;
        }
        const every = parseDuration((p.flags.interval as string | undefined) ?? "5s");
        for (;;) {
          if (rt.state(id).status === "stopped") return 0;
          io.out(`${JSON.stringify(rt.stats(id))}\n`);
          await Bun.sleep(every);
        }
      }
      case "update": {
        needId();
        let r: OciResources = {};
        const file = p.flags.resources as string | undefined;
        if (file) {
          const text = file === "-" ? await io.readStdin() : readFileSync(resolve(io.cwd, file), "utf8");
          try {
            r = JSON.parse(text) as OciResources;
          } catch (e) {
            throw new EngineError("invalid_argument", `unable to parse resources: ${(e as Error).message}`);
          }
        }
        const n = (k: string) => (p.flags[k] === undefined ? undefined : parseSize(String(p.flags[k])));
        const mem = { limit: n("memory"), swap: n("memory-swap"), reservation: n("memory-reservation") };
        if (Object.values(mem).some((v) => v !== undefined)) r.memory = { ...r.memory, ...clean(mem) };
        const cpu = {
          shares: n("cpu-shares"),
          quota: n("cpu-quota"),
          period: n("cpu-period"),
          cpus: p.flags["cpuset-cpus"] as string | undefined,
          mems: p.flags["cpuset-mems"] as string | undefined,
        };
        if (Object.values(cpu).some((v) => v !== undefined)) r.cpu = { ...r.cpu, ...clean(cpu) };
        if (n("pids-limit") !== undefined) r.pids = { limit: n("pids-limit")! };
        if (n("blkio-weight") !== undefined) r.blockIO = { ...r.blockIO, weight: n("blkio-weight")! };
        rt.update(id, r);
        return 0;
      }
      case "list": {
        const all = rt.list();
        if (p.flags.quiet) {
          for (const s of all) io.out(`${s.id}\n`);
          return 0;
        }
        if (p.flags.format === "json") {
          io.out(`${all.length ? JSON.stringify(all) : "null"}\n`);
          return 0;
        }
        const rows = [["ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"], ...all.map((s) => [s.id, String(s.pid), s.status, s.bundle, s.created, s.owner])];
        const w = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
        for (const r of rows) io.out(`${r.map((x, c) => (c === r.length - 1 ? x : x.padEnd(w[c]! + 4))).join("")}\n`);
        return 0;
      }
      case "spec": {
        const dir = bundleOf(p.flags.bundle);
        const file = `${dir}/config.json`;
        if (existsSync(file)) throw new EngineError("already_exists", "File config.json exists. Remove it first");
        if (p.flags.rootless) throw new EngineError("not_implemented", "rootless containers are not supported by berth");
        writeFileSync(file, JSON.stringify(oci.defaultSpec(), null, "\t"));
        return 0;
      }
      case "features":
        io.out(`${JSON.stringify(oci.features(VERSION), null, "    ")}\n`);
        return 0;
      case "install-link": {
        const target = resolve(io.cwd, p.args[0] ?? "/usr/local/bin/berth-runc");
        mkdirSync(dirname(target), { recursive: true });
        try {
          if (lstatSync(target).isSymbolicLink()) unlinkSync(target);
          else throw new EngineError("already_exists", `${target} exists and is not a symlink`);
        } catch (e) {
          if (e instanceof EngineError) throw e;
        } // ENOENT: nothing to replace
        symlinkSync(io.execPath, target);
        io.out(`${target} -> ${io.execPath}\n`);
        return 0;
      }
    }
    return fatal(new Error(`No help topic for '${name}'`));
  } catch (e) {
    if (e instanceof OciUsage) {
      io.err(`${e.message}\n\nUSAGE:\n   ${prog} ${cmd.usage}\n`);
      return 1;
    }
    return fatal(e);
  }
}

/**
 * runc's own terminal for a foreground `run`/`exec` without --console-socket: the user's terminal goes
 * raw, its bytes go to the pty master, the master's output to stdout, SIGWINCH resizes. `done()` waits
 * for the output to drain (EIO once the last slave closes), restores the terminal and closes the master.
 */
function relay(master: number): { done(): Promise<void> } {
  const local = isatty(0);
  const restore = local ? makeRaw(0) : undefined;
  const size = () => {
    const s = getWinsize(1) ?? getWinsize(0);
    if (s) setWinsize(master, s);
  };
  if (local) {
    size();
    process.on("SIGWINCH", size);
  }
  const onIn = (d: Buffer) => {
    try {
      writeSync(master, d);
    } catch {} // the container is gone: nothing reads the terminal any more
  };
  process.stdin.on("data", onIn);
  const out = createReadStream("", { fd: master, autoClose: false });
  const drained = new Promise<void>((resolve) => {
    out.on("data", (d) => void process.stdout.write(d));
    out.on("end", resolve);
    out.on("error", () => resolve()); // EIO: the last slave closed
  });
  return {
    async done() {
      await Promise.race([drained, Bun.sleep(500)]);
      process.stdin.off("data", onIn);
      process.stdin.pause();
      if (local) process.off("SIGWINCH", size);
      restore?.();
      out.destroy();
      try {
        closeSync(master);
      } catch {} // the stream closed it already (EBADF)
    },
  };
}

const FORWARDED = ["SIGINT", "SIGTERM", "SIGHUP", "SIGQUIT", "SIGUSR1", "SIGUSR2"] as const;

/** pass these signals on to the container's process while a foreground run/exec waits for it */
function forwardSignals(send: (sig: string) => void): () => void {
  const handlers = FORWARDED.map((sig) => {
    const h = () => {
      try {
        send(sig);
      } catch {} // not created yet, or gone already: nothing to forward to
    };
    process.on(sig, h);
    return [sig, h] as const;
  });
  return () => {
    for (const [sig, h] of handlers) process.off(sig, h);
  };
}

function clean<T extends Record<string, unknown>>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}

/** runc's update sizes: plain bytes or 512k/64m/1g (docker units) */
function parseSize(s: string): number {
  const m = /^(-?\d+)([kmgt]?)b?$/i.exec(s.trim());
  if (!m) throw new EngineError("invalid_argument", `invalid value ${JSON.stringify(s)}`);
  const mult = { "": 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 }[m[2]!.toLowerCase() as "" | "k" | "m" | "g" | "t"];
  return Number(m[1]) * mult;
}

function parseDuration(s: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(s);
  if (!m) throw new EngineError("invalid_argument", `invalid interval ${JSON.stringify(s)}`);
  return Number(m[1]) * (m[2] === "ms" ? 1 : m[2] === "m" ? 60000 : 1000);
}
