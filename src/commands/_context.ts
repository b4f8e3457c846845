/**
 * What every command receives: the data root, the logger and the engine (opened lazily, so `--help`
 * and `--version` never touch the store), the environment main.ts read once, and the process's stdio.
 */
import type { Logger } from "../lib/log.ts";
import type { Engine } from "../engine/index.ts";
import type { DaemonConfig } from "../lib/daemon-config.ts";
import type { Endpoint } from "../client/index.ts";

export interface Context {
  root: string;
  log: Logger;
  debug: boolean;
  /** the environment, read once by main.ts (a daemon would pass its client's) */
  env: Readonly<Record<string, string | undefined>>;
  /** the daemon's config file (docker's daemon.json keys berth applies), read once by main.ts */
  daemon?: DaemonConfig;
  /** --config-file as given (the daemon reads it again on SIGHUP) */
  daemonConfigFile?: string;
  engine(): Promise<Engine>;
  /** the global -H/--host values and --context, as given (client mode; `context ls` marks the one in effect) */
  hostSelection?: { hosts: string[]; context?: string };
  /** the daemon this invocation is a client of (-H, --context, BERTH_HOST/DOCKER_HOST, `context use`); none: daemonless */
  endpoint?: Endpoint;
  /** write data to stdout */
  out(s: string): void;
}
