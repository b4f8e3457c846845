/**
 * Spawning and timing one command.
 *
 * Why not hyperfine: hyperfine runs all runs of command A, then all of B, so it cannot interleave
 * berth, peer, berth, peer … (what makes the paired ratios drift-proof), and it reports no per-run
 * peak RSS. Instead each run is one Bun.spawnSync timed with process.hrtime.bigint(): spawnSync blocks,
 * so no event-loop latency lands in the figure, and the same spawn overhead is paid by both sides.
 *
 * Peak RSS comes from the kernel's accounting of the whole waited-for process tree: `/usr/bin/time -f %M`
 * (Debian package `time`) reports ru_maxrss from wait4(2), which folds in every waited-for descendant.
 * Bun's own spawn rusage cannot be used: Bun starts children with vfork/posix_spawn, and at execve the
 * kernel charges the old mm's high-water mark to the child (exec_mmap → setmax_mm_hiwater_rss), so every
 * child would report at least Bun's own ~28 MB (seen here: `crun run` "28.5 MB" against 3.3 MB under time).
 * /usr/bin/time is a small C program that forks, so its child starts from ~1–2 MB.
 * The wrapper costs about a millisecond, so the millisecond-scale scenarios take RSS from separate untimed
 * probe runs (Side.rssProbe) and only the long operations are wrapped inline (RunOptions.timeRss).
 * Daemonised helpers (dockerd, containerd, conmon) are not waited for by the client and are measured
 * separately (VmHWM).
 */

import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";

export interface RunResult {
  ok: boolean;
  code: number | null;
  ms: number;
  /** peak RSS of the waited-for process tree, kB (0 when unknown) */
  rssKb: number;
  stdout: string;
  stderr: string;
  timedOut: boolean;
}

export interface RunOptions {
  cwd?: string;
  env?: Record<string, string | undefined>;
  timeoutMs?: number;
  stdin?: "ignore";
  /** wrap in /usr/bin/time -f %M to get the tree's peak RSS (adds ~1 ms to the timed window) */
  timeRss?: boolean;
}

const TIME = "/usr/bin/time";
let rssSeq = 0;

export function runCmd(cmd: readonly string[], opts: RunOptions = {}): RunResult {
  const env = opts.env ? { ...process.env, ...opts.env } : process.env;
  const rssFile = opts.timeRss && existsSync(TIME) ? `/tmp/berth-bench-rss-${process.pid}-${rssSeq++}` : null;
  if (rssFile) cmd = [TIME, "-f", "%M", "-o", rssFile, ...cmd];
  const t0 = process.hrtime.bigint();
  let p;
  try {
    p = Bun.spawnSync([...cmd], {
      cwd: opts.cwd,
      env: env as Record<string, string>,
      stdin: "ignore",
      stdout: "pipe",
      stderr: "pipe",
      timeout: opts.timeoutMs ?? 300_000,
      killSignal: "SIGKILL",
    });
  } catch (e) {
    // e.g. ENOENT for a missing executable
    return { ok: false, code: null, ms: 0, rssKb: 0, stdout: "", stderr: (e as Error).message, timedOut: false };
  }
  const t1 = process.hrtime.bigint();
  let rssKb = 0;
  if (rssFile) {
    try {
      // "Command exited with non-zero status N" may precede the figure
      rssKb = Number(readFileSync(rssFile, "utf8").trim().split("\n").pop()) || 0;
      rmSync(rssFile, { force: true });
    } catch {
      /* killed before time wrote it */
    }
  }
  const timedOut = !!p.exitedDueToTimeout;
  return {
    ok: p.exitCode === 0 && !timedOut,
    code: p.exitCode,
    ms: Number(t1 - t0) / 1e6,
    rssKb,
    stdout: p.stdout?.toString() ?? "",
    stderr: (p.stderr?.toString() ?? "") + (timedOut ? `\ntimed out after ${opts.timeoutMs ?? 300_000} ms` : ""),
    timedOut,
  };
}

/** First non-empty line of a command's complaint, for "berth failed: …" cells. */
export function firstLine(r: Pick<RunResult, "stderr" | "stdout" | "code">): string {
  const lines = (r.stderr + "\n" + r.stdout)
    .split("\n")
    .map((l) => l.replace(/\x1b\[[0-9;]*m/g, "").trim())
    // `bun run` echoes the script ("$ bun scripts/build.ts") before anything useful
    .filter((l) => l.length > 0 && !l.startsWith("$ "));
  // a bun stack trace prints source lines first; its "error: …" line is the message
  // (Bun's ShellError embeds the child's stderr JSON-escaped, so also look behind a literal "\\n")
  const m = (r.stderr + "\n" + r.stdout).match(/(?:^|\n|\\n)\s*error: (.*?)(?=\\n|\n|$)/);
  const line = m ? `error: ${m[1]!.replace(/\\"/g, '"').trim()}` : lines[0];
  const s = line ?? `exit status ${r.code}`;
  return s.length > 110 ? s.slice(0, 107) + "…" : s;
}

/** Run something that must work (setup steps); throws with the first stderr line. */
export function must(cmd: readonly string[], opts: RunOptions = {}): string {
  const r = runCmd(cmd, opts);
  if (!r.ok) throw new Error(`${cmd.slice(0, 3).join(" ")}: ${firstLine(r)}`);
  return r.stdout;
}

export function which(cmd: string): string | null {
  return Bun.which(cmd);
}

export function log(msg: string): void {
  const t = new Date().toISOString().slice(11, 19);
  process.stderr.write(`[bench ${t}] ${msg}\n`);
}

/** VmHWM / VmRSS of a process in kB (0 when gone). */
export function procStatusKb(pid: number, field: "VmHWM" | "VmRSS"): number {
  try {
    const s = readFileSync(`/proc/${pid}/status`, "utf8");
    const m = s.match(new RegExp(`^${field}:\\s+(\\d+)`, "m"));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

/** Reset a process's VmHWM to its current RSS (proc(5): clear_refs, value 5). */
export function resetHwm(pid: number): void {
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, "5");
  } catch {
    /* process gone or not permitted: the later VmHWM read then covers its whole life */
  }
}

/** Direct children of pid whose comm is `name`. */
export function childrenNamed(pid: number, name: string): number[] {
  const out: number[] = [];
  for (const d of readdirSync("/proc")) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, "utf8");
      // pid (comm) state ppid …; comm may contain spaces/parens, so split at the last ')'
      const close = stat.lastIndexOf(")");
      const comm = stat.slice(stat.indexOf("(") + 1, close);
      const ppid = Number(stat.slice(close + 2).split(" ")[1]);
      if (ppid === pid && comm === name) out.push(Number(d));
    } catch {
      /* raced with exit */
    }
  }
  return out;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
