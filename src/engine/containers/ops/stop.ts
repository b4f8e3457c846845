/**
 * `kill`, `stop` and `wait`: signals to a container's PID 1 (canKill / canStop), the SIGKILL after stop's
 * timeout, and the exit code a `wait` gets, even of an --rm container removed meanwhile.
 */
import { mkdirSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { EngineError } from "../../../lib/errors.ts";
import { replaceFile } from "../../../lib/atomic-write.ts";
import { parseSignal } from "../signals.ts";
import { NoSuchContainer } from "../store.ts";
import { canKill, canStop, isActive } from "../types.ts";
import { ev, type ContainerDeps } from "./deps.ts";
import { cancelRestart } from "./restart-policy.ts";
import { reapCgroup, refreshState, safeUpdate, thawQuiet, waitStopped } from "./state.ts";

const exitsDir = (d: ContainerDeps) => join(d.root, ".exits");

/** `kill`: a signal to a running or paused container (a paused one is thawed for SIGKILL) */
export async function kill(d: ContainerDeps, ref: string, signal: string | number = "SIGKILL"): Promise<string> {
  const id = d.store.resolve(ref);
  const sig = typeof signal === "number" ? signal : parseSignal(signal);
  const st = refreshState(d, id);
  if (st.Restarting) {
    await cancelRestart(d, id);
    return id;
  }
  if (!canKill(st.Status) || !st.Pid) throw new EngineError("conflict", `cannot kill container: ${ref}: container ${id} is not running`);
  safeUpdate(d, id, (s) => ({ ...s, ManuallyStopped: true }));
  ev(d, "kill", d.store.readConfig(id), { signal: String(sig) });
  d.runtime.kill(st.Pid, sig);
  if (st.Status === "paused" && sig === 9) thawQuiet(d, id);
  return id;
}

/** SIGTERM (or StopSignal), then SIGKILL after the timeout; returns once stopped */
export async function stop(d: ContainerDeps, ref: string, timeoutSec?: number, signal?: string): Promise<string> {
  const id = d.store.resolve(ref);
  const cfg = d.store.readConfig(id);
  // first: the restart policy must not bring it back (docker's HasBeenManuallyStopped), even when the
  // stop lands between an exit and the policy's next start
  safeUpdate(d, id, (s) => ({ ...s, ManuallyStopped: true }));
  let st = refreshState(d, id);
  if (st.Restarting) {
    await cancelRestart(d, id);
    return id;
  }
  if (!canStop(st.Status)) return id;
  const sig = parseSignal(signal ?? cfg.Config.StopSignal ?? "SIGTERM");
  const timeout = timeoutSec ?? cfg.Config.StopTimeout ?? 10;
  if (st.Pid) d.runtime.kill(st.Pid, sig);
  if (st.Status === "paused") thawQuiet(d, id);
  ev(d, "kill", cfg, { signal: String(sig) });
  if (!(timeout < 0 ? await waitStopped(d, id, Infinity) : await waitStopped(d, id, timeout * 1000))) {
    st = refreshState(d, id);
    if (st.Pid) {
      ev(d, "kill", cfg, { signal: "9" });
      d.runtime.kill(st.Pid, 9);
    }
    reapCgroup(d, cfg);
    await waitStopped(d, id, 10_000);
  }
  ev(d, "stop", cfg);
  return id;
}

/** `wait`: block until stopped; the exit code */
export async function wait(d: ContainerDeps, ref: string): Promise<number> {
  const id = d.store.resolve(ref);
  let last = refreshState(d, id);
  for (let delay = 5; isActive(last.Status); delay = Math.min(delay * 2, 100)) {
    await d.clock.sleep(delay);
    try {
      last = refreshState(d, id);
    } catch (e) {
      // removed (--rm) before we saw it stop: its exit code was left for us
      if (e instanceof NoSuchContainer) return exitOfRemoved(d, id) ?? last.ExitCode;
      throw e;
    }
  }
  return last.ExitCode;
}

/** kept exit codes are grouped by the half-minute they were written in: `.exits/<bucket>/<id>` */
const BUCKET_MS = 30_000;
/** buckets kept: the current one and the two before it, so a code stays for a minute at least */
const BUCKETS_KEPT = 3;

/**
 * An --rm container's exit code outlives its record for a minute (at least), for a `wait` that started before the
 * removal (docker's `wait` of a `run -d --rm` container reports the real code).
 *
 * The codes sit in one directory per half-minute, and old directories go whole, by the write that opens
 * a new one: a `run --rm` costs one mkdir and one file, whatever ran before it. (One flat directory
 * swept by age had every run stat each code of the last minute: 260 stats a run in a loop of runs.)
 */
export function keepExit(d: ContainerDeps, id: string, code: number): void {
  try {
    const bucket = Math.floor(d.clock.now() / BUCKET_MS);
    const dir = join(exitsDir(d), String(bucket));
    // (a recursive mkdir returns the first directory it made, undefined when the bucket was there)
    const opened = mkdirSync(dir, { recursive: true, mode: 0o700 }) !== undefined;
    replaceFile(join(dir, id), String(code));
    if (opened) sweepExits(d, bucket);
  } catch (e) {
    // only a later `wait` misses the code (it then reports the last one it saw)
    d.log.debug(`keep exit code of ${id}: ${(e as Error).message}`);
  }
}

/** the buckets older than the kept ones, and anything else in .exits (a flat file of an older berth) */
function sweepExits(d: ContainerDeps, current: number): void {
  for (const name of readdirSync(exitsDir(d))) {
    const n = /^\d+$/.test(name) ? Number(name) : -1;
    if (n > current - BUCKETS_KEPT) continue;
    // another process may sweep the same bucket at once: rmSync's force takes what is already gone
    rmSync(join(exitsDir(d), name), { recursive: true, force: true });
  }
}

export function exitOfRemoved(d: ContainerDeps, id: string): number | undefined {
  let buckets: string[];
  try {
    buckets = readdirSync(exitsDir(d)).filter((b) => /^\d+$/.test(b));
  } catch {
    return undefined; // no --rm container has exited under this root yet
  }
  // newest first: the same id twice is not possible, but a later write is the one to trust
  for (const b of buckets.sort((x, y) => Number(y) - Number(x))) {
    try {
      const n = Number(readFileSync(join(exitsDir(d), b, id), "utf8"));
      return Number.isInteger(n) ? n : undefined;
    } catch {} // not in this bucket: the next older one
  }
  return undefined; // none kept (not an --rm container, or older than a minute)
}
