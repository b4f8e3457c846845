/**
 * ContainerService: docker's container verbs as one façade over ops/ (one operation per file, each a
 * function over ContainerDeps: the record store, the snapshot driver, the runtime, images, networks,
 * volumes, events). It holds the dependencies and nothing else.
 *
 * Supervision. A running container always has one supervisor process, recorded in state.json as
 * MonitorPid + MonitorStartTime: the detached `berth __monitor <id>` for `run -d` and `start`, or — for a
 * foreground `run`/`start -a` — the berth process itself. Running the foreground container in-process
 * skips one process start (~4 ms of Bun start-up plus a socket hop per byte) on the benchmarked path
 * (`run --rm IMG true`); everything other terminals need still works the same way, because the state,
 * the log and the attach socket are written identically by either supervisor. If a supervisor dies
 * (SIGKILL), the container keeps running; `stop`/`kill`/`rm -f` reach it through its trusted pid and its
 * cgroup, and the first command to notice a dead supervisor with a dead container records it stopped
 * and applies its restart policy through a new monitor (ops/state.ts). `system restore` (ops/restore.ts)
 * is docker's daemon start: it starts what the restart policies say should run, e.g. after a reboot.
 */
import type { Logger } from "../../lib/log.ts";
import type { SnapshotDriver } from "../../cow/driver.ts";
import type { ExitInfo } from "../../runtime/types.ts";
import type { ImageResolver } from "../image-types.ts";
import type { LogEntry } from "./logs.ts";
import { hostRuntime, type CgroupStats, type ContainerRuntime, type NetStats } from "./runtime-port.ts";
import type {
  ContainerCreateOptions,
  ContainerCreateRequest,
  ContainerCreateResponse,
  ContainerUpdateRequest,
  ContainerUpdateResponse,
} from "../api/containers.ts";
import { ContainerStore, NoSuchContainer } from "./store.ts";
import { defaultAttachDir } from "./attach-proto.ts";
import { NetworkService, type NetworkSettings, type SelfCommand } from "../network.ts";
import { VolumeService } from "../volumes.ts";
import * as netw from "./networking.ts";
import type { Prepared } from "./supervisor.ts";
import type { ContainerConfigFile, ContainerStateFile } from "./types.ts";
import { EventLog } from "../events.ts";
import { ev, realClock, type Clock, type ContainerDeps, type SelfProcess } from "./ops/deps.ts";
import { currentProcess, fromCommand } from "./ops/self.ts";
import { info, refreshState, sweepHalfCreated, waitStopped, type ContainerInfo } from "./ops/state.ts";
import * as createOp from "./ops/create.ts";
import * as startOp from "./ops/start.ts";
import * as stopOp from "./ops/stop.ts";
import * as removeOp from "./ops/remove.ts";
import * as restartOp from "./ops/restart.ts";
// exec, attach, logs, cp (archive) and restore load on first use: `run` and `create` need none of them
import type * as execOp from "./ops/exec.ts";
import type * as attachOp from "./ops/attach.ts";
import * as inspectOp from "./ops/inspect.ts";
import * as rootfsOp from "./ops/rootfs.ts";
import type * as archiveOp from "./ops/archive.ts";
import * as updateOp from "./ops/update.ts";
import * as renameOp from "./ops/rename.ts";
import * as pauseOp from "./ops/pause.ts";
import * as topOp from "./ops/top.ts";
import * as networkOp from "./ops/network.ts";
import type * as restoreOp from "./ops/restore.ts";
import * as nativeOp from "./ops/native-monitor.ts";
import * as healthOp from "./ops/healthcheck.ts";

export type { ContainerInfo } from "./ops/state.ts";
export type { ForegroundOptions } from "./ops/start.ts";
export { normalizeRef, snapshotKey } from "./ops/create.ts";

export interface ContainerServiceOptions {
  /** <berth root>/containers */
  root: string;
  log: Logger;
  images: ImageResolver;
  snapshots: SnapshotDriver;
  /** the berth root, passed to the monitor process as --root */
  berthRoot: string;
  /** optional: `inspect` falls back to images for refs that are not containers */
  inspectImage?: (ref: string) => Promise<unknown>;
  /** the engine's network settings, and how berth runs itself for its helpers (main.ts) */
  network?: { settings?: NetworkSettings; self?: SelfCommand };
  /** the container runtime (default: this host's, src/runtime) */
  runtime?: ContainerRuntime;
  /** this process (default: the running berth) */
  self?: SelfProcess;
  clock?: Clock;
  /** where attach sockets with a path too long for sun_path go (default: attach-proto.ts defaultAttachDir()) */
  attachDir?: string;
}

export class ContainerService {
  readonly store: ContainerStore;
  readonly log: Logger;
  readonly events: EventLog;
  /** what every operation in ops/ works over */
  readonly deps: ContainerDeps;
  private _networks?: NetworkService;
  private _volumes?: VolumeService;

  constructor(readonly opts: ContainerServiceOptions) {
    this.store = new ContainerStore(opts.root);
    this.log = opts.log;
    this.events = new EventLog(opts.berthRoot);
    const svc = this;
    this.deps = {
      root: opts.root,
      berthRoot: opts.berthRoot,
      store: this.store,
      snapshots: opts.snapshots,
      images: opts.images,
      runtime: opts.runtime ?? hostRuntime,
      get networks() {
        return svc.networks;
      },
      get volumes() {
        return svc.volumes;
      },
      events: this.events,
      log: opts.log,
      clock: opts.clock ?? realClock,
      attachDir: opts.attachDir ?? defaultAttachDir(),
      // main.ts says how berth runs itself; the monitor also gets the network settings back in its environment
      self: opts.self ?? (opts.network?.self ? fromCommand(opts.network.self, () => svc.networks.childEnv()) : currentProcess()),
      relays: new Map(),
      createdHere: new Set(),
      reapedHere: new Set(),
      isKnownContainer: (id) => this.isKnownContainer(id),
    };
  }

  /** networks of the same berth root (created on first use: `--network none` runs never touch them) */
  get networks(): NetworkService {
    return (this._networks ??= new NetworkService({ root: this.opts.berthRoot, log: this.log, ...this.opts.network }));
  }

  /** volumes of the same berth root */
  get volumes(): VolumeService {
    return (this._volumes ??= new VolumeService(this.opts.berthRoot, () => this.volumeUsers()));
  }

  /** volume name → ids of the containers whose record mounts it */
  volumeUsers(): Map<string, string[]> {
    return inspectOp.volumeUsers(this.deps);
  }

  /** for stale-record reclaiming: is `id` a container (or one being created right now)? */
  readonly isKnownContainer = (id: string): boolean => netw.containerKnown(this.opts.root, id);

  resolve(ref: string): string {
    return this.store.resolve(ref);
  }

  // ---------------------------------------------------------------- create, update (ops/create.ts, ops/update.ts)

  /** `create` (POST /containers/create): record + writable snapshot; nothing half-created on any error */
  async create(req: ContainerCreateRequest, o: ContainerCreateOptions = {}): Promise<ContainerCreateResponse> {
    // first the debris of creates killed half-way (no config.json, creator dead)
    await sweepHalfCreated(this.deps);
    return createOp.create(this.deps, req, o);
  }

  /** the debris of creates killed half-way: records without config.json whose creator is dead (every directory looked at) */
  sweepHalfCreated(): Promise<string[]> {
    return sweepHalfCreated(this.deps, { full: true });
  }

  /** `update` (POST /containers/{id}/update) */
  update(ref: string, req: ContainerUpdateRequest): ContainerUpdateResponse {
    return updateOp.update(this.deps, ref, req);
  }

  // ---------------------------------------------------------------- state, list, inspect (ops/state.ts, ops/inspect.ts)

  info(id: string): ContainerInfo {
    return info(this.deps, id);
  }

  /** state.json, with a dead supervisor and a dead container reconciled to "stopped" */
  refreshState(id: string): ContainerStateFile {
    return refreshState(this.deps, id);
  }

  list(all: boolean): ContainerInfo[] {
    return inspectOp.list(this.deps, all);
  }

  /** snapshot keys owned by containers (for `system check` / GC) */
  snapshotKeys(): Set<string> {
    return inspectOp.snapshotKeys(this.deps);
  }

  /** image id → ids of the containers created from it (for rmi's "image is being used" and df) */
  imageUsers(): Map<string, string[]> {
    return inspectOp.imageUsers(this.deps);
  }

  inspectJson(i: ContainerInfo): Record<string, unknown> {
    return inspectOp.inspectJson(this.deps, i);
  }

  async inspectImage(ref: string): Promise<unknown | undefined> {
    return this.opts.inspectImage ? this.opts.inspectImage(ref) : undefined;
  }

  // ---------------------------------------------------------------- start (ops/start.ts)

  /** everything the runtime needs; reads the image's passwd/group from the snapshot */
  buildRuntimeSpec(cfg: ContainerConfigFile): Promise<Prepared> {
    return startOp.buildRuntimeSpec(this.deps, cfg);
  }

  /**
   * Supervise the container in this process until it exits (foreground `run`, `start -a`, and the
   * monitor). Returns the exit information; throws when it cannot start.
   */
  supervise(id: string, fg?: startOp.ForegroundOptions, o: { byPolicy?: boolean; restartable?: boolean } = {}): Promise<ExitInfo> {
    return startOp.supervise(this.deps, id, fg, o);
  }

  /** start a container under a detached monitor (`run -d`, `start`): returns once it runs, or throws its start error */
  startDetached(id: string, o: { awaitAttach?: boolean } = {}): Promise<void> {
    return startOp.startDetached(this.deps, id, o);
  }

  /** the body of `berth __monitor <id>`; `report` gets the one line for the spawner */
  monitorMain(id: string, report: (line: string) => void, o: startOp.MonitorOptions = {}): Promise<number> {
    return startOp.monitorMain(this.deps, id, report, o);
  }

  /** `__monitor --exited`: the native monitor's hand-back, parsed (BERTH_MONITOR_EXIT + the --exited JSON) */
  parseNativeExit(env: string | undefined, state: string): nativeOp.NativeExit | undefined {
    return nativeOp.parseNativeExit(env, state);
  }

  /** `__monitor --probe`: one health probe, for the native monitor */
  monitorProbe(id: string): Promise<void> {
    return healthOp.probeFromMonitor(this.deps, id);
  }

  /** `__monitor --refresh`: the state reconciled (an orphaned pause thawed), for the native monitor */
  monitorRefresh(id: string): void {
    refreshState(this.deps, id, { revive: false });
  }

  /** `system restore`: start every container whose restart policy says it should run (docker's daemon start) */
  async restore(): Promise<restoreOp.RestoreResult> {
    return (await import("./ops/restore.ts")).restore(this.deps);
  }

  // ---------------------------------------------------------------- attach, logs, exec

  async attach(id: string, io: attachOp.AttachIO): Promise<number> {
    return (await import("./ops/attach.ts")).attach(this.deps, id, io);
  }

  /** `signal` ends a follow (the API client went away) */
  async logs(
    ref: string,
    o: { follow?: boolean; tail?: string; since?: string; until?: string; onEntry(e: LogEntry): void; signal?: AbortSignal },
  ): Promise<void> {
    return (await import("./ops/logs.ts")).logs(this.deps, ref, o);
  }

  async exec(ref: string, o: execOp.ExecOptions, io: execOp.ExecIO): Promise<number> {
    return (await import("./ops/exec.ts")).exec(this.deps, ref, o, io);
  }

  // ---------------------------------------------------------------- signals, stop, restart, wait (ops/stop.ts, ops/restart-policy.ts)

  kill(ref: string, signal: string | number = "SIGKILL"): Promise<string> {
    return stopOp.kill(this.deps, ref, signal);
  }

  /** SIGTERM (or StopSignal), then SIGKILL after the timeout; returns once stopped */
  stop(ref: string, timeoutSec?: number, signal?: string): Promise<string> {
    return stopOp.stop(this.deps, ref, timeoutSec, signal);
  }

  /** poll until the container is no longer active (or gone); false on timeout */
  waitStopped(id: string, timeoutMs: number): Promise<boolean> {
    return waitStopped(this.deps, id, timeoutMs);
  }

  restart(ref: string, timeoutSec?: number): Promise<string> {
    return restartOp.restart(this.deps, ref, timeoutSec);
  }

  /** `wait`: block until stopped; the exit code */
  wait(ref: string): Promise<number> {
    return stopOp.wait(this.deps, ref);
  }

  // ---------------------------------------------------------------- remove (ops/remove.ts)

  /** `rm` (`volumes`: -v, the container's anonymous volumes go too) */
  async rm(ref: string, force: boolean, volumes = false): Promise<string> {
    try {
      return await removeOp.rm(this.deps, ref, force, volumes);
    } catch (e) {
      // no such container: it may be a removal killed half-way (ops/remove.ts), whose debris still
      // holds the name; the sweep of half-created records takes it before the error goes out
      if (e instanceof NoSuchContainer) await sweepHalfCreated(this.deps).catch((s) => this.deps.log.debug(`sweep: ${(s as Error).message}`));
      throw e;
    }
  }

  /** remove everything of a stopped container */
  removeNow(id: string, volumes = false): Promise<void> {
    return removeOp.removeNow(this.deps, id, volumes);
  }

  // ---------------------------------------------------------------- networks (ops/network.ts)

  /** `network connect`: recorded for later starts; a running container gets the interface now */
  connectNetwork(ref: string, network: string, o: { aliases: string[]; ip?: string }): Promise<void> {
    return networkOp.connectNetwork(this.deps, ref, network, o);
  }

  /** `network disconnect` */
  disconnectNetwork(ref: string, network: string, force: boolean): void {
    networkOp.disconnectNetwork(this.deps, ref, network, force);
  }

  /** published ports (`berth port`, ps) */
  ports(id: string) {
    return networkOp.ports(this.deps, id);
  }

  // ---------------------------------------------------------------- rename, pause, top, stats

  rename(ref: string, newName: string): void {
    renameOp.rename(this.deps, ref, newName);
  }

  /** `transient`: a pause for this process's operation only (commit); it dies with the process */
  pause(ref: string, o: pauseOp.PauseOptions = {}): string {
    return pauseOp.pause(this.deps, ref, o);
  }

  unpause(ref: string): string {
    return pauseOp.unpause(this.deps, ref);
  }

  /** `top`: the container's processes; `psArgs` runs the host's ps with those options instead */
  /** log a container event with docker's attributes (image, name, labels, then `extra`) */
  event(id: string, action: string, extra: Record<string, string> = {}): void {
    ev(this.deps, action, this.deps.store.readConfig(id), extra);
  }

  top(ref: string, psArgs: string[] = []): { titles: string[]; processes: string[][] } {
    return topOp.top(this.deps, ref, psArgs);
  }

  stats(id: string): CgroupStats & NetStats {
    return topOp.stats(this.deps, id);
  }

  // ---------------------------------------------------------------- commit support, cp (ops/rootfs.ts, ops/archive.ts)

  /** the container's root seen from the host: its running process's /proc/<pid>/root, else the snapshot's upper dir */
  rootfsDirs(id: string): { upper: string; pid: number } {
    return rootfsOp.rootfsDirs(this.deps, id);
  }

  snapshotMounts(id: string) {
    return rootfsOp.snapshotMounts(this.deps, id);
  }

  /** container → host path, or a tar on `out` when dest is "-" */
  async copyFrom(id: string, src: string, dest: string, out: (b: Uint8Array) => Promise<void> | void, followLink = false): Promise<void> {
    return (await import("./ops/archive.ts")).copyFrom(this.deps, id, src, dest, out, followLink);
  }

  /** `HEAD /containers/{id}/archive`: a path's stat inside the container */
  async statPath(id: string, path: string): Promise<archiveOp.PathStat> {
    return (await import("./ops/archive.ts")).statPath(this.deps, id, path);
  }

  /** host path (or the tar read from `stdin` when src is "-") → container */
  async copyTo(
    id: string,
    src: string,
    dest: string,
    stdin: AsyncIterable<Uint8Array>,
    opts: { keepOwners?: boolean; noOverwriteDirNonDir?: boolean } = {},
  ): Promise<void> {
    return (await import("./ops/archive.ts")).copyTo(this.deps, id, src, dest, stdin, opts);
  }
}
