/**
 * docker's container flags → Engine API requests, on the client, as docker/cli's
 * cli/command/container/opts.go parse() does: `create`/`run` flags → ContainerCreateRequest (+ the name
 * and platform that travel in the query string), `update` flags → ContainerUpdateRequest, and `exec`'s
 * environment. Everything that belongs to the client happens here: files named by flags are read
 * (--env-file, --label-file, a seccomp profile) and `-e VAR` takes the CLIENT's value, which the
 * command passes in. The engine then checks the values and merges the image
 * (engine/containers/create-config.ts), the same way for a request that comes over the API.
 */
import { readFileSync } from "node:fs";
import { EngineError } from "../lib/errors.ts";
import { CliError } from "./_exit-codes.ts";
import { parsePortSpec, type ContainerCreateRequest, type ContainerUpdateRequest, type EndpointSettingsRequest, type HostConfig } from "../engine/index.ts";
import type { HealthConfig } from "../oci/index.ts";
import * as v from "./_opts/values.ts";

const bad = (msg: string) => new EngineError("invalid_argument", msg);
type Flags = Record<string, unknown>;
type ClientEnv = Record<string, string | undefined>;

const optStr = (x: unknown) => (typeof x === "string" ? x : undefined);
const optList = (x: unknown) => (Array.isArray(x) ? (x as string[]) : []);

/** a file a flag names, read with docker's error for a missing one */
function readFlagFile(f: string, what: "env" | "label"): string {
  try {
    return readFileSync(f, "utf8");
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (what === "env" && code === "EISDIR") throw bad(`invalid env file (${f}): read ${f}: is a directory`);
    throw bad(`open ${f}: ${code === "ENOENT" ? "no such file or directory" : (e as Error).message}`);
  }
}

/** docker's CLI reads `--security-opt seccomp=PATH` itself and sends the profile's JSON */
function seccompFile(opt: string): string {
  const m = /^seccomp[=:](.*)$/s.exec(opt);
  if (!m || m[1] === "unconfined" || m[1]!.trimStart().startsWith("{")) return opt;
  try {
    return `seccomp=${readFileSync(m[1]!, "utf8")}`;
  } catch (e) {
    throw bad(`opening seccomp profile (${m[1]}) failed: ${(e as Error).message}`);
  }
}

/** --env-file contents, then -e, each `VAR` resolved from the client's environment */
function userEnv(flags: Flags, clientEnv: ClientEnv): string[] {
  const env: string[] = [];
  for (const f of optList(flags["env-file"])) env.push(...v.parseEnvFile(readFlagFile(f, "env"), clientEnv));
  for (const e of optList(flags.env)) env.push(...v.expandEnv(e, clientEnv));
  return env;
}

/** --label-file (one label a line, blank lines and # comments skipped), then --label, which wins */
function labels(flags: Flags): Record<string, string> {
  const fileLabels = optList(flags["label-file"]).flatMap((f) =>
    readFlagFile(f, "label")
      .split("\n")
      .map((l) => l.trim())
      .filter((l) => l !== "" && !l.startsWith("#")),
  );
  const out: Record<string, string> = {};
  for (const l of [...fileLabels, ...optList(flags.label)]) {
    const i = l.indexOf("=");
    if (i === 0) throw bad(`invalid label '${l}': empty name`);
    if (i < 0) out[l] = "";
    else out[l.slice(0, i)] = l.slice(i + 1);
  }
  return out;
}

/** the --health-* flags as a HealthConfig (absent: the image's check stays as it is) */
function healthcheck(flags: Flags): HealthConfig | undefined {
  const cmd = optStr(flags["health-cmd"]);
  const durations = [
    ["health-interval", "Interval"],
    ["health-timeout", "Timeout"],
    ["health-start-period", "StartPeriod"],
  ] as const;
  const retries = optStr(flags["health-retries"]);
  const any = cmd !== undefined || retries !== undefined || durations.some(([f]) => optStr(flags[f]) !== undefined);
  if (flags["no-healthcheck"]) {
    if (any) throw bad("--no-healthcheck conflicts with --health-* options");
    return { Test: ["NONE"] };
  }
  if (!any) return undefined;
  const hc: HealthConfig = {};
  if (cmd) hc.Test = ["CMD-SHELL", cmd];
  for (const [f, key] of durations) {
    const s = optStr(flags[f]);
    if (s === undefined) continue;
    const n = v.parseGoDuration(s, `--${f}`);
    if (n < 0 || (n > 0 && n < 1_000_000)) throw bad(`--${f} cannot be less than 1ms`);
    hc[key] = n;
  }
  if (retries !== undefined) {
    if (!/^\d+$/.test(retries)) throw bad(`invalid argument "${retries}" for "--health-retries" flag: strconv.ParseInt: parsing "${retries}": invalid syntax`);
    hc.Retries = Number(retries);
  }
  return hc;
}

/** -p, --expose, -P, --link and the endpoint flags (--network-alias, --ip, --mac-address) */
function network(flags: Flags, hc: HostConfig, req: ContainerCreateRequest): void {
  const mode = optStr(flags.network);
  if (mode === "") throw bad("invalid network mode: empty");
  if (mode !== undefined) hc.NetworkMode = mode;
  const exposed: Record<string, object> = {};
  for (const e of optList(flags.expose)) {
    const [port = "", proto = "tcp"] = e.split("/");
    const m = /^(\d+)(?:-(\d+))?$/.exec(port);
    if (!m || (proto !== "tcp" && proto !== "udp")) throw bad(`invalid range format for --expose: ${e}`);
    for (let p = Number(m[1]); p <= Number(m[2] ?? m[1]); p++) exposed[`${p}/${proto}`] = {};
  }
  if (Object.keys(exposed).length) req.ExposedPorts = exposed;
  // published ports are exposed by the engine, for the network modes that keep them
  const bindings: NonNullable<HostConfig["PortBindings"]> = {};
  for (const p of optList(flags.publish)) {
    for (const s of parsePortSpec(p))
      (bindings[`${s.containerPort}/${s.proto}`] ??= []).push({ HostIp: s.hostIp, HostPort: s.hostPort ? String(s.hostPort) : "" });
  }
  if (Object.keys(bindings).length) hc.PortBindings = bindings;
  if (flags["publish-all"]) hc.PublishAllPorts = true;
  const links = optList(flags.link);
  if (links.length) hc.Links = links;
  const ep: EndpointSettingsRequest = {};
  const aliases = optList(flags["network-alias"]);
  if (aliases.length) ep.Aliases = aliases;
  const ip = optStr(flags.ip),
    mac = optStr(flags["mac-address"]);
  if (ip) ep.IPAMConfig = { IPv4Address: ip };
  if (mac) ep.MacAddress = mac;
  if (Object.keys(ep).length) req.NetworkingConfig = { EndpointsConfig: { [mode ?? "default"]: ep } };
}

/** --cpus, or docker's CFS pair --cpu-quota/--cpu-period */
function cpus(flags: Flags, hc: HostConfig): void {
  const c = optStr(flags.cpus),
    quota = optStr(flags["cpu-quota"]),
    period = optStr(flags["cpu-period"]);
  if (c !== undefined) hc.NanoCpus = v.parseNanoCpus(c);
  if (quota !== undefined) hc.CpuQuota = v.parseInt10(quota, "--cpu-quota");
  if (period !== undefined) hc.CpuPeriod = v.parseInt10(period, "--cpu-period");
}

/** the resource flags `create`/`run` and `update` share */
function resources(flags: Flags, hc: HostConfig | ContainerUpdateRequest, update: boolean): void {
  // create skips an empty value (docker's zero); update takes it as given
  const given = (k: string) => {
    const s = optStr(flags[k]);
    return update ? s : s || undefined;
  };
  const memory = given("memory");
  if (memory !== undefined) hc.Memory = v.parseBytes(memory, "-m, --memory");
  const swap = given("memory-swap");
  if (swap !== undefined) hc.MemorySwap = v.parseSwap(swap);
  const reservation = given("memory-reservation");
  if (reservation !== undefined) hc.MemoryReservation = v.parseBytes(reservation, "--memory-reservation");
  const shares = given("cpu-shares");
  if (shares !== undefined) hc.CpuShares = v.parseInt10(shares, "-c, --cpu-shares");
  const pids = given("pids-limit");
  if (pids !== undefined) hc.PidsLimit = v.parseInt10(pids, "--pids-limit");
  const cpusetCpus = v.parseCpuset(optStr(flags["cpuset-cpus"]), "--cpuset-cpus");
  if (cpusetCpus !== undefined) hc.CpusetCpus = cpusetCpus;
  const cpusetMems = v.parseCpuset(optStr(flags["cpuset-mems"]), "--cpuset-mems");
  if (cpusetMems !== undefined) hc.CpusetMems = cpusetMems;
}

export interface ParsedCreate {
  request: ContainerCreateRequest;
  /** `--name` (the query string's ?name=) */
  name?: string;
  /** `--platform` (the query string's ?platform=) */
  platform?: string;
}

/**
 * `create`/`run` flags → the create request (docker/cli opts.go parse()). `detach`: run -d, which attaches
 * no stream; `clientEnv`: where `-e VAR` and an env file's bare `VAR` take their values.
 */
export function parseCreateFlags(
  input: { flags: Flags; positionals: string[]; rest: string[] },
  o: { detach: boolean; clientEnv: ClientEnv; defaultLog?: { Type?: string; Config?: Record<string, string> } },
): ParsedCreate {
  const { flags, positionals, rest } = input;
  const interactive = !!flags.interactive,
    tty = !!flags.tty;
  const attach = optList(flags.attach).map((a) => a.toLowerCase());
  for (const a of attach)
    if (!["stdin", "stdout", "stderr"].includes(a)) throw bad(`invalid argument "${a}" for "-a, --attach" flag: valid streams are STDIN, STDOUT and STDERR`);
  const attached = o.detach
    ? { in: false, out: false, err: false }
    : attach.length
      ? { in: attach.includes("stdin"), out: attach.includes("stdout"), err: attach.includes("stderr") }
      : { in: interactive, out: true, err: true };

  const req: ContainerCreateRequest = {
    AttachStdin: attached.in,
    AttachStdout: attached.out,
    AttachStderr: attached.err,
    Tty: tty,
    OpenStdin: interactive,
    StdinOnce: interactive && !o.detach,
    Env: userEnv(flags, o.clientEnv),
    Cmd: rest.length ? [...rest] : null,
    Image: positionals[0]!,
    Labels: labels(flags),
  };
  const str = (flag: string, key: "Hostname" | "Domainname" | "User" | "WorkingDir" | "StopSignal") => {
    const s = optStr(flags[flag]);
    if (s !== undefined) req[key] = s;
  };
  str("hostname", "Hostname");
  str("domainname", "Domainname");
  str("user", "User");
  str("workdir", "WorkingDir");
  str("stop-signal", "StopSignal");
  const entrypoint = optStr(flags.entrypoint);
  // `--entrypoint ""` resets the image's entrypoint: docker's CLI sends [""]
  if (entrypoint !== undefined) req.Entrypoint = [entrypoint];
  const stopTimeout = optStr(flags["stop-timeout"]);
  if (stopTimeout !== undefined) req.StopTimeout = v.parseInt10(stopTimeout, "--stop-timeout");
  const health = healthcheck(flags);
  if (health) req.Healthcheck = health;

  const hc: HostConfig = {};
  const { binds, volumes } = v.splitVolumes(optList(flags.volume));
  if (binds.length) hc.Binds = binds;
  if (Object.keys(volumes).length) req.Volumes = volumes;
  if (optList(flags["volumes-from"]).length) hc.VolumesFrom = [...optList(flags["volumes-from"])];
  const mounts = optList(flags.mount).map(v.parseMountFlag);
  if (mounts.length) hc.Mounts = mounts;
  const tmpfs = v.parseTmpfs(optList(flags.tmpfs));
  if (tmpfs) hc.Tmpfs = tmpfs;

  const restart = optStr(flags.restart);
  if (flags.rm && restart && restart !== "no") throw bad("conflicting options: cannot specify both --restart and --rm");
  hc.RestartPolicy = v.parseRestart(restart);
  if (flags.rm) hc.AutoRemove = true;
  network(flags, hc, req);

  const lists = [
    ["cap-add", "CapAdd"],
    ["cap-drop", "CapDrop"],
    ["dns", "Dns"],
    ["dns-option", "DnsOptions"],
    ["dns-search", "DnsSearch"],
    ["group-add", "GroupAdd"],
  ] as const;
  for (const [flag, key] of lists) if (optList(flags[flag]).length) hc[key] = [...optList(flags[flag])];
  for (const h of optList(flags["add-host"])) {
    const sep = h.includes("=") ? "=" : ":";
    const i = h.indexOf(sep);
    if (i <= 0 || i === h.length - 1) throw bad(`invalid argument "${h}" for "--add-host" flag: bad format for add-host: "${h}"`);
  }
  if (optList(flags["add-host"]).length) hc.ExtraHosts = [...optList(flags["add-host"])];
  const securityOpt = optList(flags["security-opt"]).map(seccompFile);
  if (securityOpt.length) hc.SecurityOpt = securityOpt;
  if (flags.privileged) hc.Privileged = true;
  if (flags["read-only"]) hc.ReadonlyRootfs = true;
  if (flags.init) hc.Init = true;

  resources(flags, hc, false);
  cpus(flags, hc);
  const shm = optStr(flags["shm-size"]);
  if (shm !== undefined) {
    hc.ShmSize = shm ? v.parseBytes(shm, "--shm-size") : 0;
    if (hc.ShmSize <= 0) throw bad(`invalid argument "${shm}" for "--shm-size" flag: size must be greater than 0`);
  }
  const ipc = optStr(flags.ipc);
  if (ipc) hc.IpcMode = ipc;
  const cgroupns = optStr(flags.cgroupns);
  if (cgroupns) {
    if (cgroupns !== "host" && cgroupns !== "private") throw bad("--cgroupns: invalid CGROUP mode");
    hc.CgroupnsMode = cgroupns;
  }
  if (flags["oom-kill-disable"]) hc.OomKillDisable = true;
  const oomScoreAdj = optStr(flags["oom-score-adj"]);
  if (oomScoreAdj) hc.OomScoreAdj = v.parseInt10(oomScoreAdj, "--oom-score-adj");
  const blkioWeight = optStr(flags["blkio-weight"]);
  if (blkioWeight) hc.BlkioWeight = v.parseUint16(blkioWeight, "--blkio-weight");
  const pid = v.parsePidMode(optStr(flags.pid));
  if (pid) hc.PidMode = pid;
  const uts = v.parseUtsMode(optStr(flags.uts));
  if (uts) hc.UTSMode = uts;
  const ulimits = optList(flags.ulimit).map(v.parseUlimit);
  if (ulimits.length) hc.Ulimits = ulimits;
  const devices = optList(flags.device).map(v.parseDevice);
  if (devices.length) hc.Devices = devices;
  const sysctls = v.parseSysctls(optList(flags.sysctl));
  if (sysctls) hc.Sysctls = sysctls;

  const logDriver = optStr(flags["log-driver"]);
  const logOpts = optList(flags["log-opt"]);
  if (logDriver || logOpts.length) {
    const config: Record<string, string> = {};
    for (const o of logOpts) {
      const i = o.indexOf("=");
      if (i <= 0) throw bad(`invalid argument "${o}" for "--log-opt" flag: invalid key value pair format: ${o}`);
      config[o.slice(0, i)] = o.slice(i + 1);
    }
    hc.LogConfig = { Type: logDriver ?? "", Config: config };
  }
  // the daemon config's log-driver and log-opts (moby's mergeAndVerifyLogConfig): the default driver
  // when none is given, and its options under the container's own when the driver is the default one
  if (o.defaultLog?.Type || (o.defaultLog?.Config && Object.keys(o.defaultLog.Config).length)) {
    const def = { Type: o.defaultLog.Type || "json-file", Config: o.defaultLog.Config ?? {} };
    const own = hc.LogConfig ?? { Type: "", Config: {} };
    const type = own.Type || def.Type;
    hc.LogConfig = { Type: type, Config: type === def.Type ? { ...def.Config, ...(own.Config ?? {}) } : (own.Config ?? {}) };
  }
  req.HostConfig = hc;
  return { request: req, name: optStr(flags.name), platform: optStr(flags.platform) };
}

/** `update` flags → the update request; undefined when no flag was given */
export function parseUpdateFlags(flags: Flags): ContainerUpdateRequest | undefined {
  const req: ContainerUpdateRequest = {};
  resources(flags, req, true);
  const c = optStr(flags.cpus);
  if (c !== undefined) req.NanoCpus = v.parseNanoCpus(c);
  const quota = optStr(flags["cpu-quota"]),
    period = optStr(flags["cpu-period"]);
  if (quota !== undefined) req.CpuQuota = v.parseInt10(quota, "--cpu-quota");
  if (period !== undefined) req.CpuPeriod = v.parseInt10(period, "--cpu-period");
  const restart = optStr(flags.restart);
  if (restart !== undefined) req.RestartPolicy = v.parseRestart(restart);
  return Object.keys(req).length ? req : undefined;
}

/** each --env-file's text, in order; docker's words (exit 1) for a file that cannot be read */
export function readEnvFiles(paths: string[]): string[] {
  return paths.map((f) => {
    try {
      return readFileSync(f, "utf8");
    } catch (e) {
      throw new CliError(`open ${f}: ${(e as NodeJS.ErrnoException).code === "ENOENT" ? "no such file or directory" : (e as Error).message}`, 1);
    }
  });
}

/**
 * `exec`'s environment: the env-file lines, then -e; a bare `VAR` takes the client's value (left out when
 * unset), so the engine gets `KEY=VAL` only. `files` holds each --env-file's text.
 */
export function execEnv(files: string[], env: string[], clientEnv: ClientEnv): string[] {
  const out: string[] = [];
  const resolve = (e: string) => {
    if (e.includes("=")) out.push(e);
    else if (clientEnv[e] !== undefined) out.push(`${e}=${clientEnv[e]}`);
  };
  for (const text of files) for (const l of text.split("\n")) if (l.trim() && !l.trim().startsWith("#")) resolve(l.trim());
  for (const e of env) resolve(e);
  return out;
}

/** the daemon config file's default log driver and options, for parseCreateFlags */
export function daemonLog(ctx: {
  daemon?: { "log-driver"?: string; "log-opts"?: Record<string, string> };
}): { Type?: string; Config?: Record<string, string> } | undefined {
  const d = ctx.daemon;
  return d && (d["log-driver"] || d["log-opts"]) ? { Type: d["log-driver"], Config: d["log-opts"] } : undefined;
}
