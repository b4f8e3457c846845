/**
 * Where `save` and `export` write their archive: stdout (refused when it is a terminal, as docker
 * does), or a file written atomically — a temp file beside the target, fsynced and renamed over it
 * only when complete (docker's atomicwriter), removed on failure.
 */
import { closeSync, constants, existsSync, fsyncSync, lstatSync, openSync, renameSync, unlinkSync, writeSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import { EngineError, ExitStatus } from "../lib/errors.ts";

/** the reader of our stdout went away (EPIPE anywhere in the cause chain) */
export function brokenPipe(e: unknown): boolean {
  for (let c = e, n = 0; c instanceof Error && n < 8; c = c.cause, n++) if ((c as NodeJS.ErrnoException).code === "EPIPE") return true;
  return false;
}

/** write a whole chunk to a blocking or non-blocking fd (a pipe on stdout may be either) */
export async function writeFd(fd: number, chunk: Uint8Array): Promise<void> {
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

/**
 * What `path` is when it exists and is not a regular file, in docker's CLI words ("a character device
 * file", "a directory"…; a symbolic link is not followed); undefined for a regular file or nothing
 */
function nonRegularKind(path: string): string | undefined {
  let st: import("node:fs").Stats | undefined;
  try {
    st = lstatSync(path);
  } catch {
    return undefined; // nothing there (or unreadable: the write reports it)
  }
  if (st.isFile()) return undefined;
  if (st.isSymbolicLink()) return "a symbolic link directly";
  if (st.isDirectory()) return "a directory";
  if (st.isCharacterDevice()) return "a character device file";
  if (st.isBlockDevice()) return "a block device file";
  if (st.isFIFO()) return "a named pipe (FIFO)";
  if (st.isSocket()) return "a socket";
  return "an irregular file";
}

/**
 * Run `produce` with a sink for the archive bytes. `what` words docker's errors ("save image",
 * "export"); failures exit 1 like docker's.
 */
export async function writeArchive(
  output: string | undefined,
  what: string,
  produce: (sink: (c: Uint8Array) => Promise<void>) => Promise<void>,
): Promise<void> {
  if (!output) {
    if (process.stdout.isTTY) throw new EngineError("invalid_argument", "cowardly refusing to save to a terminal. Use the -o flag or redirect");
    try {
      await produce((c) => writeFd(1, c));
    } catch (e) {
      // the reader went away (`berth export c | tar t | head`): docker dies of SIGPIPE, silently, 141
      if (brokenPipe(e)) throw new ExitStatus(141);
      throw e;
    }
    return;
  }
  const target = resolve(output);
  // docker's ValidateOutputPath wording, before anything is written
  if (!existsSync(dirname(target)))
    throw new EngineError("invalid_argument", `failed to ${what}: invalid output path: stat ${dirname(target)}: no such file or directory`);
  // the temp file is renamed over the target: anything but a regular file is refused, as docker's CLI
  // does (`save -o /dev/null` as root would otherwise replace the host's /dev/null with the archive)
  const kind = nonRegularKind(target);
  if (kind) throw new EngineError("invalid_argument", `failed to ${what}: cannot write to ${kind}`);
  const tmp = join(dirname(target), `.${basename(target)}.tmp-${process.pid}-${Math.random().toString(36).slice(2, 8)}`);
  let fd = -1;
  try {
    fd = openSync(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o600);
  } catch (e) {
    throw new EngineError("invalid_argument", `failed to ${what}: invalid output path: ${(e as Error).message}`);
  }
  try {
    await produce((c) => writeFd(fd, c));
    fsyncSync(fd);
    closeSync(fd);
    fd = -1;
    renameSync(tmp, target);
  } catch (e) {
    if (fd >= 0) closeSync(fd);
    try {
      unlinkSync(tmp);
    } catch {} // best-effort cleanup after the real error, which is rethrown
    throw e;
  }
}
