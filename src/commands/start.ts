import { defineBerthCommand } from "./_command.ts";
import { EngineError } from "../lib/errors.ts";
import { forEach, runForeground } from "./_session.ts";

export default defineBerthCommand({
  meta: { name: "start", description: "Start one or more stopped containers", usage: "[OPTIONS] CONTAINER [CONTAINER...]", aliases: ["berth container start", "berth start"], minArgs: 1 },
  args: {
    attach: { type: "boolean", alias: "a", description: "Attach STDOUT/STDERR and forward signals" },
    interactive: { type: "boolean", alias: "i", description: "Attach container's STDIN" },
    "detach-keys": { type: "string", description: "Override the key sequence for detaching a container" },
  },
  async run({ flags, positionals, ctx }) {
    const svc = (await ctx.engine()).containers;
    if (flags.attach || flags.interactive) {
      if (positionals.length > 1) throw new EngineError("invalid_argument", "you cannot start and attach multiple containers at once");
      const id = svc.resolve(positionals[0]!);
      const st = svc.refreshState(id);
      if (st.Status === "running" || st.Status === "paused") {
        // already supervised elsewhere: attach to it
        const cfg = svc.store.readConfig(id);
        return svc.attach(id, {
          stdin: flags.interactive ? (process.stdin as unknown as AsyncIterable<Uint8Array>) : undefined,
          stdout: (b) => void process.stdout.write(b),
          stderr: (b) => void process.stderr.write(b),
          want: { stdin: !!flags.interactive && cfg.Config.OpenStdin, stdout: true, stderr: true },
        });
      }
      return runForeground(svc, id, { sigProxy: true, attachStdin: !!flags.interactive });
    }
    const failed: string[] = [];
    const code = await forEach(ctx, positionals, async (ref) => {
      try {
        await svc.startDetached(svc.resolve(ref));
      } catch (e) {
        failed.push(ref);
        throw e;
      }
      return ref;
    });
    // docker's summary after the per-container errors
    if (failed.length) process.stderr.write(`Error: failed to start containers: ${failed.join(", ")}\n`);
    return code;
  },
});
