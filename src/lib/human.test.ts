import { expect, test } from "bun:test";
import { bytesSize, humanDuration, humanSize, parseRamSize, renderTable } from "./human.ts";

test("sizes read like docker's (go-units HumanSizeWithPrecision 3)", () => {
  expect(humanSize(0)).toBe("0B");
  expect(humanSize(999)).toBe("999B");
  expect(humanSize(4_260_000)).toBe("4.26MB");
  expect(humanSize(2_232_320)).toBe("2.23MB");
  expect(humanSize(1_500_000_000)).toBe("1.5GB");
});

test("units.HumanSize (4 digits) and units.BytesSize, as docker's system df, prune and stats print them", () => {
  expect(humanSize(1_985_682, 4)).toBe("1.986MB");
  expect(humanSize(45_056, 4)).toBe("45.06kB");
  // stats' MEM USAGE / LIMIT: "%.4g" of powers of 1024 (docker printed 1.035MiB where berth had 1.04MiB)
  expect(bytesSize(1_085_276)).toBe("1.035MiB");
  expect(bytesSize(458_752)).toBe("448KiB");
  expect(bytesSize(2 * 1024 ** 3)).toBe("2GiB");
  expect(bytesSize(25_276_182_528)).toBe("23.54GiB");
  expect(bytesSize(100_000_000)).toBe("95.37MiB");
  expect(bytesSize(0)).toBe("0B");
});

test("durations read like docker's (go-units HumanDuration)", () => {
  expect(humanDuration(500)).toBe("Less than a second");
  expect(humanDuration(1000)).toBe("1 second");
  expect(humanDuration(59_000)).toBe("59 seconds");
  expect(humanDuration(61_000)).toBe("About a minute");
  expect(humanDuration(45 * 60_000)).toBe("45 minutes");
  expect(humanDuration(3_600_000)).toBe("About an hour");
  expect(humanDuration(5 * 3_600_000)).toBe("5 hours");
  expect(humanDuration(3 * 86_400_000)).toBe("3 days");
  expect(humanDuration(20 * 86_400_000)).toBe("2 weeks");
  expect(humanDuration(90 * 86_400_000)).toBe("3 months");
  expect(humanDuration(800 * 86_400_000)).toBe("2 years");
});

test("memory sizes parse with binary units", () => {
  expect(parseRamSize("512m")).toBe(512 * 1024 * 1024);
  expect(parseRamSize("1g")).toBe(1024 ** 3);
  expect(parseRamSize("100")).toBe(100);
  expect(() => parseRamSize("lots")).toThrow("invalid size");
});

test("tables pad to the widest cell plus three spaces", () => {
  expect(renderTable(["A", "BB"], [["xxxx", "y"]])).toBe("A      BB\nxxxx   y\n");
});
