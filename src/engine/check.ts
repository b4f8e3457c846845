/**
 * `berth system check`: re-hash every blob (a tar-split layer: parse it and stat the snapshot files it
 * names, without reading them), resolve every tag down to its layers' snapshots, look at
 * every snapshot's directory and every container record, and find what nothing owns (orphan snapshots,
 * half-finished ingests, leftovers of dead processes). Work in progress in a live process is not a
 * problem: its lease, its ingest's flock or its pid-stamped unpack key says so.
 *
 * `repairStore` (`system check --repair`) fixes what is safe to fix without guessing: it reclaims
 * what dead processes left (leases, unpack snapshots, ingests), orphan snapshots and blobs, and tags
 * that name a missing image. Damaged images and container records are reported, never deleted: the
 * user decides (rmi, rm -f).
 */
import { existsSync } from "node:fs";
import type { Digest, Manifest } from "../oci/index.ts";
import { FileLock, isLeaseExpired } from "../image/index.ts";
import type { ContainerService } from "./containers/index.ts";
import { isCorruptState } from "./containers/store.ts";
import { ImageAssembly } from "./assembly.ts";
import { chainIds, isDeadExtractKey, isExtractKeyLive, type ImageService } from "./images.ts";

export interface CheckReport {
  blobs: number;
  images: number;
  tags: number;
  snapshots: number;
  containers: number;
  problems: string[];
}

/** one container record as the check sees it */
export interface ContainerRef {
  id: string;
  /** its writable snapshot (absent when config.json could not be read) */
  snapshotKey?: string;
  image?: string;
  /** what is wrong with the record itself */
  problem?: string;
}

/** every container record, read one by one: a damaged record is reported, never fatal */
export function containerRefs(containers: ContainerService): ContainerRef[] {
  const out: ContainerRef[] = [];
  for (const id of containers.store.ids()) {
    try {
      const cfg = containers.store.readConfig(id);
      const ref: ContainerRef = { id, snapshotKey: cfg.Berth?.SnapshotKey, image: cfg.Image };
      if (typeof ref.snapshotKey !== "string") ref.problem = "config.json names no snapshot";
      try {
        const st = containers.store.readState(id);
        if (isCorruptState(st)) ref.problem = `${st.Error} (rm -f removes it)`;
      } catch (e) {
        ref.problem = `state.json: ${(e as Error).message}`;
      }
      out.push(ref);
    } catch (e) {
      out.push({ id, problem: `config.json: ${(e as Error).message}` });
    }
  }
  return out;
}

export async function checkStore(images: ImageService, containers: ContainerRef[]): Promise<CheckReport> {
  const { content, store, snapshots } = images;
  const problems: string[] = [];
  let blobs = 0;

  // the snapshot listing first: what live work leases is read after it (see collectGarbage)
  const snaps = new Map<string, { kind: string; parent?: string }>();
  try {
    for await (const s of snapshots.walk()) snaps.set(s.name, s);
  } catch (e) {
    problems.push(`snapshot metadata of the ${snapshots.name} driver: ${(e as Error).message}`);
  }
  const leases = images.leases.list();
  const live = leases.filter((l) => !isLeaseExpired(l));
  const leasedSnaps = new Set(live.flatMap((l) => l.snapshots));

  for (const l of leases) {
    if (isLeaseExpired(l))
      problems.push(`leftover lease ${l.id}: ${l.owner ? `its process ${l.owner.pid} is gone` : "expired"} (system prune or system check --repair removes it)`);
  }

  for (const b of content.listSync()) {
    blobs++;
    const r = await content.verify(b.digest);
    if (!r.ok) problems.push(`blob ${b.digest}: ${r.problem}`);
  }
  for (const ing of content.listIngests()) {
    if (!ing.locked)
      problems.push(
        `half-finished ingest ${ing.ref} (${ing.size} bytes, last written ${ing.updatedAt.toISOString()}): its writer is gone (system prune or system check --repair removes it)`,
      );
  }

  const needed = new Set<string>();
  // a tar-split layer (an import's) is read from its snapshot: the snapshot is needed while the split exists
  for (const s of content.listSplits()) if (s.snapshot) needed.add(s.snapshot);
  const { records, damaged } = store.listChecked();
  for (const d of damaged) problems.push(`image ${d.id}: record unreadable: ${d.problem}`);
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
    for (const l of manifest?.layers ?? []) {
      if (content.has(l.digest)) continue;
      let split: string | undefined;
      try {
        split = content.info(l.digest)?.snapshot;
      } catch {} // a damaged split: the blob check above names it
      problems.push(
        split === undefined
          ? `${where}: missing layer blob ${l.digest}`
          : `${where}: layer ${l.digest} is kept as a tar-split over snapshot ${split}, which is gone: the layer is lost (rmi the image and import it again)`,
      );
    }
    let diffIds: Digest[] = [];
    try {
      diffIds = store.config(rec.id).rootfs?.diff_ids ?? [];
    } catch (e) {
      problems.push(`${where}: config unreadable: ${(e as Error).message}`);
    }
    if (manifest && manifest.layers.length !== diffIds.length)
      problems.push(`${where}: ${manifest.layers.length} layers in the manifest but ${diffIds.length} diff IDs in the config`);
    for (const c of chainIds(diffIds)) {
      needed.add(c);
      const s = snaps.get(c);
      if (!s) problems.push(`${where}: missing snapshot for layer chain ${c}`);
      else if (s.kind !== "committed") problems.push(`${where}: snapshot ${c} is not committed`);
    }
  }
  let tags = 0;
  const ids = new Set(records.map((r) => r.id));
  let tagTable: Record<string, Digest> = {};
  try {
    tagTable = store.tags();
  } catch (e) {
    problems.push((e as Error).message);
  }
  for (const d of damaged) ids.add(d.id); // reported above; its tags and containers are not "missing"
  for (const [name, id] of Object.entries(tagTable)) {
    tags++;
    if (!ids.has(id)) problems.push(`tag ${name}: points at missing image ${id}`);
  }

  const containerKeys = new Set<string>();
  for (const c of containers) {
    if (c.problem) {
      problems.push(`container ${c.id}: ${c.problem}`);
      continue;
    }
    if (c.snapshotKey) {
      containerKeys.add(c.snapshotKey);
      if (!snaps.has(c.snapshotKey)) problems.push(`container ${c.id}: missing snapshot ${c.snapshotKey}`);
    }
    if (c.image && !ids.has(c.image as Digest)) problems.push(`container ${c.id}: its image ${c.image} is missing`);
  }

  // a create in progress holds the image-use lock shared from its snapshot until its record exists:
  // while anyone holds it, a container snapshot without a record may be such a create
  const probe = FileLock.acquire(images.useLockPath, "exclusive", { wait: false });
  const createsInProgress = probe === undefined;
  probe?.release();
  const parents = new Set([...snaps.values()].map((s) => s.parent).filter(Boolean) as string[]);
  for (const [name, s] of snaps) {
    // every snapshot's own directory must exist: a deleted one breaks every container on top of it
    let dir: string | undefined;
    try {
      dir = snapshots.upperDir(name);
    } catch (e) {
      problems.push(`snapshot ${name}: ${(e as Error).message}`);
    }
    if (dir !== undefined && !existsSync(dir)) problems.push(`snapshot ${name}: its directory ${dir} is missing`);
    if (s.parent !== undefined && !snaps.has(s.parent)) problems.push(`snapshot ${name}: its parent ${s.parent} is missing`);
    if (s.kind === "committed") {
      if (!needed.has(name) && !parents.has(name) && !leasedSnaps.has(name)) problems.push(`orphan snapshot ${name}: no image uses it`);
    } else if (!containerKeys.has(name) && !isExtractKeyLive(name) && !(createsInProgress && name.startsWith("container-"))) {
      problems.push(
        isDeadExtractKey(name)
          ? `leftover snapshot ${name}: unpack area of a process that is gone (system prune or system check --repair removes it)`
          : `orphan active snapshot ${name}: no container or live operation owns it`,
      );
    }
  }
  return { blobs, images: records.length, tags, snapshots: snaps.size, containers: containers.length, problems };
}

/**
 * `system check --repair`: the GC with every dead leftover in scope (resumable ingests too), and tags
 * whose image is gone. Returns one line per thing it did.
 */
export async function repairStore(images: ImageService, containers: ContainerRef[]): Promise<string[]> {
  const done: string[] = [];
  done.push(...(await repairSnapshotDirs(images, containers)));
  for (const [name, id] of Object.entries(images.store.tags())) {
    if (!images.store.get(id as Digest)) {
      images.store.untag(name);
      done.push(`removed tag ${name}: its image ${id} is missing`);
    }
  }
  const r = await images.collectGarbage([], { allIngests: true });
  for (const l of r.leases) done.push(`removed leftover lease ${l}`);
  for (const i of r.ingests) done.push(`removed half-finished ingest ${i}`);
  for (const s of r.snapshots) done.push(`removed ${s.startsWith("extract-") ? "leftover" : "orphan"} snapshot ${s}`);
  for (const b of r.blobs) done.push(`removed unreferenced blob ${b}`);
  return done;
}

/**
 * Snapshots whose directory is gone: each is dropped with everything built on it, unless a container's
 * snapshot is among them (that is the user's to decide: reported by check, left alone here); then
 * every image that lost a layer is unpacked again from its layer blobs, when the blobs are there.
 */
async function repairSnapshotDirs(images: ImageService, containers: ContainerRef[]): Promise<string[]> {
  const done: string[] = [];
  const infos: { name: string; kind: string; parent?: string }[] = [];
  for await (const s of images.snapshots.walk()) infos.push(s);
  const children = new Map<string, string[]>();
  for (const s of infos) if (s.parent !== undefined) children.set(s.parent, [...(children.get(s.parent) ?? []), s.name]);
  const containerKeys = new Set(containers.map((c) => c.snapshotKey).filter(Boolean));
  const missing = (name: string) => !existsSync(images.snapshots.upperDir(name));
  let removedAny = false;
  for (const s of infos) {
    if (!missing(s.name)) continue;
    // the snapshot and its descendants, parents before children
    const tree: string[] = [];
    for (const queue = [s.name]; queue.length; ) {
      const n = queue.shift()!;
      tree.push(n);
      queue.push(...(children.get(n) ?? []));
    }
    const held = tree.find((n) => containerKeys.has(n));
    if (held) continue;
    for (const n of tree.reverse()) {
      try {
        await images.snapshots.remove(n);
        done.push(`removed snapshot ${n}${n === s.name ? ": its directory was missing" : `: built on ${s.name}, whose directory was missing`}`);
        removedAny = true;
      } catch {
        // already removed as part of an earlier tree
      }
    }
  }
  if (!removedAny) return done;
  for (const rec of images.store.list()) {
    let layers: Digest[];
    let diffIds: Digest[];
    try {
      layers = images.content.readJson<Manifest>(rec.manifest.digest).layers.map((l) => l.digest);
      diffIds = images.store.config(rec.id).rootfs?.diff_ids ?? [];
    } catch {
      continue; // a damaged image: check reports it
    }
    const chains = chainIds(diffIds);
    const lacking: boolean[] = [];
    for (const c of chains) lacking.push(!(await images.hasSnapshot(c)));
    if (!lacking.some(Boolean) || !layers.every((l) => images.content.has(l))) continue;
    await new ImageAssembly(images, "repair").run((asm) => asm.applyLayers(layers, diffIds, `image ${rec.id}`));
    done.push(`unpacked image ${rec.id} again from its layer blobs`);
  }
  return done;
}
