import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { EngineError } from "../lib/errors.ts";
import { fakeImage, fakeImageBlobs, tempStores } from "./_testutil.ts";
import { ImageStore } from "./image-store.ts";
import type { Digest } from "../oci/index.ts";

function errOf(fn: () => unknown): EngineError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(EngineError);
    return e as EngineError;
  }
  throw new Error("expected an error");
}

describe("ImageStore records", () => {
  test("put derives id and created from the config; get/list read it back", () => {
    using s = tempStores();
    const b = fakeImageBlobs(s.content, "a", { created: "2025-05-05T05:05:05Z" });
    const rec = s.images.put({ manifest: b.manifest, config: b.config });
    expect(rec).toEqual({ id: b.config.digest, manifest: b.manifest, config: b.config, created: "2025-05-05T05:05:05Z" });
    expect(s.images.get(rec.id)).toEqual(rec);
    expect(s.images.get(rec.id.slice(7))).toEqual(rec);
    expect(s.images.get("sha256:" + "0".repeat(64))).toBeUndefined();
    expect(s.images.list()).toEqual([rec]);
    expect(s.images.config(rec.id).config?.Labels).toEqual({ seed: "a" });
    expect(s.images.manifest(rec.id).layers).toEqual(b.layers);
    // a fresh store over the same directory sees the same state
    expect(new ImageStore(s.images.dir, s.content).get(rec.id)).toEqual(rec);
  });

  test("put refuses blobs missing from the content store", () => {
    using s = tempStores();
    const b = fakeImageBlobs(s.content, "a");
    const missing = { ...b.manifest, digest: ("sha256:" + "1".repeat(64)) as Digest };
    const e = errOf(() => s.images.put({ manifest: missing, config: b.config }));
    expect(e.kind).toBe("failed_precondition");
    expect(e.message).toContain("is not in the content store");
  });
});

describe("tags and resolve", () => {
  test("tag normalizes names; resolve by name, implied :latest, full id, sha256: id, prefix", () => {
    using s = tempStores();
    const img = fakeImage(s, "one");
    expect(s.images.tag("busybox", img.id)).toBe("docker.io/library/busybox:latest");
    expect(s.images.tag("localhost:5000/x:v1", img.id.slice(7, 19))).toBe("localhost:5000/x:v1");
    expect(s.images.namesOf(img.id)).toEqual(["docker.io/library/busybox:latest", "localhost:5000/x:v1"]);
    expect(JSON.parse(readFileSync(s.images.repositoriesPath, "utf8"))).toEqual({
      "docker.io/library/busybox:latest": img.id,
      "localhost:5000/x:v1": img.id,
    });
    expect(s.images.get(img.id)?.lastTagTime).toBeString();
    for (const q of [
      "busybox",
      "busybox:latest",
      "docker.io/library/busybox",
      "library/busybox:latest",
      "localhost:5000/x:v1",
      img.id,
      img.id.slice(7),
      img.id.slice(0, 19),
      img.id.slice(7, 8),
      img.id.slice(7, 19),
    ]) {
      expect(s.images.resolve(q).id).toBe(img.id);
    }
  });

  test("not found uses docker's wording", () => {
    using s = tempStores();
    fakeImage(s, "one");
    expect(errOf(() => s.images.resolve("busybox")).message).toBe("No such image: busybox:latest");
    expect(errOf(() => s.images.resolve("user/app:1")).message).toBe("No such image: user/app:1");
    const e = errOf(() => s.images.resolve("sha256:" + "9".repeat(64)));
    expect(e.kind).toBe("not_found");
    expect(e.message).toBe(`No such image: sha256:${"9".repeat(64)}`);
    expect(errOf(() => s.images.resolve("Busybox")).message).toBe("invalid reference format: repository name (library/Busybox) must be lowercase");
  });

  test("a hex string that is also a tag resolves as the tag first, like docker", () => {
    using s = tempStores();
    const a = fakeImage(s, "a");
    const b = fakeImage(s, "b");
    const prefixOfB = b.id.slice(7, 11);
    s.images.tag(prefixOfB, a.id);
    expect(s.images.resolve(prefixOfB).id).toBe(a.id);
    expect(s.images.resolve(`sha256:${prefixOfB}`).id).toBe(b.id);
  });

  test("an ambiguous prefix is an error", () => {
    using s = tempStores();
    // 17 images: two must share their first hex digit (pigeonhole)
    const ids = Array.from({ length: 17 }, (_, i) => fakeImage(s, `img-${i}`, { layers: 0 }).id);
    const byFirst = new Map<string, number>();
    for (const id of ids) byFirst.set(id[7]!, (byFirst.get(id[7]!) ?? 0) + 1);
    const [shared] = [...byFirst].find(([, n]) => n > 1)!;
    const e = errOf(() => s.images.resolve(shared));
    expect(e.kind).toBe("invalid_argument");
    expect(e.message).toMatch(/^ambiguous image id prefix ".": matches \d+ images$/);
  });

  test("name@digest resolves by stored key, and by manifest digest within the repository", () => {
    using s = tempStores();
    const img = fakeImage(s, "d");
    const pinned = `busybox@${img.manifest.digest}`;
    expect(s.images.tag(`busybox:1.0@${img.manifest.digest}`, img.id)).toBe(`docker.io/library/${pinned}`);
    expect(s.images.resolve(pinned).id).toBe(img.id);
    s.images.untag(pinned);
    s.images.tag("busybox:1.0", img.id);
    expect(s.images.resolve(pinned).id).toBe(img.id);
    expect(errOf(() => s.images.resolve(`other@${img.manifest.digest}`)).kind).toBe("not_found");
  });

  test("retagging moves the name; untag returns the key and 404s on a second try", () => {
    using s = tempStores();
    const a = fakeImage(s, "a");
    const b = fakeImage(s, "b");
    s.images.tag("app:1", a.id);
    s.images.tag("app:1", b.id);
    expect(s.images.resolve("app:1").id).toBe(b.id);
    expect(s.images.namesOf(a.id)).toEqual([]);
    expect(s.images.untag("app:1")).toBe("docker.io/library/app:1");
    const e = errOf(() => s.images.untag("app:1"));
    expect(e.kind).toBe("not_found");
    expect(e.message).toBe("No such image: app:1");
    expect(errOf(() => s.images.tag("x", "sha256:" + "0".repeat(64))).kind).toBe("not_found");
    expect(errOf(() => s.images.tag("x:-bad", a.id)).message).toBe("invalid reference format");
  });

  test("delete refuses tagged images unless forced, and images with children", () => {
    using s = tempStores();
    const base = fakeImage(s, "base");
    const child = fakeImage(s, "child", { parent: base.id });
    s.images.tag("base", base.id);
    s.images.tag("base:2", base.id);
    const t = errOf(() => s.images.delete(base.id, { force: true }));
    expect(t.kind).toBe("failed_precondition");
    expect(t.message).toBe(`unable to delete image ${base.id.slice(7, 19)}: image has dependent child images`);
    expect(s.images.namesOf(base.id)).toHaveLength(2);
    expect(s.images.delete(child.id.slice(7, 19))).toEqual({ deleted: child.id, untagged: [] });
    expect(s.images.delete(base.id, { force: true }).untagged).toHaveLength(2);
  });

  test("delete: tagged needs force; force removes the tags", () => {
    using s = tempStores();
    const img = fakeImage(s, "x");
    s.images.tag("x", img.id);
    s.images.tag("y:2", img.id);
    const e = errOf(() => s.images.delete(img.id));
    expect(e.kind).toBe("failed_precondition");
    expect(e.message).toBe(`unable to delete image ${img.id.slice(7, 19)} (must be forced): image is tagged as x:latest, y:2`);
    expect(s.images.delete(img.id, { force: true })).toEqual({
      deleted: img.id,
      untagged: ["docker.io/library/x:latest", "docker.io/library/y:2"],
    });
    expect(s.images.list()).toEqual([]);
    expect(s.images.tags()).toEqual({});
    // blobs stay for gc
    expect(s.content.has(img.manifest.digest)).toBe(true);
  });
});

describe("across processes", () => {
  test("concurrent tag updates from several processes lose nothing", async () => {
    using s = tempStores();
    const img = fakeImage(s, "shared", { layers: 0 });
    const script = `${s.root}/tagger.ts`;
    await Bun.write(
      script,
      `import { ContentStore } from ${JSON.stringify(`${import.meta.dir}/content-store.ts`)};
       import { ImageStore } from ${JSON.stringify(`${import.meta.dir}/image-store.ts`)};
       const [contentDir, imageDir, id, who] = process.argv.slice(2);
       const images = new ImageStore(imageDir, new ContentStore(contentDir));
       for (let i = 0; i < 25; i++) { images.tag(\`app-\${who}:\${i}\`, id); await Bun.sleep(0); }`,
    );
    const procs = ["a", "b", "c"].map((who) => Bun.spawn([process.execPath, script, s.content.dir, s.images.dir, img.id, who], { stderr: "inherit" }));
    for (const p of procs) expect(await p.exited).toBe(0);
    expect(s.images.namesOf(img.id)).toHaveLength(75);
  });
});
