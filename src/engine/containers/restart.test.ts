import { expect, test } from "bun:test";
import { FIRST_DELAY_MS, MAX_DELAY_MS, nextDelay, shouldRestart } from "./restart.ts";

test("policies: no, always, unless-stopped, on-failure with and without a limit; a manual stop wins", () => {
  const o = (exitCode: number, restartCount = 0, manuallyStopped = false) => ({ exitCode, restartCount, manuallyStopped });
  expect(shouldRestart(undefined, o(1))).toBe(false);
  expect(shouldRestart({ Name: "no", MaximumRetryCount: 0 }, o(1))).toBe(false);
  expect(shouldRestart({ Name: "", MaximumRetryCount: 0 }, o(1))).toBe(false);
  for (const n of ["always", "unless-stopped"]) {
    expect(shouldRestart({ Name: n, MaximumRetryCount: 0 }, o(0, 99))).toBe(true);
    expect(shouldRestart({ Name: n, MaximumRetryCount: 0 }, o(137, 0, true))).toBe(false);
  }
  const of2 = { Name: "on-failure", MaximumRetryCount: 2 };
  expect(shouldRestart(of2, o(0))).toBe(false);
  expect(shouldRestart(of2, o(3, 0))).toBe(true);
  expect(shouldRestart(of2, o(3, 1))).toBe(true);
  expect(shouldRestart(of2, o(3, 2))).toBe(false);
  expect(shouldRestart({ Name: "on-failure", MaximumRetryCount: 0 }, o(3, 1000))).toBe(true);
});

test("delay: 100 ms, doubling to a minute, reset after a 10 s run", () => {
  let d = 0;
  const seen: number[] = [];
  for (let i = 0; i < 12; i++) seen.push((d = nextDelay(d, 50)));
  expect(seen.slice(0, 4)).toEqual([FIRST_DELAY_MS, 200, 400, 800]);
  expect(seen.at(-1)).toBe(MAX_DELAY_MS);
  expect(nextDelay(MAX_DELAY_MS, 10_000)).toBe(FIRST_DELAY_MS);
});
