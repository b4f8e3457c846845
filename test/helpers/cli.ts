/**
 * Spawn the CLI the way a user does. BERTH_TEST_BIN=dist selects the compiled binary (scripts/test.sh
 * builds it first and sets this); otherwise the sources run under bun, so a stale dist/berth never
 * hides an edit.
 */
import { afterAll, beforeAll } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { rootEnabled } from "./root.ts";
import { join } from "node:path";

export const repo = join(import.meta.dir, "../..");
export const distBin = join(repo, "dist/berth");
export const useDist = process.env.BERTH_TEST_BIN === "dist";

export function berthArgv(args: string[]): string[] {
  return useDist ? [distBin, ...args] : [process.execPath, join(repo, "src/main.ts"), ...args];
}

export interface CliResult {
  stdout: string;
  stderr: string;
  exitCode: number;
}

export async function berth(
  args: string[],
  opts: { root?: string; stdin?: Uint8Array | string; env?: Record<string, string>; cwd?: string; timeoutMs?: number } = {},
): Promise<CliResult> {
  const argv = berthArgv(opts.root ? ["--root", opts.root, ...args] : args);
  const proc = Bun.spawn(argv, {
    stdin: opts.stdin === undefined ? "ignore" : new Blob([opts.stdin]),
    stdout: "pipe",
    stderr: "pipe",
    cwd: opts.cwd,
    env: { ...process.env, NO_COLOR: "1", ...opts.env },
    timeout: opts.timeoutMs ?? 60_000,
  });
  const [stdout, stderr, exitCode] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  return { stdout, stderr, exitCode };
}

/** a scratch berth root that removes itself (await using) */
export function tempRoot(tag: string): { path: string; [Symbol.dispose](): void } {
  const path = mkdtempSync(`/tmp/berth-test-${tag}-`);
  return { path, [Symbol.dispose]: () => rmSync(path, { recursive: true, force: true }) };
}

/** the busybox image the container suites run: Debian's busybox-static as a rootfs (scripts/busybox-rootfs.sh), imported as busybox:latest */
export async function importBusybox(root: string, env?: Record<string, string>): Promise<void> {
  const tar = join(root, "busybox.tar");
  const p = Bun.spawnSync(["bash", join(repo, "scripts/busybox-rootfs.sh"), tar]);
  if (p.exitCode !== 0) throw new Error(`busybox-rootfs.sh: ${p.stderr}`);
  const r = await berth(["import", "-c", 'CMD ["sh"]', tar, "busybox:latest"], { root, env });
  if (r.exitCode !== 0) throw new Error(`import: ${r.stderr}`);
}

/**
 * A berth root for one test file (root only): busybox imported before its tests; after them every
 * container removed and the root deleted. `run` calls the CLI on that root with the given defaults.
 */
export function busyboxRoot(tag: string, defaults: { timeoutMs?: number; env?: Record<string, string> } = {}) {
  const tr = rootEnabled ? tempRoot(tag) : undefined;
  const root = tr?.path ?? "/nonexistent";
  const run = (args: string[], o: { stdin?: string | Uint8Array; timeoutMs?: number; cwd?: string; env?: Record<string, string> } = {}): Promise<CliResult> =>
    berth(args, { root, ...defaults, ...o });
  beforeAll(async () => {
    if (rootEnabled) await importBusybox(root, defaults.env);
  });
  afterAll(async () => {
    if (!rootEnabled) return;
    const ids = (await run(["ps", "-aq", "--no-trunc"])).stdout.split("\n").filter(Boolean);
    if (ids.length) await run(["rm", "-f", ...ids]);
    tr![Symbol.dispose]();
  });
  return { root, run };
}

/** poll until `cond` holds (not a timing assertion: the deadline only bounds a hang) */
export async function waitUntil(what: string, cond: () => Promise<boolean>, ms = 20_000): Promise<void> {
  for (const end = Date.now() + ms; Date.now() < end; await Bun.sleep(50)) if (await cond()) return;
  throw new Error(`timed out waiting for ${what}`);
}
