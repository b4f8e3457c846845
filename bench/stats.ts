/**
 * Pure statistics and table rendering for the bench harness (no I/O, unit-tested in stats.test.ts).
 *
 * Ratios are always berth / peer, computed from interleaved pairs (berth_i, peer_i) taken one right
 * after the other, so slow drift on the shared 2-core VM hits both sides of a pair alike:
 *   ratio = median(berth over the paired runs) / median(peer over the paired runs)
 *   range = min and max of the per-pair ratios berth_i / peer_i
 */

export function median(xs: readonly number[]): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

export function minMax(xs: readonly number[]): [number, number] {
  if (xs.length === 0) return [NaN, NaN];
  let lo = Infinity,
    hi = -Infinity;
  for (const x of xs) {
    if (x < lo) lo = x;
    if (x > hi) hi = x;
  }
  return [lo, hi];
}

export interface PairedRatio {
  /** median(berth) / median(peer) over the complete pairs */
  ratio: number;
  /** smallest and largest per-pair ratio berth_i / peer_i */
  min: number;
  max: number;
  /** median of the per-pair ratios (kept in the JSON as a cross-check) */
  medianOfPairs: number;
  /** number of complete pairs */
  n: number;
}

/** Pairs are (berth[i], peer[i]); a pair missing either side (undefined/NaN) is dropped. */
export function pairedRatio(berth: readonly (number | undefined)[], peer: readonly (number | undefined)[]): PairedRatio | undefined {
  const b: number[] = [],
    p: number[] = [],
    r: number[] = [];
  const n = Math.min(berth.length, peer.length);
  for (let i = 0; i < n; i++) {
    const x = berth[i],
      y = peer[i];
    if (x === undefined || y === undefined || !Number.isFinite(x) || !Number.isFinite(y) || y <= 0) continue;
    b.push(x);
    p.push(y);
    r.push(x / y);
  }
  if (r.length === 0) return undefined;
  const [lo, hi] = minMax(r);
  return { ratio: median(b) / median(p), min: lo, max: hi, medianOfPairs: median(r), n: r.length };
}

/** 8.2 ms · 263 ms · 1.40 s · 65.3 s */
export function fmtMs(ms: number): string {
  if (!Number.isFinite(ms)) return "–";
  if (ms < 10) return `${ms.toFixed(1)} ms`;
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 10_000) return `${(ms / 1000).toFixed(2)} s`;
  return `${(ms / 1000).toFixed(1)} s`;
}

export function fmtRange(xs: readonly number[]): string {
  if (xs.length === 0) return "–";
  const [lo, hi] = minMax(xs);
  return `${fmtMs(lo)}–${fmtMs(hi)}`;
}

/** kilobytes (as the kernel reports ru_maxrss / VmHWM) → "38.3 MB" (MB = 10^6 bytes) */
export function fmtKb(kb: number | undefined): string {
  if (kb === undefined || !Number.isFinite(kb) || kb <= 0) return "–";
  return `${((kb * 1024) / 1e6).toFixed(1)} MB`;
}

/** 0.43× · 12.5× · 0.031× */
export function fmtRatio(r: number): string {
  if (!Number.isFinite(r)) return "–";
  if (r >= 10) return `${r.toFixed(1)}×`;
  if (r >= 0.1) return `${r.toFixed(2)}×`;
  return `${r.toFixed(3)}×`;
}

export function fmtPaired(p: PairedRatio | undefined): string {
  if (!p) return "–";
  return `${fmtRatio(p.ratio)} (${fmtRatio(p.min)}–${fmtRatio(p.max)}, n=${p.n})`;
}

/** A target is either a ceiling on berth/peer (ratio) or on berth's peak RSS in MB (of the median run,
 * or with `every` of every run: judged on the largest) */
export type Target = { kind: "ratio"; max: number } | { kind: "rss"; maxMB: number; every?: boolean };

export function fmtTarget(t: Target | undefined): string {
  if (!t) return "–";
  return t.kind === "ratio" ? `≤ ${t.max}×` : `RSS < ${t.maxMB} MB${t.every ? " in every run" : ""}`;
}

/** "yes" / "no" / "n/a" (target set but nothing to judge) / "–" (no target) */
export function judge(t: Target | undefined, ratio: PairedRatio | undefined, rssKb: number | undefined): string {
  if (!t) return "–";
  if (t.kind === "ratio") {
    if (!ratio) return "n/a";
    return ratio.ratio <= t.max ? "yes" : "no";
  }
  if (rssKb === undefined || !Number.isFinite(rssKb) || rssKb <= 0) return "n/a";
  return (rssKb * 1024) / 1e6 < t.maxMB ? "yes" : "no";
}

export const TABLE_HEADER = ["scenario", "engine", "median", "min–max", "peak RSS", "berth/peer ratio", "target", "met?"] as const;

/** Column alignment: true = right-aligned (numbers). */
const RIGHT = [false, false, true, true, true, false, false, false];

/** Plain-text table with aligned columns (width counted in code points, so "–" and "×" count as one). */
export function renderText(rows: readonly (readonly string[])[]): string {
  const all = [TABLE_HEADER as readonly string[], ...rows];
  const len = (s: string) => [...s].length;
  const w = TABLE_HEADER.map((_, c) => Math.max(...all.map((r) => len(r[c] ?? ""))));
  const line = (r: readonly string[]) =>
    r
      .map((cell, c) => {
        const pad = " ".repeat(w[c]! - len(cell));
        return RIGHT[c] && /^[\d–]/.test(cell) ? pad + cell : cell + pad; // status text stays left-aligned
      })
      .join(" | ")
      .trimEnd();
  const sep = w.map((n) => "-".repeat(n)).join("-|-");
  return [line(all[0]!), sep, ...rows.map(line)].join("\n") + "\n";
}

/** GitHub-flavoured markdown table; `|` inside cells is escaped. */
export function renderMarkdown(rows: readonly (readonly string[])[]): string {
  const esc = (s: string) => s.replace(/\|/g, "\\|");
  const head = `| ${TABLE_HEADER.join(" | ")} |`;
  const align = `|${RIGHT.map((r) => (r ? "---:" : "---")).join("|")}|`;
  return [head, align, ...rows.map((r) => `| ${r.map(esc).join(" | ")} |`)].join("\n") + "\n";
}
