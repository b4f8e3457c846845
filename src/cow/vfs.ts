/**
 * The vfs driver (docker's vfs / containerd's native snapshotter): no union filesystem, every snapshot
 * is a full copy of its parent's tree, made by prepare()/view() with owners, modes, mtimes (ns), xattrs,
 * hardlinks, devices and fifos preserved. Mounts are bind mounts. Slow and big, but it runs anywhere
 * (no overlay, nested overlay, rootless without CAP_MKNOD) and is the reference the conformance suite
 * compares overlay against. Whiteouts in layers delete from the copied tree.
 */
import { WholeTreeDriver } from "./_base.ts";
import { copyTree } from "./copy.ts";
import { registerDriver } from "./registry.ts";

export class VfsDriver extends WholeTreeDriver {
  readonly name = "vfs" as const;

  protected async populate(id: number, chain: number[]): Promise<void> {
    if (chain.length) copyTree(`${this.dir(chain[0]!)}/fs`, `${this.dir(id)}/fs`);
  }
}

declare module "./driver.ts" {
  interface StorageDrivers {
    vfs: VfsDriver;
  }
}

registerDriver({
  name: "vfs",
  description: "plain directories: every snapshot a full copy of its parent",
  priority: 3,
  requires: { root: false },
  usable: () => undefined,
  create: (root) => new VfsDriver(root),
});
