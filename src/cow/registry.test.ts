import { expect, test } from "bun:test";
import { createDriver, driverNames, driversByPriority, isDriverName, orList, registerDriver, registeredDrivers } from "./index.ts";
import { EngineError } from "../lib/errors.ts";

test("every driver file registered itself: names in registration order, preference by priority", () => {
  expect(driverNames()).toEqual(["overlay", "vfs", "btrfs"]);
  expect(driversByPriority().map((d) => d.name)).toEqual(["overlay", "btrfs", "vfs"]);
  expect(orList(driverNames())).toBe("overlay, vfs or btrfs");
  expect(isDriverName("vfs")).toBe(true);
  expect(isDriverName("zfs")).toBe(false);
  for (const d of registeredDrivers()) expect(d.description.length).toBeGreaterThan(0);
});

test("an unknown name is invalid_argument naming the registered ones; a second registration is refused", () => {
  let err: unknown;
  try {
    createDriver("zfs", "/tmp/x");
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(EngineError);
  expect((err as EngineError).kind).toBe("invalid_argument");
  expect((err as Error).message).toBe('storage driver "zfs": unknown (overlay, vfs, btrfs)');
  expect(() => registerDriver({ ...registeredDrivers()[0]! })).toThrow("registered twice");
});
