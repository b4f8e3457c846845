/**
 * src/cow — storage drivers (containerd's snapshotters): snapshots are directories with parents, handed
 * out as Mount[] for the runtime to apply; layers are unpacked into them (applyLayer) and read back as
 * OCI layer diffs (diff/changes).
 *
 * May import: oci (Mount), tar/types (TarRecord), lib (errors, atomic writes), ffi (fs, mount-api, cow-fs, btrfs).
 * Never imports image/, runtime/, engine/.
 *
 * Invariants:
 *  - a driver never mounts a container's rootfs itself; tests and host-side tools mount with
 *    src/ffi/mount-api.ts `mountAt`;
 *  - nothing a layer contains can make us write outside the snapshot's directory (apply.ts: cleaned names,
 *    parents resolved in scope, final components never followed);
 *  - metadata changes happen under an flock and are written atomically; committed snapshots are never
 *    modified; a committed snapshot with children cannot be removed.
 */
import type { SnapshotDriver } from "./driver.ts";
import { OverlayDriver } from "./overlay.ts";
import { VfsDriver } from "./vfs.ts";
import { BtrfsDriver } from "./btrfs.ts";
import { EngineError } from "../lib/errors.ts";

export type { SnapshotDriver, SnapshotInfo, SnapshotKind, Usage, ApplyStats } from "./driver.ts";
export type { Change } from "./diff.ts";
export { OverlayDriver } from "./overlay.ts";
export { VfsDriver } from "./vfs.ts";
export { BtrfsDriver } from "./btrfs.ts";
export { applyLayer, APPLY_WRITE_BUF, cleanLayerPath, removeTree, type ApplyOptions, type WhiteoutMode } from "./apply.ts";
export { overlayDiff, overlayChanges, treeDiff, treeChanges } from "./diff.ts";
export { copyTree } from "./copy.ts";
export { diskUsage } from "./_base.ts";

export type DriverName = "overlay" | "vfs" | "btrfs";

/** the driver `name` rooted at `root` (the engine passes <state root>/<name>) */
export function createDriver(name: DriverName, root: string): SnapshotDriver & { changes(key: string): Promise<import("./diff.ts").Change[]> } {
  switch (name) {
    case "overlay":
      return new OverlayDriver(root);
    case "vfs":
      return new VfsDriver(root);
    case "btrfs":
      return new BtrfsDriver(root);
    default:
      throw new EngineError("invalid_argument", `storage driver ${JSON.stringify(name)}: unknown (overlay, vfs, btrfs)`);
  }
}
