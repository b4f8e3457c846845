/** docker events' text line, one event a line */
import type { EventMessage } from "../../engine/index.ts";

/** docker's line: `2024-01-01T12:00:00.123456789Z container create ID (k=v, k=v)` */
export function renderEvent(e: EventMessage): string {
  // the digits the JSON has (docker's CLI reads those): BigInt(number) would print the float's own
  // binary value, 1796647831918416128 for a timeNano of 1796647831918416100
  const nano = BigInt(String(e.timeNano));
  const secs = Number(nano / 1_000_000_000n);
  const frac = String(nano % 1_000_000_000n).padStart(9, "0");
  const ts = `${new Date(secs * 1000).toISOString().slice(0, 19)}.${frac}Z`;
  const attrs = Object.entries(e.Actor.Attributes)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([k, v]) => `${k}=${v}`);
  return `${ts} ${e.Type} ${e.Action} ${e.Actor.ID}${attrs.length ? ` (${attrs.join(", ")})` : ""}`;
}
