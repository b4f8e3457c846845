/**
 * Interleaved measurement: for one scenario and one peer, alternate berth, peer, berth, peer … and keep
 * the pairs, so berth's ratio to that peer is computed pair by pair (stats.ts). A berth failure marks
 * berth's row "berth failed: …" and the peer goes on alone; a peer failure marks that peer's row.
 */
import { existsSync, readFileSync, rmSync } from "node:fs";
import { childrenNamed, firstLine, procStatusKb, resetHwm, type RunResult } from "./proc.ts";
import { median, pairedRatio, type PairedRatio, type Target } from "./stats.ts";

export interface Row {
  scenario: string;
  engine: string;
  /** wall times of the timed runs, ms */
  samples: number[];
  /** peak RSS per run (waited-for process tree), kB */
  rssKb: number[];
  /** peak VmHWM of dockerd + containerd per run, kB (docker rows only) */
  daemonKb: number[];
  /** set when there are no figures: "peer absent …", "berth failed: …", "skipped: …" */
  status?: string;
  ratio?: PairedRatio;
  /** berth's and the peer's samples of each complete pair, for the JSON */
  pairs?: { berth: number[]; peer: number[] };
  target?: Target;
  note?: string;
}

export interface Side {
  engine: string;
  /** one timed operation (may be composite, e.g. 50 creates + rm) */
  op: () => RunResult;
  /** untimed, before each run (remove the previous result, sync, …) */
  prepare?: () => void;
  /** untimed, after each run */
  cleanup?: () => void;
  /** daemon processes whose VmHWM is reset before and read after each run (dockerd, containerd) */
  daemons?: () => number[];
  /** untimed run(s) under /usr/bin/time after the series, for peak RSS (kB) where the inline wrapper's
   * ~1 ms would distort a millisecond-scale figure; 0 = unknown */
  rssProbe?: () => number;
}

const PROBES = 2;

function probe(side: Side, row: Row): void {
  if (!side.rssProbe || row.rssKb.length) return;
  for (let i = 0; i < PROBES; i++) {
    side.prepare?.();
    const kb = side.rssProbe();
    side.cleanup?.();
    if (kb > 0) row.rssKb.push(kb);
  }
}

export class Scenario {
  readonly rows: Row[] = [];
  readonly berth: Row;
  constructor(
    readonly id: string,
    readonly title: string,
    berthFailed?: string,
  ) {
    this.berth = this.row("berth");
    if (berthFailed) this.berth.status = `berth failed: ${berthFailed}`;
  }
  row(engine: string, extra: Partial<Row> = {}): Row {
    const r: Row = { scenario: this.title, engine, samples: [], rssKb: [], daemonKb: [], ...extra };
    this.rows.push(r);
    return r;
  }
  get berthOk(): boolean {
    return !this.berth.status;
  }
  absent(engine: string, why: string, target?: Target): Row {
    return this.row(engine, { status: `peer absent (${why})`, target });
  }
}

export interface Budget {
  deadline: number;
}

function measure(side: Side, row: Row, keep: boolean): RunResult {
  try {
    side.prepare?.();
  } catch (e) {
    return { ok: false, code: null, ms: 0, rssKb: 0, stdout: "", stderr: `prepare: ${(e as Error).message}`, timedOut: false };
  }
  const pids = side.daemons?.() ?? [];
  for (const p of pids) resetHwm(p);
  const r = side.op();
  if (r.ok && keep) {
    row.samples.push(r.ms);
    if (r.rssKb > 0) row.rssKb.push(r.rssKb);
    if (pids.length) row.daemonKb.push(pids.reduce((s, p) => s + procStatusKb(p, "VmHWM"), 0));
  }
  side.cleanup?.();
  return r;
}

/**
 * berth, peer, berth, peer … `n` timed pairs after `warmup` untimed ones. `berth` may be null when
 * berth's row already failed. Returns the peer's row.
 */
export function interleave(sc: Scenario, berth: Side | null, peer: Side, n: number, warmup: number, budget: Budget, target?: Target): Row {
  return rounds(sc, berth, [{ side: peer, target }], n, warmup, budget)[0]!;
}

/**
 * Rounds of berth, peer1, peer2, … : each peer's run is paired with the berth run of its own round.
 * With one peer this is plain alternation. The heavy scenarios (50 creates, pulls, builds) use it with
 * all their peers at once, so berth runs n times instead of n × peers; a round lasts seconds, so drift
 * still cancels within it.
 */
export function rounds(sc: Scenario, berth: Side | null, peers: { side: Side; target?: Target }[], n: number, warmup: number, budget: Budget): Row[] {
  const rows = peers.map((p) => sc.row(p.side.engine, { target: p.target }));
  const bs: (number | undefined)[] = [];
  const ps: (number | undefined)[][] = peers.map(() => []);
  for (let i = -warmup; i < n; i++) {
    if (Date.now() > budget.deadline) {
      for (const row of rows) if (!row.status) row.note = `cut short by the time budget after ${Math.max(i, 0)} of ${n} runs`;
      break;
    }
    if (rows.every((r) => r.status)) break;
    const keep = i >= 0;
    let b: number | undefined;
    if (berth && sc.berthOk) {
      const r = measure(berth, sc.berth, keep);
      if (!r.ok) sc.berth.status = `berth failed: ${firstLine(r)}`;
      else b = r.ms;
    }
    if (keep) bs.push(b);
    peers.forEach(({ side }, k) => {
      const row = rows[k]!;
      if (row.status) return;
      const r = measure(side, row, keep);
      if (!r.ok) {
        const msg = firstLine(r);
        // crun on this VM kind without the hugetlb workaround (peers.ts)
        row.status = `peer failed: ${msg}${/hybrid mode not supported/.test(msg) ? " (use --with-peers)" : ""}`;
        row.samples = [];
        row.rssKb = [];
        row.daemonKb = [];
      } else if (keep) ps[k]![bs.length - 1] = r.ms;
    });
  }
  peers.forEach(({ side }, k) => {
    if (!rows[k]!.status) probe(side, rows[k]!);
  });
  if (berth && sc.berthOk && sc.berth.samples.length) probe(berth, sc.berth);
  rows.forEach((row, k) => {
    if (row.status) return;
    row.ratio = pairedRatio(bs, ps[k]!);
    const keepB: number[] = [],
      keepP: number[] = [];
    bs.forEach((x, i) => {
      const y = ps[k]![i];
      if (x !== undefined && y !== undefined) {
        keepB.push(x);
        keepP.push(y);
      }
    });
    row.pairs = { berth: keepB, peer: keepP };
  });
  // a berth failure wipes berth's figures: a row shows either numbers or a status, never both
  if (!sc.berthOk) {
    sc.berth.samples = [];
    sc.berth.rssKb = [];
    for (const row of rows) {
      row.ratio = undefined;
      row.pairs = undefined;
    }
  }
  return rows;
}

/** berth alone (no peer present): n runs, for a row with figures but no ratio. */
export function berthOnly(sc: Scenario, berth: Side, n: number, warmup: number, budget: Budget): void {
  for (let i = -warmup; i < n && sc.berthOk && Date.now() < budget.deadline; i++) {
    const r = measure(berth, sc.berth, i >= 0);
    if (!r.ok) {
      sc.berth.status = `berth failed: ${firstLine(r)}`;
      sc.berth.samples = [];
    }
  }
  if (sc.berthOk) probe(berth, sc.berth);
}

/** dockerd (from its pid file) and its containerd children: the daemons behind a docker CLI call. */
export function dockerDaemonPids(): number[] {
  try {
    const pid = Number(readFileSync("/var/run/docker.pid", "utf8").trim());
    if (!pid) return [];
    return [pid, ...childrenNamed(pid, "containerd")];
  } catch {
    return [];
  }
}

/** Mount points at or below dir (from /proc/self/mountinfo). */
export function mountsUnder(dir: string): string[] {
  const d = dir.replace(/\/+$/, "");
  return readFileSync("/proc/self/mountinfo", "utf8")
    .split("\n")
    .map((l) => l.split(" ")[4] ?? "")
    .map((m) => m.replace(/\\040/g, " "))
    .filter((m) => m === d || m.startsWith(d + "/"));
}

/**
 * rm -rf that refuses to descend into a tree with mounts in it (a crashed engine may have left an
 * overlay mounted there; removing through it would delete the lower layers' files).
 */
export function safeRm(dir: string): string | null {
  if (!existsSync(dir)) return null;
  const m = mountsUnder(dir);
  if (m.length) return `left ${dir} in place: ${m.length} mount(s) below it, e.g. ${m[0]}`;
  rmSync(dir, { recursive: true, force: true });
  return null;
}

export function medianOr(xs: number[]): number | undefined {
  return xs.length ? median(xs) : undefined;
}
