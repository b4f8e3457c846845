import { expect, test } from "bun:test";
import { applyProbe, hasHealthcheck, probeArgv, timings, type HealthState } from "./health.ts";

test("hasHealthcheck, the probe's argv, timings", () => {
  const image = { Test: ["CMD", "curl", "-f", "http://localhost/"], Interval: 10e9, Retries: 5 };
  expect(hasHealthcheck({ Test: ["NONE"] })).toBe(false);
  expect(hasHealthcheck(image)).toBe(true);
  expect(probeArgv(["CMD-SHELL", "test -f /ok"])).toEqual(["/bin/sh", "-c", "test -f /ok"]);
  expect(probeArgv(["CMD", "cat", "/ok"])).toEqual(["cat", "/ok"]);
  expect(timings({ Test: ["CMD", "x"] })).toEqual({ interval: 30000, timeout: 30000, startPeriod: 0, retries: 3 });
});

test("probe results: healthy on a pass, unhealthy after retries failures, start period failures do not count, five kept", () => {
  const r = (code: number, i = 0) => ({ Start: `s${i}`, End: `e${i}`, ExitCode: code, Output: code ? "no" : "" });
  let h: HealthState = { Status: "starting", FailingStreak: 0, Log: [] };
  h = applyProbe(h, r(1), { retries: 2, inStartPeriod: true });
  expect(h).toMatchObject({ Status: "starting", FailingStreak: 0 });
  h = applyProbe(h, r(1), { retries: 2, inStartPeriod: false });
  expect(h).toMatchObject({ Status: "starting", FailingStreak: 1 });
  h = applyProbe(h, r(1), { retries: 2, inStartPeriod: false });
  expect(h).toMatchObject({ Status: "unhealthy", FailingStreak: 2 });
  h = applyProbe(h, r(0), { retries: 2, inStartPeriod: false });
  expect(h).toMatchObject({ Status: "healthy", FailingStreak: 0 });
  for (let i = 0; i < 10; i++) h = applyProbe(h, r(0, i), { retries: 2, inStartPeriod: false });
  expect(h.Log.length).toBe(5);
  expect(h.Log.at(-1)!.Start).toBe("s9");
  expect(applyProbe(h, { ...r(1), Output: "x".repeat(10000) }, { retries: 3, inStartPeriod: false }).Log.at(-1)!.Output.length).toBe(4096);
});
