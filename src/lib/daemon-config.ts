/**
 * The daemon's config file, docker's daemon.json (berth: /etc/berth/daemon.json, or --config-file):
 * read once by main.ts and merged under flags and the environment (flags > env > file > defaults).
 * A key berth does not know is docker's error; a docker key berth does not implement yet is a warning.
 */
import { readFileSync } from "node:fs";
import { EngineError } from "./errors.ts";

export const DEFAULT_DAEMON_CONFIG = "/etc/berth/daemon.json";

export interface DaemonConfig {
  "data-root"?: string;
  "storage-driver"?: string;
  "insecure-registries"?: string[];
  /** registries tried before Docker Hub for docker.io images (http:// or https:// URLs) */
  "registry-mirrors"?: string[];
  "log-driver"?: string;
  "log-opts"?: Record<string, string>;
  /** subnets user networks get when `network create` names none: each base cut into /size networks */
  "default-address-pools"?: { base: string; size: number }[];
}

/** the keys berth applies, with the JSON type docker gives them */
const KEYS: Record<keyof DaemonConfig, "string" | "string[]" | "map" | "pools"> = {
  "data-root": "string",
  "storage-driver": "string",
  "insecure-registries": "string[]",
  "registry-mirrors": "string[]",
  "log-driver": "string",
  "log-opts": "map",
  "default-address-pools": "pools",
};

/** dockerd's keys berth accepts but does not act on yet (a warning names them) */
const NOT_YET = new Set([
  "debug",
  "log-level",
  "hosts",
  "dns",
  "dns-opts",
  "dns-search",
  "exec-opts",
  "storage-opts",
  "live-restore",
  "features",
  "builder",
  "experimental",
  "ipv6",
  "bip",
  "mtu",
  "default-runtime",
  "runtimes",
  "iptables",
  "ip-forward",
  "userland-proxy",
  "max-concurrent-downloads",
  "max-concurrent-uploads",
  "default-ulimits",
  "shutdown-timeout",
  "cgroup-parent",
  "labels",
]);

export interface LoadedDaemonConfig {
  config: DaemonConfig;
  /** docker keys that were present and are ignored */
  ignored: string[];
}

/**
 * read `path`; a missing file is an empty config unless it was named explicitly (--config-file).
 * Errors carry dockerd's wording: "unable to configure the Docker daemon with file …".
 */
export function loadDaemonConfig(path: string, explicit: boolean): LoadedDaemonConfig {
  const fail = (why: string) => new EngineError("invalid_argument", `unable to configure the berth engine with file ${path}: ${why}`);
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "ENOENT" && !explicit) return { config: {}, ignored: [] };
    throw fail(`open ${path}: ${code === "ENOENT" ? "no such file or directory" : code === "EACCES" ? "permission denied" : (e as Error).message}`);
  }
  let o: unknown;
  try {
    o = text.trim() === "" ? {} : JSON.parse(text);
  } catch (e) {
    throw fail((e as Error).message);
  }
  if (!o || typeof o !== "object" || Array.isArray(o)) throw fail("the file is not a JSON object");
  const entries = Object.entries(o as Record<string, unknown>);
  const unknown = entries.map(([k]) => k).filter((k) => !(k in KEYS) && !NOT_YET.has(k));
  if (unknown.length) throw fail(`the following directives don't match any configuration option: ${unknown.join(", ")}`);
  const config: Record<string, unknown> = {};
  for (const [k, v] of entries) {
    const t = KEYS[k as keyof DaemonConfig];
    if (!t) continue;
    if (t === "pools") {
      const good =
        Array.isArray(v) &&
        v.every((x) => !!x && typeof x === "object" && typeof x.base === "string" && Number.isInteger(x.size) && x.size > 0 && x.size <= 32);
      if (!good) throw fail(`${k}: want a list of {"base": "CIDR", "size": prefix length}`);
      config[k] = v;
      continue;
    }
    const ok =
      t === "string"
        ? typeof v === "string"
        : t === "string[]"
          ? Array.isArray(v) && v.every((x) => typeof x === "string")
          : !!v && typeof v === "object" && !Array.isArray(v) && Object.values(v).every((x) => typeof x === "string");
    if (!ok) throw fail(`${k}: want ${t === "string" ? "a string" : t === "string[]" ? "a list of strings" : "an object of strings"}`);
    if (k === "registry-mirrors")
      for (const m of v as string[])
        if (!/^https?:\/\/[^/]+\/?$/.test(m)) throw fail(`invalid mirror: "${m}": want an http:// or https:// URL of a registry, with no path`);
    config[k] = v;
  }
  return { config: config as DaemonConfig, ignored: entries.map(([k]) => k).filter((k) => NOT_YET.has(k)) };
}
