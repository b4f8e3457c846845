/** `berth cp`: copy files between a container and the host, never following a symlink out of the container */
import { defineBerthCommand } from "./_command.ts";
import { existsSync, statSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { EngineError, ExitStatus } from "../lib/errors.ts";
import { brokenPipe, writeFd } from "./_archive-out.ts";

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
    quiet: {
      type: "boolean",
      alias: "q",
      description: "Suppress progress output during copy. Progress output is automatically suppressed if no terminal is attached",
    },
  },
  async run({ flags, positionals, ctx }) {
    const svc = (await ctx.engine()).containers;
    const [src, dst] = positionals as [string, string];
    // docker's splitCpArg: a colon before any slash separates CONTAINER:PATH; a path starting with / or . is local
    const split = (s: string) => {
      const i = s.indexOf(":");
      return i > 0 && !s.startsWith("/") && !s.startsWith(".") && !s.slice(0, i).includes("/") ? { ctr: s.slice(0, i), path: s.slice(i + 1) } : { path: s };
    };
    const a = split(src),
      b = split(dst);
    if (a.ctr && b.ctr) throw new EngineError("invalid_argument", "copying between containers is not supported");
    if (!a.ctr && !b.ctr) throw new EngineError("invalid_argument", "must specify at least one container source");
    if (a.ctr) {
      if (a.path === "") throw new EngineError("invalid_argument", "filesystem path cannot be empty");
      // docker's ValidateOutputPath: the destination's directory must exist (nothing is created on the host)
      if (b.path !== "-") {
        const dir = dirname(resolve(b.path));
        if (!existsSync(dir)) throw new EngineError("invalid_argument", `invalid output path: directory ${JSON.stringify(dir)} does not exist`);
        // a device is refused, as docker's CLI does: the copy would replace it (as root, the host's /dev/null)
        let st: import("node:fs").Stats | undefined;
        try {
          st = statSync(b.path);
        } catch {} // nothing there (or unreachable: the copy reports it)
        if (st?.isCharacterDevice() || st?.isBlockDevice())
          throw new EngineError("invalid_argument", `invalid output path: ${JSON.stringify(b.path)} must be a directory or a regular file: got a device`);
      }
      try {
        await svc.copyFrom(svc.resolve(a.ctr), a.path, b.path, (chunk) => writeFd(1, chunk), !!flags["follow-link"]);
      } catch (e) {
        // `berth cp c:/dir - | head`: docker dies of SIGPIPE, silently (a stream write would wait forever)
        if (brokenPipe(e)) throw new ExitStatus(141);
        throw e;
      }
    } else {
      // as the docker CLI asks of dockerd: no directory replaced by a file (or the reverse); -a keeps owners
      await svc.copyTo(svc.resolve(b.ctr!), a.path, b.path, process.stdin as unknown as AsyncIterable<Uint8Array>, {
        keepOwners: !!flags.archive,
        noOverwriteDirNonDir: true,
      });
    }
  },
});
