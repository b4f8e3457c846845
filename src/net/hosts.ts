/**
 * Pure renderers for a container's /etc/hosts and /etc/resolv.conf, in docker's layout. The engine
 * writes the files (atomically) and bind-mounts them; nothing here touches the filesystem.
 */
import { EngineError } from "../lib/errors.ts";

export interface HostEntry {
  ip: string;
  names: string[];
}

export interface LinkEntry {
  /** the linked container's address on the shared network */
  ip: string;
  /** --link NAME:ALIAS → alias, then the container's name (and its short id if given) */
  alias: string;
  name: string;
  shortId?: string;
}

export interface HostsInput {
  hostname: string;
  /** the container's address on its first network; absent with --network none */
  ip?: string;
  /** network aliases and the container name, added to the container's own line */
  aliases?: string[];
  /** --add-host entries, in flag order */
  extraHosts?: HostEntry[];
  links?: LinkEntry[];
}

/** docker's fixed head (libnetwork/etchosts) */
const DEFAULT_HOSTS = [
  "127.0.0.1\tlocalhost",
  "::1\tlocalhost ip6-localhost ip6-loopback",
  "fe00::0\tip6-localnet",
  "ff00::0\tip6-mcastprefix",
  "ff02::1\tip6-allnodes",
  "ff02::2\tip6-allrouters",
];

export function renderHosts(i: HostsInput): string {
  const lines = [...DEFAULT_HOSTS];
  for (const h of i.extraHosts ?? []) lines.push(`${h.ip}\t${h.names.join(" ")}`);
  for (const l of i.links ?? []) {
    const names = [...new Set([l.alias, l.name, ...(l.shortId ? [l.shortId] : [])])];
    lines.push(`${l.ip}\t${names.join(" ")}`);
  }
  if (i.ip) {
    const names = [...new Set([i.hostname, ...(i.aliases ?? [])])];
    lines.push(`${i.ip}\t${names.join(" ")}`);
  }
  return lines.join("\n") + "\n";
}

/**
 * The container's line for another network's address (`network connect`), as docker adds one per
 * endpoint: replaces a line that already starts with `ip`, else appends.
 */
export function withHostsEntry(text: string, ip: string, names: string[]): string {
  const line = `${ip}\t${names.join(" ")}`;
  const lines = text.split("\n").filter((l, i, a) => l !== "" || i < a.length - 1);
  const at = lines.findIndex((l) => l.split(/\s+/)[0] === ip);
  if (at >= 0) lines[at] = line;
  else lines.push(line);
  return lines.join("\n") + "\n";
}

/** the hosts text without the lines of `ip` (`network disconnect`) */
export function withoutHostsEntry(text: string, ip: string): string {
  const kept = text.split("\n").filter((l) => l !== "" && l.split(/\s+/)[0] !== ip);
  return kept.length ? kept.join("\n") + "\n" : "";
}

/**
 * `--add-host NAME:IP` (docker also accepts NAME=IP). docker splits at the first separator, so an IPv6
 * address keeps its colons. `host-gateway` is replaced by `hostGateway` (the bridge's gateway address).
 */
export function parseAddHost(value: string, hostGateway?: string): HostEntry {
  const m = /^([^:=]+)[:=](.+)$/.exec(value);
  if (!m) throw new EngineError("invalid_argument", `invalid --add-host "${value}": want NAME:IP`);
  const name = m[1]!.trim();
  let ip = m[2]!.trim().replace(/^\[(.*)\]$/, "$1");
  if (ip === "host-gateway") {
    if (!hostGateway) throw new EngineError("invalid_argument", `--add-host "${value}": host-gateway needs a bridge network`);
    ip = hostGateway;
  }
  if (!isIp(ip)) throw new EngineError("invalid_argument", `invalid --add-host "${value}": "${ip}" is not an IP address`);
  if (!/^[a-zA-Z0-9]([a-zA-Z0-9.-]*[a-zA-Z0-9])?$/.test(name)) throw new EngineError("invalid_argument", `invalid --add-host "${value}": bad host name`);
  return { ip, names: [name] };
}

function isIp(s: string): boolean {
  if (/^\d{1,3}(\.\d{1,3}){3}$/.test(s)) return s.split(".").every((p) => Number(p) <= 255);
  return /^[0-9a-fA-F:]+$/.test(s) && s.includes(":");
}

export interface ResolvOptions {
  dns?: string[];
  dnsSearch?: string[];
  dnsOptions?: string[];
}

/**
 * The container's resolv.conf from the host's: --dns/--dns-search/--dns-option replace the host's
 * lines of that kind; nameservers on loopback (127.0.0.0/8, ::1 — e.g. systemd-resolved's 127.0.0.53)
 * are dropped, since they are unreachable from the container's own netns (docker does the same).
 */
export function renderResolvConf(hostResolv: string, o: ResolvOptions = {}): string {
  const host = hostResolv.split("\n").map((l) => l.trim());
  const pick = (kw: string) => host.filter((l) => l.startsWith(kw + " ") || l.startsWith(kw + "\t")).map((l) => l.slice(kw.length).trim());
  const isLoopback = (ip: string) => ip.startsWith("127.") || ip === "::1";
  const ns = o.dns?.length ? o.dns : pick("nameserver").filter((ip) => !isLoopback(ip));
  const search = o.dnsSearch?.length ? o.dnsSearch : pick("search").flatMap((s) => s.split(/\s+/));
  const opts = o.dnsOptions?.length ? o.dnsOptions : pick("options").flatMap((s) => s.split(/\s+/));
  const lines: string[] = [];
  if (search.length && !(search.length === 1 && search[0] === ".")) lines.push(`search ${search.join(" ")}`);
  for (const n of ns) lines.push(`nameserver ${n}`);
  if (opts.length) lines.push(`options ${opts.join(" ")}`);
  return lines.join("\n") + "\n";
}

export interface LinkEnvInput {
  /** --link NAME:ALIAS → ALIAS (the variables' prefix, upper-cased, '-' → '_') */
  alias: string;
  /** the linking container's name, without the leading slash */
  containerName: string;
  /** the linked container's address */
  ip: string;
  /** the linked container's exposed ports, "80/tcp" / "53/udp" / "8080" */
  exposed: string[];
  /** the linked container's environment, "K=V" */
  env: string[];
}

/**
 * docker's legacy link variables (moby daemon/links/links.go, unchanged since Docker 0.8):
 * ALIAS_PORT (the lowest exposed port), ALIAS_PORT_<p>_<PROTO>[_ADDR|_PORT|_PROTO], ALIAS_NAME, and
 * ALIAS_ENV_<K> for the linked container's environment minus HOME and PATH.
 */
export function linkEnv(l: LinkEnvInput): string[] {
  const a = l.alias.toUpperCase().replaceAll("-", "_");
  const ports = l.exposed
    .map((e) => {
      const [p, proto = "tcp"] = e.split("/");
      return { port: Number(p), proto: proto.toLowerCase() };
    })
    .filter((p) => Number.isInteger(p.port) && p.port > 0)
    .sort((x, y) => x.port - y.port || (x.proto === "tcp" ? -1 : y.proto === "tcp" ? 1 : 0));
  const out: string[] = [];
  if (ports[0]) out.push(`${a}_PORT=${ports[0].proto}://${l.ip}:${ports[0].port}`);
  for (const p of ports) {
    const k = `${a}_PORT_${p.port}_${p.proto.toUpperCase()}`;
    out.push(`${k}=${p.proto}://${l.ip}:${p.port}`, `${k}_ADDR=${l.ip}`, `${k}_PORT=${p.port}`, `${k}_PROTO=${p.proto}`);
  }
  out.push(`${a}_NAME=/${l.containerName}/${l.alias}`);
  for (const kv of l.env) {
    const i = kv.indexOf("=");
    if (i <= 0) continue;
    const k = kv.slice(0, i);
    if (k === "HOME" || k === "PATH") continue;
    out.push(`${a}_ENV_${k}=${kv.slice(i + 1)}`);
  }
  return out;
}
