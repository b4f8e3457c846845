/**
 * BERTH_TRACE=1: one stderr line per phase of a command, with milliseconds since the process started
 * (performance.now() counts from process start, so the binary's own start-up shows in the first mark).
 * For finding where `run` spends its time; off by default and costs a property read when off.
 */
const on = !!process.env.BERTH_TRACE;

export function mark(phase: string): void {
  if (on) process.stderr.write(`berth trace ${performance.now().toFixed(1).padStart(7)} ms  ${phase}\n`);
}
