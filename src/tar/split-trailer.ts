/**
 * A tar-split's trailer (tar/split.ts has the format): the JSON at the end of the file that says which
 * stream the split rebuilds and from which snapshot. Apart from split.ts so that reading it (the content
 * store's listings, every `info` of a blob kept as a split) does not load the recorder and the rebuild.
 */
import { fstatSync, readSync } from "node:fs";
import { EngineError } from "../lib/errors.ts";

export const SPLIT_MAGIC = "BTSPLIT1";

/** what a split describes: its stream's digest and size, and the committed snapshot its bodies are in */
export interface SplitTrailer {
  v: 1;
  digest: string;
  size: number;
  /** the committed snapshot (name) whose files hold the bodies */
  snapshot: string;
  /** regular-file bodies referenced */
  files: number;
}

/** read a split's trailer (its last bytes); throws invalid_argument when the file is not a whole split */
export function readSplitTrailer(fd: number, what: string): SplitTrailer {
  const size = fstatSync(fd).size;
  const tail = new Uint8Array(12);
  if (size < 13 || readSync(fd, tail, 0, 12, size - 12) !== 12 || new TextDecoder().decode(tail.subarray(4)) !== SPLIT_MAGIC) {
    throw new EngineError("invalid_argument", `${what}: not a tar-split (no trailer)`);
  }
  const len = new DataView(tail.buffer).getUint32(0);
  if (len > 4096 || len + 12 > size) throw new EngineError("invalid_argument", `${what}: tar-split trailer of ${len} bytes`);
  const json = new Uint8Array(len);
  readSync(fd, json, 0, len, size - 12 - len);
  let t: SplitTrailer;
  try {
    t = JSON.parse(new TextDecoder().decode(json)) as SplitTrailer;
  } catch {
    throw new EngineError("invalid_argument", `${what}: tar-split trailer is not JSON`);
  }
  if (t.v !== 1 || typeof t.size !== "number" || typeof t.snapshot !== "string" || typeof t.digest !== "string") {
    throw new EngineError("invalid_argument", `${what}: tar-split trailer of an unknown form`);
  }
  return t;
}
