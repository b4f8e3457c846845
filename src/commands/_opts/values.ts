/**
 * docker's flag value syntaxes, parsed on the client as docker/cli's opts package does: sizes ("512m"),
 * CPU counts, integers, restart policies, env files and `-e VAR`, ulimits, devices, sysctls, cpusets,
 * `--mount` CSV, `-v` and `--tmpfs`. Each turns a string into the Engine API's value, with docker's
 * flag errors (kind invalid_argument); the engine checks the values (engine/containers/create-config.ts).
 */
import { EngineError } from "../../lib/errors.ts";
import type { Mount } from "../../engine/index.ts";

const bad = (msg: string) => new EngineError("invalid_argument", msg);

/** docker's RAMInBytes (go-units): 512, 512k, 64m, 1g, 1.5GB — binary multiples */
export function parseBytes(s: string, flag: string): number {
  const m = /^(\d+(?:\.\d+)?) ?([kKmMgGtTpP])?[iI]?[bB]?$/.exec(s.trim());
  if (!m) throw bad(`invalid argument "${s}" for "${flag}" flag: invalid size: '${s}'`);
  const mult = { "": 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4, p: 1024 ** 5 }[(m[2] ?? "").toLowerCase()]!;
  return Math.floor(parseFloat(m[1]!) * mult);
}

/** `--memory-swap`: a size, or -1 for unlimited swap */
export const parseSwap = (s: string) => (s === "-1" ? -1 : parseBytes(s, "--memory-swap"));

/** `--cpus 1.5` → NanoCpus (the range is the engine's check: it knows the host) */
export function parseNanoCpus(s: string): number {
  const c = Number(s);
  if (!/^\d*\.?\d+$/.test(s) || !Number.isFinite(c)) throw bad(`invalid argument "${s}" for "--cpus" flag: failed to parse ${s} as a rational number`);
  return Math.round(c * 1e9);
}

/** Go's strconv.ParseInt, with pflag's error */
export function parseInt10(s: string, flag: string): number {
  if (!/^-?\d+$/.test(s)) throw bad(`invalid argument "${s}" for "${flag}" flag: strconv.ParseInt: parsing "${s}": invalid syntax`);
  return Number(s);
}

/** Go's strconv.ParseUint(s, 10, 16), with pflag's error (a uint16 flag such as --blkio-weight) */
export function parseUint16(s: string, flag: string): number {
  const why = !/^\d+$/.test(s) ? "invalid syntax" : Number(s) > 65535 ? "value out of range" : undefined;
  if (why) throw bad(`invalid argument "${s}" for "${flag}" flag: strconv.ParseUint: parsing "${s}": ${why}`);
  return Number(s);
}

/** Go's time.ParseDuration, in nanoseconds ("1m30s", "500ms", "2h"): the --health-* durations */
export function parseGoDuration(v: string, flag: string): number {
  const unit: Record<string, number> = { ns: 1, us: 1e3, µs: 1e3, ms: 1e6, s: 1e9, m: 60e9, h: 3600e9 };
  if (v === "0") return 0;
  const re = /(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/y;
  let total = 0;
  let pos = 0;
  while (pos < v.length) {
    re.lastIndex = pos;
    const m = re.exec(v);
    if (!m) throw bad(`invalid argument "${v}" for "${flag}" flag: time: invalid duration "${v}"`);
    total += Number(m[1]) * unit[m[2]!]!;
    pos = re.lastIndex;
  }
  if (!v) throw bad(`invalid argument "${v}" for "${flag}" flag: time: invalid duration "${v}"`);
  return Math.round(total);
}

/** `--restart no|always|unless-stopped|on-failure[:N]` (docker/cli opts.ParseRestartPolicy) */
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

/** `-e VAR=val` as given; `-e VAR`: the client's value, left out when unset (docker/cli opts.ValidateEnv) */
export function expandEnv(e: string, clientEnv: Record<string, string | undefined>): string[] {
  if (e.includes("=")) {
    if (e.startsWith("=")) throw bad(`invalid environment variable: ${e}`);
    return [e];
  }
  const v = clientEnv[e];
  return v === undefined ? [] : [`${e}=${v}`];
}

/** an --env-file's text: `VAR=val`, `VAR` (the client's value, omitted when unset), `#` comments */
export function parseEnvFile(text: string, clientEnv: Record<string, string | undefined>): string[] {
  const out: string[] = [];
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.replace(/^\s+/, "");
    if (line === "" || line.startsWith("#")) continue;
    out.push(...expandEnv(line, clientEnv));
  }
  return out;
}

/** setrlimit(2) resources docker accepts, by their --ulimit names */
export const ULIMIT_NAMES = [
  "core",
  "cpu",
  "data",
  "fsize",
  "locks",
  "memlock",
  "msgqueue",
  "nice",
  "nofile",
  "nproc",
  "rss",
  "rtprio",
  "rttime",
  "sigpending",
  "stack",
];

/** `--ulimit nofile=1024:2048` (one value sets both) */
export function parseUlimit(v: string): { Name: string; Soft: number; Hard: number } {
  const m = /^([a-z]+)=(-?\d+)(?::(-?\d+))?$/.exec(v);
  const flag = (why: string) => bad(`invalid argument "${v}" for "--ulimit" flag: ${why}`);
  if (!m) throw flag(`invalid ulimit argument: ${v}`);
  if (!ULIMIT_NAMES.includes(m[1]!)) throw flag(`invalid ulimit type: ${m[1]}`);
  const soft = Number(m[2]);
  const hard = m[3] === undefined ? soft : Number(m[3]);
  if (soft > hard && hard !== -1) throw flag(`ulimit soft limit must be less than or equal to hard limit: ${soft} > ${hard}`);
  return { Name: m[1]!, Soft: soft, Hard: hard };
}

/** `--device /dev/x[:/dev/y][:rwm]` */
export function parseDevice(v: string): { PathOnHost: string; PathInContainer: string; CgroupPermissions: string } {
  const parts = v.split(":");
  const isPerm = (s: string) => /^[rwm]{1,3}$/.test(s) && new Set(s).size === s.length;
  let perms = "rwm";
  if (parts.length > 1 && isPerm(parts.at(-1)!)) perms = parts.pop()!;
  if (parts.length > 2 || !parts[0]) throw bad(`invalid argument "${v}" for "--device" flag: bad format for path: ${v}`);
  const host = parts[0]!;
  const ctr = parts[1] ?? host;
  if (!host.startsWith("/")) throw bad(`invalid argument "${v}" for "--device" flag: ${host} is not an absolute path`);
  if (!ctr.startsWith("/")) throw bad(`invalid argument "${v}" for "--device" flag: ${ctr} is not an absolute path`);
  return { PathOnHost: host, PathInContainer: ctr, CgroupPermissions: perms };
}

/** `--sysctl k=v` → the map (which keys a container may set is the engine's check) */
export function parseSysctls(vs: string[]): Record<string, string> | undefined {
  if (!vs.length) return undefined;
  const out: Record<string, string> = {};
  for (const v of vs) {
    const i = v.indexOf("=");
    if (i <= 0) throw bad(`invalid argument "${v}" for "--sysctl" flag: ${v} is not a valid sysctl value`);
    out[v.slice(0, i)] = v.slice(i + 1);
  }
  return out;
}

/** `--cpuset-cpus 0-1,3`: the kernel's list syntax (whether the CPUs exist is the engine's check) */
export function parseCpuset(v: string | undefined, flag: string): string | undefined {
  if (v === undefined || v === "") return undefined;
  if (!/^\d+(-\d+)?(,\d+(-\d+)?)*$/.test(v)) throw bad(`invalid argument "${v}" for "${flag}" flag: invalid format`);
  return v;
}

/** `--pid`: "", host, container:NAME (docker/cli's check) */
export function parsePidMode(v: string | undefined): string | undefined {
  if (v === undefined || v === "" || v === "host" || (v.startsWith("container:") && v.length > 10)) return v || undefined;
  throw bad(`--pid: invalid PID mode`);
}

/** `--uts`: "" or host (docker/cli's check) */
export function parseUtsMode(v: string | undefined): string | undefined {
  if (v === undefined || v === "" || v === "host") return v || undefined;
  throw bad(`--uts: invalid UTS mode`);
}

/** `--tmpfs /path[:opts]` → HostConfig.Tmpfs */
export function parseTmpfs(vs: string[]): Record<string, string> | undefined {
  if (!vs.length) return undefined;
  const out: Record<string, string> = {};
  for (const t of vs) {
    const i = t.indexOf(":");
    out[i < 0 ? t : t.slice(0, i)] = i < 0 ? "" : t.slice(i + 1);
  }
  return out;
}

/** `-v` values: HOST:CTR and NAME:CTR are HostConfig.Binds, a bare CTR is an anonymous volume in Config.Volumes (docker/cli) */
export function splitVolumes(vs: string[]): { binds: string[]; volumes: Record<string, object> } {
  const binds: string[] = [];
  const volumes: Record<string, object> = {};
  for (const v of vs) {
    if (v.includes(":")) binds.push(v);
    else volumes[v] = {};
  }
  return { binds, volumes };
}

/**
 * `--mount type=bind|volume|tmpfs,source=…,target=…[,readonly][,bind-propagation=…][,volume-nocopy]
 * [,volume-driver=…][,tmpfs-size=…][,tmpfs-mode=…]` → an API Mount (docker/cli opts.MountOpt). Whether
 * the mount makes sense (target absolute, source present…) is the engine's check.
 */
export function parseMountFlag(v: string): Mount {
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
  const known = new Set([
    "type",
    "source",
    "src",
    "target",
    "destination",
    "dst",
    "readonly",
    "ro",
    "bind-propagation",
    "volume-nocopy",
    "volume-driver",
    "tmpfs-size",
    "tmpfs-mode",
    "consistency",
  ]);
  for (const k of Object.keys(kv)) if (!known.has(k)) throw flag(`unexpected key '${k}' in '${v}'`);
  const type = kv.type ?? "volume";
  if (type !== "bind" && type !== "volume" && type !== "tmpfs") throw flag(`invalid mount type "${type}"`);
  const bool = (k: string) => {
    const x = kv[k];
    if (x === undefined) return false;
    if (["true", "1"].includes(x)) return true;
    if (["false", "0"].includes(x)) return false;
    throw flag(`invalid value for ${k}: ${x}`);
  };
  const m: Mount = { Type: type, Target: kv.target ?? kv.destination ?? kv.dst ?? "" };
  const source = kv.source ?? kv.src;
  if (source !== undefined && source !== "") m.Source = source;
  if (bool("readonly") || bool("ro")) m.ReadOnly = true;
  if (kv.consistency !== undefined) m.Consistency = kv.consistency;
  const propagation = kv["bind-propagation"];
  if (propagation !== undefined) {
    if (!["private", "rprivate", "shared", "rshared", "slave", "rslave"].includes(propagation))
      throw flag(`invalid value for bind-propagation: ${propagation}`);
    m.BindOptions = { Propagation: propagation as NonNullable<Mount["BindOptions"]>["Propagation"] };
  }
  if (kv["volume-nocopy"] !== undefined || kv["volume-driver"] !== undefined) {
    m.VolumeOptions = {
      ...(bool("volume-nocopy") ? { NoCopy: true } : {}),
      ...(kv["volume-driver"] !== undefined ? { DriverConfig: { Name: kv["volume-driver"] } } : {}),
    };
  }
  if (kv["tmpfs-size"] || kv["tmpfs-mode"]) {
    m.TmpfsOptions = {};
    if (kv["tmpfs-size"]) m.TmpfsOptions.SizeBytes = parseBytes(kv["tmpfs-size"], "--mount tmpfs-size");
    if (kv["tmpfs-mode"]) {
      if (!/^[0-7]{3,4}$/.test(kv["tmpfs-mode"])) throw flag(`invalid value for tmpfs-mode: ${kv["tmpfs-mode"]}`);
      m.TmpfsOptions.Mode = parseInt(kv["tmpfs-mode"], 8);
    }
  }
  return m;
}
