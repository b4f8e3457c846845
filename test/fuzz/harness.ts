/**
 * The property every fuzz target shares, and one fast-check run of a target: for any input the parser
 * returns, or throws an error of the kinds it is allowed (our EngineError with a one-line message), in
 * bounded time. Anything else (TypeError, RangeError, a stack overflow, a plain Error, a multi-line
 * message, a broken target-specific invariant, an input slower than the bound) is a finding.
 */
import fc from "fast-check";
import { EngineError } from "../../src/lib/errors.ts";

/** an invariant of a target that does not hold (thrown by the target's own checks) */
export class Finding extends Error {}

export interface Target<T = unknown> {
  name: string;
  /** what it calls, for the report */
  parser: string;
  arb: fc.Arbitrary<T>;
  /** parse the input and check the target's own invariants (throw Finding); may be async */
  run(input: T): unknown;
  /** errors the parser may throw besides EngineError (e.g. none); default: EngineError only */
  allowed?: (e: unknown) => boolean;
  /** time bound for one input (ms); slower is a finding */
  limitMs: number;
  /** cheap targets get ≥ 1 M inputs by default in the long form; expensive ones may get less */
  async?: boolean;
}

/** the verdict on what an input made the parser throw: null when it is an allowed error */
export function judgeError(t: Target<never>, e: unknown): string | null {
  if (e instanceof Finding) return `invariant: ${e.message}`;
  const allowed = e instanceof EngineError || (t.allowed?.(e) ?? false);
  if (!allowed) {
    const name = e instanceof Error ? e.constructor.name : typeof e;
    const msg = e instanceof Error ? e.message : String(e);
    return `${name}: ${msg.split("\n")[0]!.slice(0, 200)}`;
  }
  const msg = (e as Error).message;
  if (msg === "" || msg.includes("\n")) return `${(e as Error).constructor.name} with a message that is not one line: ${JSON.stringify(msg.slice(0, 200))}`;
  return null;
}

/**
 * The finding of one input, or null. An input slower than the bound is timed once more before it
 * counts (a GC pause or a busy host is not the parser's fault; a slow parser is slow twice).
 */
export function check<T>(t: Target<T>, input: T, again = true): string | null | Promise<string | null> {
  const t0 = performance.now();
  const timed = (verdict: string | null): string | null | Promise<string | null> => {
    if (verdict) return verdict;
    const ms = performance.now() - t0;
    if (ms <= t.limitMs) return null;
    if (again) return check(t, input, false);
    return `slow: ${ms.toFixed(0)} ms for one input (bound ${t.limitMs} ms)`;
  };
  let r: unknown;
  try {
    r = t.run(input);
  } catch (e) {
    return timed(judgeError(t as Target<never>, e));
  }
  if (r instanceof Promise) {
    return r.then(
      () => timed(null),
      (e) => timed(judgeError(t as Target<never>, e)),
    );
  }
  return timed(null);
}

export interface RunResult {
  runs: number;
  ms: number;
  /** the slowest single input */
  maxMs: number;
  finding?: { message: string; counterexample: string; seed: number; path?: string };
}

/**
 * fast-check over `runs` inputs from `seed`; stops at the first finding (shrunk, with the seed and the
 * path that replays it). `onInput` sees each input's index (the long form's hang watchdog).
 */
export async function runTarget<T>(
  t: Target<T>,
  o: { runs: number; seed: number; path?: string; onInput?: (i: number) => void; shrink?: boolean },
): Promise<RunResult> {
  let i = 0;
  let maxMs = 0;
  let lastFinding = "";
  const verdict = (v: string | null) => {
    if (v) {
      lastFinding = v;
      return false;
    }
    return true;
  };
  const wrapped = (input: T): boolean | Promise<boolean> => {
    o.onInput?.(i++);
    const t0 = performance.now();
    const r = check(t, input);
    if (r instanceof Promise) {
      return r.then((v) => {
        const ms = performance.now() - t0;
        if (ms > maxMs) maxMs = ms;
        return verdict(v);
      });
    }
    const ms = performance.now() - t0;
    if (ms > maxMs) maxMs = ms;
    return verdict(r);
  };
  const params: fc.Parameters<[T]> = { numRuns: o.runs, seed: o.seed, endOnFailure: o.shrink === false };
  if (o.path) params.path = o.path;
  const t0 = performance.now();
  const details = t.async
    ? await fc.check(
        fc.asyncProperty(t.arb, (x) => wrapped(x) as Promise<boolean>),
        params,
      )
    : fc.check(
        fc.property(t.arb, (x) => wrapped(x) as boolean),
        params,
      );
  const ms = performance.now() - t0;
  const res: RunResult = { runs: details.numRuns, ms, maxMs };
  if (details.failed) {
    res.finding = {
      message: lastFinding || String(details.errorInstance ?? "property failed"),
      counterexample: details.counterexample ? fc.stringify(details.counterexample[0]).slice(0, 2000) : "?",
      seed: details.seed,
      ...(details.counterexamplePath ? { path: details.counterexamplePath } : {}),
    };
  }
  return res;
}
