/**
 * Published ports, pure half: docker's `-p` syntax, `-P` from EXPOSE, conflict rules and `berth port`
 * output. IPv4 host addresses only; a port on every address is also proxied from [::] (proxy.ts).
 *
 *   -p 80                 container 80/tcp on a random host port, every host address
 *   -p 8080:80/udp        host 8080 → container 80, udp
 *   -p 127.0.0.1:8080:80  only on that host address
 *   -p 127.0.0.1::80      random host port on that address
 *   -p 8000-8001:80-81    ranges of equal length
 */
import { EngineError } from "../lib/errors.ts";

export type Proto = "tcp" | "udp";

export interface PortSpec {
  /** "" = every host address (docker's 0.0.0.0) */
  hostIp: string;
  /** 0 = pick a free one */
  hostPort: number;
  containerPort: number;
  proto: Proto;
}

/** a spec with its host port decided */
export interface PortBinding extends PortSpec {
  hostPort: number;
}

function bad(spec: string, why: string): never {
  throw new EngineError("invalid_argument", `invalid port specification "${spec}": ${why}`);
}

function parseRange(spec: string, s: string, what: string): [number, number] {
  const m = /^(\d{1,5})(?:-(\d{1,5}))?$/.exec(s);
  if (!m) bad(spec, `bad ${what} "${s}"`);
  const a = Number(m[1]),
    b = Number(m[2] ?? m[1]);
  if (a < 1 || b > 65535 || b < a) bad(spec, `${what} out of range "${s}"`);
  return [a, b];
}

export function parsePortSpec(spec: string): PortSpec[] {
  let rest = spec.trim();
  let proto: Proto = "tcp";
  const slash = rest.lastIndexOf("/");
  if (slash >= 0) {
    const p = rest.slice(slash + 1).toLowerCase();
    if (p !== "tcp" && p !== "udp") bad(spec, `unsupported protocol "${p}" (tcp or udp)`);
    proto = p;
    rest = rest.slice(0, slash);
  }
  if (rest.startsWith("[")) bad(spec, "IPv6 host addresses are not supported");
  const parts = rest.split(":");
  let hostIp = "",
    hostPart = "",
    ctrPart: string;
  if (parts.length === 1) ctrPart = parts[0]!;
  else if (parts.length === 2) [hostPart, ctrPart] = parts as [string, string];
  else if (parts.length === 3) [hostIp, hostPart, ctrPart] = parts as [string, string, string];
  else bad(spec, "too many colons");
  if (hostIp === "0.0.0.0") hostIp = "";
  if (hostIp && !/^\d{1,3}(\.\d{1,3}){3}$/.test(hostIp)) bad(spec, `bad host address "${hostIp}"`);
  if (hostIp?.split(".").some((x) => Number(x) > 255)) bad(spec, `bad host address "${hostIp}"`);
  const [c0, c1] = parseRange(spec, ctrPart, "container port");
  const n = c1 - c0 + 1;
  let h0 = 0;
  if (hostPart !== "") {
    const [a, b] = parseRange(spec, hostPart, "host port");
    if (b - a + 1 !== n) {
      if (a === b) bad(spec, "a single host port cannot serve a range of container ports");
      bad(spec, "host and container port ranges differ in length");
    }
    h0 = a;
  }
  return Array.from({ length: n }, (_, i) => ({ hostIp, hostPort: h0 ? h0 + i : 0, containerPort: c0 + i, proto }));
}

/** `-P`: every EXPOSEd port ("80/tcp", "53/udp", "8080") on a random host port */
export function specsFromExposed(exposed: string[]): PortSpec[] {
  return exposed.flatMap((e) => parsePortSpec(e));
}

/** two bindings collide when protocol and port match and their addresses overlap ("" is every address) */
export function collides(a: PortSpec, b: PortSpec): boolean {
  return a.proto === b.proto && a.hostPort === b.hostPort && (a.hostIp === "" || b.hostIp === "" || a.hostIp === b.hostIp);
}

/** `berth port` lines, docker's format: "80/tcp -> 0.0.0.0:8080" */
export function formatPortBinding(b: PortBinding, ipv6 = false): string[] {
  return bindingAddrs(b, ipv6).map((ip) => `${b.containerPort}/${b.proto} -> ${hostPortText(ip, b.hostPort)}`);
}

/**
 * The host addresses a binding answers on: its own address, else 0.0.0.0 and, for TCP where the host
 * has IPv6 (`ipv6`), [::] too: the container's start listens there as well (docker's userland proxy
 * on [::], engine/containers/networking.ts wire), and docker 28 lists both.
 */
export function bindingAddrs(b: PortBinding, ipv6: boolean): string[] {
  if (b.hostIp) return [b.hostIp];
  return ipv6 && b.proto === "tcp" ? ["0.0.0.0", "::"] : ["0.0.0.0"];
}

/** "0.0.0.0:8080", "[::]:8080" */
export function hostPortText(ip: string, port: number | string): string {
  return `${ip.includes(":") ? `[${ip}]` : ip}:${port}`;
}
