/**
 * Which URL a registry name maps to, and whether it is spoken to over plain HTTP. Docker's rules
 * (moby registry/config.go): `docker.io` is served by `registry-1.docker.io`; loopback registries
 * (`localhost`, 127.0.0.0/8, ::1) are insecure without configuration; others only when listed in the
 * daemon's `insecure-registries` (host[:port] or a CIDR). Pure apart from loadInsecureRegistries.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { EngineError } from "../../lib/errors.ts";

export const DOCKER_HUB_API = "registry-1.docker.io";
/** the key docker stores Docker Hub credentials under in config.json */
export const DOCKER_HUB_AUTH_KEY = "https://index.docker.io/v1/";

export interface RegistryEndpoint {
  /** the name as written in references: docker.io, localhost:5000 */
  domain: string;
  /** scheme://host[:port] of the v2 API, without /v2/ */
  base: string;
  insecure: boolean;
}

function splitHostPort(domain: string): { host: string; port?: string } {
  if (domain.startsWith("[")) {
    const end = domain.indexOf("]");
    const host = domain.slice(1, end);
    const rest = domain.slice(end + 1);
    return rest.startsWith(":") ? { host, port: rest.slice(1) } : { host };
  }
  const i = domain.lastIndexOf(":");
  return i >= 0 ? { host: domain.slice(0, i), port: domain.slice(i + 1) } : { host: domain };
}

function ipv4ToInt(s: string): number | undefined {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(s);
  if (!m) return undefined;
  const parts = m.slice(1).map(Number);
  if (parts.some((p) => p > 255)) return undefined;
  return ((parts[0]! << 24) | (parts[1]! << 16) | (parts[2]! << 8) | parts[3]!) >>> 0;
}

function inCidr(ip: string, cidr: string): boolean {
  const [net, bitsS] = cidr.split("/");
  const a = ipv4ToInt(ip),
    n = ipv4ToInt(net ?? "");
  const bits = Number(bitsS);
  if (a === undefined || n === undefined || !Number.isInteger(bits) || bits < 0 || bits > 32) return false;
  const mask = bits === 0 ? 0 : (~0 << (32 - bits)) >>> 0;
  return (a & mask) === (n & mask);
}

/** docker's isSecureIndex inverted: loopback, or listed by name or CIDR */
export function isInsecureRegistry(domain: string, insecure: readonly string[] = []): boolean {
  const { host } = splitHostPort(domain);
  if (host === "localhost" || host === "::1") return true;
  const v4 = ipv4ToInt(host);
  if (v4 !== undefined && v4 >>> 24 === 127) return true;
  for (const entry of insecure) {
    const e = entry.replace(/^https?:\/\//, "").replace(/\/+$/, "");
    if (e === domain || e === host) return true;
    if (e.includes("/") && inCidr(host, e)) return true;
  }
  return false;
}

export function resolveEndpoint(domain: string, insecure: readonly string[] = []): RegistryEndpoint {
  if (domain === "docker.io" || domain === "index.docker.io") {
    return { domain: "docker.io", base: `https://${DOCKER_HUB_API}`, insecure: false };
  }
  const plain = isInsecureRegistry(domain, insecure);
  return { domain, base: `${plain ? "http" : "https"}://${domain}`, insecure: plain };
}

/**
 * The insecure registry list: env BERTH_INSECURE_REGISTRIES (comma or space separated) plus
 * `<root>/daemon.json` {"insecure-registries": [...]} (docker's daemon.json key).
 */
export function loadInsecureRegistries(root: string | undefined, env: Record<string, string | undefined>): string[] {
  const out: string[] = [];
  for (const s of (env.BERTH_INSECURE_REGISTRIES ?? "").split(/[\s,]+/)) if (s) out.push(s);
  if (root) {
    let text: string | undefined;
    try {
      text = readFileSync(join(root, "daemon.json"), "utf8");
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "ENOENT")
        throw new EngineError("internal", `read ${join(root, "daemon.json")}: ${(e as Error).message}`, { cause: e });
    } // none: env only; an unreadable one is an error like an invalid one
    if (text !== undefined) {
      let cfg: { "insecure-registries"?: unknown };
      try {
        cfg = JSON.parse(text);
      } catch (e) {
        throw new EngineError("invalid_argument", `read ${join(root, "daemon.json")}: invalid json: ${(e as Error).message}`);
      }
      const list = cfg["insecure-registries"];
      if (Array.isArray(list)) for (const s of list) if (typeof s === "string") out.push(s);
    }
  }
  return out;
}

/** the config.json key for a registry: Docker Hub's legacy URL, else the bare host[:port] */
export function authKey(domain: string): string {
  return domain === "docker.io" || domain === "index.docker.io" || domain === DOCKER_HUB_API ? DOCKER_HUB_AUTH_KEY : domain;
}
