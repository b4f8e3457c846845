/**
 * `berth system check`: re-hash every blob, resolve every tag down to its layers' snapshots, and find
 * what nothing owns (orphan snapshots, half-finished ingests). Read-only: it reports, it never repairs.
 */
import type { Digest, Manifest } from "../oci/index.ts";
import type { ContentStore, ImageStore } from "../image/index.ts";
import type { SnapshotDriver } from "../cow/driver.ts";
import { chainIds, isExtractKeyLive } from "./images.ts";

export interface CheckReport {
  blobs: number;
  images: number;
  tags: number;
  snapshots: number;
  problems: string[];
}

export async function checkStore(content: ContentStore, store: ImageStore, snapshots: SnapshotDriver, containerKeys: Set<string>): Promise<CheckReport> {
  const problems: string[] = [];
  let blobs = 0;
  for (const b of content.listSync()) {
    blobs++;
    const r = await content.verify(b.digest);
    if (!r.ok) problems.push(`blob ${b.digest}: ${r.problem}`);
  }
  for (const ing of content.listIngests()) {
    if (!ing.locked) problems.push(`half-finished ingest ${ing.ref} (${ing.size} bytes, last written ${ing.updatedAt.toISOString()})`);
  }

  const snaps = new Map<string, { kind: string; parent?: string }>();
  for await (const s of snapshots.walk()) snaps.set(s.name, s);

  const needed = new Set<string>();
  const records = store.list();
  for (const rec of records) {
    const where = `image ${rec.id}`;
    for (const d of [rec.manifest.digest, rec.config.digest]) if (!content.has(d)) problems.push(`${where}: missing blob ${d}`);
    let manifest: Manifest | undefined;
    try {
      manifest = content.readJson<Manifest>(rec.manifest.digest);
    } catch (e) {
      problems.push(`${where}: manifest unreadable: ${(e as Error).message}`);
    }
    if (manifest && manifest.config.digest !== rec.config.digest) problems.push(`${where}: manifest names config ${manifest.config.digest}`);
    for (const l of manifest?.layers ?? []) if (!content.has(l.digest)) problems.push(`${where}: missing layer blob ${l.digest}`);
    let diffIds: Digest[] = [];
    try {
      diffIds = store.config(rec.id).rootfs?.diff_ids ?? [];
    } catch (e) {
      problems.push(`${where}: config unreadable: ${(e as Error).message}`);
    }
    if (manifest && manifest.layers.length !== diffIds.length) problems.push(`${where}: ${manifest.layers.length} layers in the manifest but ${diffIds.length} diff IDs in the config`);
    for (const c of chainIds(diffIds)) {
      needed.add(c);
      const s = snaps.get(c);
      if (!s) problems.push(`${where}: missing snapshot for layer chain ${c}`);
      else if (s.kind !== "committed") problems.push(`${where}: snapshot ${c} is not committed`);
    }
  }
  let tags = 0;
  for (const [name, id] of Object.entries(store.tags())) {
    tags++;
    if (!records.some((r) => r.id === id)) problems.push(`tag ${name}: points at missing image ${id}`);
  }

  const parents = new Set([...snaps.values()].map((s) => s.parent).filter(Boolean) as string[]);
  for (const [name, s] of snaps) {
    if (s.kind === "committed") {
      if (!needed.has(name) && !parents.has(name)) problems.push(`orphan snapshot ${name}: no image uses it`);
    } else if (!containerKeys.has(name) && !isExtractKeyLive(name)) {
      problems.push(`orphan active snapshot ${name}: no container or live operation owns it`);
    }
  }
  return { blobs, images: records.length, tags, snapshots: snaps.size, problems };
}
