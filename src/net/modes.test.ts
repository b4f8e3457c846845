import { expect, test } from "bun:test";
import { creatableDriver, isReservedNetworkName, networkDrivers, networkMode, joinsNetworks, predefinedNetworks } from "./index.ts";
import { EngineError } from "../lib/errors.ts";

test("networkMode: one answer per mode, from the registered drivers", () => {
  expect(networkMode("bridge")).toEqual({ attach: "endpoint", network: "bridge" });
  expect(networkMode("default")).toEqual({ attach: "endpoint", network: "bridge" });
  expect(networkMode("mynet")).toEqual({ attach: "endpoint", network: "mynet" });
  expect(networkMode("none")).toEqual({ attach: "loopback", network: "none", driver: "null" });
  expect(networkMode("host")).toEqual({ attach: "host", network: "host", driver: "host" });
  expect(networkMode("container:web")).toEqual({ attach: "container", container: "web" });
  expect(["bridge", "default", "mynet", "none", "host", "container:web"].map(joinsNetworks)).toEqual([true, true, true, false, false, false]);
});

test("drivers: bridge creatable, host and null predefined", () => {
  expect(networkDrivers().map((d) => [d.name, d.attach, d.creatable])).toEqual([
    ["bridge", "endpoint", true],
    ["null", "loopback", false],
    ["host", "host", false],
  ]);
  expect(predefinedNetworks().map((p) => [p.name, p.driver])).toEqual([
    ["none", "null"],
    ["host", "host"],
  ]);
  for (const n of ["bridge", "default", "none", "host"]) expect(isReservedNetworkName(n)).toBe(true);
  expect(isReservedNetworkName("mynet")).toBe(false);
});

test("network create --driver: docker's error for a driver berth cannot create networks of", () => {
  expect(creatableDriver("bridge").name).toBe("bridge");
  for (const name of ["macvlan", "host", "null"]) {
    let err: unknown;
    try {
      creatableDriver(name);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(EngineError);
    expect(err).toMatchObject({ kind: "invalid_argument", message: `plugin "${name}" not found`, hint: "berth has the bridge driver only" });
  }
});
