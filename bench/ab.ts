/**
 * Interleaved A/B of two (or more) berth binaries on one command: `bun bench/ab.ts N BIN… -- ARGS…`
 * runs `BIN ARGS…` for each binary in turn, N rounds, and prints each binary's median, 25th and 75th
 * percentile wall time (spawn to exit). Alternating the binaries round by round cancels most of the
 * machine's drift; reverse their order in a second run to see what is left of it.
 *
 *   BERTH_ROOT=/var/tmp/abroot bun bench/ab.ts 60 ./old-berth dist/berth -- run --rm busybox true
 *
 * The environment passes through (BERTH_ROOT, BERTH_BRIDGE, BERTH_TRACE…). A failing run stops it.
 */
const argv = process.argv.slice(2);
const sep = argv.indexOf("--");
if (sep < 2) {
  console.error("usage: bun bench/ab.ts N BIN [BIN…] -- ARGS…");
  process.exit(2);
}
const n = Number(argv[0]);
const bins = argv.slice(1, sep);
const args = argv.slice(sep + 1);
const times: number[][] = bins.map(() => []);
for (let i = 0; i < n; i++) {
  bins.forEach((bin, k) => {
    const t0 = performance.now();
    const r = Bun.spawnSync([bin, ...args], { stdout: "ignore", stderr: "pipe" });
    const ms = performance.now() - t0;
    if (r.exitCode !== 0) {
      console.error(`${bin} ${args.join(" ")}: exit ${r.exitCode}: ${r.stderr.toString().trim()}`);
      process.exit(1);
    }
    times[k]!.push(ms);
  });
}
const at = (xs: number[], q: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * q))]!;
bins.forEach((bin, k) => {
  const t = times[k]!;
  console.log(`${bin}: median ${at(t, 0.5).toFixed(2)} ms (p25 ${at(t, 0.25).toFixed(2)}, p75 ${at(t, 0.75).toFixed(2)}), ${t.length} runs`);
});
