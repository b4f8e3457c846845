/**
 * The exit codes an --rm container leaves for a `wait` that started before its removal: found while
 * kept (a minute at least), gone after, and a loop of runs does not make each run look at every code.
 */
import { afterEach, beforeEach, expect, test } from "bun:test";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { exitOfRemoved, keepExit } from "./stop.ts";
import type { ContainerDeps } from "./deps.ts";

let root: string;
let now = 0;
const log = { debug() {}, info() {}, warn() {}, error() {} };
const deps = () => ({ root, clock: { now: () => now, sleep: async () => {} }, log }) as unknown as ContainerDeps;
const id = (n: number) => n.toString(16).padStart(64, "0");

beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), "berth-exits-"));
  now = 1_800_000_000_000;
});
afterEach(() => rmSync(root, { recursive: true, force: true }));

test("a kept code is found for a minute at least, and gone once three half-minutes have passed", () => {
  keepExit(deps(), id(1), 42);
  expect(exitOfRemoved(deps(), id(1))).toBe(42);
  expect(exitOfRemoved(deps(), id(2))).toBeUndefined();
  for (let s = 1; s <= 60; s++) {
    now += 1000;
    keepExit(deps(), id(100 + s), s);
  }
  expect(exitOfRemoved(deps(), id(1))).toBe(42);
  expect(exitOfRemoved(deps(), id(130))).toBe(30);
  now += 31_000;
  keepExit(deps(), id(2), 7);
  expect(exitOfRemoved(deps(), id(1))).toBeUndefined();
  expect(exitOfRemoved(deps(), id(2))).toBe(7);
  // at most three half-minutes' worth of directories stay
  expect(readdirSync(join(root, ".exits")).length).toBeLessThanOrEqual(3);
});

test("codes of one half-minute share a directory: a run adds one file, not a stat of every code kept", () => {
  for (let i = 0; i < 300; i++) keepExit(deps(), id(i), i % 256);
  const dirs = readdirSync(join(root, ".exits"));
  expect(dirs).toHaveLength(1);
  expect(readdirSync(join(root, ".exits", dirs[0]!))).toHaveLength(300);
  expect(exitOfRemoved(deps(), id(299))).toBe(299 % 256);
});

test("flat files an older berth kept go with the next new half-minute", () => {
  mkdirSync(join(root, ".exits"), { recursive: true });
  writeFileSync(join(root, ".exits", id(9)), "3");
  keepExit(deps(), id(1), 0);
  expect(existsSync(join(root, ".exits", id(9)))).toBe(false);
  expect(exitOfRemoved(deps(), id(1))).toBe(0);
});
