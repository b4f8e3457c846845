/**
 * A container's root seen from the host, and paths resolved inside it without leaving it (cp.ts has the
 * threat model). Apart from cp.ts, whose tar copying `create` never runs: create resolves a working
 * directory and mount targets with these.
 */
import { lstatSync, mkdirSync, readlinkSync, rmSync } from "node:fs";
import { join } from "node:path";
import { EngineError } from "../../lib/errors.ts";
import { mount, umount2, MNT_DETACH, MS_BIND } from "../../ffi/fs.ts";
import type { Mount } from "../../oci/index.ts";

/**
 * Resolve container path `p` under host directory `root` without leaving it. Returns the host path
 * whose every directory component is a real directory inside root; the final component is returned
 * unresolved when `followFinal` is false (cp copies a symlink itself).
 */
export function resolveInRoot(root: string, p: string, followFinal = true): string {
  let parts = p.split("/").filter((x) => x && x !== ".");
  const resolved: string[] = [];
  let links = 0;
  while (parts.length) {
    const comp = parts.shift()!;
    if (comp === "..") {
      resolved.pop();
      continue;
    }
    const host = join(root, ...resolved, comp);
    let st;
    try {
      st = lstatSync(host);
    } catch {
      // missing: the rest is taken literally (a destination to create)
      resolved.push(comp, ...parts.filter((x) => x !== ".."));
      return join(root, ...resolved);
    }
    const last = parts.length === 0;
    if (st.isSymbolicLink() && (!last || followFinal)) {
      if (++links > 40) throw new EngineError("invalid_argument", `too many levels of symbolic links: ${p}`);
      const target = readlinkSync(host);
      if (target.startsWith("/")) resolved.length = 0;
      parts = [...target.split("/").filter((x) => x && x !== "."), ...parts];
      continue;
    }
    resolved.push(comp);
  }
  return join(root, ...resolved);
}

/** run fn with a host path showing the container's root filesystem */
export async function withContainerRoot<T>(o: { pid: number; mounts: () => Promise<Mount[]>; scratch: string }, fn: (root: string) => Promise<T>): Promise<T> {
  if (o.pid) return fn(`/proc/${o.pid}/root`);
  const mounts = await o.mounts();
  const rootMount = mounts[0];
  if (!rootMount) throw new EngineError("internal", "container has no root filesystem");
  mkdirSync(o.scratch, { recursive: true, mode: 0o700 });
  if (rootMount.type === "bind") mount(rootMount.source, o.scratch, null, MS_BIND);
  else mount(rootMount.source, o.scratch, rootMount.type, 0, rootMount.options.join(","));
  try {
    return await fn(o.scratch);
  } finally {
    try {
      umount2(o.scratch, MNT_DETACH);
    } catch {} // we mounted it as root: failing means it is no longer mounted, so the rm below is safe
    try {
      rmSync(o.scratch, { recursive: true, force: true });
    } catch {} // an empty scratch directory left behind costs nothing; the copy's result stands
  }
}
