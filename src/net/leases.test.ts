import { afterAll, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, readdirSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { tmpdir } from "node:os";
import { claimLease, dropLeases } from "./leases.ts";

const base = mkdtempSync(join(tmpdir(), "berth-leases-"));
afterAll(() => rmSync(base, { recursive: true, force: true }));
const dir = join(base, "leases");
const rootA = join(base, "a"),
  rootB = join(base, "b");
const recordFile = (root: string) => join(root, "network", "bridge.json");
const record = (root: string, endpoints: Record<string, { containerId: string }>) => {
  mkdirSync(join(root, "network"), { recursive: true });
  writeFileSync(recordFile(root), JSON.stringify({ endpoints }));
};
const age = (ip: string) => utimesSync(join(dir, "br0", ip), new Date(0), new Date(0));

test("two roots on one bridge never hold the same address; stale leases are taken over; the bridge's directory stays empty", () => {
  expect(claimLease("br0", "10.0.0.2", { root: rootA, containerId: "a1" }, recordFile, dir)).toBe(true);
  // young lease of another root: live even before its record is written
  expect(claimLease("br0", "10.0.0.2", { root: rootB, containerId: "b1" }, recordFile, dir)).toBe(false);
  // old but still in its owner's record: live
  record(rootA, { "10.0.0.2": { containerId: "a1" } });
  age("10.0.0.2");
  expect(claimLease("br0", "10.0.0.2", { root: rootB, containerId: "b1" }, recordFile, dir)).toBe(false);
  // owner's record no longer lists it (or the root is gone): stale, taken over
  record(rootA, {});
  expect(claimLease("br0", "10.0.0.2", { root: rootB, containerId: "b1" }, recordFile, dir)).toBe(true);
  // a drop by someone who no longer holds it leaves the lease alone
  dropLeases("br0", [{ ip: "10.0.0.2", containerId: "a1" }], rootA, dir);
  expect(readdirSync(join(dir, "br0"))).toEqual(["10.0.0.2"]);
  // the same root re-claiming for another container: its own record (locked by the caller) decides
  expect(claimLease("br0", "10.0.0.3", { root: rootB, containerId: "b2" }, recordFile, dir)).toBe(true);
  expect(claimLease("br0", "10.0.0.3", { root: rootB, containerId: "b3" }, recordFile, dir)).toBe(true);
  dropLeases(
    "br0",
    [
      { ip: "10.0.0.2", containerId: "b1" },
      { ip: "10.0.0.3", containerId: "b3" },
    ],
    rootB,
    dir,
  );
  expect(readdirSync(join(dir, "br0"))).toEqual([]);
});
