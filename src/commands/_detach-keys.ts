/**
 * docker's detach keys on the client: the key sequence (`--detach-keys`, else `detachKeys` in the
 * client's config.json, else Ctrl-P Ctrl-Q) parsed as moby's term.ToBytes does, and the stdin filter
 * that watches for it as moby's term.EscapeProxy does: a key of the sequence is held back, the whole
 * sequence ends the session, and anything else releases what was held. Like docker, only reads of one
 * byte (keys typed on a terminal) take part; a longer read passes through whole.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { EngineError } from "../lib/errors.ts";

const DEFAULT_KEYS = Uint8Array.of(16, 17); // ctrl-p, ctrl-q

/** moby's term.ASCII: the names of the control codes 0..31 */
const CTRL_NAMES = ["ctrl-@", ..."abcdefghijklmnopqrstuvwxyz".split("").map((c) => `ctrl-${c}`), "ctrl-[", "ctrl-\\", "ctrl-]", "ctrl-^", "ctrl-_"];

/** `ctrl-p,ctrl-q`, `a`, `ctrl-\\`… → bytes (term.ToBytes; a longer name that is not ctrl-… is skipped, as there) */
export function parseDetachKeys(spec: string): Uint8Array {
  const out: number[] = [];
  for (const key of spec.split(",")) {
    if (key.length === 1) {
      out.push(key.charCodeAt(0) & 0xff);
      continue;
    }
    const code = CTRL_NAMES.indexOf(key);
    if (code >= 0) out.push(code);
    else if (key.startsWith("ctrl-")) throw new EngineError("invalid_argument", `Invalid detach keys (${spec}) provided`);
  }
  return Uint8Array.from(out);
}

/** the client's detachKeys: the flag, else config.json's (env: DOCKER_CONFIG, HOME), else docker's default */
export function detachKeys(flag: unknown, env: Readonly<Record<string, string | undefined>>): Uint8Array {
  let spec = typeof flag === "string" && flag !== "" ? flag : "";
  if (!spec) {
    try {
      const file = join(env.DOCKER_CONFIG || join(env.HOME || "/root", ".docker"), "config.json");
      const v = (JSON.parse(readFileSync(file, "utf8")) as { detachKeys?: unknown }).detachKeys;
      if (typeof v === "string") spec = v;
    } catch {
      // no config.json or not JSON: docker's default keys, as docker without a config file
    }
  }
  const keys = spec ? parseDetachKeys(spec) : DEFAULT_KEYS;
  return keys.length ? keys : DEFAULT_KEYS;
}

/**
 * stdin with the detach sequence taken out: yields what goes to the container and calls `onDetach`
 * (then ends) when the whole sequence was typed.
 */
export async function* escapeFilter(src: AsyncIterable<Uint8Array>, keys: Uint8Array, onDetach: () => void): AsyncGenerator<Uint8Array> {
  let pos = 0;
  for await (const chunk of src) {
    if (chunk.length !== 1 || chunk[0] !== keys[pos]) {
      // not the next key of the sequence: what was held goes first, then this read (no new match starts here, as in moby)
      if (pos > 0) yield keys.slice(0, pos);
      pos = 0;
      yield chunk;
    } else if (pos === keys.length - 1) {
      onDetach();
      return;
    } else pos++;
  }
  if (pos > 0) yield keys.slice(0, pos);
}
