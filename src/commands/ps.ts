/** `berth ps`: docker's columns, filters, -q, --no-trunc, --format json|table|template. */
import { defineBerthCommand, type RunInput } from "./_command.ts";
import { Filters } from "../engine/index.ts";
import { FORMAT_HELP, formatRows, renderDockerTable, sortedKeys } from "./_format/table.ts";
import { PS_HEADERS, psRows } from "./_format/ps.ts";
import { readClientConfig } from "./_client-config.ts";
import type { Context } from "./_context.ts";
import type { ContainerSummary } from "../engine/index.ts";

export default defineBerthCommand({
  meta: {
    name: "ps",
    description: "List containers",
    usage: "[OPTIONS]",
    aliases: ["berth container ls", "berth container list", "berth container ps", "berth ps"],
    maxArgs: 0,
  },
  args: {
    all: { type: "boolean", alias: "a", description: "Show all containers (default shows just running)" },
    filter: { type: "string", multiple: true, alias: "f", description: "Filter output based on conditions provided" },
    format: { type: "string", description: FORMAT_HELP },
    last: { type: "string", alias: "n", description: "Show n last created containers (includes all states)", valueHint: "int" },
    latest: { type: "boolean", alias: "l", description: "Show the latest created container (includes all states)" },
    "no-trunc": { type: "boolean", description: "Don't truncate output" },
    quiet: { type: "boolean", alias: "q", description: "Only display container IDs" },
    size: { type: "boolean", alias: "s", description: "Display total file sizes" },
  },
  async run({ flags, ctx }) {
    const engine = await ctx.engine();
    const last = flags.latest ? 1 : flags.last !== undefined ? Number(flags.last) : -1;
    const list = await engine.containerList({
      all: !!flags.all,
      limit: last >= 0 ? last : undefined,
      size: wantsSize(ctx, flags),
      filters: Filters.fromFlags((flags.filter as string[]) ?? [], { strict: true }),
    });
    printContainers(ctx, flags, list);
  },
});

/** the --format in effect: the flag's, else the client config's psFormat (docker's order) */
function psFormat(ctx: Context, flags: RunInput["flags"]): string | undefined {
  return typeof flags.format === "string" ? flags.format : readClientConfig(ctx).psFormat;
}

/**
 * whether the list must carry sizes: -s, or a template that uses {{.Size}} (docker/cli's ps executes the
 * template once on an empty row and asks the daemon for sizes when it read the Size field; `json`
 * does not count, as there). Not for -q, which prints no size.
 */
export function wantsSize(ctx: Context, flags: RunInput["flags"]): boolean {
  if (flags.quiet) return false;
  if (flags.size) return true;
  const f = (psFormat(ctx, flags) ?? "").trim();
  return f !== "json" && /\.Size\b/.test(f);
}

/** ps's output (table, -q, --format) for a container list: the engine's or a daemon's (client mode) */
export function printContainers(ctx: Context, flags: RunInput["flags"], list: ContainerSummary[]): void {
  const size = !!flags.size;
  const noTrunc = !!flags["no-trunc"];
  const rows = psRows(list, noTrunc, Date.now());
  if (flags.quiet) {
    ctx.out(rows.map((r) => r.ID + "\n").join(""));
    return;
  }
  const header = ["CONTAINER ID", "IMAGE", "COMMAND", "CREATED", "STATUS", "PORTS", "NAMES", ...(size ? ["SIZE"] : [])];
  // docker's formatter context: the row's fields in sorted order, and its .Label "key" method
  const objs = rows.map((r, n) => {
    const labels = list[n]!.Labels ?? {};
    return Object.assign(sortedKeys(r), { Label: (k: unknown) => labels[String(k)] ?? "" });
  });
  // docker: without --format, the client config's psFormat
  const format = psFormat(ctx, flags);
  formatRows(
    ctx.out,
    format,
    objs,
    PS_HEADERS,
    () =>
      ctx.out(
        renderDockerTable(
          header,
          rows.map((r) => [r.ID, r.Image, r.Command, r.RunningFor, r.Status, r.Ports, r.Names, ...(size ? [r.Size] : [])]),
        ),
      ),
    "ContainerContext",
  );
}
