/**
 * `info`, `container prune` and `system prune`: docker's whole-engine views and clean-ups, composed from
 * the services (containers, images, networks, build cache). Pure helpers (filters, os-release) are
 * exported for tests.
 */
import { readFileSync, statfsSync } from "node:fs";
import { atomicWriteFile } from "../lib/atomic-write.ts";
import { randomUUID } from "node:crypto";
import { join } from "node:path";
import { arch as osArch, cpus, hostname, release, totalmem } from "node:os";
import { EngineError } from "../lib/errors.ts";
import type { ContainerService } from "./containers/index.ts";
import type { ImageService } from "./images.ts";
import type { SnapshotDriver } from "../cow/driver.ts";

/** the parts of the engine the system operations read (index.ts's Engine is one) */
export interface SystemParts {
  readonly root: string;
  readonly containers: ContainerService;
  readonly images: ImageService;
  readonly snapshots: SnapshotDriver;
}
import { cgroupSupport, detectLayout } from "../runtime/index.ts";
import { networkDrivers } from "../net/index.ts";
import type { SystemInfo } from "./api/system.ts";

export type { SystemInfo };

/** PRETTY_NAME and VERSION_ID from os-release(5) text */
export function parseOsRelease(text: string): { pretty: string; version: string } {
  const kv: Record<string, string> = {};
  for (const line of text.split("\n")) {
    const m = /^([A-Z_]+)=(.*)$/.exec(line.trim());
    if (m) kv[m[1]!] = m[2]!.replace(/^"(.*)"$/, "$1").replace(/^'(.*)'$/, "$1");
  }
  return { pretty: kv.PRETTY_NAME ?? kv.NAME ?? "Linux", version: kv.VERSION_ID ?? "" };
}

const read = (p: string) => {
  try {
    return readFileSync(p, "utf8");
  } catch {
    return ""; // absent on this host (no os-release, no machine-id, no memsw file): the callers' fallback or false
  }
};

/** ext4 and xfs magic numbers → docker's "Backing Filesystem" words */
function backingFs(dir: string): string {
  try {
    const t = statfsSync(dir).type;
    return ({ 0xef53: "extfs", 0x58465342: "xfs", 0x9123683e: "btrfs", 0x01021994: "tmpfs" } as Record<number, string>)[t] ?? `0x${t.toString(16)}`;
  } catch {
    return "unknown"; // statfs failed (root not created yet): docker prints a word here, not an error
  }
}

/** `GET /info`; `version`/`apiVersion`: the binary's own (the command layer knows them) */
export interface SystemInfoOptions {
  debug: boolean;
  version: string;
  apiVersion: string;
  /** the default log driver of new containers (daemon.json's log-driver); json-file when unset */
  loggingDriver?: string;
}

export async function systemInfo(e: SystemParts, o: SystemInfoOptions): Promise<SystemInfo> {
  const debug = o.debug;
  const ctrs = e.containers.list(true);
  const count = (s: string[]) => ctrs.filter((c) => s.includes(c.state.Status)).length;
  const images = await e.images.list();
  const layout = detectLayout();
  const controllers = new Set(layout.hierarchies.flatMap((h) => h.controllers));
  const os = parseOsRelease(read("/etc/os-release") || read("/usr/lib/os-release"));
  const warnings: string[] = [];
  if (!controllers.has("memory")) warnings.push("WARNING: No memory limit support");
  if (!controllers.has("pids")) warnings.push("WARNING: No pids limit support");
  const cpu = osArch();
  const arch = cpu === "x64" ? "x86_64" : cpu === "arm64" ? "aarch64" : cpu;
  return {
    ID: engineId(e.root),
    Containers: ctrs.length,
    ContainersRunning: count(["running", "restarting"]),
    ContainersPaused: count(["paused"]),
    ContainersStopped: ctrs.length - count(["running", "restarting", "paused"]),
    Images: images.length,
    Driver: e.snapshots.name,
    DriverStatus: [["Backing Filesystem", backingFs(e.root)], ...(e.snapshots.status?.() ?? [])],
    // the registered network drivers by their driver names, sorted as dockerd lists them (null, not none)
    Plugins: {
      Volume: ["local"],
      Network: networkDrivers()
        .map((d) => d.name)
        .sort(),
      Log: ["json-file", "none"],
    },
    MemoryLimit: controllers.has("memory"),
    SwapLimit: read("/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes") !== "" || read("/sys/fs/cgroup/memory.swap.max") !== "",
    CpuCfsPeriod: controllers.has("cpu"),
    CpuCfsQuota: controllers.has("cpu"),
    CPUShares: controllers.has("cpu"),
    CPUSet: controllers.has("cpuset"),
    PidsLimit: controllers.has("pids"),
    // dockerd's sysinfo: v1's memory.oom_control (`run --oom-kill-disable` works); never on v2
    OomKillDisable: cgroupSupport(layout).oomKillDisable,
    IPv4Forwarding: read("/proc/sys/net/ipv4/ip_forward").trim() === "1",
    Debug: debug,
    SystemTime: new Date().toISOString(),
    LoggingDriver: o.loggingDriver || "json-file",
    CgroupDriver: "cgroupfs",
    CgroupVersion: layout.kind === "v2" ? "2" : "1",
    KernelVersion: release(),
    OperatingSystem: os.pretty,
    OSVersion: os.version,
    OSType: "linux",
    Architecture: arch,
    NCPU: cpus().length,
    MemTotal: totalmem(),
    DockerRootDir: e.root,
    Name: hostname(),
    Labels: [],
    ExperimentalBuild: false,
    ServerVersion: o.version,
    ApiVersion: o.apiVersion,
    // every container has its own monitor, so none depends on a daemon process staying up (dockerd's
    // live-restore, always on, with or without `berth daemon`)
    LiveRestoreEnabled: true,
    Warnings: warnings.length ? warnings : null,
  };
}

/** a stable id for this host: /etc/machine-id, else the boot id */
function machineId(): string {
  return (read("/etc/machine-id") || read("/proc/sys/kernel/random/boot_id")).trim();
}

/**
 * dockerd's engine ID (daemon/id.go LoadOrCreateID): a UUID made once per root and kept in
 * <root>/engine-id, so two roots on one host are two engines (the machine id was the same for all).
 * Written as every durable record is (tmp → fsync → rename): a power loss leaves it whole or absent.
 */
function engineId(root: string): string {
  const path = join(root, "engine-id");
  const have = read(path).trim();
  if (have) return have;
  try {
    atomicWriteFile(path, randomUUID());
  } catch {} // a root this user cannot write: the machine id below
  return read(path).trim() || machineId();
}

// ------------------------------------------------------------------------------------------ prune

export interface PruneFilter {
  /** `until=<timestamp|duration>`: only objects created before this time (ms since epoch) */
  until?: number;
  /** `label=k`, `label=k=v` (all must match); `label!=…` (none may match) */
  labels: string[];
  notLabels: string[];
}

/**
 * docker's prune filters: `until` (RFC 3339 date, unix seconds, or a Go duration like 24h / 90m before
 * now) and `label` / `label!`. Anything else is docker's error for an invalid filter.
 */
export function parsePruneFilters(filters: string[], now = Date.now()): PruneFilter {
  const f: PruneFilter = { labels: [], notLabels: [] };
  for (const raw of filters) {
    const neg = /^label!=/.exec(raw);
    const eq = raw.indexOf("=");
    if (eq < 0) throw new EngineError("invalid_argument", `bad format of filter (expected name=value)`);
    const key = neg ? "label!" : raw.slice(0, eq);
    const value = neg ? raw.slice("label!=".length) : raw.slice(eq + 1);
    if (key === "label") f.labels.push(value);
    else if (key === "label!") f.notLabels.push(value);
    else if (key === "until") f.until = parseUntil(value, now);
    else throw new EngineError("invalid_argument", `invalid filter '${key}'`);
  }
  return f;
}

function parseUntil(v: string, now: number): number {
  const dur = /^(?:(\d+(?:\.\d+)?)h)?(?:(\d+(?:\.\d+)?)m)?(?:(\d+(?:\.\d+)?)s)?$/.exec(v);
  if (dur && v !== "" && (dur[1] || dur[2] || dur[3])) {
    return now - ((Number(dur[1] ?? 0) * 60 + Number(dur[2] ?? 0)) * 60 + Number(dur[3] ?? 0)) * 1000;
  }
  if (/^\d+(\.\d+)?$/.test(v)) return Number(v) * 1000;
  const t = Date.parse(v);
  if (Number.isNaN(t)) throw new EngineError("invalid_argument", `failed to parse value as time or duration: "${v}"`);
  return t;
}

export function matchesPrune(f: PruneFilter, created: string, labels: Record<string, string>): boolean {
  if (f.until !== undefined && !(Date.parse(created) < f.until)) return false;
  const has = (l: string) => {
    const i = l.indexOf("=");
    return i < 0 ? l in labels : labels[l.slice(0, i)] === l.slice(i + 1);
  };
  return f.labels.every(has) && !f.notLabels.some(has);
}

/** `container prune`: every container not running, paused or restarting that matches the filters */
export async function pruneContainers(e: SystemParts, f: PruneFilter): Promise<{ deleted: string[]; reclaimed: number }> {
  const deleted: string[] = [];
  let reclaimed = 0;
  await e.containers.sweepHalfCreated();
  for (const c of e.containers.list(true)) {
    if (["running", "paused", "restarting", "removing"].includes(c.state.Status) || c.state.Restarting) continue;
    if (!matchesPrune(f, c.cfg.Created, c.cfg.Config.Labels ?? {})) continue;
    let size = 0;
    try {
      size = (await e.snapshots.usage(c.cfg.Berth.SnapshotKey)).apparent; // docker's SizeRw
    } catch {} // its snapshot is gone already: nothing reclaimed for it
    try {
      await e.containers.rm(c.cfg.Id, false);
    } catch (err) {
      // started or removed meanwhile by another command: not ours to prune any more
      if (
        err instanceof EngineError &&
        (err.kind === "not_found" || err.kind === "conflict" || err.kind === "failed_precondition" || err.kind === "already_exists")
      )
        continue;
      throw err;
    }
    deleted.push(c.cfg.Id);
    reclaimed += size;
  }
  return { deleted, reclaimed };
}

/** `network prune`, for `system prune` */
export function pruneNetworks(e: SystemParts): string[] {
  return e.containers.networks.prune(e.containers.isKnownContainer);
}

/**
 * `system prune`'s last step: everything dead processes left behind (leases, unpack snapshots, ingests,
 * including partial pulls a retry could have resumed) and what only those held. Returns bytes freed.
 */
export async function pruneLeftovers(e: SystemParts): Promise<number> {
  return (await e.images.collectGarbage([], { allIngests: true })).freedBytes;
}
