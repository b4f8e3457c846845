/**
 * src/engine — composes the stores, the snapshot driver, the runtime and the network into docker's
 * operations. Commands call only this module (STYLE §1). Owns the layout of the berth root:
 *
 *   <root>/content/     blobs, ingests, leases (src/image ContentStore)
 *   <root>/image/       image records and tags (src/image ImageStore)
 *   <root>/<driver>/    snapshots of the storage driver (src/cow), overlay by default
 *   <root>/containers/  one directory per container (src/engine/containers)
 *   <root>/volumes/     one directory per volume, content in <name>/_data (src/engine/volumes.ts)
 *
 * Every store takes its directory as a parameter, so tests point a whole engine at a temp dir.
 */
import { existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import type { Logger } from "../lib/log.ts";
import { EngineError } from "../lib/errors.ts";
import { ContentStore, ImageStore, LeaseStore } from "../image/index.ts";
import { createDriver, driverNames, driversByPriority, isDriverName, orList } from "../cow/index.ts";
import type { SnapshotDriver } from "../cow/driver.ts";
import type { Digest } from "../oci/index.ts";
import { ImageService } from "./images.ts";
import { EventLog } from "./events.ts";
import { ContainerService, defaultAttachDir } from "./containers/index.ts";
import { forkForEveryStart } from "../runtime/index.ts";
import type { CheckReport } from "./check.ts";
import type { DiskUsageRow, SystemInfo } from "./api/system.ts";
import type { ContainerInspect, ContainerListOptions, ContainerSummary } from "./api/views.ts";
import type { SummaryDeps } from "./containers/summary.ts";
import type { ImageInspect, ImageListOptions, ImageSummary } from "./api/images.ts";
import type { Network } from "./api/networks.ts";
import { inspectNetwork, listNetworks } from "./network-docs.ts";
import type { Filters } from "./filters.ts";
import type { Volume, VolumeListResponse, VolumePruneResponse } from "./api/volumes.ts";
import { inspectVolume, listVolumes, pruneVolumes } from "./volume-docs.ts";
import type { TarSink } from "../tar/index.ts";
import type { LoadResult } from "./archive.ts";
import type { DistributionInspect, PullOptions, PullResult } from "./pull.ts";
import type { SessionOptions } from "../image/registry/index.ts";
import type { Credentials } from "../image/registry/auth.ts";
import type { PushOptions, PushResult } from "./push.ts";
import type { CommitContainerOptions } from "./commit.ts";
import type { PruneFilter } from "./system.ts";
import type { VerboseDiskUsage } from "./disk-usage.ts";
import { userChanges } from "./init-paths.ts";

export { networkSettingsFrom, type NetworkSettings, type SelfCommand } from "./network.ts";
import type { EngineOptions } from "./options.ts";
export { engineDefaults, type EngineOptions } from "./options.ts";
/** the OCI runtime (`berth oci`, berth-runc): loaded only by that front door, not by every engine user */
export function loadOciRuntime(): Promise<typeof import("./oci-runtime/index.ts")> {
  return import("./oci-runtime/index.ts");
}
export type { OciProcess, OciResources, OciStateDoc } from "./oci-runtime/index.ts";

export class Engine {
  readonly root: string;
  readonly log: Logger;
  readonly content: ContentStore;
  readonly imageStore: ImageStore;
  readonly leases: LeaseStore;
  readonly snapshots: SnapshotDriver;
  readonly images: ImageService;
  /** the settings' insecure registries (the root's daemon.json and the environment add theirs: insecureRegistries()) */
  readonly insecureRegistries: string[];

  constructor(opts: EngineOptions) {
    this.root = opts.root;
    this.log = opts.log;
    if (opts.longLived) forkForEveryStart();
    const driver = opts.storageDriver ?? driverInUse(opts.root) ?? driversByPriority()[0]!.name;
    if (!isDriverName(driver)) throw new EngineError("invalid_argument", `unknown storage driver "${driver}": use ${orList(driverNames())}`);
    try {
      mkdirSync(this.root, { recursive: true, mode: 0o711 });
    } catch (e) {
      throw new EngineError("permission_denied", `create berth root ${this.root}: ${(e as Error).message}`, {
        cause: e,
        hint: "berth needs root; or pass --root to a writable directory",
      });
    }
    this.content = new ContentStore(join(this.root, "content"));
    this.imageStore = new ImageStore(join(this.root, "image"), this.content);
    this.leases = new LeaseStore(this.content);
    this.snapshots = createDriver(driver, join(this.root, driver));
    this.images = new ImageService(this.content, this.imageStore, this.leases, this.snapshots, this.log);
    this.images.events = new EventLog(this.root);
    this.images.registryAuthFile = opts.registryAuthFile;
    this.images.registryReadTimeoutMs = opts.registryReadTimeoutMs;
    this.images.registryMirrors = opts.registryMirrors;
    this.insecureRegistries = opts.insecureRegistries ?? [];
    this.containers = new ContainerService({
      root: join(this.root, "containers"),
      log: this.log,
      images: this.images,
      snapshots: this.snapshots,
      berthRoot: this.root,
      inspectImage: (ref) => this.images.inspect(ref),
      network: { settings: opts.network ?? {}, ...(opts.self ? { self: opts.self } : {}) },
      attachDir: defaultAttachDir(opts.runtimeDir),
    });
    // rmi, prune and df must know which images containers use
    this.images.imagesInUse = async () => this.containers.imageUsers() as Map<Digest, string[]>;
    // a container snapshot is owned while its record exists (even a damaged one: never guess)
    this.images.ownsContainerSnapshot = (key) => existsSync(join(this.root, "containers", key.slice("container-".length), "config.json"));
  }

  readonly containers: ContainerService;

  // ------------------------------------------------ the Engine API's calls (swagger operation names)

  private views(): SummaryDeps {
    return {
      containers: this.containers,
      snapshots: this.snapshots,
      imageSizes: async () => new Map((await this.images.list()).map((i) => [i.id as string, i.size])),
      imageFamily: (ref) => {
        let root: string;
        try {
          root = this.images.store.resolve(ref).id;
        } catch (e) {
          if (e instanceof EngineError && e.kind === "not_found") return new Set(); // no such image: no ancestor
          throw e;
        }
        const records = this.images.store.list();
        const out = new Set([root]);
        for (let grew = true; grew; ) {
          grew = false;
          for (const r of records) if (r.parent && out.has(r.parent) && !out.has(r.id)) grew = out.add(r.id) !== undefined;
        }
        return out;
      },
    };
  }

  /** `GET /containers/json` */
  async containerList(q: ContainerListOptions = {}): Promise<ContainerSummary[]> {
    return (await import("./containers/summary.ts")).listContainers(this.views(), q);
  }

  /** `GET /containers/{id}/json`; not_found for an unknown reference */
  async containerInspect(ref: string, o: { size?: boolean } = {}): Promise<ContainerInspect> {
    return (await import("./containers/summary.ts")).inspectContainer(this.views(), ref, o);
  }

  /** `GET /images/json` */
  async imageList(q: ImageListOptions = {}): Promise<ImageSummary[]> {
    return (await import("./image-list.ts")).listImages(this.images, q);
  }

  /** `GET /images/{name}/json`; not_found for an unknown reference */
  async imageInspect(ref: string): Promise<ImageInspect> {
    return (await this.images.inspect(ref)) as ImageInspect;
  }

  /** `GET /networks` */
  networkList(filters?: Filters): Network[] {
    return listNetworks(this.containers, filters);
  }

  /** `GET /networks/{id}`; not_found for an unknown network */
  networkInspect(ref: string): Network {
    return inspectNetwork(this.containers, ref);
  }

  /** `GET /volumes` */
  volumeList(filters?: Filters): VolumeListResponse {
    return listVolumes(this.containers, filters);
  }

  /** `GET /volumes/{name}`; not_found for an unknown volume */
  volumeInspect(name: string): Volume {
    return inspectVolume(this.containers, name);
  }

  /** `POST /volumes/prune` */
  volumePrune(q: { all?: boolean; filters?: Filters } = {}): VolumePruneResponse {
    return pruneVolumes(this.containers, q);
  }

  /** `GET /info`; `version`/`apiVersion` are the binary's (the CLI knows them) */
  async systemInfo(o: { debug: boolean; version: string; apiVersion: string; loggingDriver?: string }): Promise<SystemInfo> {
    return (await import("./system.ts")).systemInfo(this, o);
  }

  /** snapshot keys owned by containers (so `system check` does not call them orphans) */
  async containerSnapshotKeys(): Promise<Set<string>> {
    return this.containers.snapshotKeys();
  }

  async check(): Promise<CheckReport> {
    const { checkStore, containerRefs } = await import("./check.ts");
    return checkStore(this.images, containerRefs(this.containers));
  }

  /** `system check --repair`: what it fixed, one line each */
  async repair(): Promise<string[]> {
    const { repairStore, containerRefs } = await import("./check.ts");
    return repairStore(this.images, containerRefs(this.containers));
  }

  /** df's volume row: a volume is active while a container's record mounts it */
  private volumeUsage(): DiskUsageRow {
    const users = this.containers.volumeUsers();
    const row: DiskUsageRow = { type: "Local Volumes", total: 0, active: 0, size: 0, reclaimable: 0 };
    for (const v of this.containers.volumes.list()) {
      const size = this.containers.volumes.size(v.Name);
      const used = (users.get(v.Name) ?? []).length > 0;
      row.total++;
      row.size += size;
      if (used) row.active++;
      else row.reclaimable += size;
    }
    return row;
  }

  async diskUsage(): Promise<DiskUsageRow[]> {
    // docker's Images row: every layer once (LayersSize), less what the images in use need of their own
    // (size − shared); summing image sizes counted a base layer once per image built on it
    const { images, layersSize: imgSize } = await (await import("./disk-usage.ts")).imageUsage(this);
    const active = images.filter((i) => i.containers > 0);
    const activeSize = active.reduce((a, i) => a + i.size - i.shared, 0);
    const ctrs = this.containers.list(true);
    let ctrSize = 0;
    let ctrReclaimable = 0;
    for (const c of ctrs) {
      let size = 0;
      try {
        size = (await this.snapshots.usage(c.cfg.Berth.SnapshotKey)).apparent; // docker's SizeRw
      } catch {} // its snapshot is gone (being removed, or a damaged store `system check` names): counted as 0
      ctrSize += size;
      if (c.state.Status !== "running" && c.state.Status !== "paused") ctrReclaimable += size;
    }
    const running = ctrs.filter((c) => c.state.Status === "running" || c.state.Status === "paused").length;
    return [
      { type: "Images", total: images.length, active: active.length, size: imgSize, reclaimable: imgSize - activeSize },
      { type: "Containers", total: ctrs.length, active: running, size: ctrSize, reclaimable: ctrReclaimable },
      this.volumeUsage(),
      { type: "Build Cache", ...(await (await this.buildSupport()).cacheUsage()) },
    ];
  }

  // ------------------------------------ operations whose code loads on first use (start-up stays small)

  /** `GET /images/get`: a docker-archive of `refs` into `sink` */
  async imagesSave(refs: string[], sink: TarSink): Promise<void> {
    return (await import("./archive.ts")).saveImages(this.images, refs, sink);
  }

  /** `POST /images/load` */
  async imagesLoad(source: ReadableStream<Uint8Array> | AsyncIterable<Uint8Array>): Promise<LoadResult> {
    return (await import("./archive.ts")).loadImages(this.images, source);
  }

  /** `POST /images/create` (pull) */
  async imagePull(name: string, opts: PullOptions = {}): Promise<PullResult> {
    return (await import("./pull.ts")).pullImage(this.images, name, opts);
  }

  /** `POST /images/{name}/push` */
  async imagePush(name: string, opts: PushOptions = {}): Promise<PushResult> {
    return (await import("./push.ts")).pushImage(this.images, name, opts);
  }

  /** `POST /images/prune`: dangling (or, with `all`, unused) images that pass `filter` */
  async imagePrune(o: { all?: boolean; filter?: PruneFilter } = {}): Promise<{ deleted: string[]; reclaimed: number }> {
    const f = o.filter;
    if (!f) return this.images.prune(!!o.all);
    const { matchesPrune } = await import("./system.ts");
    return this.images.prune(!!o.all, (created, labels) => matchesPrune(f, created || new Date(0).toISOString(), labels));
  }

  /** `GET /distribution/{name}/json`: what `name` resolves to on its registry, and the platforms it has */
  async distributionInspect(name: string, opts: SessionOptions = {}): Promise<DistributionInspect> {
    return (await import("./pull.ts")).inspectDistribution(this.images, name, opts);
  }

  /** `POST /commit` */
  async containerCommit(ref: string, opts: CommitContainerOptions = {}): Promise<Digest> {
    return (await import("./commit.ts")).commitContainer(this.images, this.containers, ref, opts);
  }

  /** `GET /containers/{id}/changes`: what the container changed, without the paths berth itself writes */
  async containerChanges(ref: string): Promise<{ kind: "A" | "C" | "D"; path: string }[]> {
    return userChanges(await (await import("./container-fs.ts")).containerChanges(this.containers, this.snapshots, ref));
  }

  /** `GET /containers/{id}/export`: the container's filesystem as a tar into `sink` */
  async containerExport(ref: string, sink: TarSink): Promise<void> {
    return (await import("./container-fs.ts")).exportContainer(this.containers, this.snapshots, ref, sink);
  }

  /** `POST /containers/prune` */
  async containerPrune(filter: PruneFilter): Promise<{ deleted: string[]; reclaimed: number }> {
    return (await import("./system.ts")).pruneContainers(this, filter);
  }

  /** `POST /networks/prune`: the names removed */
  async networkPrune(): Promise<string[]> {
    return (await import("./system.ts")).pruneNetworks(this);
  }

  /** what `system prune` reclaims beyond docker's objects (leftover snapshots and blobs): bytes */
  async pruneLeftovers(): Promise<number> {
    return (await import("./system.ts")).pruneLeftovers(this);
  }

  private async buildSupport() {
    return new (await import("./build.ts")).BuildSupport(this.images, this.containers, join(this.root, "builder"));
  }

  /** `POST /build/prune` */
  async buildCachePrune(): Promise<{ deleted: string[]; reclaimed: number }> {
    return (await this.buildSupport()).pruneCache();
  }

  /** a build context sent as a tar stream (`build -`), unpacked into `dir` */
  async buildContextExtract(source: ReadableStream<Uint8Array>, dir: string): Promise<void> {
    return (await this.buildSupport()).extractContext(source, dir);
  }

  /** `GET /system/df` with every object listed (`system df -v`) */
  async diskUsageVerbose(): Promise<VerboseDiskUsage> {
    return (await import("./disk-usage.ts")).verboseDiskUsage(this);
  }
}

/** without a choice, the driver this root already holds snapshots for (docker's daemon does the same
 * with its graph driver directories), the preferred one (registry priority) when several do */
function driverInUse(root: string): string | undefined {
  return driversByPriority().find((d) => existsSync(join(root, d.name)))?.name;
}

/** the registered storage drivers (registration order) and the one taken when a root has none yet, for
 * the CLI's help */
export function storageDrivers(): { names: string[]; preferred: string } {
  return { names: driverNames(), preferred: driversByPriority()[0]!.name };
}

export async function openEngine(opts: EngineOptions): Promise<Engine> {
  return new Engine(opts);
}

// ------------------------------------------------------------------ the Engine API's shapes (api/)

export type { ContainerInspect, ContainerListOptions, ContainerStateView, ContainerSummary, Port } from "./api/views.ts";
export type { ImageInspect, ImageListOptions, ImageSummary } from "./api/images.ts";
export { ZERO_TIME, type Network, type NetworkContainer } from "./api/networks.ts";
export type { Volume, VolumeListResponse, VolumePruneResponse } from "./api/volumes.ts";
export type { BuildCacheRecord, DiskUsage, DiskUsageRow, SystemInfo, SystemVersion } from "./api/system.ts";
export type { EventMessage, EventType } from "./api/events.ts";
export type { JSONError, JSONMessage, ProgressDetail } from "./api/progress.ts";
export { pullMessages, pushMessages } from "./progress.ts";
export { FilterError, Filters, invalidFilter, matchLabel } from "./filters.ts";
export { referenceMatches, splitRepoTag } from "./image-list.ts";
export { VOLUME_PRUNE_FILTERS } from "./volume-docs.ts";
export { EVENT_FILTERS, followEvents, type EventQuery } from "./events.ts";
/** docker's --since/--until values (RFC 3339, unix seconds, a duration before now) → ms since the epoch */
export { parseTimeArg } from "./containers/logs.ts";

// ------------------------------------------------------- what the client (src/commands) needs besides

export type { ContainerService, ContainerInfo } from "./containers/index.ts";
export { detachStdout, normalizeRef, parsePortSpec } from "./containers/index.ts";
export { portLines } from "./containers/networking.ts";
export { applyChanges } from "./changes.ts";
/** the create request → the stored config (the client checks its flag conversion with it) */
export { createConfig } from "./containers/create-config.ts";
export { getWinsize, isatty, makeRaw, setWinsize } from "./terminal.ts";
export type { Mount, ContainerCreateRequest, ContainerUpdateRequest, EndpointSettingsRequest, HostConfig } from "./api/containers.ts";
export type { TarSink } from "../tar/index.ts";
export type { LoadResult } from "./archive.ts";
export type { DistributionInspect, PullEvent, PullOptions, PullResult } from "./pull.ts";
export type { PushEvent, PushOptions, PushResult } from "./push.ts";
export type { CommitContainerOptions } from "./commit.ts";
export type { PruneFilter } from "./system.ts";
export type { VerboseDiskUsage } from "./disk-usage.ts";
/** image references and platforms as the client parses them */
export { parseDockerRef, parseReference, repositoryName, type Reference } from "../image/index.ts";
export { parsePlatform } from "../image/registry/platform.ts";

/** docker's prune filters (`until=`, `label=`, `label!=`); invalid_argument for anything else */
export async function parsePruneFilters(filters: string[]): Promise<PruneFilter> {
  return (await import("./system.ts")).parsePruneFilters(filters);
}

/** how a container's exit reaches its waiter at once: the command layer passes SIGCHLD's listener
 * (main.ts: a SIGCHLD listener); without it the runtime polls */
export { useChildSignal, type ChildSignal } from "../runtime/index.ts";

// ------------------------------------------------ registries, from the client's side (docker login/logout)

export { dockerConfigPath } from "../image/registry/config-path.ts";
/** the stored credentials for a registry (client mode sends them to the daemon as X-Registry-Auth); the
 * credential code (and its helpers) loads on first use: re-exported, it would load with every engine */
export async function loadCredentials(domain: string, path: string): Promise<Credentials | undefined> {
  return (await import("../image/registry/auth.ts")).loadCredentials(domain, path);
}

/** the registries reached over plain HTTP or with unverified TLS (the root's settings and the environment) */
export async function insecureRegistries(root: string | undefined, env: Record<string, string | undefined>): Promise<string[]> {
  return (await import("../image/registry/index.ts")).loadInsecureRegistries(root, env);
}

/** `POST /auth` and `login`: check the credentials against the registry's /v2/, then store them in `configFile`
 * (docker's config.json; the daemon stores nothing, as dockerd); permission_denied when the registry refuses them */
export async function registryLogin(
  domain: string,
  credentials: { username: string; password: string },
  o: { insecure: string[]; configFile?: string },
): Promise<void> {
  const reg = await import("../image/registry/index.ts");
  const endpoint = reg.resolveEndpoint(domain, o.insecure);
  const client = new reg.RegistryClient(endpoint, "", { credentials, attempts: 2 });
  try {
    await client.ping();
  } catch (e) {
    if (e instanceof reg.RegistryError && (e.status === 401 || e.status === 403)) {
      throw new EngineError(
        "permission_denied",
        `login attempt to ${endpoint.base}/v2/ failed with status: ${e.status === 401 ? "401 Unauthorized" : "403 Forbidden"}`,
      );
    }
    // docker prints the registry's answer alone, without berth's hint
    throw e instanceof EngineError ? new EngineError(e.kind, e.message, { cause: e }) : e;
  }
  if (o.configFile !== undefined) reg.storeCredentials(domain, credentials, o.configFile);
}

/** docker logout: forget the credentials for `domain`; `shown` is the name docker prints for it */
export async function registryLogout(domain: string, configFile: string): Promise<{ shown: string; removed: boolean }> {
  const { removeCredentials, authKey } = await import("../image/registry/index.ts");
  return { shown: authKey(domain), removed: removeCredentials(domain, configFile) };
}
