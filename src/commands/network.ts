/**
 * `berth network`: docker's network management verbs (create, ls, inspect, rm, connect, disconnect,
 * prune) over the engine's NetworkService; the container side goes through the ContainerService.
 */
import { defineBerthCommand, type BerthCommand } from "./_command.ts";
import type { Context } from "./_context.ts";
import { EngineError, UsageError } from "../lib/errors.ts";
import { compileTemplate, goJson, goTimeOf } from "./_format/template.ts";
import { FORMAT_HELP, formatRows, renderDockerTable } from "./_format/table.ts";
import { Filters, ZERO_TIME, type Network } from "../engine/index.ts";
import { forEach } from "./_session.ts";

/** (defineBerthCommand gives docker's exit 1 on daemon errors; 125 stays for bad flags) */
const def = (c: BerthCommand) => async () => ({ default: defineBerthCommand(c) });

async function confirm(ctx: Context, force: boolean, what: string): Promise<boolean> {
  void ctx;
  if (force || !process.stdin.isTTY) return true;
  process.stderr.write(`WARNING! This will remove ${what}.\nAre you sure you want to continue? [y/N] `);
  const answer = await new Promise<string>((r) => process.stdin.once("data", (d) => r(String(d))));
  process.stdin.pause();
  return /^y(es)?$/i.test(answer.trim());
}

export default defineBerthCommand({
  meta: { name: "network", description: "Manage networks", usage: "COMMAND" },
  args: {},
  subCommands: {
    create: def({
      meta: { name: "create", description: "Create a network", usage: "[OPTIONS] NETWORK", minArgs: 1, maxArgs: 1 },
      args: {
        driver: { type: "string", alias: "d", default: "bridge", description: "Driver to manage the Network" },
        subnet: { type: "string", multiple: true, description: "Subnet in CIDR format that represents a network segment" },
        gateway: { type: "string", multiple: true, description: "IPv4 Gateway for the master subnet" },
        internal: { type: "boolean", description: "Restrict external access to the network" },
        label: { type: "string", multiple: true, description: "Set metadata on a network" },
        attachable: { type: "boolean", description: "Enable manual container attachment" },
      },
      async run({ flags, positionals, ctx }) {
        if (flags.subnet.length > 1 || flags.gateway.length > 1)
          throw new UsageError("berth networks have one IPv4 subnet: pass --subnet and --gateway at most once");
        const svc = (await ctx.engine()).containers;
        const rec = svc.networks.create(positionals[0]!, {
          subnet: flags.subnet[0],
          gateway: flags.gateway[0],
          internal: !!flags.internal,
          driver: flags.driver,
          labels: Object.fromEntries(flags.label.map((l: string) => (l.includes("=") ? [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)] : [l, ""]))),
          attachable: !!flags.attachable,
        });
        ctx.out(rec.id + "\n");
      },
    }),
    ls: def({
      meta: { name: "ls", description: "List networks", usage: "[OPTIONS]", aliases: ["berth network ls", "berth network list"], maxArgs: 0 },
      args: {
        quiet: { type: "boolean", alias: "q", description: "Only display network IDs" },
        "no-trunc": { type: "boolean", description: "Do not truncate the output" },
        format: { type: "string", description: FORMAT_HELP },
        filter: { type: "string", alias: "f", multiple: true, description: "Provide filter values (name=NAME, driver=DRIVER)" },
      },
      async run({ flags, ctx }) {
        const engine = await ctx.engine();
        const rows = engine.networkList(Filters.fromFlags(flags.filter as string[]));
        printNetworks(ctx, flags, rows);
      },
    }),
    inspect: def({
      meta: { name: "inspect", description: "Display detailed information on one or more networks", usage: "[OPTIONS] NETWORK [NETWORK...]", minArgs: 1 },
      args: { format: { type: "string", alias: "f", description: "Format output using a custom template" } },
      async run({ flags, positionals, ctx }) {
        const engine = await ctx.engine();
        const out: Network[] = [];
        let failed = false;
        for (const ref of positionals) {
          try {
            out.push(engine.networkInspect(ref));
          } catch (e) {
            if (!(e instanceof EngineError && e.kind === "not_found")) throw e;
            process.stderr.write(`berth: network ${ref} not found\n`);
            failed = true;
          }
        }
        if (typeof flags.format === "string" && flags.format !== "") {
          // docker: `--format json` is the whole array on one line; templates keep \t and \n literal
          if (flags.format === "json") ctx.out(goJson(out) + "\n");
          else {
            const render = compileTemplate(flags.format, { raw: true });
            for (const o of out) ctx.out(render(o) + "\n");
          }
        } else ctx.out(JSON.stringify(out, null, 4) + "\n");
        return failed ? 1 : 0;
      },
    }),
    rm: def({
      meta: {
        name: "rm",
        description: "Remove one or more networks",
        usage: "NETWORK [NETWORK...]",
        aliases: ["berth network rm", "berth network remove"],
        minArgs: 1,
      },
      args: { force: { type: "boolean", alias: "f", description: "Do not error if the network does not exist" } },
      async run({ flags, positionals, ctx }) {
        const svc = (await ctx.engine()).containers;
        return forEach(ctx, positionals, async (ref) => {
          try {
            svc.networks.remove(ref, svc.isKnownContainer);
          } catch (e) {
            if (flags.force && e instanceof EngineError && e.kind === "not_found") return;
            throw e;
          }
          return ref;
        });
      },
    }),
    connect: def({
      meta: { name: "connect", description: "Connect a container to a network", usage: "[OPTIONS] NETWORK CONTAINER", minArgs: 2, maxArgs: 2 },
      args: {
        alias: { type: "string", multiple: true, description: "Add network-scoped alias for the container" },
        ip: { type: "string", description: "IPv4 address (e.g., 172.30.100.104)" },
      },
      async run({ flags, positionals, ctx }) {
        const svc = (await ctx.engine()).containers;
        await svc.connectNetwork(positionals[1]!, positionals[0]!, { aliases: flags.alias, ip: flags.ip });
      },
    }),
    disconnect: def({
      meta: { name: "disconnect", description: "Disconnect a container from a network", usage: "[OPTIONS] NETWORK CONTAINER", minArgs: 2, maxArgs: 2 },
      args: { force: { type: "boolean", alias: "f", description: "Force the container to disconnect from a network" } },
      async run({ flags, positionals, ctx }) {
        const svc = (await ctx.engine()).containers;
        svc.disconnectNetwork(positionals[1]!, positionals[0]!, !!flags.force);
      },
    }),
    prune: def({
      meta: { name: "prune", description: "Remove all unused networks", usage: "[OPTIONS]", maxArgs: 0 },
      args: {
        force: { type: "boolean", alias: "f", description: "Do not prompt for confirmation" },
        filter: { type: "string", multiple: true, description: `Provide filter values (e.g. "until=<timestamp>")` },
      },
      async run({ flags, ctx }) {
        const filters = Filters.fromFlags(flags.filter as string[], { strict: true }).validate(["until", "label", "label!"]);
        if (!(await confirm(ctx, !!flags.force, "all custom networks not used by at least one container"))) return;
        const svc = (await ctx.engine()).containers;
        const removed = svc.networks.prune(svc.isKnownContainer, filters);
        if (removed.length) ctx.out(`Deleted Networks:\n${removed.join("\n")}\n\n`);
      },
    }),
  },
});

/** network ls's output (table, -q, --format) for a network list: the engine's or a daemon's (client mode) */
export function printNetworks(ctx: Context, flags: Record<string, unknown>, rows: Network[]): void {
  const id = (x: string) => (flags["no-trunc"] ? x : x.slice(0, 12));
  if (flags.quiet) return void ctx.out(rows.map((r) => id(r.Id) + "\n").join(""));
  const objs = rows.map((r) => ({
    ID: id(r.Id),
    Name: r.Name,
    Driver: r.Driver,
    Scope: r.Scope,
    // docker 28's CLI reads EnableIPv4 (a daemon without it: false, as docker's CLI prints)
    IPv4: String(r.EnableIPv4 ?? false),
    IPv6: String(r.EnableIPv6),
    Internal: String(r.Internal),
    // Go's time String(), as docker's CLI prints a network's Created (a zero time: empty)
    CreatedAt: r.Created === ZERO_TIME ? "" : goTimeOf(r.Created),
    Labels: Object.entries(r.Labels ?? {})
      .map(([k, v]) => `${k}=${v}`)
      .join(","),
  }));
  const headers = {
    ID: "NETWORK ID",
    Name: "NAME",
    Driver: "DRIVER",
    Scope: "SCOPE",
    IPv4: "IPV4",
    IPv6: "IPV6",
    Internal: "INTERNAL",
    CreatedAt: "CREATED AT",
    Labels: "LABELS",
  };
  formatRows(ctx.out, typeof flags.format === "string" ? flags.format : undefined, objs, headers, () =>
    ctx.out(
      renderDockerTable(
        ["NETWORK ID", "NAME", "DRIVER", "SCOPE"],
        objs.map((o) => [o.ID, o.Name, o.Driver, o.Scope]),
      ),
    ),
  );
}
