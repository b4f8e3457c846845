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
  if (sink) sink(`berth trace ${performance.now().toFixed(1).padStart(7)} ms  ${phase}\n`);
}
