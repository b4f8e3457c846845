/** `cp` glue: a container's root (live through its pid, or the snapshot mounted) for ../cp.ts */
import { join } from "node:path";
import { copyIn, copyOut, extractIn, withContainerRoot } from "../cp.ts";
import { isActive } from "../types.ts";
import type { ContainerDeps } from "./deps.ts";
import { refreshState } from "./state.ts";

export function rootOf(d: ContainerDeps, id: string) {
  const cfg = d.store.readConfig(id);
  const st = refreshState(d, id);
  return {
    pid: isActive(st.Status) ? st.Pid : 0,
    mounts: () => d.snapshots.mounts(cfg.Berth.SnapshotKey),
    scratch: join(d.store.dir(id), `cp-${d.self.pid}`),
  };
}

/** container → host path, or a tar on `out` when dest is "-" */
export async function copyFrom(
  d: ContainerDeps,
  id: string,
  src: string,
  dest: string,
  out: (b: Uint8Array) => Promise<void> | void,
  followLink = false,
): Promise<void> {
  const name = d.store.readConfig(id).Name.slice(1);
  await withContainerRoot(rootOf(d, id), (root) => copyOut(root, name, src, dest, out, followLink));
}

/** host path (or the tar read from `stdin` when src is "-") → container */
export async function copyTo(d: ContainerDeps, id: string, src: string, dest: string, stdin: AsyncIterable<Uint8Array>): Promise<void> {
  await withContainerRoot(rootOf(d, id), async (root) => {
    if (src === "-") await extractIn(root, dest, stdin);
    else copyIn(root, src, dest);
  });
}
