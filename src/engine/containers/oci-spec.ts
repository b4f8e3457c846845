/**
 * A container record → the runtime's ContainerSpec (what `start` and `exec` hand to src/runtime): the
 * process environment, user, capabilities, mounts, namespaces and resources, plus the generated
 * /etc/hosts and /etc/resolv.conf. Pure: the image's passwd/group text and the host's device nodes and
 * files come in from the caller.
 */
import { compileSeccomp, hostArch, parseSeccompProfile, type SeccompProfile } from "../../runtime/seccomp.ts";
import { EngineError } from "../../lib/errors.ts";
import type { Mount } from "../../oci/index.ts";
import { CAPABILITY_NAMES, DEFAULT_CAPABILITIES, DEFAULT_PATH } from "../../oci/defaults.ts";
import type { ContainerSpec } from "../../runtime/types.ts";
import { cgroupSupport } from "../../runtime/cgroups.ts";
import type { ContainerConfigFile, DockerHostConfig } from "./types.ts";

const bad = (msg: string) => new EngineError("invalid_argument", msg);
const ALL_CAPS: readonly string[] = CAPABILITY_NAMES;

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
  const add = capAdd.map(normCap),
    drop = capDrop.map(normCap);
  if (add.includes("ALL")) return ALL_CAPS.filter((c) => !drop.includes(c));
  if (drop.includes("ALL")) return [...new Set(add)];
  return [...new Set([...DEFAULT_CAPABILITIES.filter((c) => !drop.includes(c)), ...add])];
}

/** a seccomp profile's JSON checked now, so `create` fails and not `start` */
export function checkSeccomp(text: string): void {
  compileSeccomp(parseSeccompProfile(text, "--security-opt seccomp"), [], hostArch());
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

/** ulimits for the runtime: docker's names → RLIMIT_* names (-1 stays: unlimited) */
export function runtimeRlimits(us: NonNullable<DockerHostConfig["Ulimits"]>): { type: string; soft: number; hard: number }[] {
  return us.map((u) => ({ type: `RLIMIT_${u.Name.toUpperCase()}`, soft: u.Soft, hard: u.Hard }));
}

export interface DeviceNode {
  type: "c" | "b";
  major: number;
  minor: number;
}

/** a node's numbers from st_rdev (glibc's gnu_dev_major/minor) */
export function rdevNumbers(rdev: number): { major: number; minor: number } {
  const r = BigInt(rdev);
  return { major: Number(((r >> 8n) & 0xfffn) | ((r >> 32n) & ~0xfffn)), minor: Number((r & 0xffn) | ((r >> 12n) & ~0xffn)) };
}

/** --device mappings → the runtime's binds and device-cgroup rules; a missing or non-device host path is docker's error */
export function resolveDevices(
  ds: NonNullable<DockerHostConfig["Devices"]>,
  node: (path: string) => DeviceNode | "missing" | "not-a-device",
): { binds: { source: string; target: string }[]; rules: string[] } {
  const binds: { source: string; target: string }[] = [];
  const rules: string[] = [];
  for (const d of ds) {
    const n = node(d.PathOnHost);
    if (n === "missing")
      throw new EngineError("not_found", `error gathering device information while adding custom device "${d.PathOnHost}": no such file or directory`);
    if (n === "not-a-device") throw bad(`error gathering device information while adding custom device "${d.PathOnHost}": not a device node`);
    binds.push({ source: d.PathOnHost, target: d.PathInContainer });
    rules.push(`${n.type} ${n.major}:${n.minor} ${d.CgroupPermissions}`);
  }
  return { binds, rules };
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
  (text ?? "")
    .split("\n")
    .filter((l) => l && !l.startsWith("#"))
    .map((l) => l.split(":"));

/**
 * moby/sys/user GetExecUser: "name|uid[:group|gid]" against the image's passwd/group. A numeric uid
 * missing from passwd passes through (gid 0, home "/"); an unknown name is docker's error.
 */
export function resolveUser(spec: string, db: UserDb, groupAdd: string[] = []): ExecUser {
  const [userPart = "", groupPart] = spec.split(":", 2) as [string, string?];
  const passwd = parseDb(db.passwd);
  const groups = parseDb(db.group);
  let uid = 0,
    gid = 0,
    home = "/",
    name: string | undefined;
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
  const c = rec.Config,
    h = rec.HostConfig;
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

  const files = cgroupFiles(h);
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
      ...(h.Ulimits?.length ? { rlimits: runtimeRlimits(h.Ulimits) } : {}),
      ...(seccomp ? { seccomp } : {}),
      ...(h.OomScoreAdj ? { oomScoreAdj: h.OomScoreAdj } : {}),
    },
    namespaces: {
      net: h.NetworkMode === "host" ? "host" : paths.netnsPath ? { path: paths.netnsPath } : "new",
      ipc: h.IpcMode === "host" ? "host" : paths.ipcnsPath ? { path: paths.ipcnsPath } : "new",
      uts: h.NetworkMode === "host" || h.UTSMode === "host" ? "host" : "new",
      pid: h.PidMode === "host" ? "host" : paths.pidnsPath ? { path: paths.pidnsPath } : "new",
      ...(h.CgroupnsMode === "host" ? { cgroup: "host" as const } : {}),
    },

    ...(paths.devices?.binds.length ? { devices: paths.devices.binds } : {}),
    ...(h.Sysctls && Object.keys(h.Sysctls).length ? { sysctls: h.Sysctls } : {}),
    ...(h.ShmSize ? { shmSize: h.ShmSize } : {}),
    cgroupPath: rec.Berth.CgroupPath,
    resources: {
      memory,
      memorySwap,
      cpus: h.NanoCpus ? h.NanoCpus / 1e9 : undefined,
      ...(h.CpuQuota ? { cpuQuota: h.CpuQuota } : {}),
      ...(h.CpuPeriod ? { cpuPeriod: h.CpuPeriod } : {}),
      cpuShares: h.CpuShares || undefined,
      pidsLimit: h.PidsLimit !== null && h.PidsLimit > 0 ? h.PidsLimit : undefined,
      ...(h.CpusetCpus ? { cpusetCpus: h.CpusetCpus } : {}),
      ...(h.CpusetMems ? { cpusetMems: h.CpusetMems } : {}),
      ...(h.MemoryReservation ? { memoryReservation: h.MemoryReservation } : {}),
      ...(paths.devices?.rules.length ? { deviceRules: paths.devices.rules } : {}),
      ...(files.length ? { files } : {}),
    },
    privileged: h.Privileged,
    maskedPaths: h.MaskedPaths,
    readonlyPaths: h.ReadonlyPaths,
  };
}

/**
 * --oom-kill-disable and --blkio-weight as runc writes them (libcontainer/cgroups/fs memory.go, blkio.go;
 * fs2 io.go): create() recorded them only where the host has the file (dockerd's sysinfo check)
 */
function cgroupFiles(h: ContainerConfigFile["HostConfig"]): { controller: string; file: string; value: string }[] {
  const out: { controller: string; file: string; value: string }[] = [];
  if (!h.OomKillDisable && !h.BlkioWeight) return out;
  const support = cgroupSupport();
  if (h.OomKillDisable && support.oomKillDisable) out.push({ controller: "memory", file: "memory.oom_control", value: "1" });
  const w = h.BlkioWeight ?? 0;
  if (w > 0 && support.blkioWeightFile) {
    // v2's io.weight is 1–10000: runc's ConvertBlkIOToIOWeightValue; bfq's files take the v1 value
    const v2 = support.blkioWeightFile === "io.weight";
    out.push({ controller: "blkio", file: support.blkioWeightFile, value: String(v2 ? 1 + Math.floor(((w - 10) * 9999) / 990) : w) });
  }
  return out;
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
  let ns: string[] = [],
    search: string[] = [],
    options: string[] = [];
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
