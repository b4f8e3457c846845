/** hidden: `berth __monitor [--resume|--adopt|--exited STATE|--probe|--refresh] <id>` — the detached supervisor of one container (engine/containers/ops/start.ts, ops/native-monitor.ts) */
import { writeSync } from "node:fs";
import { defineBerthCommand } from "./_command.ts";
import { detachStdout } from "../engine/index.ts";
import { EngineError } from "../lib/errors.ts";

export default defineBerthCommand({
  meta: { name: "__monitor", description: "Supervise a container (internal)", usage: "CONTAINER", minArgs: 1, maxArgs: 1 },
  args: {
    resume: { type: "boolean", description: "Restart a container whose monitor died, as its restart policy says (internal)" },
    adopt: { type: "boolean", description: "Supervise a running container whose monitor died (internal)" },
    "await-attach": { type: "boolean", description: "Keep the first output for an API client attaching after the start (internal)" },
    exited: { type: "string", description: "The native monitor's hand-back after the exit (internal)" },
    probe: { type: "boolean", description: "Run one health probe (internal, for the native monitor)" },
    refresh: { type: "boolean", description: "Reconcile the state (internal, for the native monitor)" },
  },
  async run({ flags, positionals, ctx }) {
    const svc = (await ctx.engine()).containers;
    const id = svc.resolve(positionals[0]!);
    if (flags.probe) {
      process.title = `berth-probe ${id.slice(0, 12)}`;
      await svc.monitorProbe(id);
      return 0;
    }
    if (flags.refresh) {
      svc.monitorRefresh(id);
      return 0;
    }
    // visible in ps: the command line already reads `… __monitor <id>`
    process.title = `berth-monitor ${id.slice(0, 12)}`;
    let exited;
    if (typeof flags.exited === "string") {
      exited = svc.parseNativeExit(process.env.BERTH_MONITOR_EXIT, flags.exited);
      if (!exited) throw new EngineError("invalid_argument", `__monitor --exited: no valid BERTH_MONITOR_EXIT for container ${id}`);
    }
    // the native monitor's hand-back is not for the processes this one starts
    delete process.env.BERTH_MONITOR_EXIT;
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
      // BERTH_MONITOR=bun keeps the Bun monitor (the one place the native monitor is chosen)
      { resume: !!flags.resume, adopt: !!flags.adopt, awaitAttach: !!flags["await-attach"], exited, native: process.env.BERTH_MONITOR !== "bun" },
    );
  },
});
