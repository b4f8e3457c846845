import { defineBerthCommand } from "../_command.ts";
import { humanSize, renderTable } from "../../lib/human.ts";
import type { Context } from "../_context.ts";
import { formatRows } from "../_format/table.ts";
import type { DiskUsageRow } from "../../engine/index.ts";

export default defineBerthCommand({
  meta: { name: "df", description: "Show berth disk usage", usage: "[OPTIONS]", maxArgs: 0 },
  args: {
    format: { type: "string", description: "Format output: 'table', 'json' or a Go template" },
    verbose: { type: "boolean", alias: "v", description: "Show detailed information on space usage" },
  },
  async run({ flags, ctx }) {
    const engine = await ctx.engine();
    if (flags.verbose && (flags.format === undefined || flags.format === "table")) {
      const { renderVerboseDiskUsage } = await import("./_df-verbose.ts");
      return void ctx.out(renderVerboseDiskUsage(await engine.diskUsageVerbose()));
    }
    const rows = await engine.diskUsage();
    printDiskUsage(ctx, flags, rows);
  },
});

/** df's summary (table, json or a Go template, as docker's --format) for the usage rows: the engine's
 * or a daemon's (client mode) */
export function printDiskUsage(ctx: Context, flags: Record<string, unknown>, rows: DiskUsageRow[]): void {
  const pct = (r: number, t: number) => (t > 0 ? ` (${Math.round((r / t) * 100)}%)` : "");
  const objs = rows.map((r) => ({
    Active: String(r.active),
    Reclaimable: humanSize(r.reclaimable) + pct(r.reclaimable, r.size),
    Size: humanSize(r.size),
    TotalCount: String(r.total),
    Type: r.type,
  }));
  formatRows(
    ctx.out,
    typeof flags.format === "string" ? flags.format : undefined,
    objs,
    { Type: "TYPE", TotalCount: "TOTAL", Active: "ACTIVE", Size: "SIZE", Reclaimable: "RECLAIMABLE" },
    () =>
      ctx.out(
        renderTable(
          ["TYPE", "TOTAL", "ACTIVE", "SIZE", "RECLAIMABLE"],
          objs.map((o) => [o.Type, o.TotalCount, o.Active, o.Size, o.Reclaimable]),
        ),
      ),
    "DiskUsageContext",
  );
}
