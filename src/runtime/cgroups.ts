/**
 * cgroup writers: plain file writes into cgroupfs, with the root injectable (unit tests write into a
 * temp dir). Three host layouts, detected from /proc/self/mountinfo:
 *  - v1: one hierarchy per controller (cpu, memory, pids, devices, freezer, …);
 *  - hybrid: v1 controllers plus a cgroup2 mount (usually /sys/fs/cgroup/unified) holding no controller
 *    berth needs (systemd's "hybrid" mode). It is joined, never required to be empty or to have
 *    controllers, so limits come from v1;
 *  - v2: one unified hierarchy; controllers are enabled down the path through cgroup.subtree_control.
 *
 * Paths are relative to each hierarchy's root ("berth/<id>"). Nothing here decides policy: the
 * ResourceSpec says what to write.
 */
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, readdirSync, rmdirSync, writeFileSync, writeSync } from "node:fs";
import { EngineError } from "../lib/errors.ts";
import type { ResourceSpec } from "./types.ts";
import type { CgroupMount } from "./mount-plan.ts";
import { installDeviceFilter } from "../ffi/bpf.ts";
import { deviceFilterProgram, parseDeviceRule } from "./devices.ts";

export interface Hierarchy {
  /** mount point on the host */
  dir: string;
  type: "cgroup" | "cgroup2";
  /** v1 controllers (and "name=systemd"-style names); for v2, cgroup.controllers of the root */
  controllers: string[];
}

export interface CgroupLayout {
  kind: "v1" | "hybrid" | "v2";
  hierarchies: Hierarchy[];
}

/** parse mountinfo text (proc(5)): field 5 is the mount point, after " - " come fstype, source, options */
export function parseLayout(mountinfo: string): CgroupLayout {
  const hierarchies: Hierarchy[] = [];
  for (const line of mountinfo.split("\n")) {
    const sep = line.indexOf(" - ");
    if (sep < 0) continue;
    const [fstype, , superOpts = ""] = line.slice(sep + 3).split(" ");
    if (fstype !== "cgroup" && fstype !== "cgroup2") continue;
    const dir = line.split(" ")[4]!.replace(/\\040/g, " ");
    if (line.split(" ")[3] !== "/") continue; // a bind of a sub-cgroup, not a hierarchy root
    const controllers =
      fstype === "cgroup"
        ? superOpts
            .split(",")
            .filter(
              (o) =>
                !["rw", "ro", "relatime", "noatime", "nosuid", "nodev", "noexec", "xattr", "clone_children", "nsdelegate", "memory_recursiveprot"].includes(
                  o,
                ) && !o.startsWith("release_agent="),
            )
        : readControllers(dir);
    if (hierarchies.some((h) => h.dir === dir)) continue;
    hierarchies.push({ dir, type: fstype, controllers });
  }
  const v1 = hierarchies.some((h) => h.type === "cgroup" && !h.controllers.every((c) => c.startsWith("name=")));
  const v2 = hierarchies.some((h) => h.type === "cgroup2");
  if (!v1 && !v2) throw new EngineError("unavailable", "cgroups: no cgroup filesystem is mounted");
  return { kind: v1 ? (v2 ? "hybrid" : "v1") : "v2", hierarchies };
}

function readControllers(dir: string): string[] {
  try {
    return readFileSync(`${dir}/cgroup.controllers`, "utf8").trim().split(/\s+/).filter(Boolean);
  } catch {
    return []; // a cgroup2 mount without cgroup.controllers offers no controllers
  }
}

let cached: CgroupLayout | undefined;
export function detectLayout(): CgroupLayout {
  return (cached ??= parseLayout(readFileSync("/proc/self/mountinfo", "utf8")));
}

/** what the container mounts under /sys/fs/cgroup (its own cgroup-namespace view) */
export function cgroupMountsFor(layout: CgroupLayout): CgroupMount[] {
  if (layout.kind === "v2") return [{ name: "", fstype: "cgroup2", hostDir: unified(layout)!.dir }];
  return layout.hierarchies.map((h) => {
    const name = h.dir.slice(h.dir.lastIndexOf("/") + 1);
    if (h.type === "cgroup2") return { name, fstype: "cgroup2" as const, hostDir: h.dir };
    const data = h.controllers.every((c) => c.startsWith("name=")) ? `none,${h.controllers.join(",")}` : h.controllers.join(",");
    return { name, fstype: "cgroup" as const, data, hostDir: h.dir };
  });
}

/**
 * What --oom-kill-disable and --blkio-weight can be written to here, as dockerd's pkg/sysinfo decides it:
 * v1, memory.oom_control and blkio.weight at the hierarchy's root (blkio.bfq.weight is the file runc
 * writes where the bfq scheduler has it); v2, no OOM-killer switch and the io controller's io.weight
 */
export function cgroupSupport(layout = detectLayout()): { oomKillDisable: boolean; blkioWeightFile?: string } {
  if (layout.kind === "v2") return { oomKillDisable: false, ...(unified(layout)!.controllers.includes("io") ? { blkioWeightFile: "io.weight" } : {}) };
  const memory = v1(layout, "memory"),
    blkio = v1(layout, "blkio");
  const weight = blkio && existsSync(`${blkio.dir}/blkio.weight`);
  return {
    oomKillDisable: !!memory && existsSync(`${memory.dir}/memory.oom_control`),
    ...(weight ? { blkioWeightFile: existsSync(`${blkio.dir}/blkio.bfq.weight`) ? "blkio.bfq.weight" : "blkio.weight" } : {}),
  };
}

const v1 = (l: CgroupLayout, controller: string) => l.hierarchies.find((h) => h.type === "cgroup" && h.controllers.includes(controller));
const unified = (l: CgroupLayout) => l.hierarchies.find((h) => h.type === "cgroup2");

function write(file: string, value: string | number): void {
  try {
    writeFileSync(file, String(value));
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? "EIO";
    throw new EngineError(code === "ENOENT" ? "not_found" : "internal", `cgroup: write ${JSON.stringify(String(value))} to ${file}: ${(e as Error).message}`, {
      cause: e,
    });
  }
}

/** several values into one control file, one write(2) each through one open file (devices.allow takes one
 * rule per write): 12 rules were 48 syscalls as 12 writeFileSyncs */
function writeEach(file: string, values: string[]): void {
  let fd: number | undefined;
  let value = "";
  try {
    fd = openSync(file, "w");
    for (value of values) writeSync(fd, value);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? "EIO";
    throw new EngineError(code === "ENOENT" ? "not_found" : "internal", `cgroup: write ${JSON.stringify(value)} to ${file}: ${(e as Error).message}`, {
      cause: e,
    });
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

function read(file: string): string | undefined {
  try {
    return readFileSync(file, "utf8");
  } catch {
    return undefined; // absent file (controller not enabled, cgroup gone): callers read undefined as empty/unknown
  }
}

/** every directory the cgroup `path` has (one per hierarchy) */
export function cgroupDirs(path: string, layout = detectLayout()): string[] {
  return layout.hierarchies.map((h) => `${h.dir}/${clean(path)}`);
}

function clean(path: string): string {
  const parts = path.split("/").filter(Boolean);
  if (parts.length === 0 || parts.some((p) => p === "." || p === ".."))
    throw new EngineError("invalid_argument", `cgroup path ${JSON.stringify(path)}: must be relative and non-empty`);
  return parts.join("/");
}

/** docker's default device allow-list (runc libcontainer/specconv AllowedDevices), v1 syntax */
export const DEFAULT_DEVICE_RULES = [
  "c *:* m",
  "b *:* m",
  "c 1:3 rwm",
  "c 1:5 rwm",
  "c 1:7 rwm",
  "c 1:8 rwm",
  "c 1:9 rwm", // null zero full random urandom
  "c 5:0 rwm",
  "c 5:1 rwm",
  "c 5:2 rwm", // tty console ptmx
  "c 136:* rwm", // pts
  "c 10:200 rwm", // net/tun
];

export interface CreateOptions {
  privileged?: boolean;
  layout?: CgroupLayout;
  /** cgroup v2: load and attach the device program (default: bpf(2) through src/ffi/bpf.ts) */
  installDeviceFilter?: (cgroupDir: string, program: Uint8Array) => void;
}

/** make the cgroup in every hierarchy and write the limits; the cgroup is empty afterwards */
export function createCgroup(path: string, resources: ResourceSpec, opts: CreateOptions = {}): void {
  const layout = opts.layout ?? detectLayout();
  const rel = clean(path);
  for (const h of layout.hierarchies) {
    // the shared parent ("berth") stays once made, but a test's clean-up (or an admin) may rmdir it
    // between our mkdirs: start over then
    for (let attempt = 0; ; attempt++) {
      try {
        if (layout.kind === "v2") enableControllers(h, rel);
        mkdirs(h, rel);
        break;
      } catch (e) {
        if (attempt >= 5 || !/ENOENT|no such file/i.test(String((e as Error)?.message))) throw e;
      }
    }
  }
  if (layout.kind === "v2") {
    applyV2(layout, rel, resources);
    // v2 has no devices.allow: the same list as a BPF program (devices.ts); --privileged gets none
    if (!opts.privileged)
      (opts.installDeviceFilter ?? installDeviceFilter)(
        `${unified(layout)!.dir}/${rel}`,
        deviceFilterProgram([...DEFAULT_DEVICE_RULES, ...(resources.deviceRules ?? [])].map(parseDeviceRule)),
      );
  } else applyV1(layout, rel, resources, !!opts.privileged);
  writeFiles(layout, rel, resources);
}

/** ResourceSpec.files: each into the hierarchy that has its controller (v1) or the unified one (v2) */
function writeFiles(layout: CgroupLayout, rel: string, r: ResourceSpec): void {
  for (const f of r.files ?? []) {
    const h = layout.kind === "v2" ? unified(layout) : (v1(layout, f.controller) ?? (f.controller === "" ? unified(layout) : undefined));
    if (!h) throw new EngineError("unavailable", `cgroup: no hierarchy with the ${f.controller || "unified"} controller for ${f.file}`);
    write(`${h.dir}/${rel}/${f.file}`, f.value);
  }
}

/** mkdir -p under a hierarchy; cpuset needs cpus/mems copied down or joining fails with ENOSPC */
function mkdirs(h: Hierarchy, rel: string): void {
  // the usual case: every level above is there (berth/ stays once made), one mkdir(2) in all
  const leaf = `${h.dir}/${rel}`;
  const parentOf = (dir: string) => dir.slice(0, dir.lastIndexOf("/"));
  let made = false;
  try {
    mkdirSync(leaf);
    made = true;
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "EEXIST") return;
    if (code !== "ENOENT") throw new EngineError("internal", `cgroup: mkdir ${leaf}: ${(e as Error).message}`, { cause: e });
  }
  if (made) {
    // (its own errors name the file written, not the mkdir)
    inheritCpuset(h, leaf, parentOf(leaf));
    return;
  }
  let dir = h.dir;
  for (const part of rel.split("/")) {
    const parent = dir;
    dir = `${dir}/${part}`;
    // one mkdir(2) per level, no stat first: EEXIST says it was there (and set up by its creator)
    try {
      mkdirSync(dir);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "EEXIST") continue;
      throw new EngineError("internal", `cgroup: mkdir ${dir}: ${(e as Error).message}`, { cause: e });
    }
    inheritCpuset(h, dir, parent);
  }
}

/** a v1 cpuset cgroup starts with no cpus and mems (unless cgroup.clone_children): its parent's, as runc does */
function inheritCpuset(h: Hierarchy, dir: string, parent: string): void {
  if (h.type !== "cgroup" || !h.controllers.includes("cpuset")) return;
  let copied = false;
  for (const f of ["cpuset.cpus", "cpuset.mems"]) {
    if ((read(`${dir}/${f}`) ?? "").trim() !== "") continue;
    write(`${dir}/${f}`, (read(`${parent}/${f}`) ?? "").trim());
    copied = true;
  }
  // from now on the kernel copies them at mkdir (and the flag passes to the children it makes): a
  // write of cpuset.cpus costs 0.1–0.6 ms (it rebuilds the scheduling domains), an mkdir's copy does
  // not. Only in berth's own cgroups: the hierarchy's root is the host's
  if (copied && parent !== h.dir && (read(`${parent}/cgroup.clone_children`) ?? "").trim() === "0") {
    try {
      write(`${parent}/cgroup.clone_children`, "1");
    } catch {} // a speed-up only: the explicit copy above goes on working
  }
}

function enableControllers(h: Hierarchy, rel: string): void {
  const wanted = ["cpu", "memory", "pids", "io", "cpuset"].filter((c) => h.controllers.includes(c));
  if (!wanted.length) return;
  let dir = h.dir;
  for (const part of rel.split("/")) {
    const have = (read(`${dir}/cgroup.subtree_control`) ?? "").trim().split(/\s+/);
    const missing = wanted.filter((c) => !have.includes(c));
    if (missing.length) write(`${dir}/cgroup.subtree_control`, missing.map((c) => `+${c}`).join(" "));
    dir = `${dir}/${part}`;
    try {
      mkdirSync(dir);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
    }
  }
}

/**
 * `update` of a running container: write the limits given (the others stay). v1 memory: the memsw limit
 * must never be below the memory limit, so when memory grows past the current memsw, memsw goes first.
 */
export function updateCgroup(path: string, r: ResourceSpec, layout = detectLayout()): void {
  const rel = clean(path);
  writeFiles(layout, rel, r);
  if (layout.kind === "v2") return applyV2(layout, rel, r);
  const mem = v1(layout, "memory");
  if (mem && r.memory !== undefined && r.memory > 0) {
    const memsw = `${mem.dir}/${rel}/memory.memsw.limit_in_bytes`;
    const want = r.memorySwap === undefined ? undefined : r.memorySwap < 0 ? -1 : r.memorySwap;
    const cur = Number((read(memsw) ?? "").trim());
    if (want !== undefined && existsSync(memsw) && (want === -1 || r.memory > cur)) {
      write(memsw, want);
      write(`${mem.dir}/${rel}/memory.limit_in_bytes`, r.memory);
    } else {
      write(`${mem.dir}/${rel}/memory.limit_in_bytes`, r.memory);
      if (want !== undefined && existsSync(memsw)) write(memsw, want);
    }
  }
  applyV1(layout, rel, { ...r, memory: undefined }, true);
}

function applyV1(layout: CgroupLayout, rel: string, r: ResourceSpec, privileged: boolean): void {
  const mem = v1(layout, "memory");
  if (mem && r.memory !== undefined && r.memory > 0) {
    write(`${mem.dir}/${rel}/memory.limit_in_bytes`, r.memory);
    // memsw exists only with swap accounting; docker's default total is twice the memory limit
    const memsw = `${mem.dir}/${rel}/memory.memsw.limit_in_bytes`;
    if (existsSync(memsw)) write(memsw, r.memorySwap === undefined ? 2 * r.memory : r.memorySwap < 0 ? -1 : r.memorySwap);
  }
  const cpu = v1(layout, "cpu");
  if (cpu && (r.cpuQuota || r.cpuPeriod)) {
    if (r.cpuPeriod) write(`${cpu.dir}/${rel}/cpu.cfs_period_us`, r.cpuPeriod);
    if (r.cpuQuota) write(`${cpu.dir}/${rel}/cpu.cfs_quota_us`, r.cpuQuota);
  } else if (cpu && r.cpus !== undefined && r.cpus > 0) {
    write(`${cpu.dir}/${rel}/cpu.cfs_period_us`, 100000);
    write(`${cpu.dir}/${rel}/cpu.cfs_quota_us`, Math.round(r.cpus * 100000));
  }
  if (cpu && r.cpuShares) write(`${cpu.dir}/${rel}/cpu.shares`, r.cpuShares);
  const pids = v1(layout, "pids");
  if (pids && r.pidsLimit !== undefined && r.pidsLimit > 0) write(`${pids.dir}/${rel}/pids.max`, r.pidsLimit);
  if (mem && r.memoryReservation) write(`${mem.dir}/${rel}/memory.soft_limit_in_bytes`, r.memoryReservation);
  const cs = v1(layout, "cpuset");
  if (cs && r.cpusetCpus) write(`${cs.dir}/${rel}/cpuset.cpus`, r.cpusetCpus);
  if (cs && r.cpusetMems) write(`${cs.dir}/${rel}/cpuset.mems`, r.cpusetMems);
  const dev = v1(layout, "devices");
  if (dev && !privileged) {
    write(`${dev.dir}/${rel}/devices.deny`, "a");
    writeEach(`${dev.dir}/${rel}/devices.allow`, [...DEFAULT_DEVICE_RULES, ...(r.deviceRules ?? [])]);
  }
}

function applyV2(layout: CgroupLayout, rel: string, r: ResourceSpec): void {
  const dir = `${unified(layout)!.dir}/${rel}`;
  const has = (f: string) => existsSync(`${dir}/${f}`);
  if (r.memory !== undefined && r.memory > 0 && has("memory.max")) {
    write(`${dir}/memory.max`, r.memory);
    if (has("memory.swap.max")) {
      const swap = r.memorySwap === undefined ? r.memory : r.memorySwap < 0 ? "max" : Math.max(0, r.memorySwap - r.memory);
      write(`${dir}/memory.swap.max`, swap);
    }
  }
  if ((r.cpuQuota || r.cpuPeriod) && has("cpu.max")) {
    // "$MAX $PERIOD"; a period alone keeps the limit it has
    const [max] = readFileSync(`${dir}/cpu.max`, "utf8").trim().split(" ");
    write(`${dir}/cpu.max`, `${r.cpuQuota ? (r.cpuQuota < 0 ? "max" : r.cpuQuota) : max} ${r.cpuPeriod || 100000}`);
  } else if (r.cpus !== undefined && r.cpus > 0 && has("cpu.max")) write(`${dir}/cpu.max`, `${Math.round(r.cpus * 100000)} 100000`);
  // runc's shares → weight conversion (libcontainer/cgroups/utils.go ConvertCPUSharesToCgroupV2Value)
  if (r.cpuShares && has("cpu.weight")) write(`${dir}/cpu.weight`, Math.floor(1 + ((r.cpuShares - 2) * 9999) / 262142));
  if (r.pidsLimit !== undefined && r.pidsLimit > 0 && has("pids.max")) write(`${dir}/pids.max`, r.pidsLimit);
  if (r.memoryReservation && has("memory.low")) write(`${dir}/memory.low`, r.memoryReservation);
  if (r.cpusetCpus && has("cpuset.cpus")) write(`${dir}/cpuset.cpus`, r.cpusetCpus);
  if (r.cpusetMems && has("cpuset.mems")) write(`${dir}/cpuset.mems`, r.cpusetMems);
}

/**
 * How a new process joins the cgroup `path` by itself (the shim's child, see shim.c cgroup_join): the
 * `tasks` file of every v1 hierarchy, and the v2 directory it is cloned into (clone3 CLONE_INTO_CGROUP).
 */
export function joinTargets(path: string, layout = detectLayout()): { tasks: string[]; v2Dir?: string } {
  const rel = clean(path);
  const v2 = unified(layout);
  return {
    tasks: layout.hierarchies.filter((h) => h.type === "cgroup").map((h) => `${h.dir}/${rel}/tasks`),
    ...(v2 ? { v2Dir: `${v2.dir}/${rel}` } : {}),
  };
}

/** whether any hierarchy still has the cgroup `path` */
export function cgroupExists(path: string, layout = detectLayout()): boolean {
  return cgroupDirs(path, layout).some((d) => existsSync(d));
}

/** move an existing process `pid` (all its threads) into the cgroup */
export function joinCgroup(path: string, pid: number, layout = detectLayout()): void {
  for (const dir of cgroupDirs(path, layout)) write(`${dir}/cgroup.procs`, pid);
}

/** pids in the cgroup (the memory or pids hierarchy on v1, the unified one on v2) */
export function cgroupPids(path: string, layout = detectLayout()): number[] {
  const h = layout.kind === "v2" ? unified(layout) : (v1(layout, "pids") ?? v1(layout, "memory") ?? layout.hierarchies[0]);
  const text = h ? read(`${h.dir}/${clean(path)}/cgroup.procs`) : undefined;
  return (text ?? "").split("\n").filter(Boolean).map(Number);
}

export function freeze(path: string, layout = detectLayout()): void {
  return setFrozen(path, true, layout);
}

export function thaw(path: string, layout = detectLayout()): void {
  return setFrozen(path, false, layout);
}

/** freezing is asynchronous in the kernel: write, then wait (briefly, synchronously: callers hold the
 * container's lock) until the state file says it is done */
function setFrozen(path: string, frozen: boolean, layout: CgroupLayout): void {
  const rel = clean(path);
  const fz = layout.kind === "v2" ? undefined : v1(layout, "freezer");
  let done: () => boolean;
  if (fz) {
    const file = `${fz.dir}/${rel}/freezer.state`;
    write(file, frozen ? "FROZEN" : "THAWED");
    done = () => (read(file) ?? "").trim() === (frozen ? "FROZEN" : "THAWED");
  } else {
    const u = unified(layout);
    if (!u) throw new EngineError("unavailable", "cgroup: no freezer hierarchy");
    write(`${u.dir}/${rel}/cgroup.freeze`, frozen ? 1 : 0);
    done = () => new RegExp(`^frozen ${frozen ? 1 : 0}$`, "m").test(read(`${u.dir}/${rel}/cgroup.events`) ?? "");
  }
  for (let i = 0; i < 1000 && !done(); i++) Bun.sleepSync(2);
  if (!done()) throw new EngineError("unavailable", `cgroup ${rel}: ${frozen ? "freeze" : "thaw"} did not complete`);
}

export interface CgroupStats {
  memoryUsage: number;
  /** bytes; Infinity when unlimited */
  memoryLimit: number;
  cpuNs: number;
  pids: number;
  /** bytes read from / written to block devices, as docker's BLOCK I/O sums them */
  blkioRead: number;
  blkioWrite: number;
  /** the same per device and operation, as the kernel counts them */
  blkioDevices?: BlkioRow[];
  /** CPU time in user and kernel mode (v2 cpu.stat, v1 cpuacct.stat), ns */
  cpuUserNs?: number;
  cpuSystemNs?: number;
  /** per-CPU usage (v1 cpuacct.usage_percpu; v2 has none), ns */
  percpuNs?: number[];
  /** CFS bandwidth: periods, throttled periods, throttled time in ns (cpu.stat of either version) */
  throttling?: { periods: number; throttledPeriods: number; throttledNs: number };
  /** memory.stat as the kernel writes it (v1 has total_* keys, v2 anon/file/inactive_file/…) */
  memoryStat?: Record<string, number>;
}

/** "key value" lines (memory.stat, cpu.stat, cpuacct.stat) */
export function parseKeyValues(text: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of text.split("\n")) {
    const [k, v] = line.trim().split(/\s+/);
    if (k && v !== undefined && Number.isFinite(Number(v))) out[k] = Number(v);
  }
  return out;
}

/**
 * docker's BLOCK I/O: the "Read"/"Write" rows of io_service_bytes (v1, "<maj:min> <Op> <bytes>") or the
 * rbytes=/wbytes= fields of io.stat (v2), summed over every device. The v1 file is the one runc and
 * containerd read: the CFQ/BFQ scheduler's recursive counters when the kernel has them, else
 * blk-throttle's (which counts only bios of a cgroup that has a throttle rule on that device).
 */
export function parseBlkio(text: string, kind: "v1" | "v2"): { read: number; write: number; devices: BlkioRow[] } {
  let read = 0,
    write = 0;
  const devices: BlkioRow[] = [];
  for (const line of text.split("\n")) {
    const dev = /^(\d+):(\d+)\s/.exec(line);
    if (kind === "v2") {
      const r = Number(/\brbytes=(\d+)/.exec(line)?.[1] ?? 0);
      const w = Number(/\bwbytes=(\d+)/.exec(line)?.[1] ?? 0);
      read += r;
      write += w;
      // dockerd's rows for cgroup v2: "read" and "write" per device
      if (dev)
        devices.push(
          { major: Number(dev[1]), minor: Number(dev[2]), op: "read", value: r },
          { major: Number(dev[1]), minor: Number(dev[2]), op: "write", value: w },
        );
      continue;
    }
    const [, op, value] = line.trim().split(/\s+/);
    if (/^read$/i.test(op ?? "")) read += Number(value) || 0;
    else if (/^write$/i.test(op ?? "")) write += Number(value) || 0;
    // v1: every row of the file as runc reads it (Read, Write, Sync, Async, Discard, Total)
    if (dev && op) devices.push({ major: Number(dev[1]), minor: Number(dev[2]), op, value: Number(value) || 0 });
  }
  return { read, write, devices };
}

/** one row of docker's blkio_stats.io_service_bytes_recursive */
export interface BlkioRow {
  major: number;
  minor: number;
  op: string;
  value: number;
}

const V1_BLKIO_FILES = [
  "blkio.io_service_bytes_recursive",
  "blkio.bfq.io_service_bytes_recursive",
  "blkio.throttle.io_service_bytes_recursive",
  "blkio.throttle.io_service_bytes",
];

const num = (s: string | undefined) => {
  const t = (s ?? "").trim();
  if (t === "max") return Infinity;
  const n = Number(t);
  return Number.isFinite(n) ? n : 0;
};

export function stats(path: string, layout = detectLayout()): CgroupStats {
  const rel = clean(path);
  if (layout.kind === "v2") {
    const d = `${unified(layout)!.dir}/${rel}`;
    const cpu = parseKeyValues(read(`${d}/cpu.stat`) ?? "");
    const io = parseBlkio(read(`${d}/io.stat`) ?? "", "v2");
    return {
      memoryUsage: num(read(`${d}/memory.current`)),
      memoryLimit: num(read(`${d}/memory.max`) ?? "max"),
      cpuNs: (cpu.usage_usec ?? 0) * 1000,
      pids: num(read(`${d}/pids.current`)),
      blkioRead: io.read,
      blkioWrite: io.write,
      blkioDevices: io.devices,
      cpuUserNs: (cpu.user_usec ?? 0) * 1000,
      cpuSystemNs: (cpu.system_usec ?? 0) * 1000,
      throttling: { periods: cpu.nr_periods ?? 0, throttledPeriods: cpu.nr_throttled ?? 0, throttledNs: (cpu.throttled_usec ?? 0) * 1000 },
      memoryStat: parseKeyValues(read(`${d}/memory.stat`) ?? ""),
    };
  }
  const at = (c: string, f: string) => {
    const h = v1(layout, c);
    return h ? read(`${h.dir}/${rel}/${f}`) : undefined;
  };
  let limit = num(at("memory", "memory.limit_in_bytes"));
  if (limit >= 2 ** 62) limit = Infinity; // v1 reports "unlimited" as PAGE_COUNTER_MAX pages
  // the first file that exists and has per-device rows (a kernel without CFQ has the file but only "Total 0")
  let io: ReturnType<typeof parseBlkio> = { read: 0, write: 0, devices: [] };
  for (const f of V1_BLKIO_FILES) {
    const text = at("blkio", f);
    if (text === undefined || !/^\S+ (Read|Write) /m.test(text)) continue;
    io = parseBlkio(text, "v1");
    break;
  }
  // cpuacct.stat counts USER_HZ ticks (100 per second on Linux)
  const acct = parseKeyValues(at("cpuacct", "cpuacct.stat") ?? "");
  const cpu = parseKeyValues(at("cpu", "cpu.stat") ?? "");
  const percpu = (at("cpuacct", "cpuacct.usage_percpu") ?? "").trim().split(/\s+/).filter(Boolean).map(Number);
  return {
    memoryUsage: num(at("memory", "memory.usage_in_bytes")),
    memoryLimit: limit,
    cpuNs: num(at("cpuacct", "cpuacct.usage")),
    pids: num(at("pids", "pids.current")),
    blkioRead: io.read,
    blkioWrite: io.write,
    blkioDevices: io.devices,
    cpuUserNs: (acct.user ?? 0) * 1e7,
    cpuSystemNs: (acct.system ?? 0) * 1e7,
    ...(percpu.length ? { percpuNs: percpu } : {}),
    throttling: { periods: cpu.nr_periods ?? 0, throttledPeriods: cpu.nr_throttled ?? 0, throttledNs: cpu.throttled_time ?? 0 },
    memoryStat: parseKeyValues(at("memory", "memory.stat") ?? ""),
  };
}

/** did the kernel OOM-kill a process of this cgroup (v1 memory.oom_control, v2 memory.events)? */
export function oomKilled(path: string, layout = detectLayout()): boolean {
  const rel = clean(path);
  const mem = layout.kind === "v2" ? unified(layout) : v1(layout, "memory");
  if (!mem) return false;
  const text = read(`${mem.dir}/${rel}/${layout.kind === "v2" ? "memory.events" : "memory.oom_control"}`) ?? "";
  return Number(/^oom_kill (\d+)$/m.exec(text)?.[1] ?? 0) > 0;
}

/** SIGKILL what is left, then rmdir in every hierarchy (rmdir is EBUSY until the last task is gone;
 * retried for about a second). Synchronous: the engine calls it under the container's lock. The parents
 * stay (the shared "berth", as docker's "docker" and podman's "libpod_parent" do): made and set up once,
 * not again for every container (10 mkdir, 10 rmdir and the cpuset copy per `run` on a v1 host). */
export function removeCgroup(path: string, layout = detectLayout()): void {
  // the common case, a container whose processes are all gone: one rmdir(2) per hierarchy. What is
  // still busy (tasks, sub-cgroups, a frozen task) takes the long way below
  const busy: string[] = [];
  for (const d of cgroupDirs(path, layout)) {
    try {
      rmdirSync(d);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "ENOENT") busy.push(d);
    }
  }
  if (busy.length) removeBusy(path, busy, layout);
}

function removeBusy(path: string, busy: string[], layout: CgroupLayout): void {
  const dirs = busy.filter((d) => existsSync(d));
  // a frozen task never handles SIGKILL: thaw first
  for (const d of dirs) {
    if (existsSync(`${d}/freezer.state`))
      try {
        writeFileSync(`${d}/freezer.state`, "THAWED");
      } catch {} // gone meanwhile; a task still frozen shows up in the rmdir retries below
    if (existsSync(`${d}/cgroup.freeze`))
      try {
        writeFileSync(`${d}/cgroup.freeze`, "0");
      } catch {} // gone meanwhile; a task still frozen shows up in the rmdir retries below
  }
  for (let attempt = 0; ; attempt++) {
    const left: string[] = [];
    for (const dir of dirs) {
      if (!existsSync(dir)) continue;
      for (const pid of (read(`${dir}/cgroup.procs`) ?? "").split("\n").filter(Boolean)) {
        try {
          process.kill(Number(pid), "SIGKILL");
        } catch {} // ESRCH: exited since listing; a survivor keeps rmdir EBUSY and is retried
      }
      try {
        for (const sub of readdirSync(dir, { withFileTypes: true })) if (sub.isDirectory()) removeCgroup(`${clean(path)}/${sub.name}`, layout);
        rmdirSync(dir);
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code === "ENOENT") continue;
        if (code !== "EBUSY" || attempt >= 200) throw new EngineError("unavailable", `cgroup: remove ${dir}: ${(e as Error).message}`, { cause: e });
        left.push(dir);
      }
    }
    if (!left.length) break;
    Bun.sleepSync(5);
  }
}
