/**
 * docker's filters.Args: the `--filter key=value` / `?filters={"key":{"value":true}}` of every listing,
 * parsed once into a typed map key → values and validated by the engine call that uses it.
 *
 * Semantics, as docker's: the values of one key are alternatives (status=running --filter
 * status=paused), different keys must all match; `label` values must all match.
 */
import { EngineError } from "../lib/errors.ts";

/** a filter key or value the listing does not accept (docker: "invalid filter 'x'", HTTP 400) */
export class FilterError extends EngineError {
  constructor(message: string) {
    super("invalid_argument", message);
  }
}

/**
 * docker's error for an unknown key or a bad value. The listings berth had first spell it as moby
 * did before v23 ("Invalid filter"); `spelling` keeps each listing's words.
 */
export function invalidFilter(what: string, spelling: "invalid" | "Invalid" = "invalid"): FilterError {
  return new FilterError(`${spelling} filter '${what}'`);
}

export class Filters {
  private readonly m = new Map<string, string[]>();

  constructor(init: Iterable<readonly [string, readonly string[]]> | Record<string, readonly string[]> = []) {
    const entries = Symbol.iterator in init ? (init as Iterable<readonly [string, readonly string[]]>) : Object.entries(init);
    for (const [k, vs] of entries) for (const v of vs) this.add(k, v);
  }

  /**
   * docker's filters.ParseFlag over `--filter` values: split at the first "=". `strict` refuses a value
   * without a key (docker's "bad format of filter"); otherwise a bare word is a key with value "".
   */
  static fromFlags(flags: readonly string[], o: { strict?: boolean } = {}): Filters {
    const f = new Filters();
    for (const s of flags) {
      const i = s.indexOf("=");
      if (o.strict && i <= 0) throw new FilterError("bad format of filter (expected name=value)");
      if (i < 0) f.add(s, "");
      else f.add(s.slice(0, i), s.slice(i + 1));
    }
    return f;
  }

  /** the API's `filters` query: {"key": {"value": true}} or the older {"key": ["value"]} */
  static fromJSON(json: string): Filters {
    let o: unknown;
    try {
      o = json === "" ? {} : JSON.parse(json);
    } catch (e) {
      throw new FilterError(`invalid filter: ${(e as Error).message}`);
    }
    if (!o || typeof o !== "object" || Array.isArray(o)) throw new FilterError("invalid filter: not an object");
    const f = new Filters();
    for (const [k, v] of Object.entries(o as Record<string, unknown>)) {
      const vs = Array.isArray(v) ? v : v && typeof v === "object" ? Object.keys(v).filter((x) => (v as Record<string, unknown>)[x] === true) : undefined;
      if (!vs || vs.some((x) => typeof x !== "string")) throw new FilterError(`invalid filter '${k}'`);
      for (const x of vs) f.add(k, x);
    }
    return f;
  }

  /** the API's form */
  toJSON(): Record<string, Record<string, true>> {
    return Object.fromEntries([...this.m].map(([k, vs]) => [k, Object.fromEntries(vs.map((v) => [v, true as const]))]));
  }

  add(key: string, value: string): this {
    const vs = this.m.get(key);
    if (vs) vs.push(value);
    else this.m.set(key, [value]);
    return this;
  }

  has(key: string): boolean {
    return this.m.has(key);
  }

  /** the values of `key`, in the order given ([] when absent) */
  get(key: string): readonly string[] {
    return this.m.get(key) ?? [];
  }

  keys(): string[] {
    return [...this.m.keys()];
  }

  get size(): number {
    return this.m.size;
  }

  /** docker's Args.Validate: every key must be one the listing knows */
  validate(accepted: readonly string[], spelling: "invalid" | "Invalid" = "invalid"): this {
    for (const k of this.m.keys()) if (!accepted.includes(k)) throw invalidFilter(k, spelling);
    return this;
  }

  /** no `key`, or one of its values passes (the values of one key OR) */
  any(key: string, pred: (value: string) => boolean): boolean {
    const vs = this.m.get(key);
    return !vs || vs.some(pred);
  }

  /** no `key`, or every one of its values passes (labels) */
  every(key: string, pred: (value: string) => boolean): boolean {
    const vs = this.m.get(key);
    return !vs || vs.every(pred);
  }
}

/** docker's label filter value against an object's labels: "k" (present) or "k=v" */
export function matchLabel(labels: Record<string, string>, value: string): boolean {
  const i = value.indexOf("=");
  if (i < 0) return value in labels;
  return labels[value.slice(0, i)] === value.slice(i + 1);
}
