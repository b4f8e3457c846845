/** hidden: `berth __monitor [--resume|--adopt] <id>` — the detached supervisor of one container (engine/containers/ops/start.ts) */
import { writeSync } from "node:fs";
import { defineBerthCommand } from "./_command.ts";
import { detachStdout } from "../engine/index.ts";

export default defineBerthCommand({
  meta: { name: "__monitor", description: "Supervise a container (internal)", usage: "CONTAINER", minArgs: 1, maxArgs: 1 },
  args: {
    resume: { type: "boolean", description: "Restart a container whose monitor died, as its restart policy says (internal)" },
    adopt: { type: "boolean", description: "Supervise a running container whose monitor died (internal)" },
    "await-attach": { type: "boolean", description: "Keep the first output for an API client attaching after the start (internal)" },
  },
  async run({ flags, positionals, ctx }) {
    const svc = (await ctx.engine()).containers;
    const id = svc.resolve(positionals[0]!);
    // visible in ps: the command line already reads `… __monitor <id>`
    process.title = `berth-monitor ${id.slice(0, 12)}`;
    return svc.monitorMain(
      id,
      (line) => {
        // the spawner may be gone already (kill -9 of `run -d`): the write then fails with EPIPE, which
        // must not end the monitor (main.ts exits 141 on a stdout EPIPE) — the container runs on, supervised
        try {
          writeSync(1, line + "\n");
        } catch {
          // nobody reads the report any more: nothing to tell
        }
        // from now on fd 1 is /dev/null, so no later write can meet the broken pipe either
        detachStdout();
      },
      { resume: !!flags.resume, adopt: !!flags.adopt, awaitAttach: !!flags["await-attach"] },
    );
  },
});
