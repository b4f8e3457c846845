/**
 * hidden: `berth __dns <network>` — the embedded DNS server of one user network; with `--relay PID:GATEWAY`,
 * docker's 127.0.0.11 inside a running container that joined the network later (engine/network.ts)
 */
import { defineBerthCommand } from "./_command.ts";

export default defineBerthCommand({
  meta: { name: "__dns", description: "Serve a network's names (internal)", usage: "NETWORK", minArgs: 1, maxArgs: 1 },
  args: { relay: { type: "string", description: "PID:GATEWAY: relay 127.0.0.11 in PID's network namespace" } },
  async run({ flags, positionals, ctx }) {
    const svc = (await ctx.engine()).containers;
    const stop = new AbortController();
    for (const sig of ["SIGTERM", "SIGINT"] as const) process.on(sig, () => stop.abort());
    const relay = typeof flags.relay === "string" ? /^(\d+):(.+)$/.exec(flags.relay) : null;
    if (relay) {
      process.title = `berth-dns-relay ${relay[1]} ${positionals[0]}`;
      return svc.networks.serveRelay(
        Number(relay[1]),
        relay[2]!,
        (line) => {
          process.stdout.write(line + "\n");
        },
        stop.signal,
      );
    }
    process.title = `berth-dns ${positionals[0]}`;
    return svc.networks.serveDns(
      positionals[0]!,
      (line) => {
        process.stdout.write(line + "\n");
      },
      stop.signal,
    );
  },
});
