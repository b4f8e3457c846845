/**
 * An OCI runtime bundle's config.json (runtime-spec v1.0–1.2) → the runtime's ContainerSpec, the same
 * shape the docker path builds in containers/oci-spec.ts, so both front doors share src/runtime (mount
 * plan, shim, cgroups, seccomp). Pure except for the cgroup layout it is given. What berth cannot do
 * is refused here with a one-line error naming the field, never silently dropped.
 */
import { isAbsolute, join } from "node:path";
import { EngineError } from "../../lib/errors.ts";
import type { Mount } from "../../oci/index.ts";
import type { CgroupLayout, ContainerSpec, ProcessSpec, ResourceSpec } from "../../runtime/index.ts";
import { CAPABILITY_NAMES } from "../../runtime/index.ts";
import type { SeccompProfile } from "../../runtime/seccomp.ts";

export interface OciHook {
  path: string;
  args?: string[];
  env?: string[];
  timeout?: number;
}

export type HookName = "prestart" | "createRuntime" | "createContainer" | "startContainer" | "poststart" | "poststop";

export interface OciUser {
  uid: number;
  gid: number;
  umask?: number;
  additionalGids?: number[];
  username?: string;
}

export interface OciProcess {
  terminal?: boolean;
  consoleSize?: { height: number; width: number };
  user: OciUser;
  args?: string[];
  commandLine?: string;
  env?: string[];
  cwd: string;
  capabilities?: { bounding?: string[]; effective?: string[]; inheritable?: string[]; permitted?: string[]; ambient?: string[] };
  rlimits?: { type: string; hard: number; soft: number }[];
  noNewPrivileges?: boolean;
  apparmorProfile?: string;
  selinuxLabel?: string;
  oomScoreAdj?: number;
  ioPriority?: { class: string; priority: number };
  scheduler?: unknown;
  execCPUAffinity?: unknown;
}

export interface OciMount {
  destination: string;
  type?: string;
  source?: string;
  options?: string[];
  uidMappings?: unknown[];
  gidMappings?: unknown[];
}

export interface OciIdMapping {
  containerID: number;
  hostID: number;
  size: number;
}

export interface OciLinuxDevice {
  path: string;
  type: string;
  major?: number;
  minor?: number;
  fileMode?: number;
  uid?: number;
  gid?: number;
}

export interface OciDeviceRule {
  allow: boolean;
  type?: string;
  major?: number | null;
  minor?: number | null;
  access?: string;
}

export interface OciResources {
  devices?: OciDeviceRule[];
  memory?: { limit?: number; reservation?: number; swap?: number; kernel?: number; kernelTCP?: number; swappiness?: number; disableOOMKiller?: boolean };
  cpu?: { shares?: number; quota?: number; period?: number; realtimeRuntime?: number; realtimePeriod?: number; cpus?: string; mems?: string; idle?: number };
  pids?: { limit?: number };
  blockIO?: {
    weight?: number;
    leafWeight?: number;
    weightDevice?: { major: number; minor: number; weight?: number }[];
    throttleReadBpsDevice?: { major: number; minor: number; rate: number }[];
    throttleWriteBpsDevice?: { major: number; minor: number; rate: number }[];
    throttleReadIOPSDevice?: { major: number; minor: number; rate: number }[];
    throttleWriteIOPSDevice?: { major: number; minor: number; rate: number }[];
  };
  hugepageLimits?: { pageSize: string; limit: number }[];
  network?: { classID?: number; priorities?: { name: string; priority: number }[] };
  unified?: Record<string, string>;
}

export interface OciSpec {
  ociVersion: string;
  process?: OciProcess;
  root?: { path: string; readonly?: boolean };
  hostname?: string;
  domainname?: string;
  mounts?: OciMount[];
  hooks?: Partial<Record<HookName, OciHook[]>>;
  annotations?: Record<string, string>;
  linux?: {
    namespaces?: { type: string; path?: string }[];
    uidMappings?: OciIdMapping[];
    gidMappings?: OciIdMapping[];
    devices?: OciLinuxDevice[];
    cgroupsPath?: string;
    resources?: OciResources;
    seccomp?: SeccompProfile & { listenerPath?: string; flags?: string[] };
    rootfsPropagation?: string;
    maskedPaths?: string[];
    readonlyPaths?: string[];
    sysctl?: Record<string, string>;
    mountLabel?: string;
    intelRdt?: unknown;
    personality?: unknown;
    timeOffsets?: unknown;
  };
}

const bad = (msg: string) => new EngineError("invalid_argument", msg);
const unsupported = (msg: string) => new EngineError("not_implemented", msg);

/** parse and check the fields berth reads (runc's "invalid configuration" class of errors) */
export function parseSpec(text: string, file: string): OciSpec {
  let s: OciSpec;
  try {
    s = JSON.parse(text);
  } catch (e) {
    throw bad(`${file}: ${(e as Error).message}`);
  }
  if (!s || typeof s !== "object") throw bad(`${file}: not a JSON object`);
  if (typeof s.ociVersion !== "string") throw bad(`${file}: ociVersion missing`);
  if (!/^1\.[0-3]\./.test(s.ociVersion)) throw bad(`unsupported spec version ${JSON.stringify(s.ociVersion)} (berth reads 1.0 to 1.2)`);
  if (!s.root?.path) throw bad("root must be specified");
  if (!s.process) throw bad("process must be specified");
  return s;
}

/** the capability set the shim applies (one mask: bounding = effective = permitted) */
function capabilitiesOf(c: OciProcess["capabilities"]): string[] {
  const names = c?.bounding ?? c?.permitted ?? c?.effective ?? [];
  for (const n of names) if (!(CAPABILITY_NAMES as readonly string[]).includes(n)) throw bad(`unknown capability ${JSON.stringify(n)}`);
  return [...new Set(names)];
}

/** u64 limits in JSON lose precision past 2^53; anything at or past 2^63 means "unlimited" */
const limit = (n: number) => (n < 0 || n >= 2 ** 63 ? -1 : n);

/** spec.process (or an exec's process.json) → the runtime's ProcessSpec */
export function processOf(p: OciProcess, seccomp: ProcessSpec["seccomp"]): ProcessSpec {
  if (p.commandLine) throw unsupported("process.commandLine is for Windows");
  if (!p.args?.length) throw bad("args must not be empty");
  if (!p.cwd || !p.cwd.startsWith("/")) throw bad("cwd property must not be empty and must be an absolute path");
  if (!p.user || typeof p.user.uid !== "number") throw bad("process.user.uid must be specified");
  return {
    args: p.args,
    env: p.env ?? [],
    cwd: p.cwd,
    uid: p.user.uid,
    gid: p.user.gid ?? 0,
    additionalGids: p.user.additionalGids ?? [],
    terminal: !!p.terminal,
    capabilities: capabilitiesOf(p.capabilities),
    noNewPrivileges: !!p.noNewPrivileges,
    init: false,
    seccomp,
    rlimits: (p.rlimits ?? []).map((r) => ({ type: r.type, soft: limit(r.soft), hard: limit(r.hard) })),
    umask: p.user.umask ?? 0o022,
  };
}

/** linux.seccomp in the OCI format → the profile seccomp.ts compiles ("unconfined" when absent) */
export function seccompOf(s: OciSpec): ProcessSpec["seccomp"] {
  const sc = s.linux?.seccomp;
  if (!sc) return "unconfined";
  if (sc.listenerPath) throw unsupported("linux.seccomp.listenerPath: seccomp user notification is not supported by berth");
  for (const f of sc.flags ?? [])
    if (f !== "SECCOMP_FILTER_FLAG_SPEC_ALLOW" && f !== "SECCOMP_FILTER_FLAG_LOG") throw unsupported(`linux.seccomp.flags: ${f} is not supported by berth`);
  for (const r of sc.syscalls ?? []) if (r.action === "SCMP_ACT_NOTIFY") throw unsupported("seccomp action SCMP_ACT_NOTIFY is not supported by berth");
  return { defaultAction: sc.defaultAction, defaultErrnoRet: sc.defaultErrnoRet, syscalls: sc.syscalls ?? [], architectures: sc.architectures };
}

const NS_TYPES = ["pid", "network", "mount", "ipc", "uts", "user", "cgroup", "time"] as const;

export interface ConvertInput {
  id: string;
  bundle: string;
  spec: OciSpec;
  execFifo: string;
  preserveFds: number;
  layout: CgroupLayout;
}

/** the rootfs directory (root.path, relative to the bundle) */
export function rootfsOf(spec: OciSpec, bundle: string): string {
  const p = spec.root!.path;
  return isAbsolute(p) ? p : join(bundle, p);
}

/** linux.cgroupsPath as berth's relative cgroup path (runc's cgroupfs driver: "/a/b" and "a/b" alike) */
export function cgroupPathOf(spec: OciSpec, id: string): string {
  const p = spec.linux?.cgroupsPath ?? "";
  const clean = p.split("/").filter(Boolean).join("/");
  return clean || `berth-runc/${id}`;
}

export function toContainerSpec(input: ConvertInput): ContainerSpec {
  const { spec, bundle, id } = input;
  const linux = spec.linux ?? {};
  if (linux.intelRdt) throw unsupported("linux.intelRdt is not supported by berth");
  if (linux.personality) throw unsupported("linux.personality is not supported by berth");
  if (linux.timeOffsets) throw unsupported("linux.timeOffsets (time namespace) is not supported by berth");
  const proc = spec.process!;
  if (proc.scheduler) throw unsupported("process.scheduler is not supported by berth");
  if (proc.execCPUAffinity) throw unsupported("process.execCPUAffinity is not supported by berth");

  const ns = new Map<string, string | undefined>();
  for (const n of linux.namespaces ?? []) {
    if (!NS_TYPES.includes(n.type as (typeof NS_TYPES)[number])) throw bad(`namespace type ${JSON.stringify(n.type)} is unknown`);
    if (ns.has(n.type)) throw bad(`malformed spec file: duplicated ns "${n.type}"`);
    ns.set(n.type, n.path || undefined);
  }
  if (ns.has("time")) throw unsupported("the time namespace is not supported by berth");
  if (!ns.has("mount")) throw unsupported("a container without its own mount namespace is not supported by berth");
  if (ns.get("mount")) throw unsupported("joining a mount namespace by path is not supported by berth");
  const mode = (t: string) => (!ns.has(t) ? ("host" as const) : ns.get(t) ? { path: ns.get(t)! } : ("new" as const));
  const user = mode("user");
  if (typeof user === "object") throw unsupported(`joining a user namespace by path (${user.path}) is not supported by berth`);
  if (user === "new" && (!linux.uidMappings?.length || !linux.gidMappings?.length))
    throw bad("user namespaces enabled, but no user mapping found (linux.uidMappings/gidMappings)");
  if (user === "host" && (linux.uidMappings?.length || linux.gidMappings?.length)) throw bad("user namespaces not enabled in config.json, but mappings given");

  const mounts: Mount[] = (spec.mounts ?? []).map((m) => {
    if (m.uidMappings?.length || m.gidMappings?.length)
      throw unsupported(`mount ${JSON.stringify(m.destination)}: idmapped mounts (uidMappings/gidMappings) are not supported by berth`);
    if (!m.destination?.startsWith("/")) throw bad(`mount destination ${JSON.stringify(m.destination)} is not absolute`);
    const options = m.options ?? [];
    const isBind = m.type === "bind" || options.includes("bind") || options.includes("rbind");
    let source = m.source ?? "";
    if (isBind && source && !isAbsolute(source)) source = join(bundle, source);
    return { type: isBind ? "bind" : (m.type ?? "none"), source, target: m.destination, options };
  });

  const sysctls: Record<string, string> = { ...(linux.sysctl ?? {}) };
  if (spec.domainname) {
    if (mode("uts") !== "new") throw bad("unable to set domainname without a private UTS namespace");
    sysctls["kernel.domainname"] = spec.domainname;
  }
  if (spec.hostname && mode("uts") !== "new") throw bad("unable to set hostname without a private UTS namespace");
  if (linux.rootfsPropagation && !/^r?(shared|slave|private|unbindable)$/.test(linux.rootfsPropagation))
    throw bad(`rootfsPropagation of ${JSON.stringify(linux.rootfsPropagation)} is invalid`);

  const devices = (linux.devices ?? []).map((d) => {
    if (!["c", "b", "u", "p"].includes(d.type)) throw bad(`device ${d.path}: type ${JSON.stringify(d.type)} is invalid`);
    if (d.type !== "p" && (d.major === undefined || d.minor === undefined)) throw bad(`device ${d.path}: major and minor are required`);
    return { path: d.path, type: d.type as "c" | "b" | "u" | "p", major: d.major ?? 0, minor: d.minor ?? 0, fileMode: d.fileMode, uid: d.uid, gid: d.gid };
  });

  const rootfs = rootfsOf(spec, bundle);
  return {
    id,
    hostname: spec.hostname ?? "",
    rootfs: [{ type: "bind", source: rootfs, target: "/", options: ["rbind"] }],
    readonlyRootfs: !!spec.root!.readonly,
    mounts,
    process: processOf(proc, seccompOf(spec)),
    namespaces: { net: mode("network"), ipc: mode("ipc"), uts: mode("uts"), pid: mode("pid"), cgroup: mode("cgroup"), user },
    cgroupPath: cgroupPathOf(spec, id),
    resources: resourcesOf(linux.resources, input.layout),
    privileged: false,
    maskedPaths: linux.maskedPaths ?? [],
    readonlyPaths: linux.readonlyPaths ?? [],
    ...(Object.keys(sysctls).length ? { sysctls } : {}),
    oci: {
      execFifo: input.execFifo,
      preserveFds: input.preserveFds,
      uidMappings: linux.uidMappings ?? [],
      gidMappings: linux.gidMappings ?? [],
      devices,
      ...(linux.rootfsPropagation ? { rootfsPropagation: linux.rootfsPropagation } : {}),
      ...(proc.oomScoreAdj !== undefined ? { oomScoreAdj: proc.oomScoreAdj } : {}),
    },
  };
}

const HUGEPAGE = /^(\d+)(KB|MB|GB|TB|PB)$/;

/** linux.resources → ResourceSpec: the common limits in berth's own fields, the rest as cgroup files */
export function resourcesOf(r: OciResources | undefined, layout: CgroupLayout): ResourceSpec {
  const out: ResourceSpec = {};
  if (!r) return out;
  const v2 = layout.kind === "v2";
  const files: NonNullable<ResourceSpec["files"]> = [];
  const m = r.memory;
  if (m?.limit !== undefined && m.limit > 0) out.memory = m.limit;
  if (m?.swap !== undefined && m.swap !== 0) out.memorySwap = m.swap;
  if (m?.reservation) out.memoryReservation = m.reservation;
  if (m?.swappiness !== undefined && m.swappiness !== null && m.swappiness <= 100 && !v2)
    files.push({ controller: "memory", file: "memory.swappiness", value: String(m.swappiness) });
  if (m?.disableOOMKiller && !v2) files.push({ controller: "memory", file: "memory.oom_control", value: "1" });
  const c = r.cpu;
  if (c?.shares) out.cpuShares = c.shares;
  // the CFS pair as the bundle gives it, as runc writes it (not turned into CPUs over 100 ms)
  if (c?.quota) out.cpuQuota = c.quota;
  if (c?.period) out.cpuPeriod = c.period;
  if (c?.cpus) out.cpusetCpus = c.cpus;
  if (c?.mems) out.cpusetMems = c.mems;
  if (c?.realtimeRuntime || c?.realtimePeriod) throw unsupported("linux.resources.cpu.realtimeRuntime/realtimePeriod are not supported by berth");
  if (r.pids?.limit !== undefined && r.pids.limit > 0) out.pidsLimit = r.pids.limit;
  // devices: deny everything, then the allow rules (berth's baseline already denies by default); a rule
  // that allows every device (the privileged form) turns the device cgroup off
  const rules: string[] = [];
  for (const d of r.devices ?? []) {
    const any = (!d.type || d.type === "a") && (d.major ?? -1) < 0 && (d.minor ?? -1) < 0;
    if (d.allow && any && (d.access ?? "rwm").length >= 3) {
      out.allDevices = true;
      rules.length = 0;
      continue;
    }
    if (!d.allow) {
      if (any) delete out.allDevices;
      continue;
    }
    const n = (x: number | null | undefined) => (x === undefined || x === null || x < 0 ? "*" : String(x));
    rules.push(`${d.type && d.type !== "a" ? d.type : "a"} ${n(d.major)}:${n(d.minor)} ${d.access || "rwm"}`);
  }
  if (rules.length) out.deviceRules = rules;
  const b = r.blockIO;
  if (b) {
    if (b.weight)
      files.push(
        v2 ? { controller: "io", file: "io.weight", value: `default ${b.weight}` } : { controller: "blkio", file: "blkio.weight", value: String(b.weight) },
      );
    for (const d of b.weightDevice ?? [])
      if (d.weight)
        files.push(
          v2
            ? { controller: "io", file: "io.weight", value: `${d.major}:${d.minor} ${d.weight}` }
            : { controller: "blkio", file: "blkio.weight_device", value: `${d.major}:${d.minor} ${d.weight}` },
        );
    const throttle = (list: { major: number; minor: number; rate: number }[] | undefined, v1File: string, v2Key: string) => {
      for (const d of list ?? [])
        files.push(
          v2
            ? { controller: "io", file: "io.max", value: `${d.major}:${d.minor} ${v2Key}=${d.rate}` }
            : { controller: "blkio", file: v1File, value: `${d.major}:${d.minor} ${d.rate}` },
        );
    };
    throttle(b.throttleReadBpsDevice, "blkio.throttle.read_bps_device", "rbps");
    throttle(b.throttleWriteBpsDevice, "blkio.throttle.write_bps_device", "wbps");
    throttle(b.throttleReadIOPSDevice, "blkio.throttle.read_iops_device", "riops");
    throttle(b.throttleWriteIOPSDevice, "blkio.throttle.write_iops_device", "wiops");
  }
  for (const h of r.hugepageLimits ?? []) {
    if (!HUGEPAGE.test(h.pageSize)) throw bad(`invalid hugepage size ${JSON.stringify(h.pageSize)}`);
    files.push({ controller: "hugetlb", file: v2 ? `hugetlb.${h.pageSize}.max` : `hugetlb.${h.pageSize}.limit_in_bytes`, value: String(h.limit) });
  }
  if (r.network?.classID !== undefined) {
    if (v2) throw unsupported("linux.resources.network needs cgroup v1 (net_cls)");
    files.push({ controller: "net_cls", file: "net_cls.classid", value: String(r.network.classID) });
  }
  for (const p of r.network?.priorities ?? []) {
    if (v2) throw unsupported("linux.resources.network needs cgroup v1 (net_prio)");
    files.push({ controller: "net_prio", file: "net_prio.ifpriomap", value: `${p.name} ${p.priority}` });
  }
  const unified = Object.entries(r.unified ?? {});
  if (unified.length && layout.kind !== "v2")
    throw bad("invalid configuration: linux.resources.unified needs cgroup v2 (this host has cgroup " + layout.kind + ")");
  for (const [k, v] of unified) {
    if (k.includes("/") || k.startsWith(".")) throw bad(`linux.resources.unified: invalid key ${JSON.stringify(k)}`);
    files.push({ controller: "", file: k, value: v });
  }
  if (files.length) out.files = files;
  return out;
}
