/** `berth logs`: the json-file log, stdout entries to stdout and stderr entries to stderr. */
import { defineBerthCommand } from "./_command.ts";

export default defineBerthCommand({
  meta: {
    name: "logs",
    description: "Fetch the logs of a container",
    usage: "[OPTIONS] CONTAINER",
    aliases: ["berth container logs", "berth logs"],
    minArgs: 1,
    maxArgs: 1,
  },
  args: {
    details: { type: "boolean", description: "Show extra details provided to logs" },
    follow: { type: "boolean", alias: "f", description: "Follow log output" },
    since: { type: "string", description: 'Show logs since timestamp (e.g. "2013-01-02T13:23:37Z") or relative (e.g. "42m" for 42 minutes)' },
    tail: { type: "string", alias: "n", default: "all", description: "Number of lines to show from the end of the logs" },
    timestamps: { type: "boolean", alias: "t", description: "Show timestamps" },
    until: { type: "string", description: 'Show logs before a timestamp (e.g. "2013-01-02T13:23:37Z") or relative (e.g. "42m" for 42 minutes)' },
  },
  async run({ flags, positionals, ctx }) {
    const svc = (await ctx.engine()).containers;
    const ts = !!flags.timestamps;
    await svc.logs(positionals[0]!, {
      follow: !!flags.follow,
      tail: typeof flags.tail === "string" ? flags.tail : undefined,
      since: typeof flags.since === "string" ? flags.since : undefined,
      until: typeof flags.until === "string" ? flags.until : undefined,
      onEntry: (e) => {
        // docker: timestamp, then the details (log attributes; berth records none) and a space, then the line
        const line = (ts ? `${e.time} ` : "") + (flags.details ? " " : "") + e.log;
        (e.stream === "stderr" ? process.stderr : process.stdout).write(line);
      },
    });
  },
});
