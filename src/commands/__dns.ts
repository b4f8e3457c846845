/** hidden: `berth __dns <network>` — the embedded DNS server of one user network (engine/network.ts) */
import { defineBerthCommand } from "./_command.ts";

export default defineBerthCommand({
  meta: { name: "__dns", description: "Serve a network's names (internal)", usage: "NETWORK", minArgs: 1, maxArgs: 1 },
  args: {},
  async run({ positionals, ctx }) {
    process.title = `berth-dns ${positionals[0]}`;
    const svc = (await ctx.engine()).containers;
    const stop = new AbortController();
    for (const sig of ["SIGTERM", "SIGINT"] as const) process.on(sig, () => stop.abort());
    return svc.networks.serveDns(positionals[0]!, (line) => {
      process.stdout.write(line + "\n");
    }, stop.signal);
  },
});
