import { defineBerthCommand } from "./_command.ts";
import { EngineError } from "../lib/errors.ts";
import { attachSession, forEach, runForeground } from "./_session.ts";
import { detachKeys } from "./_detach-keys.ts";

export default defineBerthCommand({
  meta: {
    lazyStdout: true,
    shortLived: true,
    name: "start",
    description: "Start one or more stopped containers",
    usage: "[OPTIONS] CONTAINER [CONTAINER...]",
    aliases: ["berth container start", "berth start"],
    minArgs: 1,
  },
  args: {
    attach: { type: "boolean", alias: "a", description: "Attach STDOUT/STDERR and forward signals" },
    interactive: { type: "boolean", alias: "i", description: "Attach container's STDIN" },
    "detach-keys": { type: "string", description: "Override the key sequence for detaching a container" },
  },
  async run({ flags, positionals, ctx }) {
    const svc = (await ctx.engine()).containers;
    if (flags.attach || flags.interactive) {
      if (positionals.length > 1) throw new EngineError("invalid_argument", "you cannot start and attach multiple containers at once");
      const keys = detachKeys(flags["detach-keys"], ctx.env);
      const id = svc.resolve(positionals[0]!);
      const st = svc.refreshState(id);
      if (st.Status === "running" || st.Status === "paused") {
        // already supervised elsewhere: attach to it (a detach is docker's nil error: exit 0, silent)
        const cfg = svc.store.readConfig(id);
        const stdin = !!flags.interactive && cfg.Config.OpenStdin;
        return (await attachSession(svc, id, { stdin, stdout: true, stderr: true, sigProxy: true, keys })).code;
      }
      return runForeground(svc, id, { sigProxy: true, attachStdin: !!flags.interactive, detachKeys: keys });
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
