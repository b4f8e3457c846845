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
 *
 * A new driver is one file: a class over _base.ts's BaseDriver (metadata, lock, lifecycle rules,
 * applyLayer/diff/changes over its fs/ directories) that supplies populate and mountsOf (WholeTreeDriver
 * supplies mountsOf for drivers whose fs/ is the whole tree), then `declare module "./driver.ts"` for
 * its name and registerDriver(...) at the end; plus its import line below. The engine, the CLI's help
 * and the conformance suite (conformance.test.ts) pick it up from the registry.
 */
// The drivers: each file registers itself (registry.ts). Keep these specifiers string literals so
// `bun build --compile` bundles them; a new driver is its file plus one line here.
import "./overlay.ts";
import "./vfs.ts";
import "./btrfs.ts";

export type { SnapshotDriver, SnapshotInfo, SnapshotKind, Usage, ApplyStats, BodyQueue, Driver, DriverName, StorageDrivers } from "./driver.ts";
export type { Change } from "./diff.ts";
export {
  registerDriver,
  registeredDrivers,
  driverNames,
  driversByPriority,
  driverRegistration,
  isDriverName,
  createDriver,
  orList,
  type DriverRegistration,
} from "./registry.ts";
// the unpacker (apply.ts) and the differ (diff.ts) are imported from their files by their users, all loaded
// on first use: re-exported here, they would load with every engine (a split build puts a module re-exported
// by a file the engine imports into the engine's own chunk)
export type { ApplyOptions, WhiteoutMode } from "./apply.ts";
export { removeTree } from "./remove-tree.ts";
export { copyTree } from "./copy.ts";
export { diskUsage } from "./_base.ts";
