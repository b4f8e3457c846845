/** `berth cp`: copy files between a container and the host (see engine/containers/cp.ts) */
import { defineBerthCommand } from "./_command.ts";
import { EngineError } from "../lib/errors.ts";
import { containers } from "./container.ts";

export default defineBerthCommand({
  meta: {
    name: "cp",
    description: "Copy files/folders between a container and the local filesystem",
    usage: "[OPTIONS] CONTAINER:SRC_PATH DEST_PATH|-\n\tberth cp [OPTIONS] SRC_PATH|- CONTAINER:DEST_PATH",
    aliases: ["berth container cp", "berth cp"],
    minArgs: 2,
    maxArgs: 2,
  },
  args: {
    archive: { type: "boolean", alias: "a", description: "Archive mode (copy all uid/gid information)" },
    "follow-link": { type: "boolean", alias: "L", description: "Always follow symbol link in SRC_PATH" },
    quiet: { type: "boolean", alias: "q", description: "Suppress progress output during copy. Progress output is automatically suppressed if no terminal is attached" },
  },
  async run({ positionals, ctx }) {
    const svc = await containers(ctx);
    const [src, dst] = positionals as [string, string];
    const split = (s: string) => {
      const i = s.indexOf(":");
      return i > 0 && !s.startsWith("/") && !s.startsWith(".") ? { ctr: s.slice(0, i), path: s.slice(i + 1) } : { path: s };
    };
    const a = split(src), b = split(dst);
    if (a.ctr && b.ctr) throw new EngineError("invalid_argument", "copying between containers is not supported");
    if (!a.ctr && !b.ctr) throw new EngineError("invalid_argument", "must specify at least one container source");
    const cp = (svc as unknown as { copyFrom?: Function; copyTo?: Function });
    if (a.ctr) {
      if (!cp.copyFrom) throw new EngineError("unavailable", "cp is not implemented yet");
      await cp.copyFrom(svc.resolve(a.ctr), a.path, b.path);
    } else {
      if (!cp.copyTo) throw new EngineError("unavailable", "cp is not implemented yet");
      await cp.copyTo(svc.resolve(b.ctr!), a.path, b.path);
    }
  },
});
