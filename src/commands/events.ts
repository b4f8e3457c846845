/** `berth events`: docker's event stream (engine/events.ts followEvents), one line or template per event */
import { defineBerthCommand } from "./_command.ts";
import { renderTemplate } from "./_format/template.ts";
import { renderEvent } from "./_format/events.ts";
import { EVENT_FILTERS, Filters, followEvents, parseTimeArg, type EventMessage } from "../engine/index.ts";

export default defineBerthCommand({
  meta: {
    name: "events",
    description: "Get real time events from the server",
    usage: "[OPTIONS]",
    aliases: ["berth system events", "berth events"],
    maxArgs: 0,
  },
  args: {
    filter: { type: "string", multiple: true, alias: "f", description: "Filter output based on conditions provided" },
    format: { type: "string", description: "Format output using a custom template: 'json', or a Go template" },
    since: { type: "string", description: "Show all events created since timestamp" },
    until: { type: "string", description: "Stream events until this timestamp" },
  },
  async run({ flags, ctx }) {
    const filters = Filters.fromFlags(flags.filter as string[], { strict: true }).validate(EVENT_FILTERS);
    const now = Date.now();
    const since = typeof flags.since === "string" ? parseTimeArg(flags.since, now) : undefined;
    const until = typeof flags.until === "string" ? parseTimeArg(flags.until, now) : undefined;
    const fmt = typeof flags.format === "string" ? (flags.format === "json" ? "{{json .}}" : flags.format) : undefined;
    // (a template is parsed at the first event, as before: an unused bad template is no error)
    const render = (e: EventMessage) => (fmt ? renderTemplate(fmt, e) : renderEvent(e));
    for await (const e of followEvents(ctx.root, { since, until, filters })) ctx.out(render(e) + "\n");
    return 0;
  },
});
