/** `berth update`: new resource limits or restart policy for containers, applied at once to running ones */
import { defineBerthCommand } from "./_command.ts";
import { EngineError } from "../lib/errors.ts";
import { forEach } from "./_session.ts";
import { parseUpdateFlags } from "./_container-opts.ts";

const str = (description: string, valueHint?: string) => ({ type: "string" as const, description, valueHint });

export default defineBerthCommand({
  meta: {
    name: "update",
    description: "Update configuration of one or more containers",
    usage: "[OPTIONS] CONTAINER [CONTAINER...]",
    aliases: ["berth container update", "berth update"],
    minArgs: 1,
  },
  args: {
    "cpu-shares": { ...str("CPU shares (relative weight)", "int"), alias: "c" },
    cpus: str("Number of CPUs", "decimal"),
    "cpu-period": str("Limit CPU CFS (Completely Fair Scheduler) period", "int"),
    "cpu-quota": str("Limit CPU CFS (Completely Fair Scheduler) quota", "int"),
    "cpuset-cpus": str("CPUs in which to allow execution (0-3, 0,1)"),
    "cpuset-mems": str("MEMs in which to allow execution (0-3, 0,1)"),
    memory: { ...str("Memory limit", "bytes"), alias: "m" },
    "memory-reservation": str("Memory soft limit", "bytes"),
    "memory-swap": str("Swap limit equal to memory plus swap: -1 to enable unlimited swap", "bytes"),
    "pids-limit": str("Tune container pids limit (set -1 for unlimited)", "int"),
    restart: str("Restart policy to apply when a container exits"),
  },
  async run({ flags, positionals, ctx }) {
    const given = [
      "cpus",
      "cpu-period",
      "cpu-quota",
      "cpu-shares",
      "memory",
      "memory-swap",
      "memory-reservation",
      "pids-limit",
      "cpuset-cpus",
      "cpuset-mems",
      "restart",
    ].some((k) => typeof flags[k] === "string");
    if (!given) throw new EngineError("invalid_argument", "you must provide one or more flags when using this command");
    const svc = (await ctx.engine()).containers;
    return forEach(ctx, positionals, async (ref) => {
      try {
        svc.update(ref, parseUpdateFlags(flags) ?? {});
      } catch (e) {
        if (e instanceof EngineError && e.kind !== "not_found") throw new EngineError(e.kind, `Cannot update container ${ref}: ${e.message}`);
        throw e;
      }
      return ref;
    });
  },
});
