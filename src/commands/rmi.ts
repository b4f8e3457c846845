import { defineBerthCommand } from "./_command.ts";
import { EngineError } from "../lib/errors.ts";

export default defineBerthCommand({
  meta: {
    name: "rmi",
    description: "Remove one or more images",
    usage: "[OPTIONS] IMAGE [IMAGE...]",
    aliases: ["berth image rm", "berth image remove", "berth rmi"],
    minArgs: 1,
  },
  args: {
    force: { type: "boolean", alias: "f", description: "Force removal of the image" },
    "no-prune": { type: "boolean", description: "Do not delete untagged parents" },
  },
  async run({ flags, positionals, ctx }) {
    const engine = await ctx.engine();
    let failed = false;
    for (const ref of positionals) {
      try {
        for (const line of await engine.images.remove(ref, { force: flags.force, noPrune: !!flags["no-prune"] })) ctx.out(line + "\n");
      } catch (e) {
        if (!(e instanceof EngineError)) throw e;
        process.stderr.write(`berth: ${e.message}\n`);
        // docker: with -f an image that is not there is reported, but is no failure
        if (!(flags.force && e.kind === "not_found")) failed = true;
      }
    }
    return failed ? 1 : 0;
  },
});
