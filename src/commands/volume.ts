/**
 * `berth volume`: docker's volume verbs (create, ls, inspect, rm, prune) over the engine's VolumeService.
 * A volume that is not there prints "berth: get NAME: no such volume" (docker's text after berth's prefix: no daemon is involved); engine errors exit 1.
 */
import { defineBerthCommand } from "./_command.ts";
import type { Context } from "./_context.ts";
import { confirm } from "./_confirm.ts";
import { EngineError, UsageError } from "../lib/errors.ts";
import { humanSize } from "../lib/human.ts";
import { renderDockerTable } from "./_format/table.ts";
import { renderTemplate } from "./_format/template.ts";
import { FilterError, Filters, VOLUME_PRUNE_FILTERS, type Volume } from "../engine/index.ts";

/** docker's CLI checked these filters itself: a bad one is a usage error (exit 125, with the usage) */
function usageOnFilterError<T>(fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    if (e instanceof FilterError) throw new UsageError(e.message);
    throw e;
  }
}

function parseKv(list: string[], flag: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const l of list) {
    const i = l.indexOf("=");
    if (i === 0) throw new UsageError(`invalid argument "${l}" for "${flag}" flag: invalid label format`);
    if (i < 0) out[l] = "";
    else out[l.slice(0, i)] = l.slice(i + 1);
  }
  return out;
}

export default defineBerthCommand({
  meta: { name: "volume", description: "Manage volumes", usage: "COMMAND" },
  args: {},
  subCommands: {
    create: async () => ({
      default: defineBerthCommand({
        meta: { name: "create", description: "Create a volume", usage: "[OPTIONS] [VOLUME]", maxArgs: 1 },
        args: {
          driver: { type: "string", alias: "d", default: "local", description: "Specify volume driver name" },
          label: { type: "string", multiple: true, description: "Set metadata for a volume" },
          opt: { type: "string", alias: "o", multiple: true, description: "Set driver specific options (not supported yet: refused)" },
          name: { type: "string", description: "Specify volume name" },
        },
        async run({ flags, positionals, ctx }) {
          const svc = (await ctx.engine()).containers;
          if (flags.name && positionals[0] && flags.name !== positionals[0])
            throw new UsageError(`conflicting options: either specify --name or provide positional arg, not both`);
          const { volume } = svc.volumes.create(flags.name || positionals[0], {
            driver: flags.driver,
            labels: parseKv(flags.label, "--label"),
            options: parseKv(flags.opt, "--opt"),
          });
          ctx.out(volume.Name + "\n");
        },
      }),
    }),
    ls: async () => ({
      default: defineBerthCommand({
        meta: { name: "ls", description: "List volumes", usage: "[OPTIONS]", aliases: ["berth volume ls", "berth volume list"], maxArgs: 0 },
        args: {
          quiet: { type: "boolean", alias: "q", description: "Only display volume names" },
          format: { type: "string", description: "Format output using a custom template: 'table', 'json', or a Go template" },
          filter: { type: "string", alias: "f", multiple: true, description: "Provide filter values (e.g. 'dangling=true')" },
        },
        async run({ flags, ctx }) {
          const engine = await ctx.engine();
          const rows = usageOnFilterError(() => engine.volumeList(Filters.fromFlags(flags.filter as string[]))).Volumes;
          printVolumes(ctx, flags, rows);
        },
      }),
    }),
    inspect: async () => ({
      default: defineBerthCommand({
        meta: { name: "inspect", description: "Display detailed information on one or more volumes", usage: "[OPTIONS] VOLUME [VOLUME...]", minArgs: 1 },
        args: { format: { type: "string", alias: "f", description: "Format output using a custom template" } },
        async run({ flags, positionals, ctx }) {
          const engine = await ctx.engine();
          const out: Volume[] = [];
          let failed = false;
          for (const name of positionals) {
            try {
              out.push(engine.volumeInspect(name));
            } catch (e) {
              if (!(e instanceof EngineError && e.kind === "not_found")) throw e;
              process.stderr.write(`berth: get ${name}: no such volume\n`);
              failed = true;
            }
          }
          if (typeof flags.format === "string" && flags.format !== "") {
            for (const o of out)
              ctx.out((flags.format === "json" ? JSON.stringify(o) : renderTemplate(flags.format, o as unknown as Record<string, unknown>)) + "\n");
          } else ctx.out(JSON.stringify(out, null, 4) + "\n");
          return failed ? 1 : 0;
        },
      }),
    }),
    rm: async () => ({
      default: defineBerthCommand({
        meta: {
          name: "rm",
          description: "Remove one or more volumes",
          usage: "[OPTIONS] VOLUME [VOLUME...]",
          aliases: ["berth volume rm", "berth volume remove"],
          minArgs: 1,
        },
        args: { force: { type: "boolean", alias: "f", description: "Force the removal of one or more volumes" } },
        async run({ flags, positionals, ctx }) {
          const svc = (await ctx.engine()).containers;
          let failed = false;
          for (const name of positionals) {
            try {
              svc.volumes.remove(name);
              ctx.out(name + "\n");
            } catch (e) {
              if (!(e instanceof EngineError)) throw e;
              if (flags.force && e.kind === "not_found") continue;
              process.stderr.write(`berth: ${e.message}\n`);
              failed = true;
            }
          }
          return failed ? 1 : 0;
        },
      }),
    }),
    prune: async () => ({
      default: defineBerthCommand({
        meta: { name: "prune", description: "Remove unused local volumes", usage: "[OPTIONS]", maxArgs: 0 },
        args: {
          all: { type: "boolean", alias: "a", description: "Remove all unused volumes, not just anonymous ones" },
          force: { type: "boolean", alias: "f", description: "Do not prompt for confirmation" },
          filter: { type: "string", multiple: true, description: "Provide filter values (e.g. 'label=<label>')" },
        },
        async run({ flags, ctx }) {
          // checked before the prompt, as docker's CLI does
          const filters = usageOnFilterError(() => Filters.fromFlags(flags.filter as string[]).validate(VOLUME_PRUNE_FILTERS));
          const all = filters.has("all") ? ["true", "1"].includes(filters.get("all").at(-1)!) : !!flags.all;
          if (!(await confirm(!!flags.force, `This will remove ${all ? "all local volumes" : "anonymous local volumes"} not used by at least one container.`)))
            return;
          const engine = await ctx.engine();
          const { VolumesDeleted: removed, SpaceReclaimed: reclaimed } = engine.volumePrune({ all: !!flags.all, filters });
          if (removed.length) ctx.out(`Deleted Volumes:\n${removed.join("\n")}\n\n`);
          ctx.out(`Total reclaimed space: ${humanSize(reclaimed, 4)}\n`);
        },
      }),
    }),
  },
});

/** volume ls's output (table, -q, --format) for a volume list: the engine's or a daemon's (client mode) */
export function printVolumes(ctx: Context, flags: Record<string, unknown>, rows: Volume[]): void {
  if (flags.quiet) return void ctx.out(rows.map((r) => r.Name + "\n").join(""));
  // docker/cli's volumeContext, keys sorted as its JSON has them; Availability, Group and Status are a
  // cluster (swarm CSI) volume's, "N/A" for a local one
  const objs = rows.map((r) => ({
    Availability: "N/A",
    Driver: r.Driver,
    Group: "N/A",
    Labels: Object.entries(r.Labels ?? {})
      .map(([k, v]) => `${k}=${v}`)
      .join(","),
    // the engine's list counts the containers using each volume; a daemon's list has no UsageData: N/A, as docker
    Links: r.UsageData ? String(r.UsageData.RefCount) : "N/A",
    Mountpoint: r.Mountpoint,
    Name: r.Name,
    Scope: r.Scope,
    Size: "N/A",
    Status: "N/A",
  }));
  if (flags.format === "json" || flags.format === "{{json .}}") return void ctx.out(objs.map((o) => JSON.stringify(o) + "\n").join(""));
  if (flags.format && flags.format !== "table") return void ctx.out(objs.map((o) => renderTemplate(String(flags.format), o) + "\n").join(""));
  ctx.out(
    renderDockerTable(
      ["DRIVER", "VOLUME NAME"],
      objs.map((o) => [o.Driver, o.Name]),
    ),
  );
}
