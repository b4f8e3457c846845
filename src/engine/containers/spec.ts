/**
 * Pure spec building (STYLE §5 plan, then act): typed CLI options + the image config → docker's Config and
 * HostConfig (what `create` records), and record + snapshot mounts + resolved user → the runtime's
 * ContainerSpec (what `start` hands to src/runtime). No I/O here: files (env files, /etc/passwd) are read
 * by the caller and passed in as text.
 */
import { parseLogConfig } from "./logs.ts";
import { effectiveHealthcheck } from "./health.ts";
import { compileSeccomp, hostArch, parseSeccompProfile, type SeccompProfile } from "../../runtime/seccomp.ts";
import * as hostopt from "./host-options.ts";
import { EngineError } from "../../lib/errors.ts";
import type { ImageConfig, Mount } from "../../oci/index.ts";
import type { ContainerSpec } from "../../runtime/types.ts";
import { joinsNetworks, parsePortSpec } from "../../net/index.ts";
import type { ContainerConfigFile, DockerConfig, DockerHostConfig, EndpointSettings, MountPoint, PortBindingMap } from "./types.ts";

/** `run`/`create` flags as a typed object (the engine never sees argv) */
export interface CreateOptions {
  image: string;
  /** engine-internal (no CLI flag): see BerthFields.Ephemeral */
  ephemeral?: boolean;
  /** arguments after the image name */
  command: string[];
  name?: string;
  /** undefined = not given; "" = reset the image's entrypoint */
  entrypoint?: string;
  env: string[];
  /** contents of each --env-file, in order */
  envFiles: string[];
  workdir?: string;
  user?: string;
  hostname?: string;
  domainname?: string;
  tty: boolean;
  interactive: boolean;
  attach: string[];
  detach: boolean;
  rm: boolean;
  capAdd: string[];
  capDrop: string[];
  privileged: boolean;
  securityOpt: string[];
  readOnly: boolean;
  volumes: string[];
  tmpfs: string[];
  memory?: string;
  memorySwap?: string;
  cpus?: string;
  cpuShares?: string;
  pidsLimit?: string;
  network?: string;
  init: boolean;
  labels: string[];
  restart?: string;
  stopSignal?: string;
  stopTimeout?: string;
  addHost: string[];
  dns: string[];
  dnsOption: string[];
  dnsSearch: string[];
  groupAdd: string[];
  /** -p/--publish, as given */
  publish: string[];
  /** -P/--publish-all: every exposed port on a random host port */
  publishAll: boolean;
  /** --expose */
  expose: string[];
  networkAlias: string[];
  /** --link NAME[:ALIAS] */
  links: string[];
  ip?: string;
  macAddress?: string;
  /** --ulimit name=soft[:hard] */
  ulimits?: string[];
  /** --device host[:ctr][:rwm] */
  devices?: string[];
  /** --sysctl k=v */
  sysctls?: string[];
  shmSize?: string;
  cpusetCpus?: string;
  cpusetMems?: string;
  memoryReservation?: string;
  ipc?: string;
  pid?: string;
  uts?: string;
  /** --health-cmd, --health-interval, --health-timeout, --health-start-period, --health-retries, --no-healthcheck */
  health?: import("./health.ts").HealthFlags;
  /** --mount (CSV) */
  mounts?: string[];
  /** --log-driver, --log-opt k=v */
  logDriver?: string;
  logOpts?: string[];
}

export function defaultCreateOptions(image: string, over: Partial<CreateOptions> = {}): CreateOptions {
  return {
    image, command: [], env: [], envFiles: [], tty: false, interactive: false, attach: [], detach: false, rm: false,
    capAdd: [], capDrop: [], privileged: false, securityOpt: [], readOnly: false, volumes: [], tmpfs: [],
    init: false, labels: [], addHost: [], dns: [], dnsOption: [], dnsSearch: [], groupAdd: [], publish: [], publishAll: false,
    expose: [], networkAlias: [], links: [], ...over,
  };
}

const bad = (msg: string) => new EngineError("invalid_argument", msg);

export const DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/** docker's default capability set (moby oci/caps/defaults.go) */
export const DEFAULT_CAPS = [
  "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW", "CAP_SETGID",
  "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE",
];

/** capabilities(7), numbered 0…40 */
export const ALL_CAPS = [
  "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL", "CAP_SETGID",
  "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE", "CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST", "CAP_NET_ADMIN",
  "CAP_NET_RAW", "CAP_IPC_LOCK", "CAP_IPC_OWNER", "CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_CHROOT", "CAP_SYS_PTRACE",
  "CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE", "CAP_SYS_RESOURCE", "CAP_SYS_TIME",
  "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE", "CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL", "CAP_SETFCAP",
  "CAP_MAC_OVERRIDE", "CAP_MAC_ADMIN", "CAP_SYSLOG", "CAP_WAKE_ALARM", "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ",
  "CAP_PERFMON", "CAP_BPF", "CAP_CHECKPOINT_RESTORE",
];

/** docker's masked and read-only paths (moby oci/defaults.go) */
export const MASKED_PATHS = [
  "/proc/asound", "/proc/acpi", "/proc/interrupts", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
  "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi", "/sys/firmware",
  "/sys/devices/virtual/powercap",
];
export const READONLY_PATHS = ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"];

function normCap(c: string): string {
  const u = c.toUpperCase();
  if (u === "ALL") return "ALL";
  const name = u.startsWith("CAP_") ? u : `CAP_${u}`;
  if (!ALL_CAPS.includes(name)) throw bad(`invalid CapAdd: unknown capability: "${name}"`);
  return name;
}

/** moby oci/caps.TweakCapabilities */
export function computeCapabilities(capAdd: string[], capDrop: string[], privileged: boolean): string[] {
  if (privileged) return [...ALL_CAPS];
  const add = capAdd.map(normCap), drop = capDrop.map(normCap);
  if (add.includes("ALL")) return ALL_CAPS.filter((c) => !drop.includes(c));
  if (drop.includes("ALL")) return [...new Set(add)];
  return [...new Set([...DEFAULT_CAPS.filter((c) => !drop.includes(c)), ...add])];
}

/** docker's RAMInBytes (go-units): 512, 512k, 64m, 1g, 1.5GB — binary multiples */
export function parseBytes(s: string, flag: string): number {
  const m = /^(\d+(?:\.\d+)?) ?([kKmMgGtTpP])?[iI]?[bB]?$/.exec(s.trim());
  if (!m) throw bad(`invalid argument "${s}" for "${flag}" flag: invalid size: '${s}'`);
  const mult = { "": 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4, p: 1024 ** 5 }[(m[2] ?? "").toLowerCase()]!;
  return Math.floor(parseFloat(m[1]!) * mult);
}

const SIGNALS: Record<string, number> = {
  HUP: 1, INT: 2, QUIT: 3, ILL: 4, TRAP: 5, ABRT: 6, IOT: 6, BUS: 7, FPE: 8, KILL: 9, USR1: 10, SEGV: 11, USR2: 12,
  PIPE: 13, ALRM: 14, TERM: 15, STKFLT: 16, CHLD: 17, CONT: 18, STOP: 19, TSTP: 20, TTIN: 21, TTOU: 22, URG: 23,
  XCPU: 24, XFSZ: 25, VTALRM: 26, PROF: 27, WINCH: 28, IO: 29, POLL: 29, PWR: 30, SYS: 31,
};

/** "SIGTERM", "TERM", "15", "SIGRTMIN+3" → signal number; docker's error otherwise */
export function parseSignal(s: string): number {
  if (/^\d+$/.test(s)) {
    const n = Number(s);
    if (n < 1 || n > 64) throw bad(`invalid signal: ${s}`);
    return n;
  }
  let u = s.toUpperCase();
  if (u.startsWith("SIG")) u = u.slice(3);
  const rt = /^RTMIN(?:\+(\d+))?$/.exec(u) ?? /^RTMAX(?:-(\d+))?$/.exec(u);
  if (rt) return u.startsWith("RTMIN") ? 34 + Number(rt[1] ?? 0) : 64 - Number(rt[1] ?? 0);
  const n = SIGNALS[u];
  if (n === undefined) throw bad(`invalid signal: ${s}`);
  return n;
}

export function signalName(n: number): string {
  for (const [k, v] of Object.entries(SIGNALS)) if (v === n) return `SIG${k}`;
  return String(n);
}

/** parse an --env-file's text: `VAR=val`, `VAR` (host value, omitted when unset), `#` comments */
export function parseEnvFile(text: string, hostEnv: Record<string, string | undefined>): string[] {
  const out: string[] = [];
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.replace(/^\s+/, "");
    if (line === "" || line.startsWith("#")) continue;
    out.push(...expandEnv(line, hostEnv));
  }
  return out;
}

function expandEnv(e: string, hostEnv: Record<string, string | undefined>): string[] {
  if (e.includes("=")) {
    if (e.startsWith("=")) throw bad(`invalid environment variable: ${e}`);
    return [e];
  }
  const v = hostEnv[e];
  return v === undefined ? [] : [`${e}=${v}`];
}

/** docker's merge: user env first, then image env whose keys the user did not set */
export function mergeEnv(imageEnv: string[], userEnv: string[]): string[] {
  if (userEnv.length === 0) return [...imageEnv];
  const keys = new Set(userEnv.map((e) => e.split("=")[0]));
  return [...userEnv, ...imageEnv.filter((e) => !keys.has(e.split("=")[0]))];
}

/** replace-or-append by key (the process env built at start) */
function setEnv(env: string[], kv: string): string[] {
  const k = kv.split("=")[0];
  const i = env.findIndex((e) => e.split("=")[0] === k);
  if (i >= 0) {
    const copy = [...env];
    copy[i] = kv;
    return copy;
  }
  return [...env, kv];
}

const VOLUME_NAME_RE = /^[a-zA-Z0-9][a-zA-Z0-9_.-]+$/;

/**
 * One -v value, docker's forms: HOST:CTR[:MODE] (a bind; HOST absolute), NAME:CTR[:MODE] (a named volume,
 * created on first use), CTR (an anonymous volume: Name "" until create names it). A volume's Source
 * stays "" here: the mountpoint is the volume service's to say.
 */
export function parseVolume(v: string): MountPoint {
  const parts = v.split(":");
  if (parts.length === 1 && v.startsWith("/")) {
    return { Type: "volume", Name: "", Source: "", Destination: v.replace(/(.)\/+$/, "$1"), Driver: "local", Mode: "", RW: true, Propagation: "" };
  }
  if (parts.length < 2 || parts.length > 3 || parts.some((p) => p === "")) throw bad(`invalid volume specification: '${v}'`);
  const [src, dst, mode = ""] = parts as [string, string, string?];
  const isBind = src.startsWith("/");
  if (!isBind && !VOLUME_NAME_RE.test(src)) {
    throw bad(`create ${src}: "${src}" includes invalid characters for a local volume name, only "[a-zA-Z0-9][a-zA-Z0-9_.-]" are allowed. If you intended to pass a host directory, use absolute path`);
  }
  if (!dst.startsWith("/")) throw bad(`invalid volume specification: '${v}': invalid mount config for type "${isBind ? "bind" : "volume"}": invalid mount path: '${dst}' mount path must be absolute`);
  let rw = true;
  let propagation = "rprivate";
  for (const o of mode.split(",").filter(Boolean)) {
    if (o === "ro") rw = false;
    else if (o === "rw") rw = true;
    else if (["z", "Z", "nocopy"].includes(o)) continue;
    else if (isBind && ["private", "rprivate", "shared", "rshared", "slave", "rslave"].includes(o)) propagation = o;
    else throw bad(`invalid mode: ${o}`);
  }
  const destination = dst.replace(/(.)\/+$/, "$1");
  if (!isBind) return { Type: "volume", Name: src, Source: "", Destination: destination, Driver: "local", Mode: mode || "z", RW: rw, Propagation: "" };
  return { Type: "bind", Source: src.replace(/(.)\/+$/, "$1"), Destination: destination, Mode: mode, RW: rw, Propagation: propagation };
}

/**
 * `--mount type=bind|volume|tmpfs,source=…,target=…[,readonly][,bind-propagation=…][,volume-nocopy]
 * [,tmpfs-size=…][,tmpfs-mode=…]`: a MountPoint (bind, volume) or a tmpfs path and its options. Unlike
 * -v, a bind source must exist (create() checks it).
 */
export function parseMountFlag(v: string): { mount: MountPoint; mustExist?: string } | { tmpfs: [string, string] } {
  const flag = (why: string) => bad(`invalid argument "${v}" for "--mount" flag: ${why}`);
  const kv: Record<string, string> = {};
  for (const field of v.split(",")) {
    if (!field) continue;
    const i = field.indexOf("=");
    const k = (i < 0 ? field : field.slice(0, i)).trim().toLowerCase();
    const val = i < 0 ? "" : field.slice(i + 1);
    if (i < 0 && !["readonly", "ro", "volume-nocopy"].includes(k)) throw flag(`invalid field '${field}' must be a key=value pair`);
    kv[k] = i < 0 ? "true" : val;
  }
  const known = new Set(["type", "source", "src", "target", "destination", "dst", "readonly", "ro", "bind-propagation", "volume-nocopy", "volume-driver", "tmpfs-size", "tmpfs-mode", "consistency"]);
  for (const k of Object.keys(kv)) if (!known.has(k)) throw flag(`unexpected key '${k}' in '${v}'`);
  const type = kv.type ?? "volume";
  if (!["bind", "volume", "tmpfs"].includes(type)) throw flag(`invalid mount type "${type}"`);
  const source = kv.source ?? kv.src ?? "";
  const target = (kv.target ?? kv.destination ?? kv.dst ?? "").replace(/(.)\/+$/, "$1");
  const bool = (k: string) => {
    const x = kv[k];
    if (x === undefined) return false;
    if (["true", "1"].includes(x)) return true;
    if (["false", "0"].includes(x)) return false;
    throw flag(`invalid value for ${k}: ${x}`);
  };
  const ro = bool("readonly") || bool("ro");
  const cfg = (why: string) => bad(`invalid mount config for type "${type}": ${why}`);
  if (!target) throw cfg("field Target must not be empty");
  if (!target.startsWith("/")) throw cfg(`invalid mount path: '${target}' mount path must be absolute`);
  if (kv["volume-driver"] && kv["volume-driver"] !== "local") throw cfg(`volume driver "${kv["volume-driver"]}" is not available (berth has local)`);
  if (type === "tmpfs") {
    if (source) throw cfg("field Source must not be specified");
    const opts: string[] = [];
    if (kv["tmpfs-size"]) opts.push(`size=${parseBytes(kv["tmpfs-size"], "--mount tmpfs-size")}`);
    if (kv["tmpfs-mode"]) {
      if (!/^[0-7]{3,4}$/.test(kv["tmpfs-mode"])) throw flag(`invalid value for tmpfs-mode: ${kv["tmpfs-mode"]}`);
      opts.push(`mode=${kv["tmpfs-mode"]}`);
    }
    if (ro) opts.push("ro");
    return { tmpfs: [target, opts.join(",")] };
  }
  if (type === "bind") {
    if (!source) throw cfg("field Source must not be empty");
    if (!source.startsWith("/")) throw cfg(`invalid mount path: '${source}' mount path must be absolute`);
    const propagation = kv["bind-propagation"] ?? "rprivate";
    if (!["private", "rprivate", "shared", "rshared", "slave", "rslave"].includes(propagation)) throw flag(`invalid value for bind-propagation: ${propagation}`);
    const src = source.replace(/(.)\/+$/, "$1");
    return { mount: { Type: "bind", Source: src, Destination: target, Mode: "", RW: !ro, Propagation: propagation }, mustExist: src };
  }
  if (source && !VOLUME_NAME_RE.test(source)) throw cfg(`create ${source}: "${source}" includes invalid characters for a local volume name, only "[a-zA-Z0-9][a-zA-Z0-9_.-]" are allowed`);
  return { mount: { Type: "volume", Name: source, Source: "", Destination: target, Driver: "local", Mode: bool("volume-nocopy") ? "nocopy" : "z", RW: !ro, Propagation: "" } };
}

/** -m/--memory: docker's minimum is 6 MB */
function parseMemory(s: string): number {
  const m = parseBytes(s, "-m, --memory");
  if (m > 0 && m < 6 * 1024 * 1024) throw bad("Minimum memory limit allowed is 6MB");
  return m;
}

const parseSwap = (s: string) => (s === "-1" ? -1 : parseBytes(s, "--memory-swap"));

/** --cpus as nano-CPUs (0: no limit), within what this host has */
function parseNanoCpus(s: string, hostCpus: number): number {
  const c = Number(s);
  if (!/^\d*\.?\d+$/.test(s) || !Number.isFinite(c)) throw bad(`invalid argument "${s}" for "--cpus" flag: failed to parse ${s} as a rational number`);
  const n = Math.round(c * 1e9);
  if (n !== 0 && (n < 1e7 || n > hostCpus * 1e9)) throw bad(`range of CPUs is from 0.01 to ${hostCpus.toFixed(2)}, as there are only ${hostCpus} CPUs available`);
  return n;
}

/** the memory limit against swap and reservation (create and update alike) */
function checkMemoryLimits(memory: number, swap: number, reservation: number): void {
  if (swap > 0 && memory > 0 && swap < memory) throw bad("Minimum memoryswap limit should be larger than memory limit, see usage");
  if (memory > 0 && reservation > memory) throw bad("Minimum memory limit can not be less than memory reservation limit, see usage");
}

export interface UpdateOptions {
  cpus?: string;
  cpuShares?: string;
  memory?: string;
  memorySwap?: string;
  memoryReservation?: string;
  pidsLimit?: string;
  cpusetCpus?: string;
  cpusetMems?: string;
  restart?: string;
}

/**
 * `update`: the new HostConfig (only what was given changes) with create's validation and docker's
 * update-specific errors.
 */
export function applyUpdate(h: DockerHostConfig, o: UpdateOptions, hostCpus: number): DockerHostConfig {
  const n: DockerHostConfig = { ...h };
  if (o.memory !== undefined) n.Memory = parseMemory(o.memory);
  if (o.memorySwap !== undefined) n.MemorySwap = parseSwap(o.memorySwap);
  if (o.memory !== undefined && o.memorySwap === undefined && h.MemorySwap > 0 && n.Memory > h.MemorySwap) {
    throw bad("Memory limit should be smaller than already set memoryswap limit, update the memoryswap at the same time");
  }
  if (o.memoryReservation !== undefined) n.MemoryReservation = parseBytes(o.memoryReservation, "--memory-reservation");
  checkMemoryLimits(n.Memory, n.MemorySwap, n.MemoryReservation ?? 0);
  if (o.cpus !== undefined) n.NanoCpus = parseNanoCpus(o.cpus, hostCpus);
  if (o.cpuShares !== undefined) n.CpuShares = parseInt10(o.cpuShares, "-c, --cpu-shares");
  if (o.pidsLimit !== undefined) n.PidsLimit = parseInt10(o.pidsLimit, "--pids-limit");
  if (o.cpusetCpus !== undefined) n.CpusetCpus = hostopt.parseCpuset(o.cpusetCpus, "--cpuset-cpus", hostCpus);
  if (o.cpusetMems !== undefined) n.CpusetMems = hostopt.parseCpuset(o.cpusetMems, "--cpuset-mems", hostCpus);
  if (o.restart !== undefined) {
    const r = parseRestart(o.restart);
    if (h.AutoRemove && r.Name !== "no") throw bad("Restart policy cannot be updated because AutoRemove is enabled for the container");
    n.RestartPolicy = r;
  }
  return n;
}

/** a volume mount whose -v asked for no copy of the image's content (`:nocopy`) */
export const isNoCopy = (m: MountPoint) => m.Type === "volume" && m.Mode.split(",").includes("nocopy");

export function parseRestart(s: string | undefined): { Name: string; MaximumRetryCount: number } {
  if (s === undefined || s === "" || s === "no") return { Name: "no", MaximumRetryCount: 0 };
  const [name, count] = s.split(":");
  if (name === "always" || name === "unless-stopped") {
    if (count !== undefined) throw bad(`invalid restart policy format: maximum retry count can only be used with 'on-failure'`);
    return { Name: name, MaximumRetryCount: 0 };
  }
  if (name === "on-failure") {
    const n = count === undefined ? 0 : Number(count);
    if (!Number.isInteger(n) || n < 0) throw bad(`invalid restart policy format: maximum retry count must be an integer`);
    return { Name: name, MaximumRetryCount: n };
  }
  throw bad(`invalid restart policy format: unknown policy '${name}'; use one of 'no', 'always', 'on-failure', or 'unless-stopped'`);
}

function parseInt10(s: string, flag: string): number {
  if (!/^-?\d+$/.test(s)) throw bad(`invalid argument "${s}" for "${flag}" flag: strconv.ParseInt: parsing "${s}": invalid syntax`);
  return Number(s);
}

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
}

/** a network mode that joins berth's networks (src/net's networkMode decides; none, host, container: do not) */
export const isBridgeMode = joinsNetworks;

/** docker's link spec: "name:alias" or "name" (alias = name); stored as "/name:/ctr/alias" by docker, here as "name:alias" */
export function parseLink(l: string): { name: string; alias: string } {
  const [name = "", alias = name] = l.replace(/^\//, "").split(":");
  if (!name || !alias || l.split(":").length > 2) throw bad(`invalid link "${l}": want NAME[:ALIAS]`);
  return { name: name.replace(/^\//, ""), alias: alias.replace(/^\//, "") };
}

/**
 * The network half of create (docker's runconfig checks): mode, published and exposed ports, links,
 * endpoint settings. Whether a named network exists is the service's question; this is syntax.
 */
function buildNetwork(opts: CreateOptions, imageExposed: Record<string, object>) {
  let mode = opts.network ?? "bridge";
  if (mode === "default") mode = "bridge";
  if (mode === "" ) throw bad("invalid network mode: empty");
  if (mode.startsWith("container:") && mode.length === "container:".length) throw bad(`invalid network mode "${mode}": container name missing`);
  const bridged = isBridgeMode(mode);
  const userNet = bridged && mode !== "bridge";
  const container = mode.startsWith("container:");
  if (!bridged && (opts.publish.length || opts.publishAll)) {
    // docker: published ports are discarded with host and none (after their syntax is checked)
    if (mode === "host" || mode === "none") {
      for (const p of opts.publish) parsePortSpec(p);
      opts = { ...opts, publish: [], publishAll: false };
    }
    else throw bad("conflicting options: port publishing and the container type network mode");
  }
  if (container && (opts.dns.length || opts.dnsSearch.length || opts.dnsOption.length)) throw bad("conflicting options: dns and the network mode");
  if (container && opts.addHost.length) throw bad("conflicting options: custom host-to-IP mapping and the network mode");
  if (container && opts.macAddress) throw bad("conflicting options: mac-address and the network mode");
  if (!bridged && opts.links.length) throw bad("conflicting options: container type network can't be used with links. This would result in undefined behavior");
  if (opts.networkAlias.length && !userNet) throw bad("network-scoped alias is supported only for containers in user defined networks");
  if (opts.ip && !userNet) throw bad("user specified IP address is supported on user defined networks only");
  if (opts.ip && !/^\d{1,3}(\.\d{1,3}){3}$/.test(opts.ip)) throw bad(`invalid IPv4 address: ${opts.ip}`);
  if (opts.macAddress && !/^([0-9a-fA-F]{2}:){5}[0-9a-fA-F]{2}$/.test(opts.macAddress)) throw bad(`invalid MAC address: ${opts.macAddress}`);
  if (opts.macAddress && parseInt(opts.macAddress.slice(0, 2), 16) & 1) throw bad(`invalid MAC address: ${opts.macAddress}: multicast`);

  const exposed: Record<string, object> = { ...imageExposed };
  const portBindings: PortBindingMap = {};
  for (const e of opts.expose) {
    const [port = "", proto = "tcp"] = e.split("/");
    const m = /^(\d+)(?:-(\d+))?$/.exec(port);
    if (!m || (proto !== "tcp" && proto !== "udp")) throw bad(`invalid range format for --expose: ${e}`);
    for (let p = Number(m[1]); p <= Number(m[2] ?? m[1]); p++) exposed[`${p}/${proto}`] = {};
  }
  for (const p of opts.publish) {
    for (const s of parsePortSpec(p)) {
      const key = `${s.containerPort}/${s.proto}`;
      exposed[key] = {};
      (portBindings[key] ??= []).push({ HostIp: s.hostIp, HostPort: s.hostPort ? String(s.hostPort) : "" });
    }
  }
  const links = opts.links.map((l) => {
    const { name, alias } = parseLink(l);
    return `${name}:${alias}`;
  });
  const endpoints: Record<string, EndpointSettings> = {};
  if (bridged) {
    endpoints[mode] = { Aliases: opts.networkAlias.length ? [...opts.networkAlias] : null, IPAddress: opts.ip ?? "", MacAddress: opts.macAddress?.toLowerCase() ?? "" };
  }
  return { mode, exposed, portBindings, links, endpoints };
}

/**
 * docker's create-time rules. Entrypoint/Cmd: `--entrypoint X` replaces the image's entrypoint and
 * clears its Cmd (`--entrypoint ""` resets it to none); arguments after the image replace Cmd.
 */
export function buildConfig(
  opts: CreateOptions,
  image: { config: ImageConfig; ref: string },
  hostEnv: Record<string, string | undefined>,
  hostCpus: number,
): BuiltConfig {
  const ic = image.config.config ?? {};
  let entrypoint: string[] = ic.Entrypoint ?? [];
  let cmd: string[] = ic.Cmd ?? [];
  if (opts.entrypoint !== undefined) {
    entrypoint = opts.entrypoint === "" ? [] : [opts.entrypoint];
    cmd = [];
  }
  if (opts.command.length > 0) cmd = opts.command;
  const argv = [...entrypoint, ...cmd];
  if (argv.length === 0) throw bad("no command specified");

  if (opts.rm && opts.restart && opts.restart !== "no") throw bad("conflicting options: cannot specify both --restart and --rm");
  const restart = parseRestart(opts.restart);

  const userEnv: string[] = [];
  for (const f of opts.envFiles) userEnv.push(...parseEnvFile(f, hostEnv));
  for (const e of opts.env) userEnv.push(...expandEnv(e, hostEnv));
  const env = mergeEnv(ic.Env ?? [], userEnv);

  const labels: Record<string, string> = { ...(ic.Labels ?? {}) };
  for (const l of opts.labels) {
    const i = l.indexOf("=");
    if (i === 0) throw bad(`invalid label '${l}': empty name`);
    if (i < 0) labels[l] = "";
    else labels[l.slice(0, i)] = l.slice(i + 1);
  }

  const net = buildNetwork(opts, ic.ExposedPorts ?? {});
  const network = net.mode;
  const sysctls = hostopt.parseSysctls(opts.sysctls ?? [], { ipcHost: opts.ipc === "host", netHost: network === "host", utsHost: opts.uts === "host" || network === "host" });
  if (opts.hostname && (network === "host" || network.startsWith("container:"))) throw bad("conflicting options: hostname and the network mode");

  const memory = opts.memory ? parseMemory(opts.memory) : 0;
  const memorySwap = opts.memorySwap ? parseSwap(opts.memorySwap) : 0;
  if (memorySwap > 0 && memory === 0) throw bad("You should always set the Memory limit when using Memoryswap limit, see usage");
  const nanoCpus = opts.cpus !== undefined ? parseNanoCpus(opts.cpus, hostCpus) : 0;
  const cpuShares = opts.cpuShares ? parseInt10(opts.cpuShares, "-c, --cpu-shares") : 0;
  const memoryReservation = opts.memoryReservation ? parseBytes(opts.memoryReservation, "--memory-reservation") : 0;
  checkMemoryLimits(memory, memorySwap, memoryReservation);
  const shmSize = opts.shmSize ? parseBytes(opts.shmSize, "--shm-size") : 0;
  if (opts.shmSize !== undefined && shmSize <= 0) throw bad(`invalid argument "${opts.shmSize}" for "--shm-size" flag: size must be greater than 0`);
  const ipcMode = hostopt.parseIpcMode(opts.ipc);
  const pidMode = hostopt.parsePidMode(opts.pid);
  const utsMode = hostopt.parseUtsMode(opts.uts);
  if (opts.hostname && utsMode === "host") throw bad("conflicting options: hostname and the UTS mode");
  const ulimits = (opts.ulimits ?? []).map(hostopt.parseUlimit);
  const devices = (opts.devices ?? []).map(hostopt.parseDevice);
  const cpusetCpus = hostopt.parseCpuset(opts.cpusetCpus, "--cpuset-cpus", hostCpus);
  const cpusetMems = hostopt.parseCpuset(opts.cpusetMems, "--cpuset-mems", hostCpus);
  const logConfig = { Type: opts.logDriver || "json-file", Config: {} as Record<string, string> };
  for (const o of opts.logOpts ?? []) {
    const i = o.indexOf("=");
    if (i <= 0) throw bad(`invalid argument "${o}" for "--log-opt" flag: invalid key value pair format: ${o}`);
    logConfig.Config[o.slice(0, i)] = o.slice(i + 1);
  }
  parseLogConfig(logConfig); // docker refuses a bad option at create
  // a Go map: its JSON has the keys sorted
  logConfig.Config = Object.fromEntries(Object.entries(logConfig.Config).sort(([a], [b]) => (a < b ? -1 : 1)));
  const pidsLimit = opts.pidsLimit ? parseInt10(opts.pidsLimit, "--pids-limit") : null;

  const mounts = opts.volumes.map(parseVolume);
  const mountTmpfs: [string, string][] = [];
  const mustExist: string[] = [];
  for (const m of opts.mounts ?? []) {
    const r = parseMountFlag(m);
    if ("tmpfs" in r) mountTmpfs.push(r.tmpfs);
    else {
      mounts.push(r.mount);
      if (r.mustExist) mustExist.push(r.mustExist);
    }
  }
  // the image's VOLUMEs: an anonymous volume each, unless a -v (or --tmpfs) already covers the path; not
  // for a build step (BuildKit mounts no volumes for RUN)
  for (const p of opts.ephemeral ? [] : Object.keys(ic.Volumes ?? {})) {
    const dest = p.replace(/(.)\/+$/, "$1");
    if (!dest.startsWith("/") || mounts.some((m) => m.Destination === dest) || opts.tmpfs.some((t) => t.split(":")[0] === dest)) continue;
    mounts.push({ Type: "volume", Name: "", Source: "", Destination: dest, Driver: "local", Mode: "", RW: true, Propagation: "" });
  }
  const tmpfs: Record<string, string> = {};
  for (const t of opts.tmpfs) {
    const i = t.indexOf(":");
    const path = i < 0 ? t : t.slice(0, i);
    if (!path.startsWith("/")) throw bad(`invalid mount config for type "tmpfs": invalid mount path: '${path}' mount path must be absolute`);
    tmpfs[path] = i < 0 ? "" : t.slice(i + 1);
  }
  for (const [path, o] of mountTmpfs) {
    if (path in tmpfs) throw bad(`Duplicate mount point: ${path}`);
    tmpfs[path] = o;
  }
  const dests = [...mounts.map((m) => m.Destination), ...Object.keys(tmpfs)];
  const dup = dests.find((d, i) => dests.indexOf(d) !== i);
  if (dup) throw bad(`Duplicate mount point: ${dup}`);

  let noNewPrivileges = false;
  let systemPathsUnconfined = false;
  for (const s of opts.securityOpt) {
    const [k, v] = s.includes("=") ? s.split(/=(.*)/s) : s.split(/:(.*)/s);
    if (k === "no-new-privileges") {
      if (v === undefined || v === "" || v === "true") noNewPrivileges = true;
      else if (v === "false") noNewPrivileges = false;
      else throw bad(`invalid --security-opt 2: "${s}"`);
    } else if (k === "seccomp") {
      // "unconfined", or the profile's JSON (the CLI reads a file given by path, as docker's does)
      if (v !== "unconfined") {
        const p = parseSeccompProfile(v ?? "", "--security-opt seccomp");
        compileSeccomp(p, [], hostArch());
      }
    } else if (k === "systempaths") {
      if (v !== "unconfined") throw bad(`invalid --security-opt 2: "${s}"`);
      systemPathsUnconfined = true;
    } else if (k === "apparmor" || k === "label") {
      // no AppArmor or SELinux on the hosts berth runs on: recorded, nothing to apply
    } else throw bad(`invalid --security-opt 2: "${s}"`);
  }
  void noNewPrivileges;

  // validate capabilities and signals now so `create` fails, not `start`
  computeCapabilities(opts.capAdd, opts.capDrop, opts.privileged);
  let stopSignal = ic.StopSignal;
  if (opts.stopSignal !== undefined) {
    parseSignal(opts.stopSignal);
    stopSignal = opts.stopSignal;
  }
  let stopTimeout: number | undefined;
  if (opts.stopTimeout !== undefined) stopTimeout = parseInt10(opts.stopTimeout, "--stop-timeout");

  for (const h of opts.addHost) {
    const sep = h.includes("=") ? "=" : ":";
    const i = h.indexOf(sep);
    if (i <= 0 || i === h.length - 1) throw bad(`invalid argument "${h}" for "--add-host" flag: bad format for add-host: "${h}"`);
  }

  const attach = opts.attach.map((a) => a.toLowerCase());
  for (const a of attach) if (!["stdin", "stdout", "stderr"].includes(a)) throw bad(`invalid argument "${a}" for "-a, --attach" flag: valid streams are STDIN, STDOUT and STDERR`);
  const attached = opts.detach ? { in: false, out: false, err: false } : attach.length
    ? { in: attach.includes("stdin"), out: attach.includes("stdout"), err: attach.includes("stderr") }
    : { in: opts.interactive, out: true, err: true };

  const config: DockerConfig = {
    Hostname: opts.hostname ?? "",
    Domainname: opts.domainname ?? "",
    User: opts.user ?? ic.User ?? "",
    AttachStdin: attached.in,
    AttachStdout: attached.out,
    AttachStderr: attached.err,
    Tty: opts.tty,
    OpenStdin: opts.interactive,
    StdinOnce: opts.interactive && !opts.detach,
    Env: env,
    Cmd: cmd.length ? cmd : null,
    Image: image.ref,
    Volumes: anonVolumes(ic.Volumes ?? null, opts.volumes),
    WorkingDir: opts.workdir ?? ic.WorkingDir ?? "",
    Entrypoint: entrypoint.length ? entrypoint : null,
    OnBuild: null,
    Labels: labels,
  };
  if (opts.workdir !== undefined && !opts.workdir.startsWith("/")) throw bad(`the working directory '${opts.workdir}' is invalid, it needs to be an absolute path`);
  if (Object.keys(net.exposed).length) config.ExposedPorts = net.exposed;
  if (stopSignal) config.StopSignal = stopSignal;
  if (stopTimeout !== undefined) config.StopTimeout = stopTimeout;
  const hc = effectiveHealthcheck(ic.Healthcheck, opts.health ?? {});
  if (hc) config.Healthcheck = hc;

  // docker: HOST:CTR and NAME:CTR are Binds; a bare CTR goes to Config.Volumes
  const binds = opts.volumes.filter((v) => v.includes(":"));
  const hostConfig: DockerHostConfig = {
    Binds: binds.length ? binds : null,
    NetworkMode: network,
    RestartPolicy: restart,
    AutoRemove: opts.rm,
    CapAdd: opts.capAdd.length ? opts.capAdd : null,
    CapDrop: opts.capDrop.length ? opts.capDrop : null,
    Dns: opts.dns,
    DnsOptions: opts.dnsOption,
    DnsSearch: opts.dnsSearch,
    ExtraHosts: opts.addHost.length ? opts.addHost : null,
    Privileged: opts.privileged,
    ReadonlyRootfs: opts.readOnly,
    SecurityOpt: opts.securityOpt.length ? opts.securityOpt : null,
    Memory: memory,
    MemorySwap: memorySwap,
    NanoCpus: nanoCpus,
    CpuShares: cpuShares,
    PidsLimit: pidsLimit,
    Init: opts.init ? true : null,
    GroupAdd: opts.groupAdd.length ? opts.groupAdd : null,
    IpcMode: ipcMode,
    PidMode: pidMode,
    UTSMode: utsMode,
    Ulimits: ulimits.length ? ulimits : null,
    Devices: devices.length ? devices : null,
    ShmSize: shmSize || 64 * 1024 * 1024,
    CpusetCpus: cpusetCpus,
    CpusetMems: cpusetMems,
    MemoryReservation: memoryReservation,
    Runtime: "berth",
    LogConfig: logConfig,
    MaskedPaths: opts.privileged || systemPathsUnconfined ? [] : MASKED_PATHS,
    ReadonlyPaths: opts.privileged || systemPathsUnconfined ? [] : READONLY_PATHS,
  };
  if (Object.keys(tmpfs).length) hostConfig.Tmpfs = tmpfs;
  if (sysctls) hostConfig.Sysctls = sysctls;
  hostConfig.PortBindings = net.portBindings;
  hostConfig.PublishAllPorts = opts.publishAll;
  hostConfig.Links = net.links.length ? net.links : null;
  return { Path: argv[0]!, Args: argv.slice(1), Config: config, HostConfig: hostConfig, Mounts: mounts, Tmpfs: tmpfs, Endpoints: net.endpoints, ...(mustExist.length ? { MustExist: mustExist } : {}) };
}

/** Config.Volumes: the image's, plus each anonymous -v CTR (docker records them there) */
function anonVolumes(image: Record<string, object> | null, volumes: string[]): Record<string, object> | null {
  const anon = volumes.filter((v) => !v.includes(":"));
  if (!anon.length) return image;
  const out: Record<string, object> = { ...(image ?? {}) };
  for (const v of anon) out[v] = {};
  return out;
}

/** the image's /etc/passwd and /etc/group, as text (null when absent) */
export interface UserDb {
  passwd: string | null;
  group: string | null;
}

export interface ExecUser {
  uid: number;
  gid: number;
  additionalGids: number[];
  home: string;
}

const parseDb = (text: string | null) =>
  (text ?? "").split("\n").filter((l) => l && !l.startsWith("#")).map((l) => l.split(":"));

/**
 * moby/sys/user GetExecUser: "name|uid[:group|gid]" against the image's passwd/group. A numeric uid
 * missing from passwd passes through (gid 0, home "/"); an unknown name is docker's error.
 */
export function resolveUser(spec: string, db: UserDb, groupAdd: string[] = []): ExecUser {
  const [userPart = "", groupPart] = spec.split(":", 2) as [string, string?];
  const passwd = parseDb(db.passwd);
  const groups = parseDb(db.group);
  let uid = 0, gid = 0, home = "/", name: string | undefined;
  const u = userPart === "" ? "0" : userPart;
  const entry = passwd.find((p) => (/^\d+$/.test(u) ? p[2] === u : p[0] === u));
  if (entry) {
    name = entry[0];
    uid = Number(entry[2]);
    gid = Number(entry[3]);
    home = entry[5] || "/";
  } else if (/^\d+$/.test(u)) {
    uid = Number(u);
  } else {
    throw new EngineError("not_found", `unable to find user ${u}: no matching entries in passwd file`);
  }
  const lookupGroup = (g: string): number => {
    const ge = groups.find((x) => (/^\d+$/.test(g) ? x[2] === g : x[0] === g));
    if (ge) return Number(ge[2]);
    if (/^\d+$/.test(g)) return Number(g);
    throw new EngineError("not_found", `unable to find group ${g}: no matching entries in group file`);
  };
  const additional: number[] = [];
  if (groupPart !== undefined && groupPart !== "") gid = lookupGroup(groupPart);
  else if (name !== undefined) {
    for (const g of groups) if ((g[3] ?? "").split(",").includes(name)) additional.push(Number(g[2]));
  }
  for (const g of groupAdd) additional.push(lookupGroup(g));
  // the primary group is a supplementary group too, as moby's getUser sets it (since the 2023 fix for
  // supplementary groups): `id` shows groups=GID,…
  return { uid, gid, additionalGids: [...new Set([gid, ...additional])], home };
}

export interface SpecPaths {
  hostnamePath: string;
  hostsPath: string;
  resolvConfPath: string;
  /** --network container:X: X's /proc/<pid>/ns/net */
  netnsPath?: string;
  /** --ipc container:X, --pid container:X: X's namespaces */
  ipcnsPath?: string;
  pidnsPath?: string;
  /** --device mappings resolved against the host's nodes (host-options.ts resolveDevices) */
  devices?: { binds: { source: string; target: string }[]; rules: string[] };
}

/** record + rootfs mounts + resolved user → the runtime's ContainerSpec */
export function buildSpec(rec: ContainerConfigFile, rootfs: Mount[], user: ExecUser, paths: SpecPaths): ContainerSpec {
  const c = rec.Config, h = rec.HostConfig;
  const hostname = c.Hostname;
  let env = [`PATH=${DEFAULT_PATH}`, `HOSTNAME=${hostname}`];
  if (c.Tty) env.push("TERM=xterm");
  for (const e of c.Env) env = setEnv(env, e);
  if (!env.some((e) => e.startsWith("HOME="))) env.push(`HOME=${user.home}`);

  const mounts: Mount[] = [];
  const etcRo = h.ReadonlyRootfs ? ["ro"] : [];
  mounts.push({ type: "bind", source: paths.hostnamePath, target: "/etc/hostname", options: ["rbind", "rprivate", ...etcRo] });
  mounts.push({ type: "bind", source: paths.hostsPath, target: "/etc/hosts", options: ["rbind", "rprivate", ...etcRo] });
  mounts.push({ type: "bind", source: paths.resolvConfPath, target: "/etc/resolv.conf", options: ["rbind", "rprivate", ...etcRo] });
  for (const m of rec.Mounts) {
    // a volume is a bind of its _data directory
    if (m.Type !== "bind" && m.Type !== "volume") continue;
    mounts.push({ type: "bind", source: m.Source, target: m.Destination, options: ["rbind", m.Propagation || "rprivate", m.RW ? "rw" : "ro"] });
  }
  // --ipc host: the host's POSIX shared memory too, as docker binds it
  if (h.IpcMode === "host") mounts.push({ type: "bind", source: "/dev/shm", target: "/dev/shm", options: ["rbind", "rprivate"] });
  for (const [path, o] of Object.entries(rec.Berth.Tmpfs)) {
    mounts.push({ type: "tmpfs", source: "tmpfs", target: path, options: ["nosuid", "nodev", "noexec", ...o.split(",").filter(Boolean)] });
  }

  let noNewPrivileges = false;
  // docker's default seccomp profile unless unconfined, privileged, or a profile of the user's
  let seccomp: SeccompProfile | "unconfined" | undefined = h.Privileged ? "unconfined" : undefined;
  for (const s of h.SecurityOpt ?? []) {
    const m = /^no-new-privileges(?:[:=](true|false))?$/.exec(s);
    if (m) noNewPrivileges = m[1] !== "false";
    const sc = /^seccomp[=:](.*)$/s.exec(s);
    if (sc && !h.Privileged) seccomp = sc[1] === "unconfined" ? "unconfined" : parseSeccompProfile(sc[1]!, "--security-opt seccomp");
  }

  const memory = h.Memory || undefined;
  const memorySwap = h.MemorySwap === -1 ? -1 : h.MemorySwap > 0 ? h.MemorySwap : memory ? memory * 2 : undefined;
  return {
    id: rec.Id,
    hostname,
    rootfs,
    readonlyRootfs: h.ReadonlyRootfs,
    mounts,
    process: {
      args: [rec.Path, ...rec.Args],
      env,
      cwd: c.WorkingDir || "/",
      uid: user.uid,
      gid: user.gid,
      additionalGids: user.additionalGids,
      terminal: c.Tty,
      capabilities: computeCapabilities(h.CapAdd ?? [], h.CapDrop ?? [], h.Privileged),
      noNewPrivileges,
      init: h.Init === true,
      ...(h.Ulimits?.length ? { rlimits: hostopt.runtimeRlimits(h.Ulimits) } : {}),
      ...(seccomp ? { seccomp } : {}),
    },
    namespaces: {
      net: h.NetworkMode === "host" ? "host" : paths.netnsPath ? { path: paths.netnsPath } : "new",
      ipc: h.IpcMode === "host" ? "host" : paths.ipcnsPath ? { path: paths.ipcnsPath } : "new",
      uts: h.NetworkMode === "host" || h.UTSMode === "host" ? "host" : "new",
      pid: h.PidMode === "host" ? "host" : paths.pidnsPath ? { path: paths.pidnsPath } : "new",
    },
    ...(paths.devices?.binds.length ? { devices: paths.devices.binds } : {}),
    ...(h.Sysctls && Object.keys(h.Sysctls).length ? { sysctls: h.Sysctls } : {}),
    ...(h.ShmSize ? { shmSize: h.ShmSize } : {}),
    cgroupPath: rec.Berth.CgroupPath,
    resources: {
      memory,
      memorySwap,
      cpus: h.NanoCpus ? h.NanoCpus / 1e9 : undefined,
      cpuShares: h.CpuShares || undefined,
      pidsLimit: h.PidsLimit !== null && h.PidsLimit > 0 ? h.PidsLimit : undefined,
      ...(h.CpusetCpus ? { cpusetCpus: h.CpusetCpus } : {}),
      ...(h.CpusetMems ? { cpusetMems: h.CpusetMems } : {}),
      ...(h.MemoryReservation ? { memoryReservation: h.MemoryReservation } : {}),
      ...(paths.devices?.rules.length ? { deviceRules: paths.devices.rules } : {}),
    },
    privileged: h.Privileged,
    maskedPaths: h.MaskedPaths,
    readonlyPaths: h.ReadonlyPaths,
  };
}

/** docker's generated /etc/hosts (moby libnetwork/etchosts) */
export function hostsFile(hostname: string, extraHosts: string[], hostHosts?: string): string {
  if (hostHosts !== undefined) return hostHosts;
  const lines = [
    "127.0.0.1\tlocalhost",
    "::1\tlocalhost ip6-localhost ip6-loopback",
    "fe00::\tip6-localnet",
    "ff00::\tip6-mcastprefix",
    "ff02::1\tip6-allnodes",
    "ff02::2\tip6-allrouters",
  ];
  for (const h of extraHosts) {
    const sep = h.includes("=") ? "=" : ":";
    const i = h.indexOf(sep);
    let ip = h.slice(i + 1);
    if (ip.startsWith("[") && ip.endsWith("]")) ip = ip.slice(1, -1);
    lines.push(`${ip}\t${h.slice(0, i)}`);
  }
  // without a network there is no address for the container's own name; docker maps it to nothing either
  void hostname;
  return lines.join("\n") + "\n";
}

/**
 * docker's resolv.conf: the host's, minus loopback nameservers (unreachable from another netns); with none
 * left, Google's public resolvers as docker does. --dns/--dns-search/--dns-option replace the host's.
 */
export function resolvConf(host: string, opts: { dns: string[]; search: string[]; options: string[]; hostNetwork: boolean }): string {
  if (opts.hostNetwork && !opts.dns.length && !opts.search.length && !opts.options.length) return host;
  const lines = host.split("\n");
  const keep: string[] = [];
  let ns: string[] = [], search: string[] = [], options: string[] = [];
  for (const l of lines) {
    const t = l.trim();
    const [k, ...v] = t.split(/\s+/);
    if (k === "nameserver") {
      const ip = v[0] ?? "";
      if (!/^127\./.test(ip) && ip !== "::1") ns.push(ip);
    } else if (k === "search" || k === "domain") search = v;
    else if (k === "options") options = v;
    else if (t !== "" && !t.startsWith("#") && !t.startsWith(";")) keep.push(t);
  }
  if (opts.dns.length) ns = opts.dns;
  if (opts.search.length) search = opts.search;
  if (opts.options.length) options = opts.options;
  if (ns.length === 0) ns = ["8.8.8.8", "8.8.4.4", "2001:4860:4860::8888", "2001:4860:4860::8844"];
  const out: string[] = [];
  if (search.length) out.push(`search ${search.join(" ")}`);
  for (const n of ns) out.push(`nameserver ${n}`);
  if (options.length) out.push(`options ${options.join(" ")}`);
  return [...keep, ...out].join("\n") + "\n";
}

/**
 * Overlay mounts with the `volatile` option, for a writable layer that is never mounted again (a --rm
 * container, a build step): when the mount goes, the kernel skips overlay's sync of the whole upper
 * filesystem (5–280 ms measured on a busy disk). Other mount types are returned unchanged.
 */
export function volatileOverlay(mounts: Mount[]): Mount[] {
  return mounts.map((m) => (m.type === "overlay" && !m.options.includes("volatile") ? { ...m, options: [...m.options, "volatile"] } : m));
}
