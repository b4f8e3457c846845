// commitLayer (src/engine/commit.ts) against both storage drivers: an imported base image, an active
// snapshot on top of it with a file added, one changed and one deleted, committed into a new image.
// Checks the image's layers, diffIDs, history, the chain snapshot's contents, an empty-layer step, and
// that `system check` finds nothing afterwards. Root: layers unpack with their owners.
import { afterAll, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readFileSync, rmSync, unlinkSync, writeFileSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { rootEnabled } from "../helpers/root.ts";
import { Engine } from "../../src/engine/index.ts";
import { commitLayer } from "../../src/engine/commit.ts";
import { chainIds, extractKey } from "../../src/engine/images.ts";
import { createLogger } from "../../src/lib/log.ts";
import { TarWriter } from "../../src/tar/index.ts";
import type { Manifest } from "../../src/oci/index.ts";

async function baseTar(): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  const w = new TarWriter((c) => void parts.push(c.slice()));
  const f = (name: string, body: string) =>
    w.add({ name, type: "file", mode: 0o644, uid: 0, gid: 0, size: body.length, mtime: 1_700_000_000 }, new TextEncoder().encode(body));
  await w.add({ name: "etc", type: "dir", mode: 0o755, uid: 0, gid: 0, size: 0, mtime: 1_700_000_000 });
  await f("etc/keep", "keep\n");
  await f("etc/change", "old\n");
  await f("etc/gone", "bye\n");
  await w.finish();
  return Buffer.concat(parts);
}

for (const driver of ["vfs", "overlay"] as const) {
  describe.skipIf(!rootEnabled)(`commitLayer (${driver})`, () => {
    const root = rootEnabled ? mkdtempSync(`/tmp/berth-test-commit-${driver}-`) : "/nonexistent";
    afterAll(() => rmSync(root, { recursive: true, force: true }));
    const engine = rootEnabled ? new Engine({ root, log: createLogger(0, (l) => void process.stderr.write(l)), storageDriver: driver }) : undefined!;

    test("a snapshot's changes become a layer on top of the base image", async () => {
      const images = engine.images;
      const base = await images.importTarball(new Blob([await baseTar()]).stream(), { sourceName: "base.tar", ref: "base:1", changes: { Cmd: ["/bin/sh"] } });
      const baseCfg = images.store.config(base);
      const parent = chainIds(baseCfg.rootfs.diff_ids).at(-1)!;
      const key = extractKey();
      await engine.snapshots.prepare(key, parent);
      const upper = engine.snapshots.upperDir(key);
      mkdirSync(join(upper, "etc"), { recursive: true });
      writeFileSync(join(upper, "etc/added"), "new file\n");
      writeFileSync(join(upper, "etc/change"), "new content\n");
      if (driver === "vfs") unlinkSync(join(upper, "etc/gone"));
      const changes = await engine.snapshots.changes!(key);
      expect(changes).toContainEqual({ kind: "A", path: "/etc/added" });
      expect(changes).toContainEqual({ kind: "C", path: "/etc/change" });

      const res = await commitLayer(images, {
        key,
        base,
        config: { ...baseCfg.config, Env: ["A=1"] },
        history: { created_by: "test step", comment: "hello" },
        author: "me",
        ref: "derived:1",
      });
      expect(res.layer).toBeDefined();
      const cfg = images.store.config(res.id);
      expect(cfg.rootfs.diff_ids).toEqual([...baseCfg.rootfs.diff_ids, res.layer!.diffId]);
      expect(cfg.history?.at(-1)).toMatchObject({ created_by: "test step", comment: "hello", author: "me" });
      expect(cfg.author).toBe("me");
      expect(cfg.config).toEqual({ Cmd: ["/bin/sh"], Env: ["A=1"] });
      const rec = images.store.resolve("derived:1");
      expect(rec.id).toBe(res.id);
      expect(rec.parent).toBe(base);
      const man = images.content.readJson<Manifest>(rec.manifest.digest);
      expect(man.layers.length).toBe(2);
      expect(man.layers[1]).toMatchObject({ mediaType: "application/vnd.oci.image.layer.v1.tar+gzip", digest: res.layer!.digest, size: res.layer!.size });
      // the chain snapshot holds the new layer's own files
      const chain = chainIds(cfg.rootfs.diff_ids).at(-1)!;
      expect(res.layer!.chain).toBe(chain);
      const info = await engine.snapshots.stat(chain);
      expect(info).toMatchObject({ kind: "committed", parent });
      const own = engine.snapshots.upperDir(chain);
      expect(readFileSync(join(own, "etc/added"), "utf8")).toBe("new file\n");
      expect(readFileSync(join(own, "etc/change"), "utf8")).toBe("new content\n");
      if (driver === "vfs") expect(existsSync(join(own, "etc/gone"))).toBe(false);
      // the container's snapshot is untouched and can be committed again (same content: same diffID)
      expect((await engine.snapshots.stat(key)).kind).toBe("active");
      const again = await commitLayer(images, { key, base, history: { created_by: "again" } });
      expect(again.layer!.diffId).toBe(res.layer!.diffId);

      // a metadata-only step
      const empty = await commitLayer(images, { key: "unused", base: res.id, layer: false, config: { Cmd: ["echo", "hi"] }, history: { created_by: "CMD" } });
      const ecfg = images.store.config(empty.id);
      expect(ecfg.rootfs.diff_ids).toEqual(cfg.rootfs.diff_ids);
      expect(ecfg.history?.at(-1)).toMatchObject({ created_by: "CMD", empty_layer: true });

      await engine.snapshots.remove(key);
      const report = await engine.check();
      expect(report.problems ?? []).toEqual([]);
    });

    test("a snapshot not based on the base image is refused and leaves nothing", async () => {
      const images = engine.images;
      const base = images.store.resolve("base:1").id;
      const key = extractKey();
      await engine.snapshots.prepare(key);
      const before = images.store.list().length;
      await expect(commitLayer(images, { key, base })).rejects.toThrow(/is not the top layer/);
      expect(images.store.list().length).toBe(before);
      await engine.snapshots.remove(key);
    });
  });
}
