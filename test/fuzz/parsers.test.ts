/**
 * The short form of the parser fuzzing (issue 15): a few thousand inputs per parser from a fixed seed,
 * in the normal test run. FUZZ_SEED and FUZZ_RUNS change them; a failure prints the command that
 * replays the shrunk input. The long form is `bun run fuzz` (test/fuzz/run.ts).
 */
import { describe, expect, test } from "bun:test";
import { runTarget } from "./harness.ts";
import { TARGETS } from "./targets.ts";

const seed = Number(process.env.FUZZ_SEED ?? 15);
const runs = Number(process.env.FUZZ_RUNS ?? 2000);

describe(`parser fuzzing (fast-check, seed ${seed}, ${runs} inputs each)`, () => {
  for (const t of TARGETS) {
    test(t.name, async () => {
      const r = await runTarget(t, { runs, seed });
      const f = r.finding;
      if (f)
        console.error(
          `fuzz ${t.name}: ${f.message}\n  input:  ${f.counterexample}\n  replay: bun run fuzz --only ${t.name} --seed ${f.seed}${f.path ? ` --path ${f.path}` : ""}`,
        );
      expect(f?.message ?? null).toBeNull();
      expect(r.runs).toBe(runs);
    }, 60_000);
  }
});
