/** docker-style usage text for `berth COMMAND --help` and usage errors. */
import type { BerthCommand } from "./_command.ts";
import { commands } from "./index.ts";

export function renderUsage(cmd: BerthCommand, path: string[]): string {
  const m = cmd.meta;
  const full = ["berth", ...path].join(" ");
  const lines: string[] = [];
  const tail = m.usage ?? (cmd.subCommands ? "COMMAND" : "[OPTIONS]");
  lines.push(`Usage:  ${full} ${tail}`, "", m.description, "");
  if (m.aliases?.length) lines.push("Aliases:", `  ${m.aliases.join(", ")}`, "");
  if (cmd.subCommands) {
    lines.push("Commands:");
    for (const name of Object.keys(cmd.subCommands)) lines.push(`  ${name}`);
    lines.push("");
  }
  // sorted by long name, as pflag prints them
  const opts = Object.entries(cmd.args)
    .filter(([, d]) => d.type !== "positional" && !d.hidden)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  if (opts.length) {
    lines.push("Options:");
    const rows = opts.map(([name, d]) => {
      const aliases: string[] = d.alias === undefined ? [] : Array.isArray(d.alias) ? d.alias : [d.alias];
      const short = aliases.find((a) => a.length === 1);
      const kind = d.type === "boolean" ? "" : d.multiple ? " list" : ` ${d.valueHint ?? "string"}`;
      const left = `${short ? `-${short}, ` : "    "}--${name}${kind}`;
      const def = d.default !== undefined && d.type !== "boolean" && d.default !== "" ? ` (default "${d.default}")` : "";
      return [left, (d.description ?? "") + def] as const;
    });
    const w = Math.max(...rows.map((r) => r[0].length)) + 3;
    // a description's further lines line up under its first (docker's pflag layout)
    for (const [l, r] of rows) lines.push(`  ${l.padEnd(w)}${r.split("\n").join("\n" + " ".repeat(w + 2))}`);
    lines.push("");
  }
  if (cmd.subCommands) lines.push(`Run '${full} COMMAND --help' for more information on a command.`, "");
  return lines.join("\n");
}

export function usageLine(cmd: BerthCommand, path: string[]): string {
  return `Usage:  ${["berth", ...path].join(" ")} ${cmd.meta.usage ?? "[OPTIONS]"}`;
}

/**
 * `berth GROUP --help` (container, image, network, …): docker lists each subcommand once, sorted, with
 * its description; names that load the same command (ls/list/ps, rm/remove) show as the first one.
 */
export async function renderGroupUsage(cmd: BerthCommand, path: string[]): Promise<string> {
  const base = renderUsage(cmd, path);
  if (!cmd.subCommands) return base;
  const seen = new Map<BerthCommand, string>();
  for (const [name, load] of Object.entries(cmd.subCommands)) {
    const c = (await load()).default;
    const prev = seen.get(c);
    // docker's canonical names: "ls" over "list"/"ps", "rm" over "remove"
    if (prev === undefined || name === "ls" || (name === "rm" && prev !== "ls")) seen.set(c, name);
  }
  const rows = [...seen].map(([c, name]) => [name, c.meta.description] as const).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const w = Math.max(11, ...rows.map(([n]) => n.length)) + 1;
  const list = ["Commands:", ...rows.map(([n, d]) => `  ${n.padEnd(w)}${d}`)].join("\n");
  return base.replace(/Commands:\n(?: {2}\S+\n)+/, `${list}\n`);
}

/** `berth --help` and `berth help`: the command list with descriptions, then the global options */
export async function topUsage(): Promise<string> {
  const lines = ["Usage:  berth [OPTIONS] COMMAND", "", "A self-contained container engine with docker's commands", "", "Commands:"];
  // docker's layout: name, then the one-line description (loading every command only for --help)
  const metas = await Promise.all(Object.entries(commands).map(async ([name, load]) => [name, (await load()).default.meta.description ?? ""] as const));
  const width = Math.max(...metas.map(([n]) => n.length)) + 2;
  for (const [name, desc] of metas.sort(([a], [b]) => a.localeCompare(b))) lines.push(`  ${name.padEnd(width)}${desc}`);
  lines.push("", "Global Options:");
  lines.push('      --root string        Root directory of persistent berth state (default "/var/lib/berth", env BERTH_ROOT)');
  const drivers = (await import("../engine/index.ts")).storageDrivers();
  lines.push(`  -s, --storage-driver string  Storage driver: ${drivers.names.slice(0, -1).join(", ")} or ${drivers.names.at(-1)} (default: the one the root`);
  lines.push(`                               already uses, else ${drivers.preferred}; env BERTH_STORAGE_DRIVER)`);
  lines.push("  -c, --context string     Name of the context to use to connect to the daemon (overrides BERTH_HOST/DOCKER_HOST");
  lines.push('                           and the context set with "berth context use")');
  lines.push("  -D, --debug              Enable debug mode");
  lines.push("  -H, --host string        Daemon socket to connect to: unix://PATH, tcp://HOST:PORT, ssh://[USER@]HOST[:PORT]");
  lines.push("                           (env BERTH_HOST, DOCKER_HOST; without one berth works on its own store, no daemon)");
  lines.push('  -l, --log-level string   Set the logging level ("debug"|"info"|"warn"|"error"|"fatal") (default "warn")');
  lines.push("      --tls, --tlsverify   Use TLS (and verify the daemon) in client mode; --tlscacert, --tlscert, --tlskey name");
  lines.push("                           the files (default: DOCKER_CERT_PATH's ca.pem, cert.pem, key.pem)");
  lines.push("  -v, --version            Print version information and quit");
  lines.push("", "Run 'berth COMMAND --help' for more information on a command.", "");
  return lines.join("\n");
}
