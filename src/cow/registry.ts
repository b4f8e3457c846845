/**
 * The storage-driver registry (containerd's plugin.Register for snapshotters): every driver file ends with
 * its own registerDriver(...), and src/cow/index.ts imports each driver file once. The engine's choice and
 * validation, `createDriver`, the CLI's help text and the conformance suite (testsuite.ts over every
 * registration) read this list; nothing else names a driver.
 *
 * Order: registration order (the import order in index.ts) is the order names are listed in messages and
 * help; `priority` is the order the engine tries when it picks a driver by itself (the one a root already
 * has snapshots for, lowest priority first, else the lowest of all).
 */
import { EngineError } from "../lib/errors.ts";
import type { Driver, DriverName } from "./driver.ts";

export interface DriverRegistration<N extends DriverName = DriverName> {
  name: N;
  /** one line for listings */
  description: string;
  /** lower is preferred when the engine picks a driver by itself */
  priority: number;
  /** what the driver needs of the machine, for the conformance suite to skip it visibly without them:
   * `root` (mknod, trusted xattrs, mounts, ioctls), a `filesystem` type its root must be on (btrfs) */
  requires: { root: boolean; filesystem?: string };
  /** why snapshots under `root` cannot work on this machine with this driver, or undefined when they can */
  usable(root: string): string | undefined;
  /** the driver rooted at `root` (the engine passes <state root>/<name>); may throw failed_precondition */
  create(root: string): Driver;
}

const drivers = new Map<string, DriverRegistration>();

/** called once at the end of each driver file; a second registration of a name is a programming error */
export function registerDriver<N extends DriverName>(r: DriverRegistration<N>): void {
  if (drivers.has(r.name)) throw new EngineError("internal", `storage driver ${JSON.stringify(r.name)}: registered twice`);
  drivers.set(r.name, r as unknown as DriverRegistration);
}

/** every registered driver, in registration order */
export function registeredDrivers(): DriverRegistration[] {
  return [...drivers.values()];
}

/** the registered names in registration order */
export function driverNames(): DriverName[] {
  return registeredDrivers().map((r) => r.name);
}

/** registered drivers, preferred first */
export function driversByPriority(): DriverRegistration[] {
  return registeredDrivers().sort((a, b) => a.priority - b.priority);
}

/** "a, b or c" */
export function orList(names: readonly string[]): string {
  return names.length <= 1 ? (names[0] ?? "") : `${names.slice(0, -1).join(", ")} or ${names[names.length - 1]}`;
}

export function isDriverName(name: string): name is DriverName {
  return drivers.has(name);
}

/** the registration of `name`; invalid_argument naming the registered ones otherwise */
export function driverRegistration(name: string): DriverRegistration {
  const r = drivers.get(name);
  if (!r) throw new EngineError("invalid_argument", `storage driver ${JSON.stringify(name)}: unknown (${driverNames().join(", ")})`);
  return r;
}

/** the driver `name` rooted at `root` (the engine passes <state root>/<name>) */
export function createDriver(name: string, root: string): Driver {
  return driverRegistration(name).create(root);
}
