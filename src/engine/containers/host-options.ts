/**
 * docker's host-resource flags, parsed and validated with docker's words: --ulimit, --device, --sysctl,
 * --shm-size, --cpuset-cpus/--cpuset-mems, --memory-reservation, --ipc, --pid, --uts. Pure: the one host
 * fact needed (a device node's type and numbers) comes in through a callback.
 */
import { EngineError } from "../../lib/errors.ts";

const bad = (msg: string) => new EngineError("invalid_argument", msg);

export interface Ulimit {
  Name: string;
  Soft: number;
  Hard: number;
}

/** setrlimit(2) resources docker accepts, by their --ulimit names */
export const ULIMIT_NAMES = ["core", "cpu", "data", "fsize", "locks", "memlock", "msgqueue", "nice", "nofile", "nproc", "rss", "rtprio", "rttime", "sigpending", "stack"];

/** `--ulimit nofile=1024:2048` (one value sets both) */
export function parseUlimit(v: string): Ulimit {
  const m = /^([a-z]+)=(-?\d+)(?::(-?\d+))?$/.exec(v);
  const flag = (why: string) => bad(`invalid argument "${v}" for "--ulimit" flag: ${why}`);
  if (!m) throw flag(`invalid ulimit argument: ${v}`);
  if (!ULIMIT_NAMES.includes(m[1]!)) throw flag(`invalid ulimit type: ${m[1]}`);
  const soft = Number(m[2]);
  const hard = m[3] === undefined ? soft : Number(m[3]);
  if (soft > hard && hard !== -1) throw flag(`ulimit soft limit must be less than or equal to hard limit: ${soft} > ${hard}`);
  return { Name: m[1]!, Soft: soft, Hard: hard };
}

/** ulimits for the runtime: docker's names → RLIMIT_* names (-1 stays: unlimited) */
export function runtimeRlimits(us: Ulimit[]): { type: string; soft: number; hard: number }[] {
  return us.map((u) => ({ type: `RLIMIT_${u.Name.toUpperCase()}`, soft: u.Soft, hard: u.Hard }));
}

export interface DeviceMapping {
  PathOnHost: string;
  PathInContainer: string;
  CgroupPermissions: string;
}

/** `--device /dev/x[:/dev/y][:rwm]` */
export function parseDevice(v: string): DeviceMapping {
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
export function resolveDevices(ds: DeviceMapping[], node: (path: string) => DeviceNode | "missing" | "not-a-device"): { binds: { source: string; target: string }[]; rules: string[] } {
  const binds: { source: string; target: string }[] = [];
  const rules: string[] = [];
  for (const d of ds) {
    const n = node(d.PathOnHost);
    if (n === "missing") throw new EngineError("not_found", `error gathering device information while adding custom device "${d.PathOnHost}": no such file or directory`);
    if (n === "not-a-device") throw bad(`error gathering device information while adding custom device "${d.PathOnHost}": not a device node`);
    binds.push({ source: d.PathOnHost, target: d.PathInContainer });
    rules.push(`${n.type} ${n.major}:${n.minor} ${d.CgroupPermissions}`);
  }
  return { binds, rules };
}

const IPC_SYSCTLS = new Set(["kernel.msgmax", "kernel.msgmnb", "kernel.msgmni", "kernel.sem", "kernel.shmall", "kernel.shmmax", "kernel.shmmni", "kernel.shm_rmid_forced"]);

/**
 * `--sysctl k=v`: only keys of a namespace the container has its own of (runc's validation): IPC
 * (kernel.msg*, kernel.sem, kernel.shm*, fs.mqueue.*), network (net.*), UTS (kernel.domainname).
 */
export function parseSysctls(vs: string[], modes: { ipcHost: boolean; netHost: boolean; utsHost: boolean }): Record<string, string> | undefined {
  if (!vs.length) return undefined;
  const out: Record<string, string> = {};
  for (const v of vs) {
    const i = v.indexOf("=");
    if (i <= 0) throw bad(`invalid argument "${v}" for "--sysctl" flag: ${v} is not a valid sysctl value`);
    const key = v.slice(0, i).trim().replace(/\//g, ".");
    const value = v.slice(i + 1);
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

/** `--cpuset-cpus 0-1,3`: the kernel's list syntax, every CPU on this host */
export function parseCpuset(v: string | undefined, flag: string, available: number): string {
  if (v === undefined || v === "") return "";
  const ok = /^\d+(-\d+)?(,\d+(-\d+)?)*$/.test(v);
  if (!ok) throw bad(`invalid argument "${v}" for "${flag}" flag: invalid format`);
  if (flag === "--cpuset-cpus") {
    for (const part of v.split(",")) {
      const [a, b = a] = part.split("-").map(Number) as [number, number?];
      if (b! < a || b! >= available) throw bad(`Requested CPUs are not available - requested ${v}, available: ${available > 1 ? `0-${available - 1}` : "0"}`);
    }
  }
  return v;
}

/** `--ipc`: "" (docker's default private), none, private, shareable, host, container:NAME */
export function parseIpcMode(v: string | undefined): string {
  if (v === undefined || v === "") return "private";
  if (["none", "private", "shareable", "host"].includes(v) || (v.startsWith("container:") && v.length > 10)) return v;
  throw bad(`invalid IPC mode: ${v}`);
}

/** `--pid`: "" (a new namespace), host, container:NAME */
export function parsePidMode(v: string | undefined): string {
  if (v === undefined || v === "") return "";
  if (v === "host" || (v.startsWith("container:") && v.length > 10)) return v;
  throw bad(`--pid: invalid PID mode`);
}

/** `--uts`: "" or host */
export function parseUtsMode(v: string | undefined): string {
  if (v === undefined || v === "") return "";
  if (v === "host") return v;
  throw bad(`--uts: invalid UTS mode`);
}
