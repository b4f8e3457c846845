/** what commit, diff and export read of a container: its writable layer and, when it runs, its pid */
import { isActive } from "../types.ts";
import type { ContainerDeps } from "./deps.ts";
import { refreshState } from "./state.ts";

/** the container's root seen from the host: its running process's /proc/<pid>/root, else the snapshot's upper dir */
export function rootfsDirs(d: ContainerDeps, id: string): { upper: string; pid: number } {
  const cfg = d.store.readConfig(id);
  const st = refreshState(d, id);
  return { upper: d.snapshots.upperDir(cfg.Berth.SnapshotKey), pid: isActive(st.Status) ? st.Pid : 0 };
}

export async function snapshotMounts(d: ContainerDeps, id: string) {
  const cfg = d.store.readConfig(id);
  return d.snapshots.mounts(cfg.Berth.SnapshotKey);
}
