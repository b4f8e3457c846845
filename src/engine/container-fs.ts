/**
 * A container's filesystem as data: `export` (the whole root as a tar) and `diff` (docker's A/C/D list).
 *
 * export reads the container's snapshot, not /proc/<pid>/root: volumes, /proc, /sys and /dev stay out,
 * as in docker's export. The snapshot is shown through a read-only *detached* mount (fsmount / open_tree,
 * never attached to any directory): the tree is walked through /proc/self/fd/<fd>, so nothing appears in
 * the host's mount table and closing the fd is the whole cleanup. For overlay the container's upper dir
 * becomes the top lower layer of a read-only overlay (no upperdir/workdir: the running container's own
 * mount keeps exclusive use of those); whiteouts and opaque dirs in it are honoured by overlayfs itself.
 */
import { closeSync } from "node:fs";
import { EngineError, wrap } from "../lib/errors.ts";
import type { Mount } from "../oci/index.ts";
import { mountDetached } from "../ffi/mount-api.ts";
import { readDirectoryRecords, TarWriter, type TarSink } from "../tar/index.ts";
import type { SnapshotDriver } from "../cow/driver.ts";
import type { ContainerService } from "./containers/index.ts";

/** the read-only twin of an active snapshot's root mount (pure) */
export function readOnlyView(m: Mount): Mount {
  if (m.type === "overlay") {
    const opt = (k: string) => m.options.find((o) => o.startsWith(`${k}=`))?.slice(k.length + 1);
    const upper = opt("upperdir");
    const lower = opt("lowerdir");
    const rest = m.options.filter((o) => !/^(upperdir|workdir|lowerdir)=/.test(o) && o !== "rw");
    const lowers = [upper, lower].filter(Boolean).join(":");
    return { ...m, options: [`lowerdir=${lowers}`, ...rest.filter((o) => o !== "ro"), "ro"] };
  }
  return { ...m, options: [...m.options.filter((o) => o !== "rw" && o !== "ro"), "ro"] };
}

async function rootMount(containers: ContainerService, snapshots: SnapshotDriver, id: string): Promise<Mount> {
  const key = containers.info(id).cfg.Berth.SnapshotKey;
  const mounts = await snapshots.mounts(key);
  const m = mounts[0];
  if (!m || mounts.length !== 1) throw new EngineError("internal", `snapshot ${key}: expected one root mount, got ${mounts.length}`);
  return m;
}

/** `berth export`: the container's root filesystem as a tar into `sink` (awaited per chunk) */
export async function exportContainer(containers: ContainerService, snapshots: SnapshotDriver, ref: string, sink: TarSink): Promise<void> {
  const id = containers.resolve(ref);
  try {
    const fd = mountDetached(readOnlyView(await rootMount(containers, snapshots, id)));
    try {
      const tw = new TarWriter(sink);
      // "/." — lstat of the bare magic link would see a symlink; this way the walk starts in the mount
      for await (const rec of readDirectoryRecords(`/proc/self/fd/${fd}/.`, { wholeSeconds: true })) await tw.add(rec.entry, rec.body);
      await tw.finish();
    } finally {
      closeSync(fd);
    }
  } catch (e) {
    throw wrap(`export ${ref}`, e);
  }
  containers.event(id, "export"); // dockerd logs each export
}

/** `berth diff`: the container's changes against its image (A added, C changed, D deleted) */
export async function containerChanges(
  containers: ContainerService,
  snapshots: SnapshotDriver,
  ref: string,
): Promise<{ kind: "A" | "C" | "D"; path: string }[]> {
  const id = containers.resolve(ref);
  if (!snapshots.changes) throw new EngineError("failed_precondition", `diff: the ${snapshots.name} storage driver cannot list changes`);
  return snapshots.changes(containers.info(id).cfg.Berth.SnapshotKey);
}
