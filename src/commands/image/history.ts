import { defineBerthCommand } from "../_command.ts";
import { humanDuration, humanSize, renderTable } from "../../lib/human.ts";
import { shortId } from "../../lib/ids.ts";

export default defineBerthCommand({
  meta: { name: "history", description: "Show the history of an image", usage: "[OPTIONS] IMAGE", minArgs: 1, maxArgs: 1 },
  args: {
    "no-trunc": { type: "boolean", description: "Don't truncate output" },
    quiet: { type: "boolean", alias: "q", description: "Only show image IDs" },
    human: { type: "boolean", alias: "H", default: true, description: "Print sizes and dates in human readable format" },
    format: { type: "string", description: "Format output: 'table' or 'json'" },
  },
  async run({ flags, positionals, ctx }) {
    const engine = await ctx.engine();
    const rows = await engine.images.history(positionals[0]!);
    const id = (s: string) => (s === "<missing>" || flags["no-trunc"] ? s : shortId(s));
    if (flags.quiet) return void rows.forEach((r) => ctx.out(id(r.id) + "\n"));
    const now = Date.now();
    if (flags.format === "json") return void rows.forEach((r) => ctx.out(JSON.stringify({ ID: id(r.id), CreatedAt: r.created, CreatedBy: r.createdBy, Size: humanSize(r.size), Comment: r.comment }) + "\n"));
    const by = (s: string) => (flags["no-trunc"] || s.length <= 45 ? s : s.slice(0, 44) + "…");
    ctx.out(renderTable(["IMAGE", "CREATED", "CREATED BY", "SIZE", "COMMENT"], rows.map((r) => [id(r.id), r.created ? `${humanDuration(now - Date.parse(r.created))} ago` : "", by(r.createdBy), humanSize(r.size), r.comment])));
  },
});
