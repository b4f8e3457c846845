import { defineBerthCommand } from "./_command.ts";
import { EngineError } from "../lib/errors.ts";
import { forEach } from "./_session.ts";

export default defineBerthCommand({
  meta: {
    lazyStdout: true,
    shortLived: true,
    name: "rm",
    description: "Remove one or more containers",
    usage: "[OPTIONS] CONTAINER [CONTAINER...]",
    aliases: ["berth container rm", "berth container remove", "berth rm"],
    minArgs: 1,
  },
  args: {
    force: { type: "boolean", alias: "f", description: "Force the removal of a running container (uses SIGKILL)" },
    link: { type: "boolean", alias: "l", description: "Remove the specified link" },
    volumes: { type: "boolean", alias: "v", description: "Remove anonymous volumes associated with the container" },
  },
  async run({ flags, positionals, ctx }) {
    const svc = (await ctx.engine()).containers;
    return forEach(ctx, positionals, async (ref) => {
      try {
        await svc.rm(ref, !!flags.force, !!flags.volumes);
      } catch (e) {
        // docker: with -f a container that is not there is reported, but is no failure
        if (!(flags.force && e instanceof EngineError && e.kind === "not_found")) throw e;
        process.stderr.write(`berth: ${e.message}\n`);
        return;
      }
      return ref;
    });
  },
});
