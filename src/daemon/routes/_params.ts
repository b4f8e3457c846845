/** the Engine API's query parameters as dockerd reads them (httputils.BoolValue, filters.FromJSON, …) */
import { EngineError } from "../../lib/errors.ts";
import { Filters } from "../../engine/index.ts";
import type { ApiRequest } from "../types.ts";

/** dockerd's BoolValue: absent, "", "0", "no", "false", "none" are false; anything else true */
export function boolParam(req: ApiRequest, name: string, dflt = false): boolean {
  const v = req.query.get(name);
  if (v === null) return dflt;
  return !["", "0", "no", "false", "none"].includes(v.trim().toLowerCase());
}

/** an integer parameter; `dflt` when absent or empty; 400 when not a number */
export function intParam(req: ApiRequest, name: string, dflt?: number): number | undefined {
  const v = req.query.get(name);
  if (v === null || v === "") return dflt;
  const n = Number(v);
  if (!Number.isInteger(n)) throw new EngineError("invalid_argument", `invalid value for ${name}: ${JSON.stringify(v)}`);
  return n;
}

/** the `filters` parameter (JSON); an empty Filters when absent */
export function filtersParam(req: ApiRequest): Filters {
  return Filters.fromJSON(req.query.get("filters") ?? "");
}

/** API versions compared as numbers ("1.9" < "1.41") */
export function compare(a: string, b: string): number {
  const [am, an] = a.split(".").map(Number);
  const [bm, bn] = b.split(".").map(Number);
  return am! - bm! || an! - bn!;
}
