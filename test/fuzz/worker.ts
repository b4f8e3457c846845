/**
 * One fuzz target in a worker thread, batch after batch, so the long form (run.ts) can stop a hung
 * parser: the worker writes the batch and the index of the input it is on into shared memory before
 * each input, and reports each batch's counts when it ends.
 */
import { runTarget } from "./harness.ts";
import { TARGETS } from "./targets.ts";

export interface Job {
  name: string;
  runs: number;
  seed: number;
  batch: number;
  /** the first batch to run (a restart after a hang skips the batch that hung) */
  startBatch: number;
  /** runs already done before startBatch */
  done: number;
  shared: SharedArrayBuffer;
}

export type Report =
  | {
      type: "batch";
      batch: number;
      runs: number;
      ms: number;
      maxMs: number;
      finding?: { message: string; counterexample: string; seed: number; path?: string };
    }
  | { type: "done" };

declare const self: Worker;

self.onmessage = async (e: MessageEvent<Job>) => {
  const job = e.data;
  const t = TARGETS.find((x) => x.name === job.name)!;
  // [0] batch, [1] input index within the batch
  const pos = new Int32Array(job.shared);
  let done = job.done;
  for (let b = job.startBatch; done < job.runs; b++) {
    const n = Math.min(job.batch, job.runs - done);
    Atomics.store(pos, 0, b);
    const r = await runTarget(t, { runs: n, seed: job.seed + b, onInput: (i) => Atomics.store(pos, 1, i) });
    done += r.runs;
    const msg: Report = { type: "batch", batch: b, runs: r.runs, ms: r.ms, maxMs: r.maxMs, ...(r.finding ? { finding: r.finding } : {}) };
    postMessage(msg);
  }
  postMessage({ type: "done" } satisfies Report);
};
