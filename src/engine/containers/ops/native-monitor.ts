/**
 * The hand-over between the Bun monitor and the native one (runtime/monitor.c). `berth __monitor`
 * creates the container and records it running as always; then, if the native monitor can serve
 * everything the container needs, handOff() execve()s it in place (same pid and start time, so the
 * recorded MonitorPid stays true, and the container stays its child). It gets the pty master or the
 * pipes, the log options, the attach socket's path, the 127.0.0.11 relay's socket and the health
 * interval, and runs `berth __monitor --probe|--refresh` for probes and orphaned pauses. At the exit it
 * execve()s `berth __monitor --exited STATE ID` with BERTH_MONITOR_EXIT="<wait status> <finishedAt>
 * <session fds>", which records the exit (start.ts finishNativeRun) and goes on as after any run.
 *
 * The 127.0.0.11 relay and the [::] port proxies come as sockets made for it (networking.ts wire). A
 * Bun monitor stays only when something else lives in this process (d.relays). A kill -9 at any point leaves the same as a dead Bun monitor:
 * the next command's refreshState adopts the container or records its exit.
 */
import { closeSync, writeSync } from "node:fs";
import { join } from "node:path";
import { execve, keepAcrossExec } from "../../../ffi/handoff.ts";
import type { ExitInfo } from "../../../runtime/types.ts";
import { frame, F_EXIT } from "../attach-proto.ts";
import { hasHealthcheck, timings } from "../health.ts";
import type { Handoff, Prepared } from "../supervisor.ts";
import type { ContainerDeps } from "./deps.ts";

/** the Bun side's loop state, carried through the native run (monitorMain) */
export interface NativeExit {
  /** waitpid status of the container's PID 1 */
  status: number;
  finishedAt: string;
  /** attach sessions still open, to get the exit frame */
  clients: number[];
  /** the restart policy's last back-off (ms) */
  delay: number;
  /** when this run began (clock ms) */
  began: number;
}

/** BERTH_MONITOR_EXIT + the --exited JSON → NativeExit; undefined when either is malformed */
export function parseNativeExit(env: string | undefined, state: string): NativeExit | undefined {
  const m = /^(-?\d+) (\S+) ?([\d,]*)$/.exec(env ?? "");
  if (!m) return undefined;
  let s: { delay?: number; began?: number };
  try {
    s = JSON.parse(state);
  } catch {
    return undefined; // not ours: the command reports the bad flag
  }
  return {
    status: Number(m[1]),
    finishedAt: m[2]!,
    clients: m[3] ? m[3].split(",").map(Number) : [],
    delay: Number(s.delay) || 0,
    began: Number(s.began) || 0,
  };
}

/** a waitpid status as docker reports it: the exit code, or 128 + the signal */
export function exitInfoOf(status: number): ExitInfo {
  const sig = status & 0x7f;
  if (sig && sig !== 0x7f) return { exitCode: 128 + sig, signal: sig, oomKilled: false };
  return { exitCode: (status >> 8) & 0xff, oomKilled: false };
}

/** the exit frame to each session the native monitor passed on, then close it */
export function closeSessions(fds: number[], exitCode: number): void {
  const f = frame(F_EXIT, String(exitCode));
  for (const fd of fds) {
    try {
      writeSync(fd, f);
    } catch {
      // the session went away meanwhile: nothing to tell it
    }
    try {
      closeSync(fd);
    } catch {} // not open (a bad number in the variable): nothing to close
  }
}

/**
 * Replace this process with the native monitor for the container `p` that just started. Returns only
 * when it cannot (then this process supervises, as before).
 */
export async function handOff(d: ContainerDeps, p: Prepared, h: Handoff, o: { path: string; report: boolean; delay: number; began: number }): Promise<void> {
  const cfg = p.cfg;
  if (d.relays.has(cfg.Id)) return; // port proxies served by this process
  const args = [o.path, "--pid", String(h.pid), "--id", cfg.Id, "--state", join(d.store.dir(cfg.Id), "state.json"), "--sock", h.sock];
  const fds: number[] = [];
  const fd = (flag: string, n: number) => {
    if (n < 0) return;
    args.push(flag, String(n));
    fds.push(n);
  };
  if (h.master >= 0) fd("--master", h.master);
  else {
    fd("--out", h.stdout);
    fd("--err", h.stderr);
  }
  fd("--stdin", h.stdin);
  if (p.log.driver !== "none") {
    args.push("--log", p.logPath, "--max-file", String(p.log.maxFile));
    if (p.log.maxSize !== undefined) args.push("--max-size", String(p.log.maxSize));
  }
  if (h.early) args.push("--early");
  if (o.report) args.push("--report");
  const hc = cfg.Config.Healthcheck;
  if (hasHealthcheck(hc)) args.push("--health-ms", String(Math.max(1, Math.round(timings(hc).interval))));
  if (p.relay) {
    fd("--relay-fd", p.relay.fd);
    args.push("--relay-upstream", p.relay.upstream);
  }
  for (const px of p.proxies ?? []) {
    fds.push(px.fd);
    args.push("--proxy", `${px.fd}:${px.target}:${px.port}`);
  }
  args.push("--exited", JSON.stringify({ delay: o.delay, began: o.began }));
  args.push("--", ...d.self.argv, "--root", d.berthRoot, "__monitor");
  try {
    for (const n of fds) keepAcrossExec(n);
    execve(args, d.self.monitorEnv());
  } catch (e) {
    d.log.warn(`container ${cfg.Id.slice(0, 12)}: native monitor did not start, the Bun monitor stays: ${(e as Error).message}`);
  }
}
