/**
 * The engine's options and their defaults. The engine reads no environment: main.ts (and later the
 * daemon's config file) reads the settings once and merges them over `engineDefaults` with defu.
 */
import type { Logger } from "../lib/log.ts";
import type { NetworkSettings, SelfCommand } from "./network.ts";

export interface EngineOptions {
  /** the berth root (main.ts: --root, env BERTH_ROOT) */
  root: string;
  log: Logger;
  /** storage driver: overlay, vfs, btrfs (main.ts: --storage-driver, env BERTH_STORAGE_DRIVER); default: the one the root already uses, else overlay */
  storageDriver?: string;
  /** docker's config.json with stored registry credentials (main.ts: $DOCKER_CONFIG or ~/.docker); none read without it */
  registryAuthFile?: string;
  /** default bridge, its subnet, nftables table (main.ts: env BERTH_BRIDGE, BERTH_BIP, BERTH_NFT_TABLE) */
  network?: NetworkSettings;
  /** the user's $XDG_RUNTIME_DIR (main.ts): a non-root user's attach sockets go there when their path is too long */
  runtimeDir?: string;
  /** a registry blob body that sends nothing for this long is dropped and resumed with Range (main.ts: env BERTH_REGISTRY_READ_TIMEOUT_MS); default 30 s */
  registryReadTimeoutMs?: number;
  /** registries a docker.io pull tries first, in order (daemon.json registry-mirrors: http(s)://host[:port]) */
  registryMirrors?: string[];
  /** registries reached over plain HTTP or unverified TLS besides loopback (daemon.json insecure-registries) */
  insecureRegistries?: string[];
  /** a process that serves many clients (berth daemon): see runtime forkForEveryStart */
  longLived?: boolean;
  /** how to run this berth again for its helper processes (monitors, the networks' DNS servers) */
  self?: SelfCommand;
}

export const engineDefaults = {
  root: "/var/lib/berth",
} satisfies Partial<EngineOptions>;
