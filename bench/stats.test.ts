import { describe, expect, test } from "bun:test";
import { fmtKb, fmtMs, fmtPaired, fmtRatio, judge, median, minMax, pairedRatio, renderMarkdown, renderText } from "./stats.ts";

describe("median / minMax", () => {
  test("odd, even, unsorted, empty", () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(median([7])).toBe(7);
    expect(median([])).toBeNaN();
    expect(minMax([5, -1, 3])).toEqual([-1, 5]);
    expect(minMax([]).every(Number.isNaN)).toBe(true);
  });
  test("does not reorder its input", () => {
    const xs = [3, 1, 2];
    median(xs);
    expect(xs).toEqual([3, 1, 2]);
  });
});

describe("pairedRatio", () => {
  test("ratio of medians, min–max of per-pair ratios", () => {
    // pairs: 10/20=0.5, 30/20=1.5, 20/40=0.5
    const r = pairedRatio([10, 30, 20], [20, 20, 40])!;
    expect(r.n).toBe(3);
    expect(r.ratio).toBeCloseTo(20 / 20);
    expect(r.min).toBeCloseTo(0.5);
    expect(r.max).toBeCloseTo(1.5);
    expect(r.medianOfPairs).toBeCloseTo(0.5);
  });
  test("drift common to both sides cancels in the per-pair ratios", () => {
    const drift = [1, 2, 4, 8];
    const r = pairedRatio(
      drift.map((d) => 3 * d),
      drift.map((d) => 6 * d),
    )!;
    expect(r.min).toBeCloseTo(0.5);
    expect(r.max).toBeCloseTo(0.5);
  });
  test("incomplete pairs are dropped; nothing paired → undefined", () => {
    const r = pairedRatio([10, undefined, 30, NaN], [5, 5, undefined, 5])!;
    expect(r.n).toBe(1);
    expect(r.ratio).toBe(2);
    expect(pairedRatio([1, 2], [])).toBeUndefined();
    expect(pairedRatio([1], [0])).toBeUndefined();
  });
});

describe("formatting", () => {
  test("durations, sizes, ratios", () => {
    expect(fmtMs(8.234)).toBe("8.2 ms");
    expect(fmtMs(263.4)).toBe("263 ms");
    expect(fmtMs(1404)).toBe("1.40 s");
    expect(fmtMs(65_300)).toBe("65.3 s");
    expect(fmtMs(NaN)).toBe("–");
    expect(fmtKb(38_280)).toBe("39.2 MB");
    expect(fmtKb(undefined)).toBe("–");
    expect(fmtRatio(0.4321)).toBe("0.43×");
    expect(fmtRatio(12.34)).toBe("12.3×");
    expect(fmtRatio(0.0312)).toBe("0.031×");
    expect(fmtPaired(pairedRatio([1, 2], [2, 2]))).toBe("0.75× (0.50×–1.00×, n=2)");
    expect(fmtPaired(undefined)).toBe("–");
  });
  test("targets: ratio ceiling and RSS ceiling", () => {
    const r = pairedRatio([10], [20]);
    expect(judge({ kind: "ratio", max: 2 }, r, undefined)).toBe("yes");
    expect(judge({ kind: "ratio", max: 0.1 }, r, undefined)).toBe("no");
    expect(judge({ kind: "ratio", max: 2 }, undefined, undefined)).toBe("n/a");
    expect(judge({ kind: "rss", maxMB: 100 }, undefined, 50_000)).toBe("yes");
    expect(judge({ kind: "rss", maxMB: 100 }, undefined, 200_000)).toBe("no");
    expect(judge(undefined, r, 1)).toBe("–");
  });
});

describe("tables", () => {
  const rows = [
    ["a. run", "berth", "12 ms", "10 ms–14 ms", "20.0 MB", "–", "–", "–"],
    ["a. run", "crun", "8.2 ms", "6.7 ms–9.0 ms", "3.4 MB", "1.46× (1.10×–1.90×, n=3)", "≤ 2×", "yes"],
  ];
  test("text table: header, separator, aligned columns", () => {
    const lines = renderText(rows).trimEnd().split("\n");
    expect(lines).toHaveLength(4);
    expect(lines[0]).toStartWith("scenario | engine | ");
    expect(lines[1]).toMatch(/^-+-\|-/);
    // the median column is right-aligned: both cells end at the same column
    const end = (l: string, cell: string) => [...l].length - [...l.slice(l.indexOf(cell) + cell.length)].length;
    expect(end(lines[2]!, "12 ms")).toBe(end(lines[3]!, "8.2 ms"));
  });
  test("markdown table escapes pipes", () => {
    const md = renderMarkdown([["x", "a|b", "", "", "", "", "", ""]]);
    expect(md.split("\n")[1]).toBe("|---|---|---:|---:|---:|---|---|---|");
    expect(md).toContain("a\\|b");
  });
});
