/**
 * BERTH_TRACE=1: one stderr line per phase of a command, with milliseconds since the process started
 * (performance.now() counts from process start, so the binary's own start-up shows in the first mark).
 * For finding where `run` spends its time; off by default and costs a variable read when off. main.ts
 * reads the environment and installs the sink (traceTo); this module never touches the process.
 */
let sink: ((line: string) => void) | undefined;

/** where trace lines go; undefined turns tracing off */
export function traceTo(write: ((line: string) => void) | undefined): void {
  sink = write;
}

export function mark(phase: string): void {
  if (sink) markAt(phase, performance.now());
}

/** whether marks are written: for the costlier marks (a child's stamps read back) */
export function tracing(): boolean {
  return sink !== undefined;
}

/** a mark for an instant `ago` ns before now (another process's stamp) */
export function markAgo(phase: string, ago: bigint): void {
  if (sink) markAt(phase, performance.now() - Number(ago) / 1e6);
}

function markAt(phase: string, ms: number): void {
  sink?.(`berth trace ${ms.toFixed(1).padStart(7)} ms  ${phase}\n`);
}
