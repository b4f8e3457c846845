/**
 * Snapshot creation per storage driver for the busybox image: how long `prepare(key, topLayer)` (what
 * `berth create`/`run` does for the container's rootfs) and `remove(key)` take on overlay, vfs and btrfs.
 * A quick loop, not part of the suite and not wired into `bun run bench`:
 *
 *   sudo bun bench/snapshot-drivers.ts [N=50]
 *
 * Root only (mount, losetup). Makes a 300 MB loop-mounted btrfs (test/helpers/btrfs.ts) and runs each
 * driver twice: with --root on that btrfs, and overlay and vfs also with --root on /tmp's filesystem.
 * Prints one markdown table (median and p90 in ms); leaves nothing behind.
 */
import { mkdtempSync, rmSync, statfsSync } from "node:fs";
import { join } from "node:path";
import { createDriver, type DriverName } from "../src/cow/index.ts";
import { berth, repo } from "../test/helpers/cli.ts";
import { loopBtrfs } from "../test/helpers/btrfs.ts";

const N = Number(process.argv[2] ?? 50);

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(p * s.length))]!;
}

async function measure(driver: DriverName, parent: string): Promise<{ prepare: number[]; remove: number[] }> {
  const root = mkdtempSync(join(parent, `bench-${driver}-`));
  const env = { BERTH_STORAGE_DRIVER: driver };
  try {
    const tar = join(root, "busybox.tar");
    const p = Bun.spawnSync(["bash", join(repo, "scripts/busybox-rootfs.sh"), tar]);
    if (p.exitCode !== 0) throw new Error(`busybox-rootfs.sh: ${p.stderr}`);
    const r = await berth(["import", tar, "busybox:latest"], { root: join(root, "berth"), env });
    if (r.exitCode !== 0) throw new Error(`import: ${r.stderr}`);
    const d = createDriver(driver, join(root, "berth", driver));
    let top = "";
    for await (const s of d.walk()) if (s.kind === "committed") top = s.name;
    const prepare: number[] = [],
      remove: number[] = [];
    for (let i = 0; i < N; i++) {
      const t0 = Bun.nanoseconds();
      await d.prepare(`bench-${i}`, top);
      const t1 = Bun.nanoseconds();
      await d.remove(`bench-${i}`);
      const t2 = Bun.nanoseconds();
      prepare.push((t1 - t0) / 1e6);
      remove.push((t2 - t1) / 1e6);
    }
    return { prepare, remove };
  } finally {
    // btrfs: the layer is a read-only subvolume that only the driver can delete
    await berth(["rmi", "busybox"], { root: join(root, "berth"), env });
    rmSync(root, { recursive: true, force: true });
  }
}

const fs = loopBtrfs("bench");
try {
  const tmpType = statfsSync("/tmp").type.toString(16);
  const rows: string[] = [];
  for (const [driver, parent, where] of [
    ["overlay", "/tmp", `/tmp (f_type 0x${tmpType})`],
    ["vfs", "/tmp", `/tmp (f_type 0x${tmpType})`],
    ["overlay", fs.mnt, "loop btrfs"],
    ["vfs", fs.mnt, "loop btrfs"],
    ["btrfs", fs.mnt, "loop btrfs"],
  ] as [DriverName, string, string][]) {
    const m = await measure(driver, parent);
    const f = (x: number) => x.toFixed(2);
    rows.push(`| ${driver} | ${where} | ${f(pct(m.prepare, 0.5))} | ${f(pct(m.prepare, 0.9))} | ${f(pct(m.remove, 0.5))} | ${f(pct(m.remove, 0.9))} |`);
  }
  console.log(`busybox image, ${N} × prepare(container key, image layer) then remove, ms\n`);
  console.log("| driver | --root on | prepare median | prepare p90 | remove median | remove p90 |\n|---|---|---|---|---|---|");
  console.log(rows.join("\n"));
} finally {
  fs[Symbol.dispose]();
}
