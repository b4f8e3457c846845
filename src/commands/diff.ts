import { defineBerthCommand } from "./_command.ts";
import { containers } from "./container.ts";

/**
 * What docker keeps in a container's init layer, below the changes `diff` shows: mount points the
 * engine creates (hostname, hosts, resolv.conf, /proc, /sys, /dev/…). berth creates them in the
 * container's own layer when the image lacks them, so they are left out here.
 */
const INIT_PATHS = new Set(["/.dockerenv", "/etc/hostname", "/etc/hosts", "/etc/resolv.conf", "/etc/mtab", "/proc", "/sys", "/dev/pts", "/dev/shm", "/dev/console", "/dev/mqueue"]);
const INIT_PARENTS = ["/etc", "/dev"];

/** docker's view: the init layer's entries gone, and their parent too when nothing else changed in it (pure) */
export function userChanges<T extends { kind: string; path: string }>(changes: T[]): T[] {
  const rest = changes.filter((c) => !(c.kind !== "D" && INIT_PATHS.has(c.path)));
  return rest.filter((c) => !(c.kind !== "D" && INIT_PARENTS.includes(c.path) && !rest.some((o) => o.path.startsWith(c.path + "/"))));
}

export default defineBerthCommand({
  meta: {
    name: "diff",
    description: "Inspect changes to files or directories on a container's filesystem",
    usage: "CONTAINER",
    aliases: ["berth container diff", "berth diff"],
    minArgs: 1,
    maxArgs: 1,
  },
  args: {},
  async run({ positionals, ctx }) {
    const { containerChanges } = await import("../engine/container-fs.ts");
    const engine = await ctx.engine();
    const svc = await containers(ctx);
    const changes = userChanges(await containerChanges(svc, engine.snapshots, positionals[0]!));
    ctx.out(changes.map((c) => `${c.kind} ${c.path}\n`).join(""));
  },
});
