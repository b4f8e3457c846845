/**
 * `berth top`: `ps -ef`-like table of the processes in the container's cgroup. With ps options
 * (`berth top web -o pid,comm`, `berth top web aux`) the host's ps runs with them and its lines are
 * kept for the container's PIDs, as docker's daemon does (the engine's containers.top).
 */
import { defineBerthCommand } from "./_command.ts";

/** docker's top table: text/tabwriter with minwidth 20, padding 3 */
export function renderTopTable(titles: string[], rows: string[][]): string {
  const all = [titles, ...rows];
  const widths = titles.map((_, c) => Math.max(20, ...all.map((r) => [...(r[c] ?? "")].length + 3)));
  return all.map((r) => r.map((cell, c) => (c === r.length - 1 ? cell : cell.padEnd(widths[c]!))).join("")).join("\n") + "\n";
}

export default defineBerthCommand({
  meta: {
    name: "top",
    description: "Display the running processes of a container",
    usage: "CONTAINER [ps OPTIONS]",
    aliases: ["berth container top", "berth top"],
    minArgs: 1,
    stopAtPositional: true,
  },
  args: {},
  async run({ positionals, rest, ctx }) {
    const t = (await ctx.engine()).containers.top(positionals[0]!, rest);
    ctx.out(renderTopTable(t.titles, t.processes));
  },
});
