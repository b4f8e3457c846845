/** signal names and numbers as docker's API takes them: "SIGTERM", "TERM", "15", "SIGRTMIN+3" */
import { EngineError } from "../../lib/errors.ts";

const bad = (msg: string) => new EngineError("invalid_argument", msg);

const SIGNALS: Record<string, number> = {
  HUP: 1,
  INT: 2,
  QUIT: 3,
  ILL: 4,
  TRAP: 5,
  ABRT: 6,
  IOT: 6,
  BUS: 7,
  FPE: 8,
  KILL: 9,
  USR1: 10,
  SEGV: 11,
  USR2: 12,
  PIPE: 13,
  ALRM: 14,
  TERM: 15,
  STKFLT: 16,
  CHLD: 17,
  CONT: 18,
  STOP: 19,
  TSTP: 20,
  TTIN: 21,
  TTOU: 22,
  URG: 23,
  XCPU: 24,
  XFSZ: 25,
  VTALRM: 26,
  PROF: 27,
  WINCH: 28,
  IO: 29,
  POLL: 29,
  PWR: 30,
  SYS: 31,
};

/** "SIGTERM", "TERM", "15", "SIGRTMIN+3" → signal number; docker's error otherwise */
export function parseSignal(s: string): number {
  if (/^\d+$/.test(s)) {
    const n = Number(s);
    if (n < 1 || n > 64) throw bad(`invalid signal: ${s}`);
    return n;
  }
  let u = s.toUpperCase();
  if (u.startsWith("SIG")) u = u.slice(3);
  const rt = /^RTMIN(?:\+(\d+))?$/.exec(u) ?? /^RTMAX(?:-(\d+))?$/.exec(u);
  if (rt) return u.startsWith("RTMIN") ? 34 + Number(rt[1] ?? 0) : 64 - Number(rt[1] ?? 0);
  const n = SIGNALS[u];
  if (n === undefined) throw bad(`invalid signal: ${s}`);
  return n;
}

export function signalName(n: number): string {
  for (const [k, v] of Object.entries(SIGNALS)) if (v === n) return `SIG${k}`;
  return String(n);
}
