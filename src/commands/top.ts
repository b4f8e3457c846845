/**
 * `berth top`: `ps -ef`-like table of the processes in the container's cgroup. With ps options
 * (`berth top web -o pid,comm`, `berth top web aux`) the host's ps runs with them and its lines are
 * kept for the container's PIDs, as docker's daemon does.
 */
import { defineBerthCommand } from "./_command.ts";
import { EngineError } from "../lib/errors.ts";

/** docker's top table: text/tabwriter with minwidth 20, padding 3 */
export function renderTopTable(titles: string[], rows: string[][]): string {
  const all = [titles, ...rows];
  const widths = titles.map((_, c) => Math.max(20, ...all.map((r) => [...(r[c] ?? "")].length + 3)));
  return all.map((r) => r.map((cell, c) => (c === r.length - 1 ? cell : cell.padEnd(widths[c]!))).join("")).join("\n") + "\n";
}

/** docker's parsePSOutput: the header's words are the columns, the last one takes the rest of the line */
export function filterPsOutput(out: string, pids: Set<number>): { titles: string[]; processes: string[][] } {
  const lines = out.split("\n").filter((l) => l.trim() !== "");
  const titles = (lines[0] ?? "").trim().split(/\s+/);
  const pidCol = titles.indexOf("PID");
  if (pidCol < 0) throw new EngineError("invalid_argument", "Couldn't find PID field in ps output");
  const processes: string[][] = [];
  for (const line of lines.slice(1)) {
    const words = line.trim().split(/\s+/);
    const row = [...words.slice(0, titles.length - 1), words.slice(titles.length - 1).join(" ")];
    if (pids.has(Number(row[pidCol]))) processes.push(row);
  }
  return { titles, processes };
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
    const svc = (await ctx.engine()).containers;
    const own = svc.top(positionals[0]!);
    if (rest.length === 0) return void ctx.out(renderTopTable(own.titles, own.processes));
    const pids = new Set(own.processes.map((p) => Number(p[1])));
    const ps = Bun.spawnSync(["ps", ...rest], { stdout: "pipe", stderr: "pipe" });
    if (ps.exitCode !== 0) throw new EngineError("invalid_argument", `ps: ${ps.stderr.toString().trim() || `exit status ${ps.exitCode}`}`);
    const t = filterPsOutput(ps.stdout.toString(), pids);
    ctx.out(renderTopTable(t.titles, t.processes));
  },
});
