/**
 * A berth daemon for one client-mode test file (root only): a temp root with busybox imported, `berth
 * daemon` on a unix socket in it (and on a free loopback TCP port), and `client(args)` running the berth CLI as a client of it (-H) with a
 * context store of its own, `local(args)` the daemonless CLI on the same root. Afterwards every container
 * is removed, the daemon gets SIGTERM and the root goes.
 */
import { afterAll, beforeAll } from "bun:test";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { berth, berthArgv, importBusybox, tempRoot, waitUntil, type CliResult } from "../helpers/cli.ts";
import { rootEnabled } from "../helpers/root.ts";

/** does the daemon answer /_ping on `sock`? */
export async function ping(sock: string): Promise<boolean> {
  try {
    const r = await fetch("http://d/_ping", { unix: sock } as RequestInit);
    return (await r.text()) === "OK";
  } catch {
    return false; // not listening yet
  }
}

/** a free TCP port on 127.0.0.1 */
export async function freePort(): Promise<number> {
  const s = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
  const port = s.port;
  s.stop(true);
  return port;
}

export function clientFixture(tag: string) {
  const tr = rootEnabled ? tempRoot(tag) : undefined;
  const dir = tr?.path ?? "/nonexistent";
  const root = join(dir, "root");
  const sock = join(dir, "d.sock");
  const config = join(dir, "berth-config");
  const state: { proc?: ReturnType<typeof Bun.spawn>; port: number } = { port: 0 };
  type Opts = { stdin?: string | Uint8Array; env?: Record<string, string>; timeoutMs?: number; cwd?: string };
  /** berth as a client of the fixture's daemon */
  const client = (args: string[], o: Opts = {}): Promise<CliResult> =>
    berth(["-H", `unix://${sock}`, ...args], { ...o, env: { BERTH_CONFIG: config, ...o.env } });
  /** berth without a daemon, on the daemon's root */
  const local = (args: string[], o: Opts = {}): Promise<CliResult> => berth(args, { root, ...o, env: { BERTH_CONFIG: config, ...o.env } });

  beforeAll(async () => {
    if (!rootEnabled) return;
    mkdirSync(root, { recursive: true });
    mkdirSync(config, { recursive: true });
    await importBusybox(root);
    const log = Bun.file(join(dir, "daemon.log"));
    state.port = await freePort();
    state.proc = Bun.spawn(berthArgv(["--root", root, "daemon", "-H", `unix://${sock}`, "-H", `tcp://127.0.0.1:${state.port}`]), {
      stdin: "ignore",
      stdout: log,
      stderr: log,
    });
    await waitUntil("the daemon answers /_ping", () => ping(sock), 20_000);
  });

  afterAll(async () => {
    if (!rootEnabled) return;
    const ids = (await local(["ps", "-aq", "--no-trunc"])).stdout.split("\n").filter(Boolean);
    if (ids.length) await local(["rm", "-f", ...ids]);
    state.proc?.kill("SIGTERM");
    await state.proc?.exited;
    tr![Symbol.dispose]();
  });

  return { dir, root, sock, config, client, local, state };
}
