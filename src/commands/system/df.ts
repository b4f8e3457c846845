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
  // docker/cli's diskUsage*Context: units.HumanSize (4 digits) and the percentage cut to an integer
  // (Go's int64 division); the build cache's reclaimable has no percentage
  const pct = (r: DiskUsageRow) => (r.size > 0 && r.type !== "Build Cache" ? ` (${Math.floor((r.reclaimable * 100) / r.size)}%)` : "");
  const objs = rows.map((r) => ({
    Active: String(r.active),
    Reclaimable: humanSize(r.reclaimable, 4) + pct(r),
    Size: humanSize(r.size, 4),
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
