/**
 * `start`: a container runs under one supervisor, this process (`supervise`: foreground `run`,
 * `start -a`, a build step, the monitor) or a detached `berth __monitor` (`startDetached`: `run -d`,
 * `start`). Refresh the state → claim the start (canStart, under the container's lock) → build the
 * runtime spec → create through the runtime → record running, then the exit; the monitor applies the
 * restart policy between runs.
 */
import { closeSync, constants, openSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { EngineError, ExecError, type ErrorKind } from "../../../lib/errors.ts";
import { shortId } from "../../../lib/ids.ts";
import { mark } from "../../../lib/trace.ts";
import { setThreadName } from "../../../ffi/container-io.ts";
import type { ExitInfo } from "../../../runtime/types.ts";
import { parseLogConfig } from "../logs.ts";
import { readRootfsFile } from "../rootfs-files.ts";
import { buildSpec, resolveUser, volatileOverlay, resolveDevices, rdevNumbers, type DeviceNode, type SpecPaths } from "../oci-spec.ts";
import * as netw from "../networking.ts";
import { startError, startFailureStatus, supervise as runSupervised, type Handoff, type LocalIO, type Prepared } from "../supervisor.ts";
import { nextDelay, shouldRestart } from "../restart.ts";
import { canStart, isActive, ZERO_TIME, type ContainerConfigFile, type ContainerStateFile } from "../types.ts";
import { ev, type ContainerDeps } from "./deps.ts";
import { writeEtcFiles } from "./create.ts";
import { linkedContainers, withLinkEnv } from "./links.ts";
import { startHealth } from "./healthcheck.ts";
import { watchPauser } from "./pause.ts";
import { removeNow } from "./remove.ts";
import { closeSessions, exitInfoOf, handOff, type NativeExit } from "./native-monitor.ts";
import { nativeMonitorPath } from "../../../runtime/monitor.ts";
import { beginRestart, planRestart } from "./restart-policy.ts";
import { detachNetworks, netEvent, reapCgroup, refreshState, safeUpdate } from "./state.ts";

export interface ForegroundOptions {
  local?: LocalIO;
  /** local terminal size, when the user's stdin is a tty and the container has one */
  initialSize?: { rows: number; cols: number };
  onResizer?(resize: (s: { rows: number; cols: number }) => void): void;
  /** the container's pid, once running (for signal forwarding) */
  onStarted?(pid: number): void;
  /** a session will attach just after the start (the API's attach before start): keep the output until it comes */
  awaitAttach?: boolean;
}

/** the restart policy's next start found the container stopped by the user meanwhile */
class RestartCancelled extends Error {}

/** a host device node's type and numbers for --device (a missing path or a non-device is reported by resolveDevices) */
function deviceNode(path: string): DeviceNode | "missing" | "not-a-device" {
  let st;
  try {
    st = statSync(path);
  } catch {
    return "missing"; // resolveDevices reports it as docker does (no such file)
  }
  if (!st.isCharacterDevice() && !st.isBlockDevice()) return "not-a-device";
  return { type: st.isCharacterDevice() ? "c" : "b", ...rdevNumbers(st.rdev) };
}

/**
 * The container's writable snapshot. Create does not flush the snapshot's metadata on its own (its
 * record's flush commits it, ops/create.ts); should a power loss have taken the entry all the same, the
 * record names the image and the key, and the never-started layer is prepared again, empty as it was.
 */
async function containerMounts(d: ContainerDeps, cfg: ContainerConfigFile) {
  try {
    return await d.snapshots.mounts(cfg.Berth.SnapshotKey);
  } catch (e) {
    if (!(e instanceof EngineError && e.kind === "not_found" && e.message.startsWith(`snapshot ${JSON.stringify(cfg.Berth.SnapshotKey)}`))) throw e;
    const image = await d.images.resolve(cfg.Image);
    d.log.warn(`container ${shortId(cfg.Id)}: its snapshot was lost (a power loss after create?): prepared again from ${cfg.Image}`);
    return d.snapshots.prepare(cfg.Berth.SnapshotKey, image.topLayer, { "berth.container": cfg.Id });
  }
}

/** build everything the runtime needs; reads the image's passwd/group from the snapshot */
export async function buildRuntimeSpec(d: ContainerDeps, cfg: ContainerConfigFile, o: { nativeRelay?: boolean } = {}): Promise<Prepared> {
  let rootfs = await containerMounts(d, cfg);
  // a writable layer never mounted again (--rm, a build step): its changes are worthless after a host
  // crash anyway, so the container's unmount need not sync the upper filesystem
  if (cfg.HostConfig.AutoRemove || cfg.Berth.Ephemeral) rootfs = volatileOverlay(rootfs);
  const user = resolveUser(
    cfg.Config.User,
    { passwd: readRootfsFile(rootfs, "/etc/passwd"), group: readRootfsFile(rootfs, "/etc/group") },
    cfg.HostConfig.GroupAdd ?? [],
  );
  const mode = netw.primaryNetwork(cfg);
  writeEtcFiles(cfg, netw.isBridgeMode(mode));
  const paths: SpecPaths = { hostnamePath: cfg.HostnamePath, hostsPath: cfg.HostsPath, resolvConfPath: cfg.ResolvConfPath };
  // --ipc container:X / --pid container:X: X must run; its namespaces are joined
  const joinNs = (mode: string, ns: "ipc" | "pid", what: string): string | undefined => {
    if (!mode.startsWith("container:")) return undefined;
    const other = d.store.readConfig(d.store.resolve(mode.slice("container:".length)));
    const ost = refreshState(d, other.Id);
    if (!isActive(ost.Status) || !ost.Pid) throw new EngineError("failed_precondition", `cannot join ${what} of a non running container: ${other.Id}`);
    return `/proc/${ost.Pid}/ns/${ns}`;
  };
  paths.ipcnsPath = joinNs(cfg.HostConfig.IpcMode, "ipc", "IPC");
  paths.pidnsPath = joinNs(cfg.HostConfig.PidMode, "pid", "PID namespace");
  if (cfg.HostConfig.Devices?.length) paths.devices = resolveDevices(cfg.HostConfig.Devices, deviceNode);
  let whileCloning: (() => void) | undefined;
  let beforeStart: ((pid: number) => Promise<void>) | undefined;
  let linkEnv: string[] = [];
  const netMode = netw.networkMode(mode);
  if (netMode.attach === "container") {
    // docker: the other container's network namespace, /etc/hosts and resolv.conf
    const other = d.store.readConfig(d.store.resolve(netMode.container));
    const ost = refreshState(d, other.Id);
    if (!isActive(ost.Status) || !ost.Pid) throw new EngineError("failed_precondition", `cannot join network of a non running container: ${other.Id}`);
    paths.netnsPath = `/proc/${ost.Pid}/ns/net`;
    paths.hostsPath = other.HostsPath;
    paths.resolvConfPath = other.ResolvConfPath;
  } else if (netw.isBridgeMode(mode)) {
    // (--network none needs nothing here: the runtime brings lo up in every new network namespace)
    const links = linkedContainers(d, cfg);
    linkEnv = links.env;
    // the address, bridge and NAT while the kernel makes the child (the runtime calls whileCloning
    // then, or just before); the veths once it exists, while it mounts
    const fresh = d.createdHere.delete(cfg.Id);
    let prepared: ReturnType<typeof netw.prepareWire> | undefined;
    whileCloning = () => {
      prepared = netw.prepareWire(d.networks, cfg, { fresh });
    };
    beforeStart = async (pid) => {
      prepared ??= netw.prepareWire(d.networks, cfg, { fresh });
      const w = await netw.wire(d.networks, cfg, pid, links.hosts, prepared, { relayFd: o.nativeRelay });
      if (w.stopRelay) d.relays.set(cfg.Id, w.stopRelay);
      if (w.relay) out.relay = w.relay;
      if (w.proxies?.length) out.proxies = w.proxies;
      for (const ep of w.endpoints) netEvent(d, "connect", ep.network, cfg.Id, { id: ep.networkId, driver: ep.networkDriver });
    };
  }
  const spec = buildSpec(cfg, rootfs, user, paths);
  spec.process.env = withLinkEnv(spec.process.env, linkEnv);
  const out: Prepared = {
    cfg,
    spec,
    logPath: cfg.LogPath,
    log: parseLogConfig(cfg.HostConfig.LogConfig),
    dir: d.store.dir(cfg.Id),
    attachDir: d.attachDir,
    whileCloning,
    beforeStart,
  };
  return out;
}

/**
 * Claim the container for this process as its supervisor; false if it cannot start (already running).
 * A user's start clears an earlier manual stop; a restart by the policy does not, and gives up when a
 * stop came in since (stop can land between the back-off and this claim).
 */
export function claim(d: ContainerDeps, id: string, byPolicy = false): boolean | "stopped" {
  return d.store.withLock(id, () => {
    // this process starts it: a reconcile here must not hand it to another monitor as well
    const st = refreshState(d, id, { revive: false });
    if (!canStart(st.Status)) return false;
    if (byPolicy && (st.ManuallyStopped || !st.Restarting)) {
      d.store.writeState(id, { ...st, Restarting: false, MonitorPid: 0, MonitorStartTime: "" });
      return "stopped";
    }
    d.store.writeState(id, {
      ...st,
      Status: "running",
      Pid: 0,
      StartTime: "",
      MonitorPid: d.self.pid,
      MonitorStartTime: d.runtime.processStartTime(d.self.pid) ?? "",
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
 * monitor). Returns the exit information; throws when it cannot start (ExecError: the command).
 */
export async function supervise(
  d: ContainerDeps,
  id: string,
  fg?: ForegroundOptions,
  o: { byPolicy?: boolean; restartable?: boolean; handoff?: (p: Prepared, h: Handoff) => Promise<void>; nativeRelay?: boolean } = {},
): Promise<ExitInfo> {
  const byPolicy = !!o.byPolicy;
  const cfg = d.store.readConfig(id);
  const claimed = claim(d, id, byPolicy);
  if (claimed === "stopped") throw new RestartCancelled();
  if (!claimed) throw new EngineError("conflict", `container ${id} is already running`);
  let prepared: Prepared;
  try {
    mark("engine: claimed");
    prepared = await buildRuntimeSpec(d, cfg, { nativeRelay: o.nativeRelay });
    mark("engine: prepared (rootfs, etc files, spec)");
  } catch (e) {
    const err = startError(e, cfg.Path);
    recordStartFailure(d, id, err);
    await afterExit(d, cfg);
    throw err;
  }
  let stopHealth = () => {};
  let before: Pick<ContainerStateFile, "StartedAt" | "FinishedAt"> | undefined;
  try {
    return await runSupervised(
      prepared,
      {
        local: fg?.local,
        initialSize: fg?.initialSize,
        onResizer: fg?.onResizer,
        onStarted: fg?.onStarted,
        awaitAttach: fg?.awaitAttach,
        recordRunning: (pid, startTime, startedAt) => {
          safeUpdate(d, id, (st) => {
            before = { StartedAt: st.StartedAt, FinishedAt: st.FinishedAt };
            return {
              ...st,
              Status: st.Status === "paused" ? "paused" : "running",
              Pid: pid,
              StartTime: startTime,
              StartedAt: startedAt,
              FinishedAt: ZERO_TIME,
              ExitCode: 0,
            };
          });
        },
        onRunning: () => {
          volumeEvents(d, cfg, "mount");
          ev(d, "start", cfg);
          const stopChecks = startHealth(d, id, cfg);
          const stopWatch = watchPauser(d, id);
          stopHealth = () => {
            stopChecks();
            stopWatch();
          };
        },
        // an exec that failed after "running" was recorded: the times as they were before this start
        recordStartFailure: (err) => recordStartFailure(d, id, err, before),
        recordExit: (info, finishedAt) => {
          stopHealth();
          recordExit(d, cfg, info, finishedAt, !!o.restartable);
        },
        ...(o.handoff ? { handoff: (h: Handoff) => o.handoff!(prepared, h) } : {}),
      },
      d.runtime,
    );
  } finally {
    stopHealth();
    await afterExit(d, cfg);
  }
}

/**
 * A run's end in the record: the "die" event, the volumes' "unmount", OOMKilled from the cgroup, the
 * cgroup reaped, and the exit with the restart policy's decision — one update, so no rm or start can
 * slip in between "stopped" and "restarting" (detached: the monitor stays for the restart)
 */
export function recordExit(d: ContainerDeps, cfg: ContainerConfigFile, info: ExitInfo, finishedAt: string, restartable: boolean): void {
  const id = cfg.Id;
  let oom = info.oomKilled;
  try {
    if (!info.oomRead) oom ||= d.runtime.oomKilled(cfg.Berth.CgroupPath);
  } catch {} // no memory.events (cgroup gone): not known to be OOM
  // afterExit, which always follows, and its rm skip their reap (afterExit clears the mark)
  if (reapCgroup(d, cfg)) d.reapedHere.add(id);
  // with --rm the record goes right after: its exit need not reach the disk first
  const durable = cfg.HostConfig.AutoRemove ? false : undefined;
  safeUpdate(
    d,
    id,
    (st) => {
      const again =
        restartable &&
        shouldRestart(cfg.HostConfig.RestartPolicy, {
          exitCode: info.exitCode,
          restartCount: st.RestartCount ?? 0,
          manuallyStopped: !!st.ManuallyStopped,
        });
      const monitor = again
        ? { MonitorPid: d.self.pid, MonitorStartTime: d.runtime.processStartTime(d.self.pid) ?? "" }
        : { MonitorPid: 0, MonitorStartTime: "" };
      return {
        ...st,
        Status: "stopped",
        Pid: 0,
        StartTime: "",
        ...monitor,
        Restarting: again,
        ExitCode: info.exitCode,
        OOMKilled: oom,
        FinishedAt: finishedAt,
      };
    },
    durable,
  );
  // the events after the record, as dockerd logs "die" once the state says stopped: a client that saw
  // "die" (the daemon's wait, `events`) then finds the container stopped, and one that read "running"
  // before the update is sure to see the event after it. An OOM kill is dockerd's "oom" event first
  if (oom) ev(d, "oom", cfg, {});
  ev(d, "die", cfg, { exitCode: String(info.exitCode) });
  volumeEvents(d, cfg, "unmount");
}

export function recordStartFailure(d: ContainerDeps, id: string, err: EngineError, times?: Pick<ContainerStateFile, "StartedAt" | "FinishedAt">): void {
  safeUpdate(d, id, (st) => ({
    ...st,
    ...times,
    Status: "created",
    Pid: 0,
    StartTime: "",
    MonitorPid: 0,
    MonitorStartTime: "",
    ExitCode: startFailureStatus(err),
    Error: err.message,
  }));
}

/** awaited: the supervisor's process exits right after, and --rm must not stop half-way */
export async function afterExit(d: ContainerDeps, cfg: ContainerConfigFile): Promise<void> {
  try {
    reapCgroup(d, cfg);
    mark("engine: cgroup reaped");
    // its processes are gone (the cgroup reaped, the relays stopped first): the kernel deletes the veths
    // with the network namespace, this `run` need not wait for it
    let detached: boolean | undefined;
    const detach = () => (detached = detachNetworks(d, cfg, { exited: true }));
    if (cfg.HostConfig.AutoRemove) {
      try {
        // rm detaches once the record is gone, while its snapshot's files go on the thread pool; off
        // every network, and no published port holds a reservation: rm has nothing to release there
        await removeNow(d, cfg.Id, false, { releaseNetworks: () => detach() && netw.portSpecs(cfg).length === 0 });
        mark("engine: removed");
      } catch (e) {
        d.log.warn(`remove container ${shortId(cfg.Id)}: ${(e as Error).message}`);
      }
    }
    // no --rm, or an rm that stopped before it: the networks all the same
    if (detached === undefined) detach();
    mark("engine: networks detached");
  } finally {
    d.reapedHere.delete(cfg.Id);
  }
}

/** the monitor's one line to its spawner: "ok" once the container runs, or "err " + the error as JSON */
type MonitorError = { kind: ErrorKind; message: string; reason?: ExecError["reason"] };

function encodeMonitorError(err: EngineError): string {
  const m: MonitorError = { kind: err.kind, message: err.message.replace(/\n/g, " "), ...(err instanceof ExecError ? { reason: err.reason } : {}) };
  return `err ${JSON.stringify(m)}`;
}

function decodeMonitorError(json: string): EngineError {
  let m: MonitorError;
  try {
    m = JSON.parse(json);
  } catch {
    return new EngineError("internal", json); // not JSON: the text itself is the message
  }
  return m.reason ? new ExecError(m.reason, m.message) : new EngineError(m.kind, m.message);
}

/**
 * Start a container under a detached monitor (`run -d`, `start`): returns once it runs, or throws the
 * start error the monitor reported (kind and message as the monitor saw them).
 */
export async function startDetached(d: ContainerDeps, id: string, o: { awaitAttach?: boolean } = {}): Promise<void> {
  const st = refreshState(d, id);
  if (!canStart(st.Status)) return;
  const dir = d.store.dir(id);
  const logFd = openSync(join(dir, "monitor.log"), constants.O_WRONLY | constants.O_CREAT | constants.O_APPEND, 0o600);
  const argv = [...d.self.argv, "--root", d.berthRoot, "__monitor", ...(o.awaitAttach ? ["--await-attach"] : []), id];
  let proc;
  try {
    proc = Bun.spawn(argv, { stdin: "ignore", stdout: "pipe", stderr: logFd, detached: true, cwd: "/", env: d.self.monitorEnv() });
  } finally {
    closeSync(logFd);
  }
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
  if (line.startsWith("err ")) throw decodeMonitorError(line.slice(4));
  let detail = "";
  try {
    detail = readFileSync(join(dir, "monitor.log"), "utf8").trim().split("\n").slice(-1)[0] ?? "";
  } catch {
    // no log either: the message says the monitor died, without its last words
  }
  throw new EngineError("internal", `start container ${shortId(id)}: monitor exited before the container started${detail ? `: ${detail}` : ""}`);
}

export interface MonitorOptions {
  /** launched for a restart that a dead monitor owed (refreshState): back-off, then start by the policy */
  resume?: boolean;
  /** launched for a running container whose monitor died (refreshState): supervise it until it exits */
  adopt?: boolean;
  /** an API client attaches just after this start (ForegroundOptions.awaitAttach), for the first run */
  awaitAttach?: boolean;
  /** hand each run to the native monitor when it can serve it (ops/native-monitor.ts); default false */
  native?: boolean;
  /** exec'd again by the native monitor once the container exited: record it, then as after any run */
  exited?: NativeExit;
}

/**
 * `__monitor --adopt`: supervision of a container that runs on after its monitor died. Its pipes and
 * its exit status died with the old monitor, so this one watches its pid (start time checked) and,
 * when it is gone, records the exit as 255 (docker's code for an exit nobody saw) with the restart
 * policy's decision, and does what a monitor does after an exit. Undefined when there is nothing to
 * adopt (recorded stopped meanwhile, or another supervisor has it).
 */
async function adoptRunning(d: ContainerDeps, id: string): Promise<{ info: ExitInfo; ranMs: number } | undefined> {
  const cfg = d.store.readConfig(id);
  const me = { MonitorPid: d.self.pid, MonitorStartTime: d.runtime.processStartTime(d.self.pid) ?? "" };
  const adopted = d.store.withLock(id, () => {
    const st = d.store.readState(id);
    if (!isActive(st.Status)) return undefined;
    // launched for it (recorded as its monitor by the launcher), or its recorded monitor is dead
    if (st.MonitorPid !== d.self.pid && d.runtime.isAlive(st.MonitorPid, st.MonitorStartTime)) return undefined;
    d.store.writeState(id, { ...st, ...me });
    return st;
  });
  if (!adopted) return undefined;
  // (it may have exited already, while this monitor started: then its exit is recorded at once)
  if (adopted.Pid && d.runtime.isAlive(adopted.Pid, adopted.StartTime)) {
    const stopHealth = startHealth(d, id, cfg);
    const stopWatch = watchPauser(d, id);
    for (let delay = 20; d.runtime.isAlive(adopted.Pid, adopted.StartTime); delay = Math.min(delay * 2, 200)) await d.clock.sleep(delay);
    stopWatch();
    stopHealth();
  }
  const exitCode = adopted.Pid ? 255 : 128; // as refreshState records it: 128 when it never got a pid
  reapCgroup(d, cfg);
  safeUpdate(d, id, (st) => {
    if (st.MonitorPid !== d.self.pid) return st; // taken over meanwhile (rm -f, a newer monitor): theirs to record
    const again = shouldRestart(cfg.HostConfig.RestartPolicy, { exitCode, restartCount: st.RestartCount ?? 0, manuallyStopped: !!st.ManuallyStopped });
    const monitor = again ? me : { MonitorPid: 0, MonitorStartTime: "" };
    return {
      ...st,
      Status: "stopped",
      Pid: 0,
      StartTime: "",
      ...monitor,
      Restarting: again,
      ExitCode: exitCode,
      FinishedAt: new Date(d.clock.now()).toISOString(),
      Error: "container supervisor exited unexpectedly",
    };
  });
  // after the record, as in recordExit
  ev(d, "die", cfg, { exitCode: String(exitCode) });
  volumeEvents(d, cfg, "unmount");
  await afterExit(d, cfg);
  const started = Date.parse(adopted.StartedAt);
  return { info: { exitCode, oomKilled: false }, ranMs: Number.isFinite(started) ? d.clock.now() - started : 0 };
}

/**
 * The body of `berth __monitor <id>`: supervise (with `adopt`, first watch the running container; with
 * `resume`, first wait out the back-off), and again while the restart policy says so. `report` gets one
 * line for the spawner (startDetached), which the command writes to its stdout.
 */
export async function monitorMain(d: ContainerDeps, id: string, report: (line: string) => void, o: MonitorOptions = {}): Promise<number> {
  // comm becomes "berth-monitor" (the command line already reads `… __monitor <id>`)
  try {
    setThreadName("berth-monitor");
  } catch {
    // cosmetic: ps shows "berth" instead
  }
  let reported = !!o.exited; // the native monitor reported the first start already
  const reportOnce = (line: string) => {
    if (reported) return;
    reported = true;
    report(line);
  };
  try {
    let delay = o.exited?.delay ?? 0;
    let byPolicy = !!o.exited;
    if (o.resume) {
      // launched by the command that found this container's monitor dead (refreshState): the restart
      // that monitor owed, after the policy's first back-off, unless a stop or start came in meanwhile
      delay = nextDelay(0, 0);
      await d.clock.sleep(delay);
      if (!beginRestart(d, id)) return d.store.readState(id).ExitCode;
      byPolicy = true;
    }
    let adopted = o.adopt ? await adoptRunning(d, id) : o.exited ? await finishNativeRun(d, id, o.exited) : undefined;
    if (o.adopt && !adopted) return d.store.readState(id).ExitCode;
    const nativePath = o.native ? await nativeMonitorPath(join(d.berthRoot, "bin")) : undefined;
    for (;;) {
      let info: ExitInfo;
      let ranMs: number;
      if (adopted) {
        ({ info, ranMs } = adopted);
        adopted = undefined;
      } else {
        const began = d.clock.now();
        const handoff = nativePath ? (p: Prepared, h: Handoff) => handOff(d, p, h, { path: nativePath, report: !reported, delay, began }) : undefined;
        try {
          info = await supervise(
            d,
            id,
            { onStarted: () => reportOnce("ok"), awaitAttach: !!o.awaitAttach && !byPolicy },
            { byPolicy, restartable: true, handoff, nativeRelay: !!nativePath },
          );
        } catch (e) {
          if (e instanceof RestartCancelled) return d.store.readState(id).ExitCode;
          throw e;
        }
        ranMs = d.clock.now() - began;
      }
      byPolicy = true;
      const next = planRestart(d, id, ranMs, delay);
      if (next === undefined) return info.exitCode;
      delay = next;
      await d.clock.sleep(delay);
      if (!beginRestart(d, id)) return info.exitCode;
    }
  } catch (e) {
    const err = e instanceof EngineError ? e : startError(e, "");
    reportOnce(encodeMonitorError(err));
    return startFailureStatus(err);
  }
}

/**
 * `__monitor --exited`: the native monitor saw the container exit and exec'd this process again (same
 * pid). Record the exit as supervise() does, send the exit frame to the sessions it passed on, and do
 * what follows every run; the caller then applies the restart policy.
 */
async function finishNativeRun(d: ContainerDeps, id: string, x: NativeExit): Promise<{ info: ExitInfo; ranMs: number }> {
  const info = exitInfoOf(x.status);
  let cfg: ContainerConfigFile;
  try {
    cfg = d.store.readConfig(id);
  } catch (e) {
    closeSessions(x.clients, info.exitCode);
    throw e;
  }
  try {
    recordExit(d, cfg, info, x.finishedAt, true);
  } finally {
    closeSessions(x.clients, info.exitCode);
    await afterExit(d, cfg);
  }
  return { info, ranMs: d.clock.now() - x.began };
}

/**
 * docker's volume events around a run (moby daemon/volumes.go): "mount" for each volume before the
 * container's "start" (container, destination, driver, propagation, read/write), "unmount" after its "die"
 */
function volumeEvents(d: ContainerDeps, cfg: ContainerConfigFile, action: "mount" | "unmount"): void {
  for (const m of cfg.Mounts ?? []) {
    if (m.Type !== "volume" || !m.Name) continue;
    const driver = m.Driver || "local";
    const attrs: Record<string, string> =
      action === "mount"
        ? { container: cfg.Id, destination: m.Destination, driver, propagation: m.Propagation ?? "", "read/write": String(m.RW) }
        : { container: cfg.Id, driver };
    d.events.emit("volume", action, m.Name, attrs);
  }
}
