import { expect, test } from "bun:test";
import { matchesPrune, parseOsRelease, parsePruneFilters } from "./system.ts";

test("os-release: PRETTY_NAME and VERSION_ID, quotes removed", () => {
  expect(parseOsRelease('PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nNAME="Debian GNU/Linux"\nVERSION_ID="12"\n')).toEqual({
    pretty: "Debian GNU/Linux 12 (bookworm)",
    version: "12",
  });
  expect(parseOsRelease("NAME=Alpine\n")).toEqual({ pretty: "Alpine", version: "" });
  expect(parseOsRelease("")).toEqual({ pretty: "Linux", version: "" });
});

test("prune filters: until as duration, unix seconds or date; label and label!; others refused", () => {
  const now = Date.parse("2026-12-01T12:00:00Z");
  expect(parsePruneFilters(["until=24h"], now).until).toBe(now - 24 * 3600_000);
  expect(parsePruneFilters(["until=1h30m"], now).until).toBe(now - 90 * 60_000);
  expect(parsePruneFilters(["until=1700000000"], now).until).toBe(1700000000_000);
  expect(parsePruneFilters(["until=2026-11-30T00:00:00Z"], now).until).toBe(Date.parse("2026-11-30T00:00:00Z"));
  expect(() => parsePruneFilters(["until=yesterday"], now)).toThrow('failed to parse value as time or duration: "yesterday"');
  expect(() => parsePruneFilters(["status=exited"], now)).toThrow("invalid filter 'status'");
  expect(() => parsePruneFilters(["label"], now)).toThrow("bad format of filter");
  const f = parsePruneFilters(["label=app", "label=tier=web", "label!=keep"], now);
  expect(f).toMatchObject({ labels: ["app", "tier=web"], notLabels: ["keep"] });
  expect(matchesPrune(f, "2026-01-01T00:00:00Z", { app: "x", tier: "web" })).toBe(true);
  expect(matchesPrune(f, "2026-01-01T00:00:00Z", { app: "x", tier: "db" })).toBe(false);
  expect(matchesPrune(f, "2026-01-01T00:00:00Z", { app: "x", tier: "web", keep: "1" })).toBe(false);
  const old = parsePruneFilters(["until=1h"], now);
  expect(matchesPrune(old, "2026-12-01T10:00:00.000000000Z", {})).toBe(true);
  expect(matchesPrune(old, "2026-12-01T11:30:00Z", {})).toBe(false);
});
