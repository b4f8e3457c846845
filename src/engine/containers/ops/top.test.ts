import { expect, test } from "bun:test";
import { psC, psStime } from "./top.ts";

test("top's C column is ps -ef's (procps pr_c): CPU time over the process's life, whole percent, at most 99", () => {
  expect(psC(0, 100, 10)).toBe(0);
  expect(psC(500, 100, 10)).toBe(50); // 5 s of CPU in 10 s
  expect(psC(999, 100, 10)).toBe(99);
  expect(psC(2000, 100, 10)).toBe(99); // two CPUs' worth still reads 99
  expect(psC(130, 100, 1.74)).toBe(74); // a young process: the fraction of a second counts (procps 4)
  expect(psC(50, 100, 0)).toBe(0);
});

test("top's STIME is ps -ef's: HH:MM today, MmmDD another day, the year another year", () => {
  const now = new Date(2026, 11, 7, 10, 30);
  expect(psStime(new Date(2026, 11, 7, 9, 5), now)).toBe("09:05");
  expect(psStime(new Date(2026, 11, 6, 23, 59), now)).toBe("Dec06");
  expect(psStime(new Date(2025, 11, 7, 9, 5), now)).toBe("2025");
});
