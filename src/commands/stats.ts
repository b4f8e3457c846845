/** `berth stats --no-stream`: CPU %, MEM USAGE / LIMIT, MEM %, BLOCK I/O, PIDS from the container's cgroup, NET I/O from its netns */
import { defineBerthCommand } from "./_command.ts";
import type { Context } from "./_context.ts";
import { bytesSize, humanSize } from "../lib/human.ts";
import { formatRows, renderDockerTable } from "./_format/table.ts";

export const STATS_HEADERS: Record<string, string> = {
  Container: "CONTAINER",
  ID: "CONTAINER ID",
  Name: "NAME",
  CPUPerc: "CPU %",
  MemUsage: "MEM USAGE / LIMIT",
  MemPerc: "MEM %",
  NetIO: "NET I/O",
  BlockIO: "BLOCK I/O",
  PIDs: "PIDS",
};

export default defineBerthCommand({
  meta: {
    name: "stats",
    description: "Display a live stream of container(s) resource usage statistics",
    usage: "[OPTIONS] [CONTAINER...]",
    aliases: ["berth container stats", "berth stats"],
  },
  args: {
    all: { type: "boolean", alias: "a", description: "Show all containers (default shows just running)" },
    format: { type: "string", description: "Format output using a custom template" },
    "no-stream": { type: "boolean", description: "Disable streaming stats and only pull the first result" },
    "no-trunc": { type: "boolean", description: "Do not truncate output" },
  },
  async run({ flags, positionals, ctx }) {
    const svc = (await ctx.engine()).containers;
    const ids = positionals.length ? positionals.map((r) => svc.resolve(r)) : svc.list(!!flags.all).map((i) => i.cfg.Id);
    const sample = async () => {
      const first = new Map<string, { cpu: number; t: number }>();
      for (const id of ids) {
        try {
          const s = await svc.stats(id);
          first.set(id, { cpu: s.cpuNs ?? 0, t: performance.now() });
        } catch {
          // gone already: the second read below shows it with zeros
        }
      }
      await Bun.sleep(500);
      const rows: Record<string, string>[] = [];
      for (const [n, id] of ids.entries()) {
        const cfg = svc.store.readConfig(id);
        let cpu = 0,
          mem = 0,
          limit = 0,
          pids = 0,
          netRx = 0,
          netTx = 0,
          blkRead = 0,
          blkWrite = 0;
        try {
          const s = await svc.stats(id);
          const f = first.get(id);
          if (f) cpu = (((s.cpuNs ?? 0) - f.cpu) / ((performance.now() - f.t) * 1e6)) * 100;
          // docker's MEM USAGE leaves out the page cache nobody is using (inactive file pages)
          const inactive = s.memoryStat?.total_inactive_file ?? s.memoryStat?.inactive_file ?? 0;
          mem = (s.memoryUsage ?? 0) - (inactive < (s.memoryUsage ?? 0) ? inactive : 0);
          limit = s.memoryLimit ?? 0;
          pids = s.pids ?? 0;
          ({ netRx, netTx, blkioRead: blkRead, blkioWrite: blkWrite } = s);
        } catch {
          // the container stopped or went away between listing and reading: docker shows its row with zeros
        }
        if (!limit || !Number.isFinite(limit) || limit > 2 ** 60) limit = (await import("node:os")).totalmem();
        rows.push({
          // docker's CLI: the container as named on the command line, else the 12-digit ID
          Container: positionals[n] ?? id.slice(0, 12),
          ID: flags["no-trunc"] ? id : id.slice(0, 12),
          Name: cfg.Name.slice(1),
          CPUPerc: `${Math.max(0, cpu).toFixed(2)}%`,
          MemUsage: `${bytesSize(mem)} / ${bytesSize(limit)}`,
          MemPerc: `${((mem / limit) * 100).toFixed(2)}%`,
          NetIO: `${humanSize(netRx)} / ${humanSize(netTx)}`,
          BlockIO: `${humanSize(blkRead)} / ${humanSize(blkWrite)}`,
          PIDs: String(pids),
        });
      }
      return rows;
    };
    const print = (rows: Record<string, string>[]) => printStats(ctx, flags, rows);
    if (flags["no-stream"]) return void print(await sample());
    // streaming redraws the screen, on a terminal or not (docker's CLI writes the same escape codes to a pipe)
    for (;;) {
      const rows = await sample();
      process.stdout.write("\x1b[2J\x1b[H");
      print(rows);
    }
  },
});

/** stats' table (or --format) for one sample of rows: the engine's or a daemon's (client mode) */
export function printStats(ctx: Context, flags: Record<string, unknown>, rows: Record<string, string>[]): void {
  const f = typeof flags.format === "string" ? flags.format : "";
  formatRows(ctx.out, f, rows, STATS_HEADERS, () =>
    ctx.out(
      renderDockerTable(
        ["CONTAINER ID", "NAME", "CPU %", "MEM USAGE / LIMIT", "MEM %", "NET I/O", "BLOCK I/O", "PIDS"],
        rows.map((r) => [r.ID!, r.Name!, r.CPUPerc!, r.MemUsage!, r.MemPerc!, r.NetIO!, r.BlockIO!, r.PIDs!]),
      ),
    ),
  );
}
