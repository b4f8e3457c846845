/**
 * A container create request (Docker Engine API shapes, ../api/containers.ts) merged with its image and
 * checked the way dockerd does before it writes a container (moby daemon/create.go, the merge in
 * daemon/commit.go, runconfig's and daemon_unix.go's checks): dockerd's defaults for absent fields and
 * its daemon-side errors (kind invalid_argument) for bad values. Also `update`'s new HostConfig from an
 * update request. Pure: the host's CPU count comes in; volumes, files and networks are the caller's.
 */
import { parseLogConfig } from "./logs.ts";
import { EngineError } from "../../lib/errors.ts";
import type { HealthConfig, ImageConfig } from "../../oci/index.ts";
import { MASKED_PATHS, READONLY_PATHS } from "../../oci/defaults.ts";
import type { ContainerCreateRequest, ContainerUpdateRequest, EndpointSettingsRequest, Mount, Resources } from "../api/containers.ts";
import { checkSeccomp, computeCapabilities } from "./oci-spec.ts";
import { parseSignal } from "./signals.ts";
import { joinsNetworks } from "../../net/index.ts";
import type { DockerConfig, DockerHostConfig, EndpointSettings, MountPoint, PortBindingMap } from "./types.ts";

const bad = (msg: string) => new EngineError("invalid_argument", msg);

/** the filled-in record parts `create` writes (service.ts adds ids, paths, names and the snapshot) */
export interface BuiltConfig {
  Path: string;
  Args: string[];
  Config: DockerConfig;
  HostConfig: DockerHostConfig;
  Mounts: MountPoint[];
  Tmpfs: Record<string, string>;
  /** networks to connect at start, primary first (empty for none/host/container:) */
  Endpoints: Record<string, EndpointSettings>;
  /** --mount bind sources: must exist (docker creates a missing one only for -v) */
  MustExist?: string[];
  /** destinations taken from --volumes-from: shared as they are, never copied up (docker's CopyData false) */
  Inherited?: string[];
  /** dockerd's create warnings (a setting the host cannot honour, dropped) */
  Warnings?: string[];
}

/** docker's merge: user env first, then image env whose keys the user did not set */
export function mergeEnv(imageEnv: string[], userEnv: string[]): string[] {
  if (userEnv.length === 0) return [...imageEnv];
  const keys = new Set(userEnv.map((e) => e.split("=")[0]));
  return [...userEnv, ...imageEnv.filter((e) => !keys.has(e.split("=")[0]))];
}

/** a network mode that means "no network of berth's": the runtime shares or leaves the namespace */
/** a network mode that joins berth's networks (src/net's networkMode decides; none, host, container: do not) */
export const isBridgeMode = joinsNetworks;

/** docker's link spec: "name:alias" or "name" (alias = name); stored as "/name:/ctr/alias" by docker, here as "name:alias" */
export function parseLink(l: string): { name: string; alias: string } {
  const [name = "", alias = name] = l.replace(/^\//, "").split(":");
  if (!name || !alias || l.split(":").length > 2) throw bad(`invalid link "${l}": want NAME[:ALIAS]`);
  return { name: name.replace(/^\//, ""), alias: alias.replace(/^\//, "") };
}

/** a volume mount whose -v asked for no copy of the image's content (`:nocopy`) */
export const isNoCopy = (m: MountPoint) => m.Type === "volume" && m.Mode.split(",").includes("nocopy");

const VOLUME_NAME_RE = /^[a-zA-Z0-9][a-zA-Z0-9_.-]+$/;
const PROPAGATIONS = ["private", "rprivate", "shared", "rshared", "slave", "rslave"];
const trimSlash = (p: string) => p.replace(/(.)\/+$/, "$1");

/**
 * One HostConfig.Binds entry, docker's forms: HOST:CTR[:MODE] (a bind; HOST absolute) or NAME:CTR[:MODE]
 * (a named volume, created on first use). A volume's Source stays "" here: the mountpoint is the volume
 * service's to say.
 */
export function parseBind(v: string): MountPoint {
  const parts = v.split(":");
  if (parts.length < 2 || parts.length > 3 || parts.some((p) => p === "")) throw bad(`invalid volume specification: '${v}'`);
  const [src, dst, mode = ""] = parts as [string, string, string?];
  const isBind = src.startsWith("/");
  if (!isBind && !VOLUME_NAME_RE.test(src)) {
    throw bad(
      `create ${src}: "${src}" includes invalid characters for a local volume name, only "[a-zA-Z0-9][a-zA-Z0-9_.-]" are allowed. If you intended to pass a host directory, use absolute path`,
    );
  }
  if (!dst.startsWith("/"))
    throw bad(
      `invalid volume specification: '${v}': invalid mount config for type "${isBind ? "bind" : "volume"}": invalid mount path: '${dst}' mount path must be absolute`,
    );
  let rw = true;
  let propagation = "rprivate";
  for (const o of mode.split(",").filter(Boolean)) {
    if (o === "ro") rw = false;
    else if (o === "rw") rw = true;
    else if (["z", "Z", "nocopy"].includes(o)) continue;
    else if (isBind && PROPAGATIONS.includes(o)) propagation = o;
    else throw bad(`invalid mode: ${o}`);
  }
  const destination = trimSlash(dst);
  if (!isBind) return { Type: "volume", Name: src, Source: "", Destination: destination, Driver: "local", Mode: mode || "z", RW: rw, Propagation: "" };
  return { Type: "bind", Source: trimSlash(src), Destination: destination, Mode: mode, RW: rw, Propagation: propagation };
}

/**
 * One HostConfig.VolumesFrom entry, `CONTAINER[:MODE]` (moby's linuxParser.ParseVolumesFrom): MODE is
 * ro or rw, no propagation and no copy mode. Returns the container reference and whether it may write.
 */
export function parseVolumesFrom(spec: string): { ref: string; rw: boolean } {
  if (spec === "") throw bad("volumes-from specification cannot be an empty string");
  const i = spec.indexOf(":");
  if (i < 0) return { ref: spec, rw: true };
  const mode = spec.slice(i + 1);
  const opts = mode.split(",");
  const ok = opts.length > 0 && opts.every((o) => ["ro", "rw", "z", "Z"].includes(o)) && opts.filter((o) => o === "ro" || o === "rw").length <= 1;
  if (!ok) throw bad(`invalid mode: ${mode}`);
  return { ref: spec.slice(0, i), rw: !opts.includes("ro") };
}

/** an anonymous volume at `dest` (a Config.Volumes entry: the request's or the image's VOLUME) */
const anonymousVolume = (dest: string): MountPoint => ({
  Type: "volume",
  Name: "",
  Source: "",
  Destination: dest,
  Driver: "local",
  Mode: "",
  RW: true,
  Propagation: "",
});

/**
 * One API Mount (HostConfig.Mounts) checked as moby's volume/mounts validate does: a MountPoint (bind,
 * volume) or a tmpfs path and its mount options. A bind source must exist (create() checks it).
 */
export function mountOf(m: Mount): { mount: MountPoint; mustExist?: string } | { tmpfs: [string, string] } {
  const type = m.Type;
  if (!["bind", "volume", "tmpfs"].includes(type)) throw bad(`mount type unknown: "${type}"`);
  const cfg = (why: string) => bad(`invalid mount config for type "${type}": ${why}`);
  const target = trimSlash(m.Target ?? "");
  const source = m.Source ?? "";
  const ro = !!m.ReadOnly;
  if (!target) throw cfg("field Target must not be empty");
  if (!target.startsWith("/")) throw cfg(`invalid mount path: '${target}' mount path must be absolute`);
  const driver = m.VolumeOptions?.DriverConfig?.Name;
  if (driver && driver !== "local") throw cfg(`volume driver "${driver}" is not available (berth has local)`);
  if (type === "tmpfs") {
    if (source) throw cfg("field Source must not be specified");
    const opts: string[] = [];
    const size = m.TmpfsOptions?.SizeBytes ?? 0;
    if (size < 0) throw cfg("invalid tmpfs size");
    if (size > 0) opts.push(`size=${size}`);
    if (m.TmpfsOptions?.Mode !== undefined) opts.push(`mode=${m.TmpfsOptions.Mode.toString(8)}`);
    if (ro) opts.push("ro");
    return { tmpfs: [target, opts.join(",")] };
  }
  if (type === "bind") {
    if (!source) throw cfg("field Source must not be empty");
    if (!source.startsWith("/")) throw cfg(`invalid mount path: '${source}' mount path must be absolute`);
    const propagation = m.BindOptions?.Propagation ?? "rprivate";
    if (!PROPAGATIONS.includes(propagation)) throw cfg(`invalid propagation mode: ${propagation}`);
    const src = trimSlash(source);
    return { mount: { Type: "bind", Source: src, Destination: target, Mode: "", RW: !ro, Propagation: propagation }, mustExist: src };
  }
  if (source && !VOLUME_NAME_RE.test(source))
    throw cfg(`create ${source}: "${source}" includes invalid characters for a local volume name, only "[a-zA-Z0-9][a-zA-Z0-9_.-]" are allowed`);
  return {
    mount: {
      Type: "volume",
      Name: source,
      Source: "",
      Destination: target,
      Driver: "local",
      Mode: m.VolumeOptions?.NoCopy ? "nocopy" : "z",
      RW: !ro,
      Propagation: "",
    },
  };
}

const MIN_MEMORY = 6 * 1024 * 1024;

function checkMemory(m: number): number {
  if (m > 0 && m < MIN_MEMORY) throw bad("Minimum memory limit allowed is 6MB");
  return m;
}

/** the memory limit against swap and reservation (create and update alike) */
function checkMemoryLimits(memory: number, swap: number, reservation: number): void {
  if (swap > 0 && memory > 0 && swap < memory) throw bad("Minimum memoryswap limit should be larger than memory limit, see usage");
  if (memory > 0 && reservation > memory) throw bad("Minimum memory limit can not be less than memory reservation limit, see usage");
}

/**
 * NanoCpus, checked with the CFS pair CpuQuota/CpuPeriod beside it (which the record keeps as given); within
 * what this host has (moby verifyPlatformContainerResources)
 */
function nanoCpusOf(r: Resources, hostCpus: number): number | undefined {
  const quota = r.CpuQuota ?? 0,
    period = r.CpuPeriod ?? 0;
  const n = r.NanoCpus;
  if (quota !== 0 || period !== 0) {
    if ((n ?? 0) > 0 && period > 0) throw bad("Conflicting options: Nano CPUs and CPU Period cannot both be set");
    if ((n ?? 0) > 0 && quota > 0) throw bad("Conflicting options: Nano CPUs and CPU Quota cannot both be set");
    if (period !== 0 && (period < 1000 || period > 1000000))
      throw bad("CPU cfs period can not be less than 1ms (i.e. 1000) or larger than 1 second (i.e. 1000000)");
    if (quota > 0 && quota < 1000) throw bad("CPU cfs quota can not be less than 1ms (i.e. 1000)");
  }
  if (n === undefined) return undefined;
  if (n < 0 || (n !== 0 && (n < 1e7 || n > hostCpus * 1e9)))
    throw bad(`range of CPUs is from 0.01 to ${hostCpus.toFixed(2)}, as there are only ${hostCpus} CPUs available`);
  return n;
}

/** a cpuset list ("0-1,3"); for CPUs, every one on this host */
function checkCpuset(v: string | undefined, what: "cpus" | "mems", available: number): string {
  if (v === undefined || v === "") return "";
  if (!/^\d+(-\d+)?(,\d+(-\d+)?)*$/.test(v)) throw bad(`Invalid value ${v} for cpuset ${what}`);
  if (what === "cpus") {
    for (const part of v.split(",")) {
      const [a, b = a] = part.split("-").map(Number) as [number, number?];
      if (b! < a || b! >= available) throw bad(`Requested CPUs are not available - requested ${v}, available: ${available > 1 ? `0-${available - 1}` : "0"}`);
    }
  }
  return v;
}

function checkRestart(r: DockerHostConfig["RestartPolicy"] | undefined): DockerHostConfig["RestartPolicy"] {
  const name = r?.Name || "no";
  const count = r?.MaximumRetryCount ?? 0;
  if (!["no", "always", "unless-stopped", "on-failure"].includes(name))
    throw bad(`invalid restart policy: unknown policy '${name}'; use one of 'no', 'always', 'on-failure', or 'unless-stopped'`);
  if (count < 0 || !Number.isInteger(count)) throw bad("invalid restart policy: maximum retry count cannot be negative");
  if (count !== 0 && name !== "on-failure") throw bad("invalid restart policy: maximum retry count can only be used with 'on-failure'");
  return { Name: name, MaximumRetryCount: count };
}

/** `--ipc`: "" (docker's default private), none, private, shareable, host, container:NAME */
function checkIpcMode(v: string | undefined): string {
  if (v === undefined || v === "") return "private";
  if (["none", "private", "shareable", "host"].includes(v) || (v.startsWith("container:") && v.length > 10)) return v;
  throw bad(`invalid IPC mode: ${v}`);
}

function checkPidMode(v: string | undefined): string {
  if (v === undefined || v === "" || v === "host" || (v.startsWith("container:") && v.length > 10)) return v ?? "";
  throw bad(`invalid PID mode: ${v}`);
}

function checkUtsMode(v: string | undefined): string {
  if (v === undefined || v === "" || v === "host") return v ?? "";
  throw bad(`invalid UTS mode: ${v}`);
}

const IPC_SYSCTLS = new Set([
  "kernel.msgmax",
  "kernel.msgmnb",
  "kernel.msgmni",
  "kernel.sem",
  "kernel.shmall",
  "kernel.shmmax",
  "kernel.shmmni",
  "kernel.shm_rmid_forced",
]);

/**
 * Sysctls: only keys of a namespace the container has its own of (runc's validation): IPC (kernel.msg*,
 * kernel.sem, kernel.shm*, fs.mqueue.*), network (net.*), UTS (kernel.domainname).
 */
function checkSysctls(
  s: Record<string, string> | undefined,
  modes: { ipcHost: boolean; netHost: boolean; utsHost: boolean },
): Record<string, string> | undefined {
  if (!s || !Object.keys(s).length) return undefined;
  const out: Record<string, string> = {};
  for (const [k, value] of Object.entries(s)) {
    const key = k.trim().replace(/\//g, ".");
    if (IPC_SYSCTLS.has(key) || key.startsWith("fs.mqueue.")) {
      if (modes.ipcHost) throw bad(`sysctl "${key}" not allowed in host ipc namespace`);
    } else if (key.startsWith("net.")) {
      if (modes.netHost) throw bad(`sysctl "${key}" not allowed in host network namespace`);
    } else if (key === "kernel.domainname") {
      if (modes.utsHost) throw bad(`sysctl "${key}" not allowed in host UTS namespace`);
    } else if (key === "kernel.hostname") {
      throw bad(`sysctl "kernel.hostname" is not allowed as it conflicts with the OCI "hostname" field`);
    } else throw bad(`sysctl "${key}" is not in a separate kernel namespace`);
    out[key] = value;
  }
  return out;
}

/** HostConfig.SecurityOpt as dockerd parses it; returns whether /proc and /sys stay unmasked */
function checkSecurityOpt(opts: string[]): { systemPathsUnconfined: boolean } {
  let systemPathsUnconfined = false;
  for (const s of opts) {
    const [k, v] = s.includes("=") ? s.split(/=(.*)/s) : s.split(/:(.*)/s);
    if (k === "no-new-privileges") {
      if (!(v === undefined || v === "" || v === "true" || v === "false")) throw bad(`invalid --security-opt 2: "${s}"`);
    } else if (k === "seccomp") {
      // "unconfined", or the profile's JSON (a client reads a file given by path, as docker's CLI does)
      if (v !== "unconfined") checkSeccomp(v ?? "");
    } else if (k === "systempaths") {
      if (v !== "unconfined") throw bad(`invalid --security-opt 2: "${s}"`);
      systemPathsUnconfined = true;
    } else if (k === "apparmor" || k === "label") {
      // no AppArmor or SELinux on the hosts berth runs on: recorded, nothing to apply
    } else throw bad(`invalid --security-opt 2: "${s}"`);
  }
  return { systemPathsUnconfined };
}

/**
 * docker's healthcheck merge (daemon/commit.go): the request's fields over the image's, a zero value
 * inheriting; `Test: ["NONE"]` turns the image's off. A check with no test is none at all.
 */
export function mergeHealthcheck(image: HealthConfig | undefined, user: HealthConfig | undefined): HealthConfig | undefined {
  if (user) {
    for (const k of ["Interval", "Timeout", "StartPeriod"] as const) {
      const v = user[k] ?? 0;
      if (v < 0 || (v > 0 && v < 1_000_000)) throw bad(`${k} in Healthcheck cannot be less than 1ms`);
    }
    if ((user.Retries ?? 0) < 0) throw bad("Retries in Healthcheck cannot be negative");
    if (user.Test?.[0] === "NONE") return { Test: ["NONE"] };
  }
  const hc: HealthConfig = { ...(image ?? {}) };
  if (user?.Test?.length) hc.Test = [...user.Test];
  for (const k of ["Interval", "Timeout", "StartPeriod", "Retries"] as const) if (user?.[k]) hc[k] = user[k];
  if (!hc.Test || hc.Test.length === 0) return image?.Test?.[0] === "NONE" ? { Test: ["NONE"] } : undefined;
  return hc;
}

/**
 * The network half of create (runconfig's checks): mode, published and exposed ports, links, the primary
 * endpoint's settings. Whether a named network exists is the service's question; this is the request.
 */
function buildNetwork(req: ContainerCreateRequest, imageExposed: Record<string, object>) {
  const h = req.HostConfig ?? {};
  const given = h.NetworkMode ?? "";
  const mode = given === "" || given === "default" ? "bridge" : given;
  if (mode.startsWith("container:") && mode.length === "container:".length) throw bad(`invalid network mode "${mode}": container name missing`);
  const bridged = isBridgeMode(mode);
  const userNet = bridged && mode !== "bridge";
  const container = mode.startsWith("container:");
  let bindings: PortBindingMap = h.PortBindings ?? {};
  let publishAll = !!h.PublishAllPorts;
  if (!bridged && (Object.keys(bindings).length || publishAll)) {
    // docker: published ports are discarded with host and none
    if (mode === "host" || mode === "none") (bindings = {}), (publishAll = false);
    else throw bad("conflicting options: port publishing and the container type network mode");
  }
  const eps = req.NetworkingConfig?.EndpointsConfig ?? {};
  const ep: EndpointSettingsRequest = eps[given || "default"] ?? eps[mode] ?? {};
  const aliases = ep.Aliases ?? [];
  const ip = ep.IPAMConfig?.IPv4Address || undefined;
  const mac = ep.MacAddress || undefined;
  if (container && ((h.Dns ?? []).length || (h.DnsSearch ?? []).length || (h.DnsOptions ?? []).length))
    throw bad("conflicting options: dns and the network mode");
  if (container && (h.ExtraHosts ?? []).length) throw bad("conflicting options: custom host-to-IP mapping and the network mode");
  if (container && mac) throw bad("conflicting options: mac-address and the network mode");
  if (!bridged && (h.Links ?? []).length)
    throw bad("conflicting options: container type network can't be used with links. This would result in undefined behavior");
  if (aliases.length && !userNet) throw bad("network-scoped alias is supported only for containers in user defined networks");
  if (ip && !userNet) throw bad("user specified IP address is supported on user defined networks only");
  if (ip && !/^\d{1,3}(\.\d{1,3}){3}$/.test(ip)) throw bad(`invalid IPv4 address: ${ip}`);
  if (mac && !/^([0-9a-fA-F]{2}:){5}[0-9a-fA-F]{2}$/.test(mac)) throw bad(`invalid MAC address: ${mac}`);
  if (mac && parseInt(mac.slice(0, 2), 16) & 1) throw bad(`invalid MAC address: ${mac}: multicast`);

  // the image's EXPOSE, the request's, then every published port (docker's CLI exposes those itself)
  const exposed: Record<string, object> = { ...imageExposed, ...(req.ExposedPorts ?? {}) };
  const portBindings: PortBindingMap = {};
  for (const [key, bs] of Object.entries(bindings)) {
    if (!/^\d+(-\d+)?(\/(tcp|udp|sctp))?$/.test(key)) throw bad(`invalid port specification: "${key}"`);
    const k = key.includes("/") ? key : `${key}/tcp`;
    exposed[k] = {};
    portBindings[k] = (bs ?? []).map((b) => {
      if (b.HostPort && !/^\d+(-\d+)?$/.test(b.HostPort)) throw bad(`invalid port specification: "${b.HostPort}"`);
      return { HostIp: b.HostIp ?? "", HostPort: b.HostPort ?? "" };
    });
  }
  const links = (h.Links ?? []).map((l) => {
    const { name, alias } = parseLink(l);
    return `${name}:${alias}`;
  });
  const endpoints: Record<string, EndpointSettings> = {};
  if (bridged) endpoints[mode] = { Aliases: aliases.length ? [...aliases] : null, IPAddress: ip ?? "", MacAddress: mac?.toLowerCase() ?? "" };
  return { mode, exposed, portBindings, publishAll, links, endpoints };
}

/**
 * A create request + its image → the record's Config, HostConfig and mounts. Entrypoint and Cmd as
 * dockerd merges them: a request without an Entrypoint takes the image's, and then also the image's Cmd
 * when it has none; a request Entrypoint (`[""]`: none at all) keeps the image's Cmd out.
 */
export function createConfig(
  req: ContainerCreateRequest,
  image: { config: ImageConfig },
  o: {
    hostCpus: number;
    ephemeral?: boolean;
    mountsOf?: (ref: string) => MountPoint[];
    /** what the host's cgroups can do (runtime cgroupSupport); absent: nothing beyond the basics */
    cgroups?: { oomKillDisable: boolean; blkioWeightFile?: string };
  },
): BuiltConfig {
  const ic = image.config.config ?? {};
  const h = req.HostConfig ?? {};
  let entrypoint: string[];
  let cmd: string[] = req.Cmd ?? [];
  if (req.Entrypoint?.length) {
    entrypoint = req.Entrypoint.length === 1 && req.Entrypoint[0] === "" ? [] : [...req.Entrypoint];
  } else {
    if (cmd.length === 0) cmd = ic.Cmd ?? [];
    entrypoint = req.Entrypoint ? [] : (ic.Entrypoint ?? []);
  }
  const argv = [...entrypoint, ...cmd];
  if (argv.length === 0) throw bad("no command specified");

  const restart = checkRestart(h.RestartPolicy);
  if (h.AutoRemove && restart.Name !== "no") throw bad("can't create 'AutoRemove' container with restart policy");

  const env = mergeEnv(ic.Env ?? [], req.Env ?? []);
  for (const e of req.Env ?? []) if (e.startsWith("=") || e === "") throw bad(`invalid environment variable: ${e}`);
  const labels: Record<string, string> = { ...(ic.Labels ?? {}), ...(req.Labels ?? {}) };

  const net = buildNetwork(req, ic.ExposedPorts ?? {});
  const network = net.mode;
  const sysctls = checkSysctls(h.Sysctls, { ipcHost: h.IpcMode === "host", netHost: network === "host", utsHost: h.UTSMode === "host" || network === "host" });
  if (req.Hostname && (network === "host" || network.startsWith("container:"))) throw bad("conflicting options: hostname and the network mode");

  const memory = checkMemory(h.Memory ?? 0);
  const memorySwap = h.MemorySwap ?? 0;
  if (memorySwap > 0 && memory === 0) throw bad("You should always set the Memory limit when using Memoryswap limit, see usage");
  const nanoCpus = nanoCpusOf(h, o.hostCpus) ?? 0;
  const memoryReservation = h.MemoryReservation ?? 0;
  checkMemoryLimits(memory, memorySwap, memoryReservation);
  if ((h.ShmSize ?? 0) < 0) throw bad("SHM size can not be less than 0");
  const ipcMode = checkIpcMode(h.IpcMode);
  const pidMode = checkPidMode(h.PidMode);
  const utsMode = checkUtsMode(h.UTSMode);
  if (req.Hostname && utsMode === "host") throw bad("conflicting options: hostname and the UTS mode");
  const cpusetCpus = checkCpuset(h.CpusetCpus, "cpus", o.hostCpus);
  const cpusetMems = checkCpuset(h.CpusetMems, "mems", o.hostCpus);
  const { warnings, oomKillDisable, blkioWeight, oomScoreAdj, cgroupnsMode } = checkCgroupOptions(h, memory, o.cgroups);
  const logConfig = { Type: h.LogConfig?.Type || "json-file", Config: { ...(h.LogConfig?.Config ?? {}) } };
  parseLogConfig(logConfig); // docker refuses a bad option at create
  // a Go map: its JSON has the keys sorted
  logConfig.Config = Object.fromEntries(Object.entries(logConfig.Config).sort(([a], [b]) => (a < b ? -1 : 1)));

  // moby's registerMountPoints: --volumes-from (each container's mounts, read-only when the spec or the
  // mount says so), then Binds and --mount, which replace an inherited mount at the same destination;
  // then anonymous volumes: the request's Config.Volumes, then the image's VOLUMEs not covered already
  // (none for a build step: BuildKit mounts no volumes for RUN)
  const inherited = new Map<string, MountPoint>();
  for (const spec of h.VolumesFrom ?? []) {
    const { ref, rw } = parseVolumesFrom(spec);
    if (!o.mountsOf) throw new EngineError("not_implemented", "volumes-from is not available here");
    for (const m of o.mountsOf(ref)) inherited.set(m.Destination, { ...m, Mode: "", RW: m.RW && rw });
  }
  const mounts = (h.Binds ?? []).map(parseBind);
  const mountTmpfs: [string, string][] = [];
  const mustExist: string[] = [];
  for (const m of h.Mounts ?? []) {
    const r = mountOf(m);
    if ("tmpfs" in r) mountTmpfs.push(r.tmpfs);
    else {
      mounts.push(r.mount);
      if (r.mustExist) mustExist.push(r.mustExist);
    }
  }
  const tmpfs: Record<string, string> = {};
  for (const [path, opts] of Object.entries(h.Tmpfs ?? {})) {
    if (!path.startsWith("/")) throw bad(`invalid mount config for type "tmpfs": invalid mount path: '${path}' mount path must be absolute`);
    tmpfs[path] = opts;
  }
  for (const [path, opts] of mountTmpfs) {
    if (path in tmpfs) throw bad(`Duplicate mount point: ${path}`);
    tmpfs[path] = opts;
  }
  // moby's createContainerOSSpecificSettings runs after registerMountPoints: a Config.Volumes entry whose
  // destination a bind or mount already takes gets no anonymous volume (compose sends both for `vol:/d`)
  const bound = new Set(mounts.map((m) => m.Destination));
  for (const v of Object.keys(req.Volumes ?? {})) {
    if (!v.startsWith("/")) throw bad(`invalid volume specification: '${v}'`);
    if (inherited.has(trimSlash(v)) || bound.has(trimSlash(v))) continue;
    mounts.push(anonymousVolume(trimSlash(v)));
  }
  for (const p of o.ephemeral ? [] : Object.keys(ic.Volumes ?? {})) {
    const dest = trimSlash(p);
    if (!dest.startsWith("/") || mounts.some((m) => m.Destination === dest) || inherited.has(dest) || dest in tmpfs) continue;
    mounts.push(anonymousVolume(dest));
  }
  const dests = [...mounts.map((m) => m.Destination), ...Object.keys(tmpfs)];
  const dup = dests.find((d, i) => dests.indexOf(d) !== i);
  if (dup) throw bad(`Duplicate mount point: ${dup}`);
  const shared = [...inherited.values()].filter((m) => !dests.includes(m.Destination));
  mounts.unshift(...shared);

  const securityOpt = h.SecurityOpt ?? [];
  const { systemPathsUnconfined } = checkSecurityOpt(securityOpt);
  // capabilities and signals checked now so `create` fails, not `start`
  const capAdd = h.CapAdd ?? [],
    capDrop = h.CapDrop ?? [];
  computeCapabilities(capAdd, capDrop, !!h.Privileged);
  if (req.StopSignal) parseSignal(req.StopSignal);
  const stopSignal = req.StopSignal || ic.StopSignal;
  if (req.WorkingDir && !req.WorkingDir.startsWith("/")) throw bad(`the working directory '${req.WorkingDir}' is invalid, it needs to be an absolute path`);
  const privileged = !!h.Privileged;

  const config: DockerConfig = {
    Hostname: req.Hostname ?? "",
    Domainname: req.Domainname ?? "",
    User: req.User || ic.User || "",
    AttachStdin: !!req.AttachStdin,
    AttachStdout: !!req.AttachStdout,
    AttachStderr: !!req.AttachStderr,
    Tty: !!req.Tty,
    OpenStdin: !!req.OpenStdin,
    StdinOnce: !!req.StdinOnce,
    Env: env,
    Cmd: cmd.length ? cmd : null,
    Image: req.Image ?? "",
    Volumes: req.Volumes && Object.keys(req.Volumes).length ? { ...(ic.Volumes ?? {}), ...req.Volumes } : (ic.Volumes ?? null),
    WorkingDir: req.WorkingDir || ic.WorkingDir || "",
    Entrypoint: entrypoint.length ? entrypoint : null,
    OnBuild: null,
    Labels: labels,
  };
  if (Object.keys(net.exposed).length) config.ExposedPorts = net.exposed;
  if (stopSignal) config.StopSignal = stopSignal;
  if (req.StopTimeout !== undefined && req.StopTimeout !== null) config.StopTimeout = req.StopTimeout;
  const hc = mergeHealthcheck(ic.Healthcheck, req.Healthcheck);
  if (hc) config.Healthcheck = hc;

  const nonEmpty = <T>(a: T[] | null | undefined): T[] | null => (a?.length ? a : null);
  const hostConfig: DockerHostConfig = {
    Binds: nonEmpty(h.Binds),
    ...(h.VolumesFrom?.length ? { VolumesFrom: [...h.VolumesFrom] } : {}),
    NetworkMode: network,
    RestartPolicy: restart,
    AutoRemove: !!h.AutoRemove,
    CapAdd: nonEmpty(capAdd),
    CapDrop: nonEmpty(capDrop),
    Dns: h.Dns ?? [],
    DnsOptions: h.DnsOptions ?? [],
    DnsSearch: h.DnsSearch ?? [],
    ExtraHosts: nonEmpty(h.ExtraHosts),
    Privileged: privileged,
    ReadonlyRootfs: !!h.ReadonlyRootfs,
    SecurityOpt: nonEmpty(securityOpt),
    Memory: memory,
    MemorySwap: memorySwap,
    NanoCpus: nanoCpus,
    ...(h.CpuQuota ? { CpuQuota: h.CpuQuota } : {}),
    ...(h.CpuPeriod ? { CpuPeriod: h.CpuPeriod } : {}),
    CpuShares: h.CpuShares ?? 0,
    PidsLimit: h.PidsLimit ?? null,
    Init: h.Init ? true : null,
    GroupAdd: nonEmpty(h.GroupAdd),
    IpcMode: ipcMode,
    PidMode: pidMode,
    UTSMode: utsMode,
    Ulimits: nonEmpty(h.Ulimits),
    Devices: nonEmpty(h.Devices),
    ShmSize: h.ShmSize || 64 * 1024 * 1024,
    CpusetCpus: cpusetCpus,
    CpusetMems: cpusetMems,
    MemoryReservation: memoryReservation,
    ...(cgroupnsMode ? { CgroupnsMode: cgroupnsMode } : {}),
    ...(oomScoreAdj ? { OomScoreAdj: oomScoreAdj } : {}),
    ...(oomKillDisable ? { OomKillDisable: true } : {}),
    ...(blkioWeight ? { BlkioWeight: blkioWeight } : {}),
    ...(h.Mounts?.length ? { Mounts: h.Mounts } : {}),
    Runtime: "berth",
    LogConfig: logConfig,
    MaskedPaths: privileged || systemPathsUnconfined ? [] : MASKED_PATHS,
    ReadonlyPaths: privileged || systemPathsUnconfined ? [] : READONLY_PATHS,
  };
  // --tmpfs only: dockerd keeps `--mount type=tmpfs` in HostConfig.Mounts (the runtime gets both, Tmpfs below)
  const tmpfsFlag = Object.fromEntries(Object.entries(tmpfs).filter(([p]) => !mountTmpfs.some(([t]) => t === p)));
  if (Object.keys(tmpfsFlag).length) hostConfig.Tmpfs = tmpfsFlag;
  if (sysctls) hostConfig.Sysctls = sysctls;
  hostConfig.PortBindings = net.portBindings;
  hostConfig.PublishAllPorts = net.publishAll;
  hostConfig.Links = net.links.length ? net.links : null;
  return {
    Path: argv[0]!,
    Args: argv.slice(1),
    Config: config,
    HostConfig: hostConfig,
    Mounts: mounts,
    Tmpfs: tmpfs,
    Endpoints: net.endpoints,
    ...(mustExist.length ? { MustExist: mustExist } : {}),
    ...(shared.length ? { Inherited: shared.map((m) => m.Destination) } : {}),
    ...(warnings.length ? { Warnings: warnings } : {}),
  };
}

/**
 * --oom-kill-disable, --blkio-weight, --oom-score-adj and --cgroupns checked as dockerd does
 * (daemon/daemon_unix.go verifyPlatformContainerResources and verifyPlatformContainerSettings): a
 * setting the host's cgroups cannot honour is dropped with dockerd's warning, so inspect shows what the
 * container got
 */
function checkCgroupOptions(
  h: NonNullable<ContainerCreateRequest["HostConfig"]>,
  memory: number,
  support: { oomKillDisable: boolean; blkioWeightFile?: string } = { oomKillDisable: false },
) {
  const warnings: string[] = [];
  let oomKillDisable = !!h.OomKillDisable;
  if (oomKillDisable && !support.oomKillDisable) {
    warnings.push("Your kernel does not support OomKillDisable. OomKillDisable discarded.");
    oomKillDisable = false;
  }
  if (oomKillDisable && memory === 0)
    warnings.push("OOM killer is disabled for the container, but no memory limit is set, this can result in the system running out of resources.");
  let blkioWeight = h.BlkioWeight ?? 0;
  if (blkioWeight > 0 && !support.blkioWeightFile) {
    warnings.push("Your kernel does not support Block I/O weight or the cgroup is not mounted. Weight discarded.");
    blkioWeight = 0;
  }
  if (blkioWeight > 0 && (blkioWeight < 10 || blkioWeight > 1000)) throw bad("Range of blkio weight is from 10 to 1000");
  const oomScoreAdj = h.OomScoreAdj ?? 0;
  if (oomScoreAdj < -1000 || oomScoreAdj > 1000) throw bad(`Invalid value ${oomScoreAdj}, range for oom score adj is [-1000, 1000]`);
  const cgroupnsMode = h.CgroupnsMode || undefined;
  if (cgroupnsMode !== undefined && cgroupnsMode !== "host" && cgroupnsMode !== "private") throw bad(`invalid cgroup namespace mode: ${cgroupnsMode}`);
  return { warnings, oomKillDisable, blkioWeight, oomScoreAdj, cgroupnsMode };
}

/**
 * `update`: the new HostConfig (a field present in the request changes, the rest stays) with create's
 * checks and dockerd's update-specific errors.
 */
export function applyUpdate(h: DockerHostConfig, req: ContainerUpdateRequest, hostCpus: number): DockerHostConfig {
  const n: DockerHostConfig = { ...h };
  if (req.Memory !== undefined) n.Memory = checkMemory(req.Memory);
  if (req.MemorySwap !== undefined) n.MemorySwap = req.MemorySwap;
  if (req.Memory !== undefined && req.MemorySwap === undefined && h.MemorySwap > 0 && n.Memory > h.MemorySwap) {
    throw bad("Memory limit should be smaller than already set memoryswap limit, update the memoryswap at the same time");
  }
  if (req.MemoryReservation !== undefined) n.MemoryReservation = req.MemoryReservation;
  checkMemoryLimits(n.Memory, n.MemorySwap, n.MemoryReservation ?? 0);
  // dockerd's UpdateContainer: NanoCPUs and the CFS pair exclude each other across updates too
  if ((req.NanoCpus ?? 0) > 0 && (h.CpuPeriod ?? 0) > 0) throw bad("Conflicting options: Nano CPUs cannot be updated as CPU Period has already been set");
  if ((req.NanoCpus ?? 0) > 0 && (h.CpuQuota ?? 0) > 0) throw bad("Conflicting options: Nano CPUs cannot be updated as CPU Quota has already been set");
  if ((req.CpuPeriod ?? 0) > 0 && h.NanoCpus > 0) throw bad("Conflicting options: CPU Period cannot be updated as NanoCPUs has already been set");
  if ((req.CpuQuota ?? 0) > 0 && h.NanoCpus > 0) throw bad("Conflicting options: CPU Quota cannot be updated as NanoCPUs has already been set");
  const nano = nanoCpusOf(req, hostCpus);
  if (nano !== undefined) n.NanoCpus = nano;
  if (req.CpuQuota !== undefined) n.CpuQuota = req.CpuQuota;
  if (req.CpuPeriod !== undefined) n.CpuPeriod = req.CpuPeriod;
  if (req.CpuShares !== undefined) n.CpuShares = req.CpuShares;
  if (req.PidsLimit !== undefined) n.PidsLimit = req.PidsLimit;
  if (req.CpusetCpus !== undefined) n.CpusetCpus = checkCpuset(req.CpusetCpus, "cpus", hostCpus);
  if (req.CpusetMems !== undefined) n.CpusetMems = checkCpuset(req.CpusetMems, "mems", hostCpus);
  if (req.RestartPolicy !== undefined) {
    const r = checkRestart(req.RestartPolicy);
    if (h.AutoRemove && r.Name !== "no") throw bad("Restart policy cannot be updated because AutoRemove is enabled for the container");
    n.RestartPolicy = r;
  }
  return n;
}
