/**
 * The long form of the parser fuzzing (issue 15): `bun run fuzz [--runs N] [--only a,b] [--seed S]`.
 * Each target runs in its own worker thread, N inputs (default 1,000,000) in batches of fixed seeds;
 * a worker that makes no progress for --hang-ms is stopped, and its input (regenerated from the seed)
 * reported as a hang. Prints a table of inputs, time, inputs/s, the slowest input and the findings per
 * parser, then each finding with the command that replays it. Exits 1 on any finding.
 *
 * Replay one finding: `bun run fuzz --only NAME --seed S --path P` (the path fast-check printed).
 */
import fc from "fast-check";
import { parseArgs } from "node:util";
import { runTarget } from "./harness.ts";
import { TARGETS } from "./targets.ts";
import type { Job, Report } from "./worker.ts";

const { values: opt } = parseArgs({
  options: {
    runs: { type: "string", default: "1000000" },
    only: { type: "string" },
    seed: { type: "string", default: "15" },
    batch: { type: "string", default: "10000" },
    jobs: { type: "string", default: "1" },
    "hang-ms": { type: "string", default: "20000" },
    path: { type: "string" },
  },
});
const runs = Number(opt.runs);
const seed = Number(opt.seed);
const batch = Number(opt.batch);
const hangMs = Number(opt["hang-ms"]);
const names = opt.only ? opt.only.split(",") : TARGETS.map((t) => t.name);
for (const n of names) {
  if (!TARGETS.some((t) => t.name === n)) {
    console.error(`fuzz: no target ${JSON.stringify(n)} (targets: ${TARGETS.map((t) => t.name).join(", ")})`);
    process.exit(2);
  }
}

if (opt.path !== undefined) {
  // replay: the one input of a printed finding, shrunk path and all, in this thread
  const t = TARGETS.find((x) => x.name === names[0])!;
  const r = await runTarget(t, { runs: 1, seed, path: opt.path });
  console.log(r.finding ? `${t.name}: ${r.finding.message}\n  input: ${r.finding.counterexample}` : `${t.name}: no finding`);
  process.exit(r.finding ? 1 : 0);
}

interface Finding {
  message: string;
  counterexample: string;
  replay: string;
}
interface Row {
  name: string;
  parser: string;
  runs: number;
  ms: number;
  maxMs: number;
  findings: Finding[];
  rssMb: number;
}

function fmtMs(ms: number): string {
  return ms >= 60_000 ? `${Math.floor(ms / 60_000)}m${String(Math.round((ms % 60_000) / 1000)).padStart(2, "0")}s` : `${(ms / 1000).toFixed(1)}s`;
}

/** one target to the end in workers; restarts past a hung batch */
async function fuzzTarget(name: string): Promise<Row> {
  const t = TARGETS.find((x) => x.name === name)!;
  const row: Row = { name, parser: t.parser, runs: 0, ms: 0, maxMs: 0, findings: [], rssMb: 0 };
  const started = performance.now();
  let startBatch = 0;
  let lastPrint = 0;
  for (;;) {
    const shared = new SharedArrayBuffer(8);
    const pos = new Int32Array(shared);
    const worker = new Worker(new URL("./worker.ts", import.meta.url).href);
    const outcome = await new Promise<{ hung?: { batch: number; index: number } }>((resolve) => {
      let last = "";
      let since = performance.now();
      const timer = setInterval(() => {
        const rss = process.memoryUsage().rss / 2 ** 20;
        if (rss > row.rssMb) row.rssMb = rss;
        const now = `${Atomics.load(pos, 0)}:${Atomics.load(pos, 1)}`;
        if (now !== last) {
          last = now;
          since = performance.now();
        } else if (performance.now() - since > hangMs) {
          clearInterval(timer);
          worker.terminate();
          resolve({ hung: { batch: Atomics.load(pos, 0), index: Atomics.load(pos, 1) } });
        }
      }, 250);
      worker.onmessage = (e: MessageEvent<Report>) => {
        const m = e.data;
        if (m.type === "done") {
          clearInterval(timer);
          worker.terminate();
          resolve({});
          return;
        }
        row.runs += m.runs;
        row.rssMb = Math.max(row.rssMb, process.memoryUsage().rss / 2 ** 20);
        if (m.maxMs > row.maxMs) row.maxMs = m.maxMs;
        if (m.finding) {
          const f = m.finding;
          row.findings.push({
            message: f.message,
            counterexample: f.counterexample,
            replay: `bun run fuzz --only ${name} --seed ${f.seed}${f.path ? ` --path ${f.path}` : ""}`,
          });
          console.log(`  ${name}: FINDING ${f.message}`);
        }
        startBatch = m.batch + 1;
        const now = performance.now();
        if (now - lastPrint > 10_000) {
          lastPrint = now;
          console.log(`  ${name}: ${row.runs.toLocaleString("en-US")} inputs, ${Math.round(row.runs / ((now - started) / 1000)).toLocaleString("en-US")}/s`);
        }
      };
      worker.onerror = (e) => {
        clearInterval(timer);
        worker.terminate();
        row.findings.push({
          message: `worker died: ${e.message.split("\n")[0]}`,
          counterexample: "?",
          replay: `bun run fuzz --only ${name} --seed ${seed + startBatch} --runs ${batch}`,
        });
        resolve({});
      };
      const job: Job = { name, runs, seed, batch, startBatch, done: row.runs, shared };
      worker.postMessage(job);
    });
    if (!outcome.hung) break;
    // the input it hung on, regenerated from the batch's seed (fc.sample draws what fc.check drew)
    const { batch: b, index } = outcome.hung;
    const input = fc.sample(t.arb, { seed: seed + b, numRuns: index + 1 })[index];
    row.findings.push({
      message: `hang: no progress for ${hangMs / 1000}s`,
      counterexample: fc.stringify(input).slice(0, 2000),
      replay: `bun run fuzz --only ${name} --seed ${seed + b} --runs ${index + 1}`,
    });
    console.log(`  ${name}: FINDING hang at batch ${b}, input ${index}`);
    row.runs += index + 1;
    startBatch = b + 1;
    if (row.runs >= runs) break;
    if (row.findings.filter((f) => f.message.startsWith("hang")).length >= 3) {
      console.log(`  ${name}: stopped after 3 hangs`);
      break;
    }
  }
  row.ms = performance.now() - started;
  return row;
}

console.log(`fuzz: ${runs.toLocaleString("en-US")} inputs per parser, seed ${seed}, batches of ${batch}, targets: ${names.join(", ")}`);
const rows: Row[] = [];
const queue = [...names];
await Promise.all(
  Array.from({ length: Math.max(1, Number(opt.jobs)) }, async () => {
    for (let n = queue.shift(); n !== undefined; n = queue.shift()) {
      const row = await fuzzTarget(n);
      rows.push(row);
      console.log(`  ${n}: done, ${row.runs.toLocaleString("en-US")} inputs in ${fmtMs(row.ms)}, ${row.findings.length} findings`);
    }
  }),
);
rows.sort((a, b) => names.indexOf(a.name) - names.indexOf(b.name));

const head = ["parser", "inputs", "time", "inputs/s", "slowest input", "peak RSS", "findings"];
const body = rows.map((r) => [
  r.name,
  r.runs.toLocaleString("en-US"),
  fmtMs(r.ms),
  Math.round(r.runs / (r.ms / 1000)).toLocaleString("en-US"),
  `${r.maxMs.toFixed(0)} ms`,
  `${r.rssMb.toFixed(0)} MiB`,
  String(r.findings.length),
]);
const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
const line = (cells: string[]) => `| ${cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join(" | ")} |`;
console.log();
console.log(line(head));
console.log(`|${widths.map((w, i) => (i === 0 ? "-".repeat(w + 2) : "-".repeat(w + 1) + ":")).join("|")}|`);
for (const b of body) console.log(line(b));
const all = rows.flatMap((r) => r.findings.map((f) => ({ ...f, name: r.name })));
// one entry per distinct finding (numbers in the message aside), with how often it came up
const distinct = new Map<string, (typeof all)[number] & { times: number }>();
for (const f of all) {
  const key = `${f.name}\0${f.message.replace(/\d+/g, "#")}`;
  const seen = distinct.get(key);
  if (seen) seen.times++;
  else distinct.set(key, { ...f, times: 1 });
}
for (const f of distinct.values())
  console.log(`\n${f.name}: ${f.message}${f.times > 1 ? ` (${f.times} times)` : ""}\n  input:  ${f.counterexample}\n  replay: ${f.replay}`);
console.log(`\n${all.length === 0 ? "0 findings" : `${all.length} findings`}`);
process.exit(all.length === 0 ? 0 : 1);
