/** Client mode `events`: the daemon's `GET /events` stream, one line (or template) per event as the daemonless CLI prints */
import type { RunInput } from "../_command.ts";
import { filtersParam, ndjson, type ApiClient } from "../../client/index.ts";
import type { EventMessage } from "../../engine/index.ts";
import { renderTemplate } from "../_format/template.ts";
import { renderEvent } from "../_format/events.ts";

/** docker's CLI sends --since/--until as unix seconds */
async function unixTime(v: unknown, now: number): Promise<string | undefined> {
  if (typeof v !== "string" || v === "") return undefined;
  if (/^\d+(\.\d+)?$/.test(v)) return v;
  const { parseTimeArg } = await import("../../engine/index.ts");
  return (parseTimeArg(v, now) / 1000).toFixed(9);
}

export default async function events(input: RunInput, api: ApiClient) {
  const { flags, ctx } = input;
  const now = Date.now();
  const fmt = typeof flags.format === "string" ? (flags.format === "json" ? "{{json .}}" : flags.format) : undefined;
  const { body } = await api.stream("GET", "/events", {
    query: { since: await unixTime(flags.since, now), until: await unixTime(flags.until, now), filters: filtersParam(flags.filter as string[]) },
  });
  for await (const e of ndjson<EventMessage>(body)) ctx.out((fmt ? renderTemplate(fmt, e) : renderEvent(e)) + "\n");
}
