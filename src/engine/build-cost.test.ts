// Issue 15 item 10: a build step's cost must not grow with the number of images in the root. Each
// metadata step (ENV, …) once ran a dead-process recovery and a GC that read every image record and
// walked every snapshot; a build now recovers once and its commits are batch commits. Counted, not timed:
// the store reads one configStep makes with few images and with many are the same.
import { afterEach, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { join } from "node:path";
import { ContentStore, ImageStore, LeaseStore } from "../image/index.ts";
import { createDriver } from "../cow/index.ts";
import { createLogger } from "../lib/log.ts";
import type { ImageConfig } from "../oci/index.ts";
import { ImageService } from "./images.ts";
import { BuildSupport } from "./build.ts";
import type { ContainerService } from "./containers/index.ts";

const roots: string[] = [];
afterEach(() => {
  for (const r of roots.splice(0)) rmSync(r, { recursive: true, force: true });
});

function service(): { s: ImageService; root: string } {
  const root = mkdtempSync("/tmp/berth-test-build-cost-");
  roots.push(root);
  const content = new ContentStore(join(root, "content"));
  return {
    s: new ImageService(
      content,
      new ImageStore(join(root, "image"), content),
      new LeaseStore(content),
      createDriver("vfs", join(root, "vfs")),
      createLogger(0, () => {}),
    ),
    root,
  };
}

const cfg = (i: number): ImageConfig => ({
  architecture: "amd64",
  os: "linux",
  created: new Date(0).toISOString(),
  config: { Env: [`I=${i}`] },
  rootfs: { type: "layers", diff_ids: [] },
  history: [{ created_by: `image ${i}`, empty_layer: true }],
});

/** store operations of 5 ENV-like steps on a root holding `images` other images */
async function stepCost(images: number): Promise<Record<string, number>> {
  const { s, root } = service();
  for (let i = 0; i < images; i++) await s.storeImage(cfg(i), []);
  const support = new BuildSupport(s, {} as ContainerService, join(root, "builder"));
  let base = await s.storeImage(cfg(-1), []);
  const counts: Record<string, number> = { list: 0, get: 0, walk: 0, readJson: 0, leases: 0 };
  const spy = <T extends object>(o: T, name: keyof T & string, key: string) => {
    const orig = (o[name] as (...a: unknown[]) => unknown).bind(o);
    (o as Record<string, unknown>)[name] = (...a: unknown[]) => (counts[key]!++, orig(...a));
  };
  spy(s.store, "list", "list");
  spy(s.store, "get", "get");
  spy(s.snapshots, "walk", "walk");
  spy(s.content, "readJson", "readJson");
  spy(s.leases, "list", "leases");
  for (let i = 0; i < 5; i++) base = await support.configStep(base, { Env: [`STEP=${i}`] }, `/bin/sh -c #(nop)  ENV STEP=${i}`);
  return counts;
}

test("a metadata step reads the same records with 2 images as with 60, and never lists them", async () => {
  const few = await stepCost(2);
  const many = await stepCost(60);
  expect(many).toEqual(few);
  expect(few.list).toBe(0);
  expect(few.walk).toBe(0);
});
