/** `berth events`: docker's event stream, read from the root's event log (engine/events.ts) and followed */
import { defineBerthCommand } from "./_command.ts";
import { renderTemplate } from "./_format/template.ts";
import { renderEvent } from "./_format/events.ts";
import { EventLog, parseEventFilters } from "../engine/events.ts";
import { parseTimeArg } from "../engine/containers/logs.ts";

export default defineBerthCommand({
  meta: { name: "events", description: "Get real time events from the server", usage: "[OPTIONS]", aliases: ["berth system events", "berth events"], maxArgs: 0 },
  args: {
    filter: { type: "string", multiple: true, alias: "f", description: "Filter output based on conditions provided" },
    format: { type: "string", description: "Format output using a custom template: 'json', or a Go template" },
    since: { type: "string", description: "Show all events created since timestamp" },
    until: { type: "string", description: "Stream events until this timestamp" },
  },
  async run({ flags, ctx }) {
    const filter = parseEventFilters(flags.filter as string[]);
    const now = Date.now();
    const since = typeof flags.since === "string" ? parseTimeArg(flags.since, now) : undefined;
    const until = typeof flags.until === "string" ? parseTimeArg(flags.until, now) : undefined;
    const log = new EventLog(ctx.root);
    const fmt = typeof flags.format === "string" ? (flags.format === "json" ? "{{json .}}" : flags.format) : undefined;
    const show = (e: Parameters<typeof renderEvent>[0]) => ctx.out((fmt ? renderTemplate(fmt, e) : renderEvent(e)) + "\n");
    // from the end (only what happens from now on), or from the start with --since
    const start = since === undefined ? log.end() : { offset: 0, inode: log.inode() };
    let next = start.offset;
    let inode = start.inode;
    let lastNano = 0;
    let skipUpTo = -1; // after a compaction: what was already shown
    for (;;) {
      if (log.inode() !== inode) {
        inode = log.inode();
        next = 0;
        skipUpTo = lastNano;
      }
      const r = log.read(next);
      next = r.next;
      for (const e of r.events) {
        if (e.timeNano <= skipUpTo) continue;
        if (since !== undefined && e.timeNano / 1e6 < since) continue;
        if (until !== undefined && e.timeNano / 1e6 > until) return 0;
        lastNano = e.timeNano;
        if (filter.match(e)) show(e);
      }
      if (until !== undefined && Date.now() > until) return 0;
      await Bun.sleep(100);
    }
  },
});
