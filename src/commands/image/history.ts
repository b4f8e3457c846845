import { defineBerthCommand } from "../_command.ts";
import type { Context } from "../_context.ts";
import { humanDuration, humanSize, renderTable } from "../../lib/human.ts";
import { shortId } from "../../lib/ids.ts";
import { FORMAT_HELP, formatRows } from "../_format/table.ts";

const HISTORY_HEADERS: Record<string, string> = {
  Comment: "COMMENT",
  CreatedAt: "CREATED AT",
  CreatedBy: "CREATED BY",
  CreatedSince: "CREATED",
  ID: "IMAGE",
  Size: "SIZE",
};

export default defineBerthCommand({
  meta: { name: "history", description: "Show the history of an image", usage: "[OPTIONS] IMAGE", minArgs: 1, maxArgs: 1 },
  args: {
    "no-trunc": { type: "boolean", description: "Don't truncate output" },
    quiet: { type: "boolean", alias: "q", description: "Only show image IDs" },
    human: { type: "boolean", alias: "H", default: true, description: "Print sizes and dates in human readable format" },
    format: { type: "string", description: FORMAT_HELP },
  },
  async run({ flags, positionals, ctx }) {
    const engine = await ctx.engine();
    printHistory(ctx, flags, await engine.images.history(positionals[0]!));
  },
});

/** one layer of an image's history, as history prints it */
export interface HistoryRow {
  id: string;
  created: string;
  createdBy: string;
  size: number;
  comment: string;
}

/** history's output (table, -q, --format) for the rows: the engine's or a daemon's (client mode) */
export function printHistory(ctx: Context, flags: Record<string, unknown>, rows: HistoryRow[]): void {
  const id = (s: string) => (s === "<missing>" || flags["no-trunc"] ? s : shortId(s));
  if (flags.quiet) {
    for (const r of rows) ctx.out(id(r.id) + "\n");
    return;
  }
  const now = Date.now();
  const by = (s: string) => (flags["no-trunc"] || s.length <= 45 ? s : s.slice(0, 44) + "…");
  const human = flags.human !== false;
  const since = (c: string) =>
    !c ? "N/A" : human ? `${humanDuration(now - Date.parse(c))} ago` : new Date(Date.parse(c)).toISOString().replace(/\.\d+Z$/, "Z");
  const objs = rows.map((r) => ({
    Comment: r.comment,
    CreatedAt: r.created ? new Date(Date.parse(r.created)).toISOString().replace(/\.\d+Z$/, "Z") : "N/A",
    CreatedBy: by(r.createdBy),
    CreatedSince: since(r.created),
    ID: id(r.id),
    Size: human ? humanSize(r.size) : String(r.size),
  }));
  formatRows(ctx.out, typeof flags.format === "string" ? flags.format : undefined, objs, HISTORY_HEADERS, () =>
    ctx.out(
      renderTable(
        ["IMAGE", "CREATED", "CREATED BY", "SIZE", "COMMENT"],
        objs.map((r) => [r.ID, r.CreatedSince, r.CreatedBy, r.Size, r.Comment]),
      ),
    ),
  );
}
