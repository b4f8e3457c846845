/**
 * What every container operation works over: the record store, the snapshots, the runtime, images,
 * networks, volumes, the event log, a logger, a clock and the supervising process's identity. The
 * ContainerService façade builds one; tests build one around a fake runtime.
 */
import type { Logger } from "../../../lib/log.ts";
import type { SnapshotDriver } from "../../../cow/driver.ts";
import type { ImageResolver } from "../../image-types.ts";
import type { NetworkService } from "../../network.ts";
import type { VolumeService } from "../../volumes.ts";
import type { EventLog } from "../../events.ts";
import type { ContainerStore } from "../store.ts";
import type { ContainerRuntime } from "../runtime-port.ts";
import type { ContainerConfigFile } from "../types.ts";

/** the process that runs the engine: it becomes a container's supervisor, and starts monitors */
export interface SelfProcess {
  pid: number;
  /** argv that runs berth again (`[berth]` when compiled, `[bun, main.ts]` under bun) */
  argv: string[];
  /** the environment a detached monitor gets */
  monitorEnv(): Record<string, string | undefined>;
  /**
   * start `berth <args>` detached (its own session, no stdio of ours) and return its pid; default
   * (ops/self.ts launchDetached): spawn argv + args. Tests run the monitor in-process instead.
   */
  launch?(args: string[]): number;
}

export interface Clock {
  now(): number;
  sleep(ms: number): Promise<void>;
}

export const realClock: Clock = { now: () => Date.now(), sleep: (ms) => Bun.sleep(ms) };

export interface ContainerDeps {
  /** <berth root>/containers */
  readonly root: string;
  /** the berth root, passed to the monitor process as --root */
  readonly berthRoot: string;
  readonly store: ContainerStore;
  readonly snapshots: SnapshotDriver;
  readonly images: ImageResolver;
  readonly runtime: ContainerRuntime;
  /** created on first use: `--network none` runs never touch them */
  readonly networks: NetworkService;
  readonly volumes: VolumeService;
  readonly events: EventLog;
  readonly log: Logger;
  readonly clock: Clock;
  readonly self: SelfProcess;
  /** where attach sockets with a path too long for sun_path go (attach-proto.ts defaultAttachDir) */
  readonly attachDir: string;
  /** the 127.0.0.11 relays this process serves, by container */
  readonly relays: Map<string, () => void>;
  /** containers this process created and has not started yet (run's create + start): no earlier start
   * of theirs can have left endpoints on a network */
  readonly createdHere: Set<string>;
  /** containers whose exit this process is tidying up and whose cgroup is already gone (recordExit,
   * afterExit and its rm all reap: only the first does it); afterExit clears the mark */
  readonly reapedHere: Set<string>;
  /** for stale-record reclaiming: is `id` a container (or one being created right now)? */
  isKnownContainer(id: string): boolean;
}

/** a container event with docker's attributes: image, name, the container's labels, then `extra` */
export function ev(d: ContainerDeps, action: string, cfg: ContainerConfigFile, extra: Record<string, string> = {}): void {
  d.events.emit("container", action, cfg.Id, { ...(cfg.Config.Labels ?? {}), image: cfg.Config.Image, name: cfg.Name.slice(1), ...extra });
}
