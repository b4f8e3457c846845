/** `top` and `stats`: the processes and the cgroup counters of a running or paused container */
import { readFileSync, readlinkSync } from "node:fs";
import { EngineError } from "../../../lib/errors.ts";
import type { CgroupStats, NetStats } from "../runtime-port.ts";
import { isActive } from "../types.ts";
import { ev, type ContainerDeps } from "./deps.ts";
import { refreshState } from "./state.ts";

/** docker's parsePSOutput: the header's words are the columns, the last one takes the rest of the line */
export function filterPsOutput(out: string, pids: Set<number>): { titles: string[]; processes: string[][] } {
  const lines = out.split("\n").filter((l) => l.trim() !== "");
  const titles = (lines[0] ?? "").trim().split(/\s+/);
  const pidCol = titles.indexOf("PID");
  if (pidCol < 0) throw new EngineError("invalid_argument", "Couldn't find PID field in ps output");
  const processes: string[][] = [];
  for (const line of lines.slice(1)) {
    const words = line.trim().split(/\s+/);
    const row = [...words.slice(0, titles.length - 1), words.slice(titles.length - 1).join(" ")];
    if (pids.has(Number(row[pidCol]))) processes.push(row);
  }
  return { titles, processes };
}

/**
 * The container's processes: a `ps -ef`-like table read from /proc, or with ps options (`top web -o
 * pid,comm`, the API's ps_args) the host's ps run with them and its lines kept for the container's
 * PIDs, as docker's daemon does.
 */
export function top(d: ContainerDeps, ref: string, psArgs: string[] = []): { titles: string[]; processes: string[][] } {
  const own = procTable(d, ref);
  let out = own;
  if (psArgs.length) {
    const pids = new Set(own.processes.map((p) => Number(p[1])));
    const ps = Bun.spawnSync(["ps", ...psArgs], { stdout: "pipe", stderr: "pipe" });
    if (ps.exitCode !== 0) throw new EngineError("invalid_argument", `ps: ${ps.stderr.toString().trim() || `exit status ${ps.exitCode}`}`);
    out = filterPsOutput(ps.stdout.toString(), pids);
  }
  ev(d, "top", d.store.readConfig(d.store.resolve(ref))); // dockerd logs each top
  return out;
}

function procTable(d: ContainerDeps, ref: string): { titles: string[]; processes: string[][] } {
  const id = d.store.resolve(ref);
  const cfg = d.store.readConfig(id);
  const st = refreshState(d, id);
  if (!isActive(st.Status)) throw new EngineError("conflict", `container ${id} is not running`);
  const pids = d.runtime.cgroupPids(cfg.Berth.CgroupPath).sort((a, b) => a - b);
  const users = hostUsers();
  const hz = 100;
  const boot = bootTime();
  const now = new Date();
  const uptime = upSeconds();
  const rows: string[][] = [];
  for (const pid of pids) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, "latin1");
      const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      const status = readFileSync(`/proc/${pid}/status`, "latin1");
      const uid = Number(/^Uid:\s+(\d+)/m.exec(status)?.[1] ?? 0);
      const ppid = f[1]!;
      const ttyNr = Number(f[4]);
      const ticks = Number(f[11]) + Number(f[12]);
      const cpu = ticks / hz;
      const start = new Date((boot + Number(f[19]) / hz) * 1000);
      const elapsed = uptime - Number(f[19]) / hz;
      let cmd = readFileSync(`/proc/${pid}/cmdline`, "latin1").replace(/\0+$/, "").split("\0").join(" ");
      if (!cmd) cmd = `[${stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")"))}]`;
      const tty =
        ttyNr === 0
          ? "?"
          : (() => {
              try {
                return readlinkSync(`/proc/${pid}/fd/0`).replace(/^\/dev\//, "");
              } catch {
                return "?"; /* exited since listing, or fd 0 closed: no tty, as ps shows */
              }
            })();
      const hh = (n: number) => String(n).padStart(2, "0");
      rows.push([
        users.get(uid) ?? String(uid),
        String(pid),
        ppid,
        String(psC(ticks, hz, elapsed)),
        psStime(start, now),
        tty,
        `${hh(Math.floor(cpu / 3600))}:${hh(Math.floor(cpu / 60) % 60)}:${hh(Math.floor(cpu) % 60)}`,
        cmd,
      ]);
    } catch {
      // exited between listing and reading
    }
  }
  return { titles: ["UID", "PID", "PPID", "C", "STIME", "TTY", "TIME", "CMD"], processes: rows };
}

/** the cgroup's counters and, while it runs, its network namespace's (docker's NET I/O) */
export function stats(d: ContainerDeps, id: string): CgroupStats & NetStats {
  const cfg = d.store.readConfig(id);
  const st = refreshState(d, id);
  return { ...d.runtime.stats(cfg.Berth.CgroupPath), ...d.runtime.netStats(isActive(st.Status) ? st.Pid : 0) };
}

/**
 * `ps -ef`'s C column (procps-ng 4 pr_c): the CPU time over the process's life (seconds since its start,
 * with the fraction, as procps 4 reads TIME_ELAPSED), in whole percent of one CPU, capped at 99
 */
export function psC(ticks: number, hz: number, elapsedSeconds: number): number {
  if (elapsedSeconds <= 0) return 0;
  return Math.min(99, Math.floor(Math.floor((ticks * 100) / hz) / elapsedSeconds));
}

const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

/** `ps -ef`'s STIME (procps pr_stime), local time: HH:MM the same day, MmmDD another day, YYYY another year */
export function psStime(start: Date, now: Date): string {
  const p2 = (n: number) => String(n).padStart(2, "0");
  if (start.getFullYear() !== now.getFullYear()) return String(start.getFullYear());
  if (start.toDateString() !== now.toDateString()) return `${MONTHS[start.getMonth()]}${p2(start.getDate())}`;
  return `${p2(start.getHours())}:${p2(start.getMinutes())}`;
}

/** seconds since boot (/proc/uptime) */
function upSeconds(): number {
  try {
    return Number(readFileSync("/proc/uptime", "latin1").split(" ")[0]);
  } catch {
    return 0; // no /proc/uptime: C reads 0, as ps shows for a process it cannot time
  }
}

function hostUsers(): Map<number, string> {
  const m = new Map<number, string>();
  try {
    for (const l of readFileSync("/etc/passwd", "utf8").split("\n")) {
      const f = l.split(":");
      if (f.length > 2) m.set(Number(f[2]), f[0]!);
    }
  } catch {
    // no passwd: numeric uids
  }
  return m;
}

function bootTime(): number {
  try {
    return Number(/^btime (\d+)/m.exec(readFileSync("/proc/stat", "latin1"))?.[1] ?? 0);
  } catch {
    return 0; // no /proc/stat in this procfs: start times count from the epoch rather than fail top
  }
}
