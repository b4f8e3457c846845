/**
 * src/engine — composes the stores, the snapshot driver, the runtime and the network into docker's
 * operations. Commands call only this module. (Filled in as the modules land.)
 */
import type { Logger } from "../lib/log.ts";

export interface EngineOptions {
  root: string;
  log: Logger;
}

export class Engine {
  readonly root: string;
  readonly log: Logger;
  constructor(opts: EngineOptions) {
    this.root = opts.root;
    this.log = opts.log;
  }
}

export async function openEngine(opts: EngineOptions): Promise<Engine> {
  return new Engine(opts);
}
