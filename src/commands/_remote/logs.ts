/** Client mode `logs`: `GET /containers/{id}/logs`, framed unless the container has a TTY */
import type { RunInput } from "../_command.ts";
import type { ApiClient } from "../../client/index.ts";
import { demux } from "../../client/index.ts";

export default async function logs(input: RunInput, api: ApiClient) {
  const { flags, positionals } = input;
  const id = encodeURIComponent(positionals[0]!);
  const c = await api.json<{ Config: { Tty: boolean } }>("GET", `/containers/${id}/json`);
  const { body } = await api.stream("GET", `/containers/${id}/logs`, {
    query: {
      stdout: true,
      stderr: true,
      follow: !!flags.follow,
      timestamps: !!flags.timestamps,
      details: !!flags.details,
      tail: typeof flags.tail === "string" ? flags.tail : undefined,
      since: typeof flags.since === "string" ? await unixTime(flags.since) : undefined,
      until: typeof flags.until === "string" ? await unixTime(flags.until) : undefined,
    },
  });
  if (c.Config.Tty) {
    for await (const b of body) process.stdout.write(b);
    return;
  }
  for await (const [stream, b] of demux(body)) (stream === 2 ? process.stderr : process.stdout).write(b);
}

/** docker's CLI sends --since/--until as unix seconds (a duration or an RFC 3339 time is turned here) */
async function unixTime(v: string): Promise<string> {
  if (/^\d+(\.\d+)?$/.test(v)) return v;
  const { parseTimeArg } = await import("../../engine/index.ts");
  return (parseTimeArg(v) / 1000).toFixed(9);
}
