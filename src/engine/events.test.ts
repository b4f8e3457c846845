import { afterAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { EventLog, parseEventFilters, type BerthEvent } from "./events.ts";

const dir = mkdtempSync("/tmp/berth-test-events-");
afterAll(() => rmSync(dir, { recursive: true, force: true }));

test("append, read from an offset, compaction keeps the newest whole lines under 1 MiB", () => {
  const log = new EventLog(dir);
  log.emit("container", "create", "a".repeat(64), { name: "x", image: "busybox" });
  const first = log.read(0);
  expect(first.events).toHaveLength(1);
  expect(first.events[0]).toMatchObject({
    Type: "container",
    Action: "create",
    status: "create",
    id: "a".repeat(64),
    from: "busybox",
    Actor: { Attributes: { image: "busybox", name: "x" } },
  });
  log.emit("network", "connect", "n1", { container: "c", name: "net", type: "bridge" });
  const more = log.read(first.next);
  expect(more.events.map((e) => e.Action)).toEqual(["connect"]);
  expect(more.events[0]!.status).toBeUndefined();
  const ino = log.inode();
  for (let i = 0; i < 6000; i++) log.emit("container", "start", `${i}`.padStart(64, "0"), { name: `c${i}`, pad: "p".repeat(100) });
  expect(statSync(log.path).size).toBeLessThanOrEqual(1024 * 1024);
  expect(log.inode()).not.toBe(ino);
  const all = log.read(0).events;
  expect(all.at(-1)!.Actor.Attributes.name).toBe("c5999");
  expect(all.length).toBeGreaterThan(1000);
});

test("filters: same key ORs, keys AND", () => {
  const e = (Type: BerthEvent["Type"], Action: string, ID: string, Attributes: Record<string, string>): BerthEvent => ({
    Type,
    Action,
    Actor: { ID, Attributes },
    scope: "local",
    time: 1,
    timeNano: 1_700_000_000_123_456_800,
  });
  const c = e("container", "die", "abc123", { image: "busybox", name: "web", exitCode: "1", tier: "front" });
  expect(parseEventFilters([]).match(c)).toBe(true);
  expect(parseEventFilters(["type=container", "event=die"]).match(c)).toBe(true);
  expect(parseEventFilters(["event=start", "event=die"]).match(c)).toBe(true);
  expect(parseEventFilters(["type=network"]).match(c)).toBe(false);
  expect(parseEventFilters(["container=web"]).match(c)).toBe(true);
  expect(parseEventFilters(["container=abc"]).match(c)).toBe(true);
  expect(parseEventFilters(["image=busybox"]).match(c)).toBe(true);
  expect(parseEventFilters(["label=tier=front"]).match(c)).toBe(true);
  expect(parseEventFilters(["label=tier=back"]).match(c)).toBe(false);
  expect(() => parseEventFilters(["colour=red"])).toThrow("invalid filter 'colour'");
});
