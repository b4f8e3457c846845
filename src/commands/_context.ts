/**
 * What every command receives: the data root, the logger and the engine (opened lazily, so `--help`
 * and `--version` never touch the store), the environment main.ts read once, and the process's stdio.
 */
import type { Logger } from "../lib/log.ts";
import type { Engine } from "../engine/index.ts";
import type { DaemonConfig } from "../lib/daemon-config.ts";

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
  /** write data to stdout */
  out(s: string): void;
}
