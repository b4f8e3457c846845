/**
 * ContainerService: docker's container verbs over the record store, the snapshot driver and the runtime.
 *
 * Supervision. A running container always has one supervisor process, recorded in state.json as
 * MonitorPid + MonitorStartTime: the detached `berth __monitor <id>` for `run -d` and `start`, or — for a
 * foreground `run`/`start -a` — the berth process itself. Running the foreground container in-process
 * skips one process start (~4 ms of Bun start-up plus a socket hop per byte) on the benchmarked path
 * (`run --rm IMG true`); everything other terminals need still works the same way, because the state,
 * the log and the attach socket are written identically by either supervisor. If a supervisor dies
 * (SIGKILL), the container keeps running; `stop`/`kill`/`rm -f` reach it through its trusted pid and its
 * cgroup, and the first command to notice a dead supervisor with a dead container records it stopped.
 */
import { existsSync, mkdirSync, openSync, readdirSync, readFileSync, readlinkSync, renameSync, statSync, unlinkSync, closeSync, constants } from "node:fs";
import { cpus, hostname as osHostname } from "node:os";
import { join } from "node:path";
import { EngineError } from "../../lib/errors.ts";
import { replaceFile } from "../../lib/atomic-write.ts";
import { newId, shortId } from "../../lib/ids.ts";
import type { Logger } from "../../lib/log.ts";
import type { SnapshotDriver } from "../../cow/driver.ts";
import type { ExitInfo, ProcessSpec } from "../../runtime/types.ts";
import { closeFd, pipe2, redirectToDevNull, setThreadName, setWinsize } from "../../ffi/container-io.ts";
import type { ImageResolver, ResolvedImage } from "../image-types.ts";
import { attachSocketPath, frame, FrameReader, F_EXIT, F_HELLO, F_RESIZE, F_STDERR, F_STDIN, F_STDIN_EOF, F_STDOUT } from "./attach-proto.ts";
import { entryTime, logFiles, logInode, nowNano, parseLogConfig, parseTimeArg, readLogFrom, type LogEntry } from "./logs.ts";
import { randomName, validateName } from "./names.ts";
import { readRootfsFile } from "./rootfs-files.ts";
import * as rt from "./runtime-port.ts";
import { buildConfig, buildSpec, hostsFile, isNoCopy, parseLink, parseSignal, resolvConf, resolveUser, computeCapabilities, DEFAULT_PATH, volatileOverlay, applyUpdate, type CreateOptions, type SpecPaths, type UpdateOptions } from "./spec.ts";
import { resolveDevices, rdevNumbers, type DeviceNode } from "./host-options.ts";
import { ContainerStore, NoSuchContainer } from "./store.ts";
import { NetworkService, networkEnv } from "../network.ts";
import { ANONYMOUS_LABEL, VolumeService } from "../volumes.ts";
import * as netw from "./networking.ts";
import { copyIn, copyOut, extractIn, resolveInRoot, withContainerRoot } from "./cp.ts";
import { pumpFd, startError, supervise, type LocalIO, type Prepared } from "./supervisor.ts";
import { canKill, dockerStatus, initialState, isActive, ZERO_TIME, type ContainerConfigFile, type ContainerStateFile } from "./types.ts";
import { mark } from "../../lib/trace.ts";
import { EventLog } from "../events.ts";
import { nextDelay, shouldRestart } from "./restart.ts";
import { applyProbe, hasHealthcheck, MAX_OUTPUT, probeArgv, timings, type HealthState } from "./health.ts";

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
}

export interface ContainerInfo {
  cfg: ContainerConfigFile;
  state: ContainerStateFile;
}

export interface ForegroundOptions {
  local?: LocalIO;
  /** local terminal size, when the user's stdin is a tty and the container has one */
  initialSize?: { rows: number; cols: number };
  onResizer?(resize: (s: { rows: number; cols: number }) => void): void;
  /** the container's pid, once running (for signal forwarding) */
  onStarted?(pid: number): void;
}

const isCompiled = () => Bun.main.startsWith("/$bunfs/") || Bun.main.startsWith("B:/~BUN/");

/** the restart policy's next start found the container stopped by the user meanwhile */
class RestartCancelled extends Error {}

export class ContainerService {
  readonly store: ContainerStore;
  readonly log: Logger;
  private _networks?: NetworkService;
  readonly events: EventLog;
  constructor(readonly opts: ContainerServiceOptions) {
    this.store = new ContainerStore(opts.root);
    this.log = opts.log;
    this.events = new EventLog(opts.berthRoot);
  }

  /** a container event with docker's attributes: image, name, the container's labels, then `extra` */
  private ev(action: string, cfg: ContainerConfigFile, extra: Record<string, string> = {}): void {
    this.events.emit("container", action, cfg.Id, { ...(cfg.Config.Labels ?? {}), image: cfg.Config.Image, name: cfg.Name.slice(1), ...extra });
  }

  /** networks of the same berth root (created on first use: `--network none` runs never touch them) */
  get networks(): NetworkService {
    return (this._networks ??= new NetworkService({ root: this.opts.berthRoot, log: this.log }));
  }

  private _volumes?: VolumeService;
  /** volumes of the same berth root */
  get volumes(): VolumeService {
    return (this._volumes ??= new VolumeService(this.opts.berthRoot, () => this.volumeUsers()));
  }

  /** volume name → ids of the containers whose record mounts it */
  volumeUsers(): Map<string, string[]> {
    const m = new Map<string, string[]>();
    for (const id of this.store.ids()) {
      try {
        for (const mp of this.store.readConfig(id).Mounts) {
          if (mp.Type === "volume" && mp.Name) m.set(mp.Name, [...(m.get(mp.Name) ?? []), id]);
        }
      } catch {}
    }
    return m;
  }

  /** for stale-record reclaiming: is `id` a container (or one being created right now)? */
  readonly isKnownContainer = (id: string): boolean => netw.containerKnown(this.opts.root, id);

  resolve(ref: string): string {
    return this.store.resolve(ref);
  }

  // ---------------------------------------------------------------- create

  /** `create`: record + writable snapshot; nothing half-created on any error */
  async create(opts: CreateOptions, hostEnv: Record<string, string | undefined> = process.env): Promise<{ id: string; warnings: string[] }> {
    using _imageRef = await this.opts.images.holdImageRef?.(); // until the record names the image (rmi race)
    let image: ResolvedImage;
    try {
      image = await this.opts.images.resolve(opts.image);
    } catch (e) {
      if (e instanceof EngineError && e.kind === "not_found") {
        process.stderr.write(`Unable to find image '${normalizeRef(opts.image)}' locally\n`);
        throw new EngineError("not_found", `No such image: ${normalizeRef(opts.image)}`, { exitCode: 125, hint: "import or pull the image first" });
      }
      throw e;
    }
    const built = buildConfig(opts, { config: image.config, ref: opts.image }, hostEnv, cpus().length);
    const name = opts.name !== undefined ? validateName(opts.name) : undefined;

    for (const s of built.MustExist ?? []) {
      if (!existsSync(s)) throw new EngineError("invalid_argument", `invalid mount config for type "bind": bind source path does not exist: ${s}`);
    }
    // docker creates a missing host directory for -v host:ctr
    for (const m of built.Mounts) if (m.Type === "bind" && !existsSync(m.Source)) mkdirSync(m.Source, { recursive: true, mode: 0o755 });

    if (!built.Mounts.some((m) => m.Type === "volume")) return await this.createRecord(opts, image, built, name); // await: _imageRef spans it
    // volumes: named ones created on first use, anonymous ones fresh (docker's label marks them). Held in
    // use until config.json names them, so a concurrent `volume rm`/`prune` cannot take one in between.
    const made: string[] = [];
    try {
      return await this.volumes.whileInUse(async () => {
        for (const m of built.Mounts) {
          if (m.Type !== "volume") continue;
          const { volume, created } = this.volumes.create(m.Name || undefined, m.Name ? {} : { labels: { [ANONYMOUS_LABEL]: "" } });
          m.Name = volume.Name;
          m.Source = volume.Mountpoint;
          if (created) made.push(volume.Name);
        }
        return this.createRecord(opts, image, built, name);
      });
    } catch (e) {
      for (const v of made) try { this.volumes.removeUnchecked(v); } catch {}
      throw e;
    }
  }

  private async createRecord(opts: CreateOptions, image: ResolvedImage, built: ReturnType<typeof buildConfig>, name: string | undefined): Promise<{ id: string; warnings: string[] }> {
    const id = newId();
    const dir = this.store.dir(id);
    const cleanup: (() => void | Promise<void>)[] = [];
    try {
      let finalName = name;
      if (finalName !== undefined) this.store.reserveName(finalName, id);
      else {
        for (let i = 0; ; i++) {
          const n = randomName(i > 3 ? 1 : 0);
          try {
            this.store.reserveName(n, id);
            finalName = n;
            break;
          } catch (e) {
            if (i > 10) throw e;
          }
        }
      }
      const n = finalName!;
      cleanup.push(() => this.store.releaseName(n, id));
      mkdirSync(dir, { recursive: false, mode: 0o710 });
      cleanup.push(() => this.store.removeDir(id));
      const key = snapshotKey(id);
      await this.opts.snapshots.prepare(key, image.topLayer, { "berth.container": id });
      cleanup.push(() => this.opts.snapshots.remove(key));
      await this.copyUp(id, key, built.Mounts);

      built.Config.Hostname ||= built.HostConfig.NetworkMode === "host" ? osHostname() : id.slice(0, 12);
      if (netw.isBridgeMode(built.HostConfig.NetworkMode) && built.HostConfig.NetworkMode !== "bridge") {
        // a user network by name or id prefix: recorded by name
        const net = this.networks.resolve(built.HostConfig.NetworkMode).name;
        if (net !== built.HostConfig.NetworkMode) {
          built.Endpoints = { [net]: built.Endpoints[built.HostConfig.NetworkMode]! };
          built.HostConfig.NetworkMode = net;
        }
      }
      const netCheck = { Id: id, HostConfig: built.HostConfig, Config: built.Config, Berth: { Networks: built.Endpoints } };
      if (netw.isBridgeMode(built.HostConfig.NetworkMode)) cleanup.push(() => netw.releaseAll(this.networks, id));
      if (built.HostConfig.NetworkMode !== "none" && built.HostConfig.NetworkMode !== "host") {
        await netw.checkAndReserve(this.networks, netCheck, (ref) => this.resolve(ref), this.isKnownContainer);
      }
      const cfg: ContainerConfigFile = {
        Id: id,
        Created: new Date().toISOString().replace("Z", "000000Z"),
        Path: built.Path,
        Args: built.Args,
        Name: `/${n}`,
        Image: image.id,
        Driver: this.opts.snapshots.name,
        Platform: "linux",
        Config: built.Config,
        HostConfig: built.HostConfig,
        Mounts: built.Mounts,
        HostnamePath: join(dir, "hostname"),
        HostsPath: join(dir, "hosts"),
        ResolvConfPath: join(dir, "resolv.conf"),
        LogPath: join(dir, `${id}-json.log`),
        Berth: { SnapshotKey: key, Snapshotter: this.opts.snapshots.name, CgroupPath: `berth/${id}`, Tmpfs: built.Tmpfs, ...(opts.ephemeral ? { Ephemeral: true } : {}), ...(Object.keys(built.Endpoints).length ? { Networks: built.Endpoints } : {}) },
      };
      this.writeEtcFiles(cfg);
      this.store.writeState(id, initialState());
      // config.json last: a directory without it is not a container (store.ids) and is swept by rm
      this.store.writeConfig(cfg);
      this.ev("create", cfg);
      return { id, warnings: [] };
    } catch (e) {
      for (const c of cleanup.reverse()) {
        try { await c(); } catch {}
      }
      throw e;
    }
  }

  /**
   * docker's copy-up: an empty volume mounted over a directory of the image gets that directory's
   * content, ownership and modes (`cp -a`), unless -v asked for nocopy. The snapshot is mounted privately
   * for the copy only when some volume needs it.
   */
  private async copyUp(id: string, key: string, mounts: ContainerConfigFile["Mounts"]): Promise<void> {
    const todo = mounts.filter((m) => m.Type === "volume" && !isNoCopy(m) && this.volumes.isEmpty(m.Name!));
    if (!todo.length) return;
    await withContainerRoot({ pid: 0, mounts: () => this.opts.snapshots.mounts(key), scratch: join(this.store.dir(id), "copyup") }, async (root) => {
      for (const m of todo) {
        const src = resolveInRoot(root, m.Destination);
        let st;
        try { st = statSync(src); } catch { continue; }
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
  private writeEtcFiles(cfg: ContainerConfigFile, bridged = false): void {
    const h = cfg.HostConfig;
    const hostNet = h.NetworkMode === "host";
    replaceFile(cfg.HostnamePath, cfg.Config.Hostname + "\n");
    if (bridged) return;
    let hostHosts: string | undefined;
    if (hostNet) try { hostHosts = readFileSync("/etc/hosts", "utf8"); } catch {}
    replaceFile(cfg.HostsPath, hostsFile(cfg.Config.Hostname, h.ExtraHosts ?? [], hostHosts));
    let hostResolv = "";
    try { hostResolv = readFileSync("/etc/resolv.conf", "utf8"); } catch {}
    replaceFile(cfg.ResolvConfPath, resolvConf(hostResolv, { dns: h.Dns, search: h.DnsSearch, options: h.DnsOptions, hostNetwork: hostNet }));
  }

  // ---------------------------------------------------------------- state

  info(id: string): ContainerInfo {
    return { cfg: this.store.readConfig(id), state: this.state(id) };
  }

  /** state.json, with a dead supervisor and a dead container reconciled to "stopped" */
  state(id: string): ContainerStateFile {
    const st = this.store.readState(id);
    if (st.Restarting && !rt.isAlive(st.MonitorPid, st.MonitorStartTime)) {
      return this.store.updateState(id, (cur) => (cur.Restarting && !rt.isAlive(cur.MonitorPid, cur.MonitorStartTime) ? { ...cur, Restarting: false, MonitorPid: 0, MonitorStartTime: "" } : cur));
    }
    if (!this.needsReconcile(st)) return st;
    return this.store.updateState(id, (cur) => {
      if (!this.needsReconcile(cur)) return cur;
      const cfg = this.store.readConfig(id);
      this.reapCgroup(cfg);
      this.detachNetworks(cfg);
      return { ...cur, Status: "stopped", Pid: 0, MonitorPid: 0, ExitCode: cur.Pid ? 255 : 128, FinishedAt: new Date().toISOString(), Error: cur.Pid ? "container supervisor exited unexpectedly" : cur.Error };
    });
  }

  private needsReconcile(st: ContainerStateFile): boolean {
    if (!isActive(st.Status) && st.Status !== "creating") return false;
    if (st.Pid && rt.isAlive(st.Pid, st.StartTime)) return false;
    if (rt.isAlive(st.MonitorPid, st.MonitorStartTime)) return false;
    return true;
  }

  /** the container's addresses and veths go (its port reservation stays until rm); never throws */
  /** docker's network events name the network by id, with the container and the network's name */
  private netEvent(action: "connect" | "disconnect", network: string, containerId: string): void {
    try {
      const rec = this.networks.mgr.inspect(network);
      this.events.emit("network", action, rec.id, { container: containerId, name: rec.name, type: "bridge" });
    } catch {}
  }

  /** the 127.0.0.11 relays this process serves, by container */
  private readonly relays = new Map<string, () => void>();

  private detachNetworks(cfg: ContainerConfigFile): void {
    this.relays.get(cfg.Id)?.();
    this.relays.delete(cfg.Id);
    if (!netw.isBridgeMode(netw.primaryNetwork(cfg))) return;
    try {
      for (const n of netw.detachAll(this.networks, cfg.Id)) this.netEvent("disconnect", n, cfg.Id);
    } catch (e) {
      this.log.warn(`release network of container ${shortId(cfg.Id)}: ${(e as Error).message}`);
    }
  }

  private reapCgroup(cfg: ContainerConfigFile): void {
    // called on every way out (exit, afterExit, rm): only the first finds something to do
    try { if (!rt.cgroupExists(cfg.Berth.CgroupPath)) return; } catch {}
    try {
      for (const pid of rt.cgroupPids(cfg.Berth.CgroupPath)) rt.killPid(pid, 9);
    } catch {}
    try { rt.thaw(cfg.Berth.CgroupPath); } catch {}
    try { rt.removeCgroup(cfg.Berth.CgroupPath); } catch {}
  }

  list(all: boolean): ContainerInfo[] {
    const out: ContainerInfo[] = [];
    for (const id of this.store.ids()) {
      try {
        const i = this.info(id);
        if (all || isActive(i.state.Status) || i.state.Restarting) out.push(i);
      } catch (e) {
        if (!(e instanceof EngineError)) throw e;
        if (!(e instanceof NoSuchContainer)) this.log.warn(e.message); // a damaged record: skipped, `system check` names it
      }
    }
    return out.sort((a, b) => (a.cfg.Created < b.cfg.Created ? 1 : -1));
  }

  /** snapshot keys owned by containers (for `system check` / GC) */
  snapshotKeys(): Set<string> {
    const keys = new Set<string>();
    for (const id of this.store.ids()) {
      try { keys.add(this.store.readConfig(id).Berth.SnapshotKey); } catch {}
    }
    return keys;
  }

  /** image id → ids of the containers created from it (for rmi's "image is being used" and df) */
  imageUsers(): Map<string, string[]> {
    const m = new Map<string, string[]>();
    for (const id of this.store.ids()) {
      try {
        const img = this.store.readConfig(id).Image;
        m.set(img, [...(m.get(img) ?? []), id]);
      } catch {}
    }
    return m;
  }

  // ---------------------------------------------------------------- start

  /** build everything the runtime needs; reads the image's passwd/group from the snapshot */
  async prepare(cfg: ContainerConfigFile): Promise<Prepared> {
    let rootfs = await this.opts.snapshots.mounts(cfg.Berth.SnapshotKey);
    // a writable layer never mounted again (--rm, a build step): its changes are worthless after a host
    // crash anyway, so the container's unmount need not sync the upper filesystem
    if (cfg.HostConfig.AutoRemove || cfg.Berth.Ephemeral) rootfs = volatileOverlay(rootfs);
    const user = resolveUser(cfg.Config.User, { passwd: readRootfsFile(rootfs, "/etc/passwd"), group: readRootfsFile(rootfs, "/etc/group") }, cfg.HostConfig.GroupAdd ?? []);
    const mode = netw.primaryNetwork(cfg);
    this.writeEtcFiles(cfg, netw.isBridgeMode(mode));
    const paths: SpecPaths = { hostnamePath: cfg.HostnamePath, hostsPath: cfg.HostsPath, resolvConfPath: cfg.ResolvConfPath };
    // --ipc container:X / --pid container:X: X must run; its namespaces are joined
    const joinNs = (mode: string, ns: "ipc" | "pid", what: string): string | undefined => {
      if (!mode.startsWith("container:")) return undefined;
      const other = this.store.readConfig(this.resolve(mode.slice("container:".length)));
      const ost = this.state(other.Id);
      if (!isActive(ost.Status) || !ost.Pid) throw new EngineError("failed_precondition", `cannot join ${what} of a non running container: ${other.Id}`);
      return `/proc/${ost.Pid}/ns/${ns}`;
    };
    paths.ipcnsPath = joinNs(cfg.HostConfig.IpcMode, "ipc", "IPC");
    paths.pidnsPath = joinNs(cfg.HostConfig.PidMode, "pid", "PID namespace");
    if (cfg.HostConfig.Devices?.length) paths.devices = resolveDevices(cfg.HostConfig.Devices, deviceNode);
    let beforeStart: ((pid: number) => Promise<void>) | undefined;
    let linkEnv: string[] = [];
    if (mode.startsWith("container:")) {
      // docker: the other container's network namespace, /etc/hosts and resolv.conf
      const other = this.store.readConfig(this.resolve(mode.slice("container:".length)));
      const ost = this.state(other.Id);
      if (!isActive(ost.Status) || !ost.Pid) throw new EngineError("failed_precondition", `cannot join network of a non running container: ${other.Id}`);
      paths.netnsPath = `/proc/${ost.Pid}/ns/net`;
      paths.hostsPath = other.HostsPath;
      paths.resolvConfPath = other.ResolvConfPath;
    } else if (netw.isBridgeMode(mode)) {
      // (--network none needs nothing here: the runtime brings lo up in every new network namespace)
      const links = this.links(cfg);
      linkEnv = links.env;
      beforeStart = async (pid) => {
        const w = await netw.wire(this.networks, cfg, pid, links.hosts);
        if (w.stopRelay) this.relays.set(cfg.Id, w.stopRelay);
        for (const ep of w.endpoints) this.netEvent("connect", ep.network, cfg.Id);
      };
    }
    const spec = buildSpec(cfg, rootfs, user, paths);
    spec.process.env = withLinkEnv(spec.process.env, linkEnv);
    return { cfg, spec, logPath: cfg.LogPath, log: parseLogConfig(cfg.HostConfig.LogConfig), dir: this.store.dir(cfg.Id), beforeStart };
  }

  /** --link: the linked containers (running, on this container's network) as hosts entries and docker's variables */
  private links(cfg: ContainerConfigFile): ReturnType<typeof netw.linkVariables> {
    const linked = (cfg.HostConfig.Links ?? []).map((l) => {
      const { name, alias } = parseLink(l);
      let lid: string;
      try {
        lid = this.resolve(name);
      } catch {
        throw new EngineError("not_found", `could not get container for ${name}`);
      }
      const lcfg = this.store.readConfig(lid);
      if (!isActive(this.state(lid).Status)) throw new EngineError("failed_precondition", `cannot link to a non running container: ${lcfg.Name} AS /${cfg.Name.slice(1)}/${alias}`);
      return { id: lid, name: lcfg.Name.slice(1), alias, cfg: lcfg };
    });
    return netw.linkVariables(this.networks, cfg, linked);
  }

  /** claim the container for this process as its supervisor; false if it is already running */
  /**
   * A user's start clears an earlier manual stop; a restart by the policy does not, and gives up when a
   * stop came in since (stop can land between the back-off and this claim).
   */
  private claim(id: string, byPolicy = false): boolean | "stopped" {
    return this.store.withLock(id, () => {
      const st = this.state(id);
      if (isActive(st.Status)) return false;
      if (byPolicy && (st.ManuallyStopped || !st.Restarting)) {
        this.store.writeState(id, { ...st, Restarting: false, MonitorPid: 0, MonitorStartTime: "" });
        return "stopped";
      }
      this.store.writeState(id, {
        ...st,
        Status: "running",
        Pid: 0,
        StartTime: "",
        MonitorPid: process.pid,
        MonitorStartTime: rt.processStartTime(process.pid) ?? "",
        Error: "",
        OOMKilled: false,
        Restarting: false,
        ManuallyStopped: false,
      });
      return true;
    });
  }

  /**
   * Supervise the container in this process until it exits (foreground `run`, `start -a`, and the
   * monitor). Returns the exit information; throws docker-coded errors when it cannot start.
   */
  async supervise(id: string, fg?: ForegroundOptions, o: { byPolicy?: boolean; restartable?: boolean } = {}): Promise<ExitInfo> {
    const byPolicy = !!o.byPolicy;
    const cfg = this.store.readConfig(id);
    const claimed = this.claim(id, byPolicy);
    if (claimed === "stopped") throw new RestartCancelled();
    if (!claimed) throw new EngineError("failed_precondition", `container ${id} is already running`, { exitCode: 1 });
    let prepared: Prepared;
    try {
      mark("engine: claimed");
      prepared = await this.prepare(cfg);
      mark("engine: prepared (rootfs, etc files, spec)");
    } catch (e) {
      const err = startError(e, cfg.Path);
      this.recordStartFailure(id, err);
      await this.afterExit(cfg);
      throw err;
    }
    let stopHealth = () => {};
    try {
      return await supervise(prepared, {
        local: fg?.local,
        initialSize: fg?.initialSize,
        onResizer: fg?.onResizer,
        onStarted: fg?.onStarted,
        recordRunning: (pid, startTime, startedAt) => {
          this.safeUpdate(id, (st) => ({ ...st, Status: st.Status === "paused" ? "paused" : "running", Pid: pid, StartTime: startTime, StartedAt: startedAt, FinishedAt: ZERO_TIME, ExitCode: 0 }));
          this.ev("start", cfg);
          stopHealth = this.startHealth(id, cfg);
        },
        recordStartFailure: (err) => this.recordStartFailure(id, err),
        recordExit: (info, finishedAt) => {
          stopHealth();
          this.ev("die", cfg, { exitCode: String(info.exitCode) });
          let oom = info.oomKilled;
          try { oom ||= rt.oomKilled(cfg.Berth.CgroupPath); } catch {}
          this.reapCgroup(cfg);
          // with --rm the record goes right after: its exit need not reach the disk first
          const durable = cfg.HostConfig.AutoRemove ? false : undefined;
          // under a restart policy (detached: the monitor stays) the exit and "restarting" are one
          // update, so no rm or start can slip in between
          this.safeUpdate(id, (st) => {
            const again = !!o.restartable && shouldRestart(cfg.HostConfig.RestartPolicy, { exitCode: info.exitCode, restartCount: st.RestartCount ?? 0, manuallyStopped: !!st.ManuallyStopped });
            const monitor = again ? { MonitorPid: process.pid, MonitorStartTime: rt.processStartTime(process.pid) ?? "" } : { MonitorPid: 0, MonitorStartTime: "" };
            return { ...st, Status: "stopped", Pid: 0, StartTime: "", ...monitor, Restarting: again, ExitCode: info.exitCode, OOMKilled: oom, FinishedAt: finishedAt };
          }, durable);
        },
      });
    } finally {
      stopHealth();
      await this.afterExit(cfg);
    }
  }

  /**
   * The health check of a running container (docker's HEALTHCHECK / --health-*): a probe through exec
   * every interval, killed after the timeout, its result folded into State.Health (health.ts). Runs in
   * the supervising process; the returned function stops it.
   */
  private startHealth(id: string, cfg: ContainerConfigFile): () => void {
    const hc = cfg.Config.Healthcheck;
    if (!hasHealthcheck(hc)) return () => {};
    const t = timings(hc);
    const argv = probeArgv(hc.Test);
    const began = Date.now();
    let stopped = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    let probePid = 0;
    const fresh = (): HealthState => ({ Status: "starting", FailingStreak: 0, Log: [] });
    this.safeUpdate(id, (s) => ({ ...s, Health: fresh() }));
    const probe = async () => {
      if (stopped) return;
      if (this.store.readState(id).Status !== "running") {
        timer = setTimeout(probe, t.interval); // paused: no probe, as docker
        return;
      }
      const start = nowNano();
      let out = "";
      const sink = (b: Uint8Array) => {
        if (out.length < MAX_OUTPUT) out += Buffer.from(b).toString();
      };
      let timedOut = false;
      const killer = setTimeout(() => {
        timedOut = true;
        if (probePid) rt.killPid(probePid, 9);
      }, t.timeout);
      let code: number;
      try {
        code = await this.exec(id, { cmd: argv, env: [], tty: false, interactive: false, detach: false }, { stdout: sink, stderr: sink, onStarted: (pid) => void (probePid = pid) });
      } catch (e) {
        code = e instanceof EngineError ? e.exitCode : 1;
        out += (e as Error).message;
      } finally {
        clearTimeout(killer);
        probePid = 0;
      }
      if (timedOut) {
        code = -1;
        out = `Health check exceeded timeout (${t.timeout / 1000}s)`;
      }
      if (stopped) return;
      const r = { Start: start, End: nowNano(), ExitCode: code, Output: out };
      const inStartPeriod = Date.now() - began < t.startPeriod;
      this.safeUpdate(id, (s) => (s.Status === "running" || s.Status === "paused" ? { ...s, Health: applyProbe(s.Health ?? fresh(), r, { retries: t.retries, inStartPeriod }) } : s));
      timer = setTimeout(probe, t.interval);
    };
    timer = setTimeout(probe, t.interval);
    return () => {
      stopped = true;
      clearTimeout(timer);
      if (probePid) rt.killPid(probePid, 9);
    };
  }

  private recordStartFailure(id: string, err: EngineError): void {
    this.safeUpdate(id, (st) => ({ ...st, Status: "created", Pid: 0, StartTime: "", MonitorPid: 0, MonitorStartTime: "", ExitCode: err.exitCode, Error: err.message }));
  }

  /** awaited: the supervisor's process exits right after, and --rm must not stop half-way */
  private async afterExit(cfg: ContainerConfigFile): Promise<void> {
    this.reapCgroup(cfg);
    this.detachNetworks(cfg);
    mark("engine: cgroup reaped, networks detached");
    if (cfg.HostConfig.AutoRemove) {
      try {
        await this.removeNow(cfg.Id);
        mark("engine: removed");
      } catch (e) {
        this.log.warn(`remove container ${shortId(cfg.Id)}: ${(e as Error).message}`);
      }
    }
  }

  /** the container may have been removed under us (rm -f): then there is nothing to record */
  private safeUpdate(id: string, fn: (st: ContainerStateFile) => ContainerStateFile, durable?: boolean): void {
    try {
      this.store.updateState(id, fn, durable);
    } catch (e) {
      if (!(e instanceof NoSuchContainer)) throw e;
    }
  }

  /**
   * Start a container under a detached monitor (`run -d`, `start`): returns once it runs, or throws the
   * start error (exit 125/126/127) the monitor reported.
   */
  async startDetached(id: string): Promise<void> {
    const st = this.state(id);
    if (isActive(st.Status)) return;
    const dir = this.store.dir(id);
    const logFd = openSync(join(dir, "monitor.log"), constants.O_WRONLY | constants.O_CREAT | constants.O_APPEND, 0o600);
    const argv = [...(isCompiled() ? [process.execPath] : [process.execPath, Bun.main]), "--root", this.opts.berthRoot, "__monitor", id];
    const proc = Bun.spawn(argv, { stdin: "ignore", stdout: "pipe", stderr: logFd, detached: true, cwd: "/",
      // the compiled binary needs nothing from the caller's environment; under `bun src/main.ts` (tests) pass it on
      env: isCompiled() ? { PATH: process.env.PATH ?? DEFAULT_PATH, ...networkEnv() } : { ...process.env } });
    closeSync(logFd);
    proc.unref();
    const reader = proc.stdout.getReader();
    let text = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (value) text += Buffer.from(value).toString();
      if (done || text.includes("\n")) break;
    }
    reader.releaseLock();
    const line = text.split("\n")[0] ?? "";
    if (line.startsWith("ok")) return;
    if (line.startsWith("err ")) {
      const [, code, ...msg] = line.split(" ");
      const m = msg.join(" ");
      throw new EngineError(Number(code) === 127 ? "not_found" : "internal", m, { exitCode: Number(code) || 125 });
    }
    let detail = "";
    try { detail = readFileSync(join(dir, "monitor.log"), "utf8").trim().split("\n").slice(-1)[0] ?? ""; } catch {}
    throw new EngineError("internal", `start container ${shortId(id)}: monitor exited before the container started${detail ? `: ${detail}` : ""}`);
  }

  /**
   * `update`: new limits (and restart policy) for a container; a running one gets them in its cgroup
   * at once, the record keeps them for later starts. A failed cgroup write leaves the record unchanged.
   */
  update(ref: string, o: UpdateOptions): string {
    const id = this.resolve(ref);
    this.store.withLock(id, () => {
      const cfg = this.store.readConfig(id);
      const h = applyUpdate(cfg.HostConfig, o, cpus().length);
      const st = this.store.readState(id);
      if (isActive(st.Status) && st.Pid && rt.isAlive(st.Pid, st.StartTime)) {
        rt.updateCgroup(cfg.Berth.CgroupPath, {
          ...(o.memory !== undefined && h.Memory > 0 ? { memory: h.Memory } : {}),
          ...(o.memorySwap !== undefined || o.memory !== undefined ? { memorySwap: h.MemorySwap === -1 ? -1 : h.MemorySwap > 0 ? h.MemorySwap : undefined } : {}),
          ...(o.cpus !== undefined && h.NanoCpus > 0 ? { cpus: h.NanoCpus / 1e9 } : {}),
          ...(o.cpuShares !== undefined && h.CpuShares > 0 ? { cpuShares: h.CpuShares } : {}),
          ...(o.pidsLimit !== undefined && (h.PidsLimit ?? 0) > 0 ? { pidsLimit: h.PidsLimit! } : {}),
          ...(o.cpusetCpus ? { cpusetCpus: h.CpusetCpus } : {}),
          ...(o.cpusetMems ? { cpusetMems: h.CpusetMems } : {}),
          ...(o.memoryReservation !== undefined && h.MemoryReservation ? { memoryReservation: h.MemoryReservation } : {}),
        });
      }
      this.store.writeConfig({ ...cfg, HostConfig: h });
    });
    return id;
  }

  /** stop/kill/rm of a container waiting to restart: the monitor goes, the container stays stopped */
  private async cancelRestart(id: string): Promise<void> {
    const st = this.store.updateState(id, (s) => ({ ...s, ManuallyStopped: true }));
    if (st.MonitorPid && rt.isAlive(st.MonitorPid, st.MonitorStartTime)) rt.killPid(st.MonitorPid, 9);
    await this.waitSupervisorGone(id);
    this.safeUpdate(id, (s) => ({ ...s, Restarting: false, MonitorPid: 0, MonitorStartTime: "" }));
  }

  /**
   * After an exit under a restart policy: mark the container restarting (its monitor stays, waiting) and
   * return the back-off, or undefined when it stays stopped (policy, a manual stop, removed meanwhile).
   */
  private planRestart(id: string, ranMs: number, previousDelay: number): number | undefined {
    try {
      return this.store.readState(id).Restarting ? nextDelay(previousDelay, ranMs) : undefined;
    } catch {
      return undefined; // removed
    }
  }

  /** the back-off is over: count the restart, unless the user stopped it meanwhile */
  private beginRestart(id: string): boolean {
    let go = false;
    this.safeUpdate(id, (s) => {
      go = !!s.Restarting && !s.ManuallyStopped;
      // still "restarting" until the claim turns it into "running" in one update
      return go ? { ...s, RestartCount: (s.RestartCount ?? 0) + 1 } : { ...s, Restarting: false, MonitorPid: 0, MonitorStartTime: "" };
    });
    return go;
  }

  /** the body of `berth __monitor <id>` */
  async monitorMain(id: string): Promise<number> {
    // visible in ps: the command line already reads `… __monitor <id>`; comm becomes "berth-monitor"
    process.title = `berth-monitor ${shortId(id)}`;
    try { setThreadName("berth-monitor"); } catch {}
    let reported = false;
    const report = (line: string) => {
      if (reported) return;
      reported = true;
      process.stdout.write(line + "\n");
      // the spawner goes away: later writes must not meet a broken pipe
      setTimeout(() => { try { redirectToDevNull(1); } catch {} }, 50);
    };
    try {
      let delay = 0;
      let byPolicy = false;
      for (;;) {
        const began = Date.now();
        let info: ExitInfo;
        try {
          info = await this.supervise(id, { onStarted: () => report("ok") }, { byPolicy, restartable: true });
        } catch (e) {
          if (e instanceof RestartCancelled) return this.store.readState(id).ExitCode;
          throw e;
        }
        byPolicy = true;
        const next = this.planRestart(id, Date.now() - began, delay);
        if (next === undefined) return info.exitCode;
        delay = next;
        await Bun.sleep(delay);
        if (!this.beginRestart(id)) return info.exitCode;
      }
    } catch (e) {
      const err = e instanceof EngineError ? e : startError(e, "");
      report(`err ${err.exitCode} ${err.message.replace(/\n/g, " ")}`);
      return err.exitCode;
    }
  }

  // ---------------------------------------------------------------- attach

  /** attach to a container supervised elsewhere; resolves with its exit code when it ends */
  async attach(id: string, io: { stdin?: AsyncIterable<Uint8Array>; stdout(b: Uint8Array): void; stderr(b: Uint8Array): void; want: { stdin: boolean; stdout: boolean; stderr: boolean }; initialSize?: { rows: number; cols: number }; onResizer?(r: (s: { rows: number; cols: number }) => void): void }): Promise<number> {
    const st = this.state(id);
    if (!isActive(st.Status)) throw new EngineError("failed_precondition", "You cannot attach to a stopped container, start it first", { exitCode: 1 });
    if (st.Status === "paused") throw new EngineError("failed_precondition", "You cannot attach to a paused container, unpause it first", { exitCode: 1 });
    const path = attachSocketPath(this.store.dir(id));
    let exitCode: number | undefined;
    const done = Promise.withResolvers<void>();
    const reader = new FrameReader();
    const sock = await Bun.connect({
      unix: path,
      socket: {
        data(_s, chunk) {
          reader.push(chunk, (type, payload) => {
            if (type === F_STDOUT) io.stdout(payload);
            else if (type === F_STDERR) io.stderr(payload);
            else if (type === F_EXIT) exitCode = Number(Buffer.from(payload).toString());
          });
        },
        close() { done.resolve(); },
        error() { done.resolve(); },
      },
    }).catch((e) => {
      throw new EngineError("unavailable", `attach to container ${shortId(id)}: ${(e as Error).message}`, { exitCode: 1 });
    });
    sock.write(frame(F_HELLO, JSON.stringify(io.want)));
    if (io.initialSize) sock.write(frame(F_RESIZE, `${io.initialSize.rows} ${io.initialSize.cols}`));
    io.onResizer?.((s) => sock.write(frame(F_RESIZE, `${s.rows} ${s.cols}`)));
    if (io.stdin && io.want.stdin) {
      void (async () => {
        try {
          for await (const chunk of io.stdin!) sock.write(frame(F_STDIN, chunk));
        } catch {}
        sock.write(frame(F_STDIN_EOF, ""));
      })();
    }
    await done.promise;
    if (exitCode !== undefined) return exitCode;
    // the socket closed without an exit frame: read the recorded status
    await this.waitStopped(id, 5000);
    try { return this.state(id).ExitCode; } catch { return 0; }
  }

  // ---------------------------------------------------------------- signals

  async kill(ref: string, signal: string | number = "SIGKILL"): Promise<string> {
    const id = this.resolve(ref);
    const sig = typeof signal === "number" ? signal : parseSignal(signal);
    const st = this.state(id);
    if (st.Restarting) {
      await this.cancelRestart(id);
      return id;
    }
    if (!canKill(st.Status) || !st.Pid) throw new EngineError("failed_precondition", `cannot kill container: ${ref}: container ${id} is not running`, { exitCode: 1 });
    this.safeUpdate(id, (s) => ({ ...s, ManuallyStopped: true }));
    this.ev("kill", this.store.readConfig(id), { signal: String(sig) });
    rt.killPid(st.Pid, sig);
    if (st.Status === "paused" && sig === 9) this.thawQuiet(id);
    return id;
  }

  /** SIGTERM (or StopSignal), then SIGKILL after the timeout; returns once stopped */
  async stop(ref: string, timeoutSec?: number, signal?: string): Promise<string> {
    const id = this.resolve(ref);
    const cfg = this.store.readConfig(id);
    // first: the restart policy must not bring it back (docker's HasBeenManuallyStopped), even when the
    // stop lands between an exit and the policy's next start
    this.safeUpdate(id, (s) => ({ ...s, ManuallyStopped: true }));
    let st = this.state(id);
    if (st.Restarting) {
      await this.cancelRestart(id);
      return id;
    }
    if (!isActive(st.Status)) return id;
    const sig = parseSignal(signal ?? cfg.Config.StopSignal ?? "SIGTERM");
    const timeout = timeoutSec ?? cfg.Config.StopTimeout ?? 10;
    if (st.Pid) rt.killPid(st.Pid, sig);
    if (st.Status === "paused") this.thawQuiet(id);
    this.ev("kill", cfg, { signal: String(sig) });
    if (!(timeout < 0 ? await this.waitStopped(id, Infinity) : await this.waitStopped(id, timeout * 1000))) {
      st = this.state(id);
      if (st.Pid) {
        this.ev("kill", cfg, { signal: "9" });
        rt.killPid(st.Pid, 9);
      }
      this.reapCgroup(cfg);
      await this.waitStopped(id, 10_000);
    }
    this.ev("stop", cfg);
    return id;
  }

  private thawQuiet(id: string): void {
    try {
      rt.thaw(this.store.readConfig(id).Berth.CgroupPath);
      this.safeUpdate(id, (s) => (s.Status === "paused" ? { ...s, Status: "running" } : s));
    } catch {}
  }

  /** poll until the container is no longer active (or gone); false on timeout */
  async waitStopped(id: string, timeoutMs: number): Promise<boolean> {
    const end = Date.now() + timeoutMs;
    for (let delay = 5; ; delay = Math.min(delay * 2, 100)) {
      let st: ContainerStateFile;
      try {
        st = this.state(id);
      } catch (e) {
        if (e instanceof NoSuchContainer) return true;
        throw e;
      }
      if (!isActive(st.Status)) return true;
      if (Date.now() >= end) return false;
      await Bun.sleep(delay);
    }
  }

  async restart(ref: string, timeoutSec?: number): Promise<string> {
    const id = await this.stop(ref, timeoutSec);
    await this.waitSupervisorGone(id);
    await this.startDetached(id);
    this.ev("restart", this.store.readConfig(id));
    return id;
  }

  private async waitSupervisorGone(id: string): Promise<void> {
    for (let i = 0; i < 200; i++) {
      const st = this.store.readState(id);
      if (!rt.isAlive(st.MonitorPid, st.MonitorStartTime)) return;
      await Bun.sleep(10);
    }
  }

  /** `wait`: block until stopped; the exit code */
  async wait(ref: string): Promise<number> {
    const id = this.resolve(ref);
    let last = this.state(id);
    for (let delay = 5; isActive(last.Status); delay = Math.min(delay * 2, 100)) {
      await Bun.sleep(delay);
      try {
        last = this.state(id);
      } catch (e) {
        // removed (--rm) before we saw it stop: its exit code was left for us
        if (e instanceof NoSuchContainer) return this.exitOfRemoved(id) ?? last.ExitCode;
        throw e;
      }
    }
    return last.ExitCode;
  }

  private get exitsDir(): string {
    return join(this.opts.root, ".exits");
  }

  /**
   * An --rm container's exit code outlives its record for a minute, for a `wait` that started before the
   * removal (docker's `wait` of a `run -d --rm` container reports the real code).
   */
  private keepExit(id: string, code: number): void {
    try {
      mkdirSync(this.exitsDir, { recursive: true, mode: 0o700 });
      replaceFile(join(this.exitsDir, id), String(code));
      const old = Date.now() - 60_000;
      for (const f of readdirSync(this.exitsDir)) {
        try {
          if (statSync(join(this.exitsDir, f)).mtimeMs < old) unlinkSync(join(this.exitsDir, f));
        } catch {}
      }
    } catch {}
  }

  private exitOfRemoved(id: string): number | undefined {
    try {
      const n = Number(readFileSync(join(this.exitsDir, id), "utf8"));
      return Number.isInteger(n) ? n : undefined;
    } catch {
      return undefined;
    }
  }

  // ---------------------------------------------------------------- remove

  /** `rm` (`volumes`: -v, the container's anonymous volumes go too) */
  async rm(ref: string, force: boolean, volumes = false): Promise<string> {
    const id = this.resolve(ref);
    const cfg = this.store.readConfig(id);
    const st = this.state(id);
    if (st.Restarting) {
      if (!force) throw new EngineError("failed_precondition", `cannot remove container "${cfg.Name}": container is restarting: stop the container before removing or force remove`, { exitCode: 1 });
      await this.cancelRestart(id);
    }
    if (isActive(st.Status)) {
      if (!force) {
        throw new EngineError("failed_precondition", `cannot remove container "${cfg.Name}": container is ${st.Status === "paused" ? "paused" : "running"}: ${st.Status === "paused" ? "unpause" : "stop"} the container before removing or force remove`, { exitCode: 1 });
      }
      if (st.Pid) rt.killPid(st.Pid, 9);
      this.reapCgroup(cfg);
      await this.waitStopped(id, 5000);
      await this.waitSupervisorGone(id);
    }
    await this.removeNow(id, volumes);
    return id;
  }

  /**
   * remove everything of a stopped container: cgroup leftovers, snapshot, name, directory; with
   * `volumes` (rm -v; --rm always) its anonymous volumes no other container mounts, as docker does
   */
  async removeNow(id: string, volumes = false): Promise<void> {
    let cfg: ContainerConfigFile;
    try {
      cfg = this.store.readConfig(id);
    } catch (e) {
      if (e instanceof NoSuchContainer) return;
      throw e;
    }
    if (cfg.HostConfig.AutoRemove) {
      try { this.keepExit(id, this.store.readState(id).ExitCode); } catch {}
    }
    this.reapCgroup(cfg);
    if (netw.primaryNetwork(cfg) !== "none" && netw.primaryNetwork(cfg) !== "host") netw.releaseAll(this.networks, id);
    try {
      await this.opts.snapshots.remove(cfg.Berth.SnapshotKey);
    } catch (e) {
      if (!(e instanceof EngineError && e.kind === "not_found")) throw e;
    }
    this.store.releaseName(cfg.Name.slice(1), id);
    try { rmSocket(this.store.dir(id)); } catch {}
    this.store.removeDir(id);
    if (volumes || cfg.HostConfig.AutoRemove) {
      for (const m of cfg.Mounts) {
        if (m.Type !== "volume" || !m.Name || !(ANONYMOUS_LABEL in (this.volumes.find(m.Name)?.Labels ?? {}))) continue;
        try {
          this.volumes.removeUnchecked(m.Name, id);
        } catch (e) {
          this.log.warn(`remove volume ${m.Name}: ${(e as Error).message}`);
        }
      }
    }
    this.ev("destroy", cfg);
  }

  // ---------------------------------------------------------------- networks

  /** `network connect`: recorded for later starts; a running container gets the interface now */
  async connectNetwork(ref: string, network: string, o: { aliases: string[]; ip?: string }): Promise<void> {
    const id = this.resolve(ref);
    const net = this.networks.resolve(network).name;
    const cfg = this.store.readConfig(id);
    const mode = netw.primaryNetwork(cfg);
    if (!netw.isBridgeMode(mode)) throw new EngineError("failed_precondition", `container sharing network namespace with another container or host cannot be connected to any other network`, { exitCode: 1 });
    const eps = netw.endpointsOf(cfg);
    if (eps[net]) throw new EngineError("already_exists", `endpoint with name ${cfg.Name.slice(1)} already exists in network ${net}`, { exitCode: 1 });
    if ((o.aliases.length || o.ip) && net === "bridge") throw new EngineError("invalid_argument", "network-scoped alias and user specified IP address are supported only for containers in user defined networks", { exitCode: 1 });
    const es = { Aliases: o.aliases.length ? o.aliases : null, IPAddress: o.ip ?? "", MacAddress: "" };
    const st = this.state(id);
    if (isActive(st.Status) && st.Pid) {
      const names = net === "bridge" ? undefined : [...new Set([cfg.Name.slice(1), ...o.aliases, shortId(id)])];
      const ep = this.networks.mgr.connect(st.Pid, net, { containerId: id, ip: o.ip, names });
      this.netEvent("connect", net, id);
      try {
        netw.updateHostsLine(cfg, { add: ep.ip });
      } catch (e) {
        this.log.warn(`container ${shortId(id)}: /etc/hosts not updated: ${(e as Error).message}`);
      }
      await this.networks.ensureDns(net).catch((e: Error) => this.log.warn(`network ${net}: no name resolution: ${e.message}`));
    }
    this.store.withLock(id, () => {
      const cur = this.store.readConfig(id);
      this.store.writeConfig({ ...cur, Berth: { ...cur.Berth, Networks: { ...netw.endpointsOf(cur), [net]: es } } });
    });
  }

  /** `network disconnect` */
  disconnectNetwork(ref: string, network: string, force: boolean): void {
    const id = this.resolve(ref);
    const net = this.networks.resolve(network).name;
    const cfg = this.store.readConfig(id);
    const eps = netw.endpointsOf(cfg);
    if (!eps[net] && !force) throw new EngineError("not_found", `container ${id} is not connected to network ${net}`, { exitCode: 1 });
    const ip = Object.entries(this.networks.mgr.inspect(net).endpoints).find(([, e]) => e.containerId === id)?.[0];
    try {
      this.networks.mgr.disconnect(id, net);
      if (ip) this.netEvent("disconnect", net, id);
    } catch (e) {
      if (!(e instanceof EngineError && e.kind === "not_found")) throw e;
    }
    if (ip && isActive(this.state(id).Status)) {
      try {
        netw.updateHostsLine(cfg, { remove: ip });
      } catch (e) {
        this.log.warn(`container ${shortId(id)}: /etc/hosts not updated: ${(e as Error).message}`);
      }
    }
    this.networks.stopDns(net);
    if (!eps[net]) return;
    this.store.withLock(id, () => {
      const cur = this.store.readConfig(id);
      const rest = { ...netw.endpointsOf(cur) };
      delete rest[net];
      // with its last network gone the container keeps only lo, as under docker, until connected again
      this.store.writeConfig({ ...cur, Berth: { ...cur.Berth, Networks: rest } });
    });
  }

  /** published ports (`berth port`, ps) */
  ports(id: string) {
    return this.networks.mgr.ports(id);
  }

  /** ps's PORTS column; reads the network records only for containers that publish or expose ports */
  portsColumn(i: ContainerInfo): string {
    const c = i.cfg;
    if (!Object.keys(c.Config.ExposedPorts ?? {}).length && !Object.keys(c.HostConfig.PortBindings ?? {}).length) return "";
    const running = isActive(i.state.Status);
    return netw.portsColumn(c, running ? this.ports(c.Id) : [], running);
  }

  // ---------------------------------------------------------------- rename, pause

  rename(ref: string, newName: string): void {
    const id = this.resolve(ref);
    const name = validateName(newName);
    this.store.withLock(id, () => {
      const cfg = this.store.readConfig(id);
      const old = cfg.Name.slice(1);
      if (old === name) throw new EngineError("invalid_argument", "Renaming a container with the same name as its current name", { exitCode: 1 });
      try {
        this.store.reserveName(name, id);
      } catch (e) {
        if (e instanceof EngineError) throw new EngineError(e.kind, e.message, { exitCode: 1 });
        throw e;
      }
      this.store.writeConfig({ ...cfg, Name: `/${name}` });
      this.store.releaseName(old, id);
      this.ev("rename", { ...cfg, Name: `/${name}` }, { oldName: `/${old}` });
      // the embedded DNS answers for the new name from now on (docker does the same)
      if (netw.isBridgeMode(netw.primaryNetwork(cfg))) this.networks.mgr.renameEndpoints(id, (ns) => [...new Set(ns.map((n) => (n === old ? name : n)))]);
    });
  }

  pause(ref: string): string {
    const id = this.resolve(ref);
    const cfg = this.store.readConfig(id);
    this.store.withLock(id, () => {
      const st = this.state(id);
      if (st.Status === "paused") throw new EngineError("failed_precondition", `container ${id} is already paused`, { exitCode: 1 });
      if (st.Status !== "running") throw new EngineError("failed_precondition", `container ${id} is not running`, { exitCode: 1 });
      rt.freeze(cfg.Berth.CgroupPath);
      this.store.writeState(id, { ...st, Status: "paused" });
      this.ev("pause", cfg);
    });
    return id;
  }

  unpause(ref: string): string {
    const id = this.resolve(ref);
    const cfg = this.store.readConfig(id);
    this.store.withLock(id, () => {
      const st = this.state(id);
      if (st.Status !== "paused") throw new EngineError("failed_precondition", `container ${id} is not paused`, { exitCode: 1 });
      rt.thaw(cfg.Berth.CgroupPath);
      this.store.writeState(id, { ...st, Status: "running" });
      this.ev("unpause", cfg);
    });
    return id;
  }

  // ---------------------------------------------------------------- logs

  /**
   * docker's `logs`: entries filtered by --since/--until, the last --tail, then (with follow) new
   * entries until the container stops.
   */
  async logs(ref: string, o: { follow?: boolean; tail?: string; since?: string; until?: string; onEntry(e: LogEntry): void }): Promise<void> {
    const id = this.resolve(ref);
    const cfg = this.store.readConfig(id);
    const since = o.since ? parseTimeArg(o.since) : undefined;
    const until = o.until ? parseTimeArg(o.until) : undefined;
    const keep = (e: LogEntry) => {
      const t = entryTime(e);
      return (since === undefined || t >= since) && (until === undefined || t <= until);
    };
    const lo = parseLogConfig(cfg.HostConfig.LogConfig);
    if (lo.driver === "none") throw new EngineError("failed_precondition", `configured logging driver does not support reading`, { exitCode: 1 });
    // rotated files first, oldest first (--log-opt max-file)
    let entries: LogEntry[] = [];
    for (const f of logFiles(cfg.LogPath, lo.maxFile).slice(0, -1)) entries.push(...readLogFrom(f, 0).entries);
    let inode = logInode(cfg.LogPath);
    let { entries: live, next } = readLogFrom(cfg.LogPath, 0);
    entries = [...entries, ...live].filter(keep);
    const tail = o.tail === undefined || o.tail === "all" ? -1 : Number(o.tail);
    if (o.tail !== undefined && o.tail !== "all" && !/^-?\d+$/.test(o.tail)) throw new EngineError("invalid_argument", `invalid value for "tail": "${o.tail}"`);
    if (tail >= 0) entries = tail === 0 ? [] : entries.slice(-tail);
    for (const e of entries) o.onEntry(e);
    if (!o.follow) return;
    for (;;) {
      let active: boolean;
      try {
        active = isActive(this.state(id).Status);
      } catch {
        active = false;
      }
      const now = logInode(cfg.LogPath);
      if (now !== inode) {
        // rotated under us: the rest of the old file (now .1, or gone when max-file is 1), then the new one
        if (lo.maxFile > 1) for (const e of readLogFrom(`${cfg.LogPath}.1`, next).entries) if (keep(e)) o.onEntry(e);
        inode = now;
        next = 0;
      }
      const r = readLogFrom(cfg.LogPath, next);
      next = r.next;
      for (const e of r.entries) if (keep(e)) o.onEntry(e);
      if (!active) return;
      if (until !== undefined && Date.now() > until) return;
      await Bun.sleep(100);
    }
  }

  // ---------------------------------------------------------------- exec

  /** `exec`: a new process in a running container's namespaces and cgroup */
  async exec(
    ref: string,
    o: { cmd: string[]; env: string[]; workdir?: string; user?: string; tty: boolean; interactive: boolean; privileged?: boolean; detach: boolean },
    io: { stdin?: AsyncIterable<Uint8Array>; stdout(b: Uint8Array): void; stderr(b: Uint8Array): void; initialSize?: { rows: number; cols: number }; onResizer?(r: (s: { rows: number; cols: number }) => void): void; onStarted?(pid: number): void },
  ): Promise<number> {
    const id = this.resolve(ref);
    const cfg = this.store.readConfig(id);
    const st = this.state(id);
    if (st.Status === "paused") throw new EngineError("failed_precondition", `container ${id} is paused, unpause the container before exec`, { exitCode: 1 });
    if (st.Status !== "running" || !st.Pid) throw new EngineError("failed_precondition", `container ${id} is not running`, { exitCode: 1 });
    const rootfs = await this.opts.snapshots.mounts(cfg.Berth.SnapshotKey);
    const user = resolveUser(o.user ?? cfg.Config.User, { passwd: readRootfsFile(rootfs, "/etc/passwd"), group: readRootfsFile(rootfs, "/etc/group") }, cfg.HostConfig.GroupAdd ?? []);
    const base = buildSpec(cfg, rootfs, user, { hostnamePath: cfg.HostnamePath, hostsPath: cfg.HostsPath, resolvConfPath: cfg.ResolvConfPath });
    let linkEnv: string[] = [];
    if (cfg.HostConfig.Links?.length) {
      try { linkEnv = this.links(cfg).env; } catch {} // docker's exec sees the link variables too; a linked container gone since is no error here
    }
    let env = withLinkEnv(base.process.env, linkEnv).filter((e) => !e.startsWith("TERM=") || o.tty);
    if (o.tty && !env.some((e) => e.startsWith("TERM="))) env.push("TERM=xterm");
    for (const e of o.env) {
      const kv = e.includes("=") ? e : process.env[e] !== undefined ? `${e}=${process.env[e]}` : undefined;
      if (!kv) continue;
      const k = kv.split("=")[0];
      env = [...env.filter((x) => x.split("=")[0] !== k), kv];
    }
    const proc: ProcessSpec = {
      ...base.process,
      args: o.cmd,
      env,
      cwd: o.workdir ?? base.process.cwd,
      terminal: o.tty,
      init: false,
      capabilities: o.privileged ? computeCapabilities([], [], true) : base.process.capabilities,
    };

    const ours: number[] = [];
    const child: number[] = [];
    let master = -1;
    let stdio;
    const outputs: { fd: number; sink: (b: Uint8Array) => void }[] = [];
    let stdinFd = -1;
    if (o.tty) {
      const p = rt.openContainerPty(st.Pid);
      master = p.master;
      ours.push(master);
      child.push(p.slave);
      setWinsize(master, io.initialSize ?? { rows: 24, cols: 80 });
      stdio = { stdin: p.slave, stdout: p.slave, stderr: p.slave };
      outputs.push({ fd: master, sink: io.stdout });
      if (o.interactive) stdinFd = master;
    } else {
      const [ir, iw] = pipe2();
      child.push(ir);
      if (o.interactive && !o.detach) stdinFd = iw;
      else closeFd(iw);
      const [or, ow] = pipe2();
      const [er, ew] = pipe2();
      child.push(ow, ew);
      ours.push(or, er);
      stdio = { stdin: ir, stdout: ow, stderr: ew };
      outputs.push({ fd: or, sink: io.stdout }, { fd: er, sink: io.stderr });
    }
    let running;
    try {
      running = await rt.execInContainer(st.Pid, proc, stdio, cfg.Berth.CgroupPath);
    } catch (e) {
      for (const fd of ours) closeFd(fd);
      if (stdinFd >= 0 && stdinFd !== master) closeFd(stdinFd);
      const err = startError(e, o.cmd[0] ?? "");
      throw new EngineError(err.kind, err.message.replace("failed to create task for container", "OCI runtime exec failed"), { exitCode: err.exitCode, cause: e });
    } finally {
      for (const fd of child) closeFd(fd);
    }
    io.onStarted?.(running.pid);
    if (master >= 0) io.onResizer?.((s) => { try { setWinsize(master, s); } catch {} });
    if (o.detach) {
      for (const fd of ours) closeFd(fd);
      return 0;
    }
    const { write } = await import("node:fs");
    if (stdinFd >= 0 && io.stdin) {
      const fd = stdinFd;
      void (async () => {
        try {
          for await (const chunk of io.stdin!) await new Promise((r) => write(fd, Buffer.from(chunk), () => r(undefined)));
        } catch {}
        if (fd !== master) closeFd(fd);
      })();
    } else if (stdinFd >= 0 && stdinFd !== master) closeFd(stdinFd);
    const ended = outputs.map(({ fd, sink }) => pumpFd(fd, fd === master, sink));
    const info = await running.wait();
    await Promise.race([Promise.all(ended), Bun.sleep(1000)]);
    return info.exitCode;
  }

  // ---------------------------------------------------------------- top, stats

  top(ref: string): { titles: string[]; processes: string[][] } {
    const id = this.resolve(ref);
    const cfg = this.store.readConfig(id);
    const st = this.state(id);
    if (!isActive(st.Status)) throw new EngineError("failed_precondition", `container ${id} is not running`, { exitCode: 1 });
    const pids = rt.cgroupPids(cfg.Berth.CgroupPath).sort((a, b) => a - b);
    const users = hostUsers();
    const hz = 100;
    const boot = bootTime();
    const rows: string[][] = [];
    for (const pid of pids) {
      try {
        const stat = readFileSync(`/proc/${pid}/stat`, "latin1");
        const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
        const status = readFileSync(`/proc/${pid}/status`, "latin1");
        const uid = Number(/^Uid:\s+(\d+)/m.exec(status)?.[1] ?? 0);
        const ppid = f[1]!;
        const ttyNr = Number(f[4]);
        const cpu = (Number(f[11]) + Number(f[12])) / hz;
        const start = new Date((boot + Number(f[19]) / hz) * 1000);
        let cmd = readFileSync(`/proc/${pid}/cmdline`, "latin1").replace(/\0+$/, "").split("\0").join(" ");
        if (!cmd) cmd = `[${stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")"))}]`;
        const tty = ttyNr === 0 ? "?" : (() => { try { return readlinkSync(`/proc/${pid}/fd/0`).replace(/^\/dev\//, ""); } catch { return "?"; } })();
        const hh = (n: number) => String(n).padStart(2, "0");
        rows.push([
          users.get(uid) ?? String(uid),
          String(pid),
          ppid,
          "0",
          `${hh(start.getHours())}:${hh(start.getMinutes())}`,
          tty,
          `${hh(Math.floor(cpu / 3600))}:${hh(Math.floor(cpu / 60) % 60)}:${hh(Math.floor(cpu) % 60)}`,
          cmd,
        ]);
      } catch {
        // exited between listing and reading
      }
    }
    return { titles: ["UID", "PID", "PPID", "C", "STIME", "TTY", "TIME", "CMD"], processes: rows };
  }

  stats(id: string): ReturnType<typeof rt.cgroupStats> {
    const cfg = this.store.readConfig(id);
    return rt.cgroupStats(cfg.Berth.CgroupPath);
  }

  /** the container's root seen from the host: its running process's /proc/<pid>/root, else the snapshot's upper dir */
  rootfsDirs(id: string): { upper: string; pid: number } {
    const cfg = this.store.readConfig(id);
    const st = this.state(id);
    return { upper: this.opts.snapshots.upperDir(cfg.Berth.SnapshotKey), pid: isActive(st.Status) ? st.Pid : 0 };
  }

  async snapshotMounts(id: string) {
    const cfg = this.store.readConfig(id);
    return this.opts.snapshots.mounts(cfg.Berth.SnapshotKey);
  }

  // ---------------------------------------------------------------- cp

  private rootOf(id: string) {
    const cfg = this.store.readConfig(id);
    const st = this.state(id);
    return {
      pid: isActive(st.Status) ? st.Pid : 0,
      mounts: () => this.opts.snapshots.mounts(cfg.Berth.SnapshotKey),
      scratch: join(this.store.dir(id), `cp-${process.pid}`),
    };
  }

  /** container → host path, or a tar on `out` when dest is "-" */
  async copyFrom(id: string, src: string, dest: string, out: (b: Uint8Array) => Promise<void> | void, followLink = false): Promise<void> {
    const name = this.store.readConfig(id).Name.slice(1);
    await withContainerRoot(this.rootOf(id), (root) => copyOut(root, name, src, dest, out, followLink));
  }

  /** host path (or a tar on stdin when src is "-") → container */
  async copyTo(id: string, src: string, dest: string, stdin?: AsyncIterable<Uint8Array>): Promise<void> {
    await withContainerRoot(this.rootOf(id), async (root) => {
      if (src === "-") await extractIn(root, dest, stdin ?? (process.stdin as unknown as AsyncIterable<Uint8Array>));
      else copyIn(root, src, dest);
    });
  }

  // ---------------------------------------------------------------- inspect

  inspectJson(i: ContainerInfo): Record<string, unknown> {
    const { cfg, state: st } = i;
    const status = dockerStatus(st.Status);
    return {
      Id: cfg.Id,
      Created: cfg.Created,
      Path: cfg.Path,
      Args: cfg.Args,
      State: {
        Status: st.Restarting ? "restarting" : status,
        Running: status === "running" || status === "paused",
        Paused: status === "paused",
        Restarting: !!st.Restarting,
        OOMKilled: st.OOMKilled,
        Dead: false,
        Pid: st.Pid,
        ExitCode: st.ExitCode,
        Error: st.Error,
        StartedAt: st.StartedAt,
        FinishedAt: st.FinishedAt,
        ...(st.Health ? { Health: st.Health } : {}),
      },
      Image: cfg.Image,
      ResolvConfPath: cfg.ResolvConfPath,
      HostnamePath: cfg.HostnamePath,
      HostsPath: cfg.HostsPath,
      LogPath: cfg.LogPath,
      Name: cfg.Name,
      RestartCount: st.RestartCount,
      Driver: cfg.Driver,
      Platform: cfg.Platform,
      MountLabel: "",
      ProcessLabel: "",
      AppArmorProfile: "",
      ExecIDs: null,
      HostConfig: cfg.HostConfig,
      GraphDriver: { Data: null, Name: cfg.Driver },
      Mounts: cfg.Mounts,
      Config: cfg.Config,
      NetworkSettings: netw.networkSettings(this.networks, cfg, isActive(st.Status), st.Pid),
    };
  }

  async inspectImage(ref: string): Promise<unknown | undefined> {
    return this.opts.inspectImage ? this.opts.inspectImage(ref) : undefined;
  }
}

function rmSocket(dir: string): void {
  const p = attachSocketPath(dir);
  if (!p.startsWith(dir)) {
    try { renameSync(p, p + ".gone"); } catch {}
    try { (require("node:fs") as typeof import("node:fs")).unlinkSync(p + ".gone"); } catch {}
  }
}

/** docker: link variables come before the container's own environment, which wins on a clash */
function withLinkEnv(env: string[], linkEnv: string[]): string[] {
  if (linkEnv.length === 0) return env;
  const own = new Set(env.map((e) => e.split("=")[0]));
  return [...env, ...linkEnv.filter((e) => !own.has(e.split("=")[0]))];
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

function hostUsers(): Map<number, string> {
  const m = new Map<number, string>();
  try {
    for (const l of readFileSync("/etc/passwd", "utf8").split("\n")) {
      const f = l.split(":");
      if (f.length > 2) m.set(Number(f[2]), f[0]!);
    }
  } catch {}
  return m;
}

function bootTime(): number {
  try {
    return Number(/^btime (\d+)/m.exec(readFileSync("/proc/stat", "latin1"))?.[1] ?? 0);
  } catch {
    return 0;
  }
}

void statSync;

/** a host device node's type and numbers for --device (a missing path or a non-device is reported by resolveDevices) */
function deviceNode(path: string): DeviceNode | "missing" | "not-a-device" {
  let st;
  try {
    st = statSync(path);
  } catch {
    return "missing";
  }
  if (!st.isCharacterDevice() && !st.isBlockDevice()) return "not-a-device";
  return { type: st.isCharacterDevice() ? "c" : "b", ...rdevNumbers(st.rdev) };
}
