/**
 * The overlay driver (moby overlay2 / containerd overlayfs snapshotter): every snapshot is a directory;
 * committed snapshots are immutable lower layers, an active snapshot is an upperdir + workdir on top of
 * its parent chain. Mounts are only described here, never performed (STYLE §1); the runtime applies them,
 * through src/ffi/mount-api.ts (`lowerdir+`, one fsconfig per layer) when `lowerdir=` would not fit in
 * a page for classic mount(2) (kernel Documentation/filesystems/overlayfs.rst; needs Linux ≥ 6.8).
 *
 * Mounts:
 *   active, no parent   bind   fs/                      ["rbind","rw"]
 *   active, parent      overlay lowerdir=p1:p2:…,upperdir=fs,workdir=work,index=off   (p1 = nearest)
 *   view,   no parent   bind   fs/ (empty)              ["rbind","ro"]
 *   view,   one layer   bind   parent's fs/             ["rbind","ro"]
 *   view,   ≥2 layers   overlay lowerdir=p1:p2:…,index=off  (no upper: read-only by construction)
 * `index=off`: the inode index ties a lower layer to the upper it was first used with (trusted.overlay.origin
 * checks); shared, reused lowers must not carry that (moby sets it off too).
 *
 * Whiteouts are native: 0/0 character devices and trusted.overlay.opaque=y (needs CAP_MKNOD and
 * CAP_SYS_ADMIN for trusted.* xattrs, i.e. root).
 */
import type { Mount } from "../oci/index.ts";
import { BaseDriver, type SnapshotRecord } from "./_base.ts";
import { registerDriver } from "./registry.ts";

export class OverlayDriver extends BaseDriver {
  readonly name = "overlay" as const;
  protected readonly whiteouts = "overlay" as const;

  protected async populate(): Promise<void> {}

  /** docker's overlay2 reports d_type support (overlay needs it; every filesystem berth runs on has it) */
  status(): [string, string][] {
    return [["Supports d_type", "true"]];
  }

  protected mountsOf(rec: SnapshotRecord, chain: number[]): Mount[] {
    const own = this.dir(rec.id);
    const lowers = chain.map((id) => `${this.dir(id)}/fs`);
    if (rec.kind === "active") {
      if (lowers.length === 0) return [{ type: "bind", source: `${own}/fs`, target: "/", options: ["rbind", "rw"] }];
      return [
        {
          type: "overlay",
          source: "overlay",
          target: "/",
          options: [`lowerdir=${lowers.join(":")}`, `upperdir=${own}/fs`, `workdir=${own}/work`, "index=off"],
        },
      ];
    }
    if (lowers.length <= 1) return [{ type: "bind", source: lowers[0] ?? `${own}/fs`, target: "/", options: ["rbind", "ro"] }];
    return [{ type: "overlay", source: "overlay", target: "/", options: [`lowerdir=${lowers.join(":")}`, "index=off"] }];
  }
}

declare module "./driver.ts" {
  interface StorageDrivers {
    overlay: OverlayDriver;
  }
}

registerDriver({
  name: "overlay",
  description: "overlayfs: layers as lower directories, the container's changes in an upper directory",
  priority: 1,
  // native whiteouts are 0/0 character devices and trusted.* xattrs: mknod and CAP_SYS_ADMIN
  requires: { root: true },
  usable: () => undefined,
  create: (root) => new OverlayDriver(root),
});
