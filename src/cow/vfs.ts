/**
 * The vfs driver (docker's vfs / containerd's native snapshotter): no union filesystem, every snapshot
 * is a full copy of its parent's tree, made by prepare()/view() with owners, modes, mtimes (ns), xattrs,
 * hardlinks, devices and fifos preserved. Mounts are bind mounts. Slow and big, but it runs anywhere
 * (no overlay, nested overlay, rootless without CAP_MKNOD) and is the reference the conformance suite
 * compares overlay against. Whiteouts in layers delete from the copied tree.
 */
import type { Mount } from "../oci/index.ts";
import type { TarRecord } from "../tar/types.ts";
import { BaseDriver, type SnapshotRecord } from "./_base.ts";
import { copyTree } from "./copy.ts";
import { treeChanges, treeDiff, type Change } from "./diff.ts";

export class VfsDriver extends BaseDriver {
  readonly name = "vfs" as const;
  protected readonly whiteouts = "delete" as const;

  protected async populate(id: number, chain: number[]): Promise<void> {
    if (chain.length) copyTree(`${this.dir(chain[0]!)}/fs`, `${this.dir(id)}/fs`);
  }

  protected mountsOf(rec: SnapshotRecord): Mount[] {
    return [{ type: "bind", source: `${this.dir(rec.id)}/fs`, target: "/", options: ["rbind", rec.kind === "active" ? "rw" : "ro"] }];
  }

  diff(key: string): AsyncIterable<TarRecord> {
    const { upper, lowers } = this.lowerDirs(key);
    return treeDiff(lowers[0], upper);
  }

  async changes(key: string): Promise<Change[]> {
    const { upper, lowers } = this.lowerDirs(key);
    return treeChanges(lowers[0], upper);
  }
}
