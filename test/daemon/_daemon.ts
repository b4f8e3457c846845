/**
 * A berth daemon for one test file (root only): a temp root with busybox imported, `berth daemon` on a
 * unix socket in it, and the real docker CLI (28.x at /usr/local/bin/docker, else Debian's) pointed at
 * it with DOCKER_HOST. After the tests every container is removed, the daemon gets SIGTERM and the root
 * goes.
 */
import { afterAll, beforeAll } from "bun:test";
import { existsSync, mkdirSync, readdirSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import { berth, berthArgv, importBusybox, tempRoot, waitUntil, type CliResult } from "../helpers/cli.ts";
import { rootEnabled } from "../helpers/root.ts";

export const dockerBin = existsSync("/usr/local/bin/docker") ? "/usr/local/bin/docker" : "/usr/bin/docker";
export const haveDocker = existsSync(dockerBin);

/** one HTTP request over a unix socket, answered as the raw bytes (Connection: close) */
export async function rawRequest(sock: string, bytes: string | Uint8Array, timeoutMs = 5000): Promise<string> {
  const chunks: Uint8Array[] = [];
  const done = Promise.withResolvers<void>();
  const s = await Bun.connect({
    unix: sock,
    socket: {
      data(_s, d) {
        chunks.push(Uint8Array.from(d));
      },
      close() {
        done.resolve();
      },
      error() {
        done.resolve();
      },
    },
  });
  s.write(bytes);
  const t = setTimeout(() => s.end(), timeoutMs);
  await done.promise;
  clearTimeout(t);
  return Buffer.concat(chunks).toString("latin1");
}

export async function ping(sock: string): Promise<boolean> {
  try {
    return (await rawRequest(sock, "GET /_ping HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 2000)).endsWith("OK");
  } catch {
    return false; // not listening yet
  }
}

/** a free TCP port on 127.0.0.1 */
export async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, "127.0.0.1", () => r()));
  const port = (srv.address() as { port: number }).port;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

export function fdCount(pid: number): number {
  return readdirSync(`/proc/${pid}/fd`).length;
}

export function daemonFixture(tag: string) {
  const tr = rootEnabled ? tempRoot(tag) : undefined;
  const dir = tr?.path ?? "/nonexistent";
  const root = join(dir, "root");
  const sock = join(dir, "d.sock");
  const config = join(dir, "docker-config");
  const state: { proc?: ReturnType<typeof Bun.spawn>; pid: number } = { pid: 0 };

  const docker = async (args: string[], o: { stdin?: string | Uint8Array; env?: Record<string, string>; timeoutMs?: number } = {}): Promise<CliResult> => {
    const p = Bun.spawn([dockerBin, ...args], {
      stdin: o.stdin === undefined ? "ignore" : new Blob([o.stdin]),
      stdout: "pipe",
      stderr: "pipe",
      env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: dir, DOCKER_HOST: `unix://${sock}`, DOCKER_CONFIG: config, ...o.env },
      timeout: o.timeoutMs ?? 60_000,
    });
    const [stdout, stderr, exitCode] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
    return { stdout, stderr, exitCode };
  };
  const cli = (args: string[], o: { stdin?: string } = {}) => berth(args, { root, ...o });

  beforeAll(async () => {
    if (!rootEnabled) return;
    mkdirSync(config, { recursive: true });
    mkdirSync(root, { recursive: true });
    writeFileSync(join(config, "config.json"), "{}");
    await importBusybox(root);
    const log = Bun.file(join(dir, "daemon.log"));
    state.proc = Bun.spawn(berthArgv(["daemon", "-H", `unix://${sock}`, "--root", root, "--log-level", "debug"]), {
      stdin: "ignore",
      stdout: log,
      stderr: log,
    });
    state.pid = state.proc.pid;
    await waitUntil("the daemon answers /_ping", () => ping(sock), 20_000);
  });

  afterAll(async () => {
    if (!rootEnabled) return;
    const ids = (await cli(["ps", "-aq", "--no-trunc"])).stdout.split("\n").filter(Boolean);
    if (ids.length) await cli(["rm", "-f", ...ids]);
    state.proc?.kill("SIGTERM");
    await state.proc?.exited;
    tr![Symbol.dispose]();
  });

  return { dir, root, sock, docker, cli, state };
}
