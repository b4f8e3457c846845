/**
 * hidden: `berth __dns` — the embedded DNS server of every user network of the root (engine/network.ts);
 * with `--relay PID:GATEWAY NETWORK`, docker's 127.0.0.11 inside a running container that joined the
 * network later
 */
import { defineBerthCommand } from "./_command.ts";

export default defineBerthCommand({
  meta: { name: "__dns", description: "Serve the user networks' names (internal)", usage: "[NETWORK]", minArgs: 0, maxArgs: 1 },
  args: { relay: { type: "string", description: "PID:GATEWAY: relay 127.0.0.11 in PID's network namespace" } },
  async run({ flags, positionals, ctx }) {
    const svc = (await ctx.engine()).containers;
    const stop = new AbortController();
    for (const sig of ["SIGTERM", "SIGINT"] as const) process.on(sig, () => stop.abort());
    const rescans: (() => void)[] = [];
    // a network marked wanted (ensureDns) or released (stopDns): scan again
    process.on("SIGHUP", () => {
      for (const f of rescans) f();
    });
    const relay = typeof flags.relay === "string" ? /^(\d+):(.+)$/.exec(flags.relay) : null;
    if (relay) {
      process.title = `berth-dns-relay ${relay[1]} ${positionals[0] ?? ""}`;
      return svc.networks.serveRelay(
        Number(relay[1]),
        relay[2]!,
        (line) => {
          process.stdout.write(line + "\n");
        },
        stop.signal,
      );
    }
    process.title = "berth-dns";
    return svc.networks.serveDns(
      (line) => {
        process.stdout.write(line + "\n");
      },
      stop.signal,
      (f) => rescans.push(f),
    );
  },
});
