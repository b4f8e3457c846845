/**
 * `create`: a container record with its writable snapshot, name, /etc files and network reservation,
 * from an Engine API create request and its image (create-config.ts merges and checks them). Nothing
 * half-created survives an error.
 */
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, statSync, unlinkSync } from "node:fs";
import { availableParallelism, hostname as osHostname } from "node:os";
import { join } from "node:path";
import { EngineError } from "../../../lib/errors.ts";
import { replaceFile } from "../../../lib/atomic-write.ts";
import { newId } from "../../../lib/ids.ts";
import type { ResolvedImage } from "../../image-types.ts";
import { ANONYMOUS_LABEL } from "../../volumes.ts";
import { randomName, validateName } from "../names.ts";
import * as netw from "../networking.ts";
import { resolveInRoot, withContainerRoot } from "../container-root.ts";
import { createConfig, isNoCopy, type BuiltConfig } from "../create-config.ts";
import { hostsFile, resolvConf } from "../oci-spec.ts";
import type { ContainerCreateOptions, ContainerCreateRequest, ContainerCreateResponse } from "../../api/containers.ts";
import type { ContainerConfigFile } from "../types.ts";
import { ev, type ContainerDeps } from "./deps.ts";
import { Undo } from "./undo.ts";
import { nowNano } from "../logs.ts";
import { cgroupSupport } from "../../../runtime/cgroups.ts";
import { mark } from "../../../lib/trace.ts";

/** `create`: record + writable snapshot; nothing half-created on any error */
export async function create(d: ContainerDeps, req: ContainerCreateRequest, o: ContainerCreateOptions = {}): Promise<ContainerCreateResponse> {
  const ref = req.Image ?? "";
  if (o.startsHere) {
    try {
      d.runtime.prepare?.();
    } catch {} // the start reports it (a runtime that cannot load is the start's error, as before)
  }
  using _imageRef = await d.images.holdImageRef?.(); // until the record names the image (rmi race)
  let image: ResolvedImage;
  try {
    image = await d.images.resolve(ref);
  } catch (e) {
    // the client pulls (or says "Unable to find image") before it asks: here it is dockerd's 404
    if (e instanceof EngineError && e.kind === "not_found")
      throw new EngineError("not_found", `No such image: ${normalizeRef(ref)}`, { cause: e, hint: "import or pull the image first" });
    throw e;
  }
  mark("create: image resolved");
  // --volumes-from: the other container's mounts as its record has them (volume names and sources set)
  const mountsOf = (ref: string) => d.store.readConfig(d.store.resolve(ref)).Mounts;
  // (not os.cpus(): it parses /proc/cpuinfo; docker's runtime.NumCPU() is the affinity count too)
  const built = createConfig(req, image, {
    hostCpus: availableParallelism(),
    ephemeral: o.ephemeral,
    mountsOf,
    ...(req.HostConfig?.OomKillDisable || req.HostConfig?.BlkioWeight ? { cgroups: cgroupSupport() } : {}),
  });
  const name = o.name !== undefined ? validateName(o.name) : undefined;
  mark("create: config built");

  for (const s of built.MustExist ?? []) {
    if (!existsSync(s)) throw new EngineError("invalid_argument", `invalid mount config for type "bind": bind source path does not exist: ${s}`);
  }
  // docker creates a missing host directory for -v host:ctr
  for (const m of built.Mounts) if (m.Type === "bind" && !existsSync(m.Source)) mkdirSync(m.Source, { recursive: true, mode: 0o755 });

  if (!built.Mounts.some((m) => m.Type === "volume")) return await createRecord(d, o, image, built, name); // await: _imageRef spans it
  // volumes: named ones created on first use, anonymous ones fresh (docker's label marks them). Held in
  // use until config.json names them, so a concurrent `volume rm`/`prune` cannot take one in between.
  const made: string[] = [];
  try {
    return await d.volumes.whileInUse(async () => {
      for (const m of built.Mounts) {
        if (m.Type !== "volume") continue;
        const { volume, created } = d.volumes.create(m.Name || undefined, m.Name ? {} : { labels: { [ANONYMOUS_LABEL]: "" } });
        m.Name = volume.Name;
        m.Source = volume.Mountpoint;
        if (created) made.push(volume.Name);
      }
      return createRecord(d, o, image, built, name);
    });
  } catch (e) {
    const undo = new Undo();
    for (const v of made) undo.push(() => d.volumes.removeUnchecked(v));
    throw await undo.rollback(e);
  }
}

export async function createRecord(
  d: ContainerDeps,
  o: ContainerCreateOptions,
  image: ResolvedImage,
  built: BuiltConfig,
  name: string | undefined,
): Promise<ContainerCreateResponse> {
  const id = newId();
  const dir = d.store.dir(id);
  const undo = new Undo();
  // a `run --rm` container (or a build step's) lives only as long as the process that created it: its
  // record need not survive a power loss, so nothing of it is fsynced (tmp → rename still: a kill -9
  // leaves whole files). Any other record is flushed once, at the end, config.json with all that was
  // written before it (store.writeNewConfig); state.json is not written.
  const durable = !(built.HostConfig.AutoRemove || o.ephemeral);
  try {
    // who creates it, before anything else: a kill -9 from here to config.json leaves debris the next
    // create sweeps by this mark (ops/state.ts sweepHalfCreated)
    markCreator(d, id);
    undo.push(() => clearCreatorMark(d.root, id));
    let finalName = name;
    if (finalName !== undefined) d.store.reserveName(finalName, id);
    else {
      for (let i = 0; ; i++) {
        const n = randomName(i > 3 ? 1 : 0);
        try {
          d.store.reserveName(n, id);
          finalName = n;
          break;
        } catch (e) {
          if (i > 10) throw e;
        }
      }
    }
    const n = finalName!;
    undo.push(() => d.store.releaseName(n, id));
    mark("create: name reserved");
    mkdirSync(dir, { recursive: false, mode: 0o710 });
    undo.push(() => d.store.removeDir(id));
    const key = snapshotKey(id);
    // not flushed on its own: config.json's flush below commits it too (ext4's journal); should a power
    // loss take it all the same, the first start prepares it again (ops/start.ts buildRuntimeSpec)
    await d.snapshots.prepare(key, image.topLayer, { "berth.container": id }, { durable: false });
    undo.push(() => d.snapshots.remove(key));
    mark("create: snapshot prepared");
    await copyUp(
      d,
      id,
      key,
      built.Mounts.filter((m) => !built.Inherited?.includes(m.Destination)),
    );

    built.Config.Hostname ||= netw.networkMode(built.HostConfig.NetworkMode).attach === "host" ? osHostname() : id.slice(0, 12);
    if (netw.isBridgeMode(built.HostConfig.NetworkMode) && built.HostConfig.NetworkMode !== "bridge") {
      // a user network by name or id prefix: recorded by name
      const net = d.networks.resolve(built.HostConfig.NetworkMode).name;
      if (net !== built.HostConfig.NetworkMode) {
        built.Endpoints = { [net]: built.Endpoints[built.HostConfig.NetworkMode]! };
        built.HostConfig.NetworkMode = net;
      }
    }
    const netCheck = { Id: id, HostConfig: built.HostConfig, Config: built.Config, Berth: { Networks: built.Endpoints } };
    if (netw.isBridgeMode(built.HostConfig.NetworkMode)) undo.push(() => netw.releaseAll(d.networks, id));
    // none and host reserve nothing: checkAndReserve returns early for them
    await netw.checkAndReserve(d.networks, netCheck, (ref) => d.store.resolve(ref), d.isKnownContainer);
    mark("create: network reserved");
    const cfg: ContainerConfigFile = {
      Id: id,
      // dockerd's time.Now(): nanoseconds (ms from Date and 000000 after them was a constant)
      Created: nowNano(),
      Path: built.Path,
      Args: built.Args,
      Name: `/${n}`,
      Image: image.id,
      Driver: d.snapshots.name,
      Platform: "linux",
      Config: built.Config,
      HostConfig: built.HostConfig,
      Mounts: built.Mounts,
      HostnamePath: join(dir, "hostname"),
      HostsPath: join(dir, "hosts"),
      ResolvConfPath: join(dir, "resolv.conf"),
      LogPath: join(dir, `${id}-json.log`),
      Berth: {
        SnapshotKey: key,
        Snapshotter: d.snapshots.name,
        CgroupPath: `berth/${id}`,
        Tmpfs: built.Tmpfs,
        ...(o.ephemeral ? { Ephemeral: true } : {}),
        ...(Object.keys(built.Endpoints).length ? { Networks: built.Endpoints } : {}),
      },
    };
    // every start writes them anew (ops/start.ts): a record that lives only until its first exit (run
    // --rm, a build step) leaves them to that start instead of writing each twice
    if (durable) writeEtcFiles(cfg);
    // config.json last: a directory without it is not a container (store.ids) and is swept by rm; no
    // state.json yet: a record without one reads as created (store.readState)
    d.store.writeNewConfig(cfg, durable);
    clearCreatorMark(d.root, id);
    ev(d, "create", cfg);
    undo.commit();
    d.createdHere.add(id);
    return { Id: id, Warnings: built.Warnings ?? [] };
  } catch (e) {
    throw await undo.rollback(e);
  }
}

/**
 * docker's copy-up: an empty volume mounted over a directory of the image gets that directory's
 * content, ownership and modes (`cp -a`), unless -v asked for nocopy. The snapshot is mounted privately
 * for the copy only when some volume needs it.
 */
export async function copyUp(d: ContainerDeps, id: string, key: string, mounts: ContainerConfigFile["Mounts"]): Promise<void> {
  const todo = mounts.filter((m) => m.Type === "volume" && !isNoCopy(m) && d.volumes.isEmpty(m.Name!));
  if (!todo.length) return;
  await withContainerRoot({ pid: 0, mounts: () => d.snapshots.mounts(key), scratch: join(d.store.dir(id), "copyup") }, async (root) => {
    for (const m of todo) {
      const src = resolveInRoot(root, m.Destination);
      let st;
      try {
        st = statSync(src);
      } catch {
        continue;
      } // the image has nothing at the mount point: nothing to copy
      if (!st.isDirectory()) continue;
      const p = Bun.spawnSync(["cp", "-a", "--", `${src}/.`, `${m.Source}/`], { stdout: "ignore", stderr: "pipe" });
      if (p.exitCode !== 0) throw new EngineError("internal", `copy image content of ${m.Destination} into volume ${m.Name}: ${p.stderr.toString().trim()}`);
    }
  });
}

/**
 * hostname, hosts and resolv.conf, regenerated at every start from the record, so written without
 * fsync (replaceFile). A bridge-mode start writes hosts and resolv.conf once more, with the address,
 * in the network hook (networking.wire); `bridged` skips them here on that path.
 */
export function writeEtcFiles(cfg: ContainerConfigFile, bridged = false): void {
  const h = cfg.HostConfig;
  const hostNet = netw.networkMode(h.NetworkMode).attach === "host";
  replaceFile(cfg.HostnamePath, cfg.Config.Hostname + "\n");
  if (bridged) {
    // the network's wire writes both once the address is known, before the shim binds them; the mount
    // plan needs them to exist now (a record whose create left them to its start has none yet)
    for (const p of [cfg.HostsPath, cfg.ResolvConfPath]) {
      try {
        closeSync(openSync(p, "wx", 0o644));
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
      }
    }
    return;
  }
  let hostHosts: string | undefined;
  if (hostNet)
    try {
      hostHosts = readFileSync("/etc/hosts", "utf8");
    } catch {} // no host hosts file: the container's own entries only
  replaceFile(cfg.HostsPath, hostsFile(cfg.Config.Hostname, h.ExtraHosts ?? [], hostHosts));
  let hostResolv = "";
  try {
    hostResolv = readFileSync("/etc/resolv.conf", "utf8");
  } catch {} // none on the host: resolvConf falls back to docker's default servers
  replaceFile(cfg.ResolvConfPath, resolvConf(hostResolv, { dns: h.Dns, search: h.DnsSearch, options: h.DnsOptions, hostNetwork: hostNet }));
}

/**
 * <containers>/.creating-<id>: "pid starttime" of the process creating container <id>, from before its
 * name and directory exist until its config.json is written. The sweep of half-created records
 * (ops/state.ts) finds them by these marks alone, with one readdir, instead of looking into every
 * record's directory at every create.
 */
export const CREATOR_MARK_PREFIX = ".creating-";

export function creatorMarkPath(root: string, id: string): string {
  return join(root, CREATOR_MARK_PREFIX + id);
}

export function markCreator(d: ContainerDeps, id: string): void {
  // whole or not at all (tmp → rename): a sweeper never reads half a mark
  replaceFile(creatorMarkPath(d.root, id), `${d.self.pid} ${d.runtime.processStartTime(d.self.pid) ?? ""}\n`, 0o600);
}

export function clearCreatorMark(root: string, id: string): void {
  try {
    unlinkSync(creatorMarkPath(root, id));
  } catch {
    // already gone: the mark only matters while config.json is missing
  }
}

export function snapshotKey(id: string): string {
  return `container-${id}`;
}

/** "busybox" → "busybox:latest" (docker's message wording) */
export function normalizeRef(ref: string): string {
  if (ref.includes("@")) return ref;
  const last = ref.split("/").pop()!;
  return last.includes(":") ? ref : `${ref}:latest`;
}
