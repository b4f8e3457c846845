/**
 * The attach socket's wire format (a unix socket in the container's directory, served by whoever
 * supervises the container). Frames are docker's stdcopy header — [type u8, 0, 0, 0, length u32 BE] —
 * followed by the payload:
 *   server → client: 1 stdout, 2 stderr, 5 exit (payload: exit code as decimal text)
 *   client → server: 0 stdin, 3 resize (payload "rows cols"), 4 stdin closed
 * The client's first frame is type 6 with a JSON hello {stdin, stdout, stderr}.
 */

import { mkdirSync } from "node:fs";
import { join } from "node:path";

export const F_STDIN = 0,
  F_STDOUT = 1,
  F_STDERR = 2,
  F_RESIZE = 3,
  F_STDIN_EOF = 4,
  F_EXIT = 5,
  F_HELLO = 6;

export function frame(type: number, payload: Uint8Array | string): Uint8Array {
  const body = typeof payload === "string" ? Buffer.from(payload) : payload;
  const out = new Uint8Array(8 + body.length);
  out[0] = type;
  new DataView(out.buffer).setUint32(4, body.length, false);
  out.set(body, 8);
  return out;
}

/** incremental frame parser */
export class FrameReader {
  private buf = new Uint8Array(0);
  push(chunk: Uint8Array, onFrame: (type: number, payload: Uint8Array) => void): void {
    const merged = new Uint8Array(this.buf.length + chunk.length);
    merged.set(this.buf);
    merged.set(chunk, this.buf.length);
    let off = 0;
    while (merged.length - off >= 8) {
      const len = new DataView(merged.buffer, merged.byteOffset + off).getUint32(4, false);
      if (merged.length - off < 8 + len) break;
      onFrame(merged[off]!, merged.slice(off + 8, off + 8 + len));
      off += 8 + len;
    }
    this.buf = merged.slice(off);
  }
}

/**
 * where attach sockets go whose path under the container's directory is too long: /run/berth/attach
 * for root, else a per-user directory under `runtimeDir` (the user's $XDG_RUNTIME_DIR, read by main.ts)
 * or /tmp
 */
export function defaultAttachDir(runtimeDir?: string): string {
  return process.getuid?.() === 0 ? "/run/berth/attach" : join(runtimeDir || "/tmp", `berth-${process.getuid?.()}`);
}

/**
 * sun_path holds 108 bytes: a deep --root would not fit, so long paths move to the 0700 directory
 * `longDir` (defaultAttachDir), keyed by a hash of the container directory.
 */
export function attachSocketPath(containerDir: string, longDir: string): string {
  const p = join(containerDir, "attach.sock");
  if (Buffer.byteLength(p) < 100) return p;
  const dir = longDir;
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  return join(dir, new Bun.CryptoHasher("sha256").update(containerDir).digest("hex").slice(0, 24) + ".sock");
}
