// Issue 15: what a killed or damaged berth root looks like to the next command. Leftovers of dead
// processes, corrupt records and deleted snapshot directories must be reported by `system check`,
// repaired by `system check --repair` / `system prune` where that is safe, and never take down the
// commands that list or remove other objects.
import { describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { rootEnabled } from "../helpers/root.ts";
import { berth, tempRoot } from "../helpers/cli.ts";
import { ContentStore, ImageStore } from "../../src/image/index.ts";
import { MediaType } from "../../src/oci/index.ts";

/** an image with no layers written straight into a root's stores (no snapshots needed) */
function writeBareImage(root: string, tag: string, config: Record<string, unknown>): string {
  const content = new ContentStore(join(root, "content"));
  const store = new ImageStore(join(root, "image"), content);
  const cfg = content.putBytes(JSON.stringify({ architecture: "amd64", os: "linux", rootfs: { type: "layers", diff_ids: [] }, ...config }));
  const man = content.putBytes(JSON.stringify({ schemaVersion: 2, mediaType: MediaType.OciManifest, config: { mediaType: MediaType.OciConfig, digest: cfg.digest, size: cfg.size }, layers: [] }));
  store.put({ manifest: { mediaType: MediaType.OciManifest, digest: man.digest, size: man.size }, config: { mediaType: MediaType.OciConfig, digest: cfg.digest, size: cfg.size } });
  store.tag(`docker.io/library/${tag}`, cfg.digest);
  return cfg.digest;
}

describe("image listing", () => {
  test("an image config without `created` shows N/A, not NaN years ago (item 13)", async () => {
    using tr = tempRoot("nocreated");
    writeBareImage(tr.path, "nocreated:1", {});
    const r = await berth(["images"], { root: tr.path });
    expect(r.exitCode).toBe(0);
    expect(r.stdout).not.toContain("NaN");
    expect(r.stdout).toMatch(/nocreated\s+1\s+[0-9a-f]{12}\s+N\/A\s+0B/);
    const f = await berth(["images", "--format", "{{.CreatedSince}}|{{.CreatedAt}}"], { root: tr.path });
    expect(f.stdout).toBe("N/A|1970-01-01 00:00:00 +0000 UTC\n");
  });
});
