/** `berth update`: new resource limits or restart policy for containers, applied at once to running ones */
import { defineBerthCommand } from "./_command.ts";
import { EngineError } from "../lib/errors.ts";
import { forEach } from "./_session.ts";

const str = (description: string, valueHint?: string) => ({ type: "string" as const, description, valueHint });

export default defineBerthCommand({
  meta: { name: "update", description: "Update configuration of one or more containers", usage: "[OPTIONS] CONTAINER [CONTAINER...]", aliases: ["berth container update", "berth update"], minArgs: 1 },
  args: {
    "cpu-shares": { ...str("CPU shares (relative weight)", "int"), alias: "c" },
    cpus: str("Number of CPUs", "decimal"),
    "cpuset-cpus": str("CPUs in which to allow execution (0-3, 0,1)"),
    "cpuset-mems": str("MEMs in which to allow execution (0-3, 0,1)"),
    memory: { ...str("Memory limit", "bytes"), alias: "m" },
    "memory-reservation": str("Memory soft limit", "bytes"),
    "memory-swap": str("Swap limit equal to memory plus swap: -1 to enable unlimited swap", "bytes"),
    "pids-limit": str("Tune container pids limit (set -1 for unlimited)", "int"),
    restart: str("Restart policy to apply when a container exits"),
  },
  async run({ flags, positionals, ctx }) {
    const s = (k: string) => (typeof flags[k] === "string" ? (flags[k] as string) : undefined);
    const o = {
      cpus: s("cpus"), cpuShares: s("cpu-shares"), memory: s("memory"), memorySwap: s("memory-swap"), memoryReservation: s("memory-reservation"),
      pidsLimit: s("pids-limit"), cpusetCpus: s("cpuset-cpus"), cpusetMems: s("cpuset-mems"), restart: s("restart"),
    };
    if (Object.values(o).every((v) => v === undefined)) throw new EngineError("invalid_argument", "you must provide one or more flags when using this command");
    const svc = (await ctx.engine()).containers;
    return forEach(ctx, positionals, async (ref) => {
      try {
        svc.update(ref, o);
      } catch (e) {
        if (e instanceof EngineError && e.kind !== "not_found") throw new EngineError(e.kind, `Cannot update container ${ref}: ${e.message}`);
        throw e;
      }
      return ref;
    });
  },
});
