import { closeSync, constants, fsyncSync, openSync, renameSync, unlinkSync, writeSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import { defineBerthCommand } from "./_command.ts";
import { EngineError } from "../lib/errors.ts";

/** write a whole chunk to a blocking or non-blocking fd (a pipe on stdout may be either) */
async function writeFd(fd: number, chunk: Uint8Array): Promise<void> {
  let off = 0;
  while (off < chunk.length) {
    try {
      off += writeSync(fd, chunk, off, chunk.length - off);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EAGAIN") throw e;
      await Bun.sleep(1);
    }
  }
}

export default defineBerthCommand({
  meta: {
    name: "save",
    description: "Save one or more images to a tar archive (streamed to STDOUT by default)",
    usage: "[OPTIONS] IMAGE [IMAGE...]",
    aliases: ["berth image save", "berth save"],
    minArgs: 1,
  },
  args: {
    output: { type: "string", alias: "o", description: "Write to a file, instead of STDOUT" },
    platform: { type: "string", description: "Save only the given platform variant" },
  },
  async run({ flags, positionals, ctx }) {
    const { saveImages } = await import("../engine/archive.ts");
    const out = flags.output ? String(flags.output) : "";
    if (!out && process.stdout.isTTY) {
      throw new EngineError("invalid_argument", "cowardly refusing to save to a terminal. Use the -o flag or redirect", { exitCode: 1 });
    }
    const engine = await ctx.engine();
    const asDocker = (e: unknown) => (e instanceof EngineError ? new EngineError(e.kind, e.message, { exitCode: 1, hint: e.hint, cause: e }) : e);
    if (!out) {
      try {
        await saveImages(engine.images, positionals, (c) => writeFd(1, c));
      } catch (e) {
        throw asDocker(e);
      }
      return;
    }
    // atomic: a temp file beside the target, renamed over it only when complete (docker's atomicwriter)
    const target = resolve(out);
    const tmp = join(dirname(target), `.${basename(target)}.tmp-${process.pid}-${Math.random().toString(36).slice(2, 8)}`);
    let fd = -1;
    try {
      fd = openSync(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o600);
    } catch (e) {
      throw new EngineError("invalid_argument", `failed to save image: invalid output path: ${(e as Error).message}`, { exitCode: 1 });
    }
    try {
      await saveImages(engine.images, positionals, (c) => writeFd(fd, c));
      fsyncSync(fd);
      closeSync(fd);
      fd = -1;
      renameSync(tmp, target);
    } catch (e) {
      if (fd >= 0) closeSync(fd);
      try {
        unlinkSync(tmp);
      } catch {}
      throw asDocker(e);
    }
  },
});
