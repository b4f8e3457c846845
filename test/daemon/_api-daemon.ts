/**
 * For the image, build, network, volume and other-client tests: the daemon fixture of _daemon.ts (a temp
 * root with busybox imported, `berth daemon` on a unix socket, cleaned up after the file) plus a runner
 * for any client program (the docker CLI, /usr/bin/python3 with python3-docker, docker-compose) with the
 * client environment: DOCKER_HOST, an isolated DOCKER_CONFIG, DOCKER_BUILDKIT=0 (the legacy builder).
 */
import { join } from "node:path";
import type { CliResult } from "../helpers/cli.ts";
import { daemonFixture, dockerBin } from "./_daemon.ts";

export { dockerBin };

export interface RunOptions {
  stdin?: string | Uint8Array;
  env?: Record<string, string>;
  cwd?: string;
  timeoutMs?: number;
}

export function apiDaemon(tag: string) {
  const f = daemonFixture(tag);
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? "/usr/bin:/bin",
    HOME: f.dir,
    DOCKER_HOST: `unix://${f.sock}`,
    DOCKER_CONFIG: join(f.dir, "docker-config"),
    DOCKER_BUILDKIT: "0",
    DOCKER_CLI_HINTS: "false",
  };
  const exec = async (argv: string[], o: RunOptions = {}): Promise<CliResult> => {
    const p = Bun.spawn(argv, {
      stdin: o.stdin === undefined ? "ignore" : new Blob([o.stdin]),
      stdout: "pipe",
      stderr: "pipe",
      cwd: o.cwd,
      env: { ...env, ...o.env },
      timeout: o.timeoutMs ?? 90_000,
    });
    const [stdout, stderr, exitCode] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
    return { stdout, stderr, exitCode };
  };
  return {
    /** the berth root the daemon serves (busybox.tar, the imported rootfs, lies in it) */
    root: f.root,
    /** a scratch directory beside the root, removed with it */
    dir: f.dir,
    sock: f.sock,
    env,
    /** the daemonless berth CLI on the same root */
    berth: f.cli,
    docker: (args: string[], o: RunOptions = {}) => exec([dockerBin, ...args], o),
    exec,
  };
}

/** docker's JSON lines (`--format '{{json .}}'`) */
export function jsonLines<T = Record<string, unknown>>(s: string): T[] {
  return s
    .split("\n")
    .filter(Boolean)
    .map((l) => JSON.parse(l) as T);
}
