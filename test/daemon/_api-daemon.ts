/**
 * For the daemon's client tests: a `berth daemon` on a temp unix socket over a temp root with busybox
 * imported (test/helpers/cli.ts importBusybox), and the real docker CLI pointed at it (/usr/local/bin/docker, else Debian's
 * docker.io client; scripts/deps.sh installs docker.io, python3-docker and docker-compose). Everything the daemon and the clients made is removed after the file: containers
 * through the CLI on the same root, then the daemon is stopped and the root deleted.
 */
import { afterAll, beforeAll } from "bun:test";
import { existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { berth, berthArgv, importBusybox, tempRoot, type CliResult } from "../helpers/cli.ts";
import { rootEnabled } from "../helpers/root.ts";

export const dockerBin = existsSync("/usr/local/bin/docker") ? "/usr/local/bin/docker" : "/usr/bin/docker";

export interface ApiDaemon {
  root: string;
  sock: string;
  /** DOCKER_HOST=unix://… plus an isolated DOCKER_CONFIG for the clients */
  env: Record<string, string>;
  /** the berth CLI on the same root (daemonless) */
  berth(args: string[], o?: { stdin?: string | Uint8Array; env?: Record<string, string>; cwd?: string; timeoutMs?: number }): Promise<CliResult>;
  docker(args: string[], o?: { stdin?: string | Uint8Array; env?: Record<string, string>; cwd?: string; timeoutMs?: number }): Promise<CliResult>;
  /** any program (python3, docker-compose) with the client environment */
  exec(argv: string[], o?: { stdin?: string | Uint8Array; env?: Record<string, string>; cwd?: string; timeoutMs?: number }): Promise<CliResult>;
}

/** a daemon for one test file; its fields are filled in beforeAll */
export function apiDaemon(tag: string): ApiDaemon {
  const tr = rootEnabled ? tempRoot(tag) : undefined;
  const root = tr?.path ?? "/nonexistent";
  const sock = join(root, "api.sock");
  const env: Record<string, string> = {
    DOCKER_HOST: `unix://${sock}`,
    DOCKER_CONFIG: join(root, "docker-config"),
    DOCKER_BUILDKIT: "0",
    DOCKER_CLI_HINTS: "false",
    NO_COLOR: "1",
  };
  let proc: Bun.Subprocess | undefined;
  let stderr = "";
  const exec: ApiDaemon["exec"] = async (argv, o = {}) => {
    const p = Bun.spawn(argv, {
      stdin: o.stdin === undefined ? "ignore" : new Blob([o.stdin]),
      stdout: "pipe",
      stderr: "pipe",
      cwd: o.cwd,
      env: { ...process.env, ...env, ...o.env },
      timeout: o.timeoutMs ?? 90_000,
    });
    const [stdout, err, exitCode] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
    return { stdout, stderr: err, exitCode };
  };
  const d: ApiDaemon = {
    root,
    sock,
    env,
    berth: (args, o = {}) => berth(args, { root, ...o }),
    docker: (args, o) => exec([dockerBin, ...args], o),
    exec,
  };
  beforeAll(async () => {
    if (!rootEnabled) return;
    await importBusybox(root);
    mkdirSync(env.DOCKER_CONFIG!, { recursive: true });
    proc = Bun.spawn(berthArgv(["daemon", "-H", `unix://${sock}`, "--root", root, "--group", ""]), {
      stdin: "ignore",
      stdout: "ignore",
      stderr: "pipe",
      env: { ...process.env, NO_COLOR: "1" },
    });
    void new Response(proc.stderr as ReadableStream).text().then((t) => (stderr = t));
    for (const end = Date.now() + 20_000; ; await Bun.sleep(25)) {
      try {
        const r = await fetch("http://localhost/_ping", { unix: sock } as RequestInit);
        if (r.ok) break;
      } catch {} // not listening yet
      if (proc.exitCode !== null || Date.now() > end) throw new Error(`berth daemon did not start: ${stderr}`);
    }
  });
  afterAll(async () => {
    if (!tr) return;
    if (proc) {
      const ids = (await d.docker(["ps", "-aq", "--no-trunc"])).stdout.split("\n").filter(Boolean);
      if (ids.length) await d.docker(["rm", "-f", ...ids]);
      proc.kill("SIGTERM");
      await proc.exited;
    }
    // whatever the daemon left (a failed test's containers) goes through the daemonless CLI
    const left = (await d.berth(["ps", "-aq", "--no-trunc"])).stdout.split("\n").filter(Boolean);
    if (left.length) await d.berth(["rm", "-f", ...left]);
    tr[Symbol.dispose]();
  });
  return d;
}

/** docker's JSON lines (`--format '{{json .}}'`) */
export function jsonLines<T = Record<string, unknown>>(s: string): T[] {
  return s
    .split("\n")
    .filter(Boolean)
    .map((l) => JSON.parse(l) as T);
}
