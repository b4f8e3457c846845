/** hidden: `berth __monitor <id>` — the detached supervisor of one container (engine/containers/service.ts) */
import { defineBerthCommand } from "./_command.ts";
import { detachStdout } from "../engine/containers/index.ts";

export default defineBerthCommand({
  meta: { name: "__monitor", description: "Supervise a container (internal)", usage: "CONTAINER", minArgs: 1, maxArgs: 1 },
  args: {},
  async run({ positionals, ctx }) {
    const svc = (await ctx.engine()).containers;
    const id = svc.resolve(positionals[0]!);
    // visible in ps: the command line already reads `… __monitor <id>`
    process.title = `berth-monitor ${id.slice(0, 12)}`;
    return svc.monitorMain(id, (line) => {
      process.stdout.write(line + "\n");
      // the spawner goes away: later writes must not meet a broken pipe
      setTimeout(detachStdout, 50);
    });
  },
});
