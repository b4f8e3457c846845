/**
 * The native monitor's executable (monitor.c): the copy gcc built into the berth binary
 * (scripts/build.ts embeds it as `berth-monitor.bin`), or, running from source, monitor.c compiled with
 * the host's gcc. Either is written once to a content-addressed file under `cacheDir`
 * (monitor-<sha256[:16]>), so every detached container maps the same pages. Undefined when there is
 * neither (no embedded copy and no gcc): the Bun monitor then stays (engine ops/native-monitor.ts).
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { atomicWriteFile } from "../lib/atomic-write.ts";
import { join } from "node:path";
// the C text as an embedded file, read only when running from source (no embedded executable)
import monitorPath from "./monitor.c" with { type: "file" };

let cached: { dir: string; path: string | undefined } | undefined;

function embedded(): Blob | undefined {
  return Bun.embeddedFiles.find((f) => (f as Blob & { name?: string }).name === "berth-monitor.bin");
}

function hash(b: Uint8Array | string): string {
  return new Bun.CryptoHasher("sha256").update(b).digest("hex").slice(0, 16);
}

/**
 * temp files of an install or a compile that a kill -9 interrupted (`.monitor-*.tmp-*`, `monitor-src-*.c`
 * and `.tmp`): gone at the next install; a minute's grace for one another process is writing now
 */
function sweepLeftovers(cacheDir: string): void {
  for (const name of readdirSync(cacheDir)) {
    if (!/^\.monitor-.*\.tmp-|^monitor-src-.*\.(c|tmp)$/.test(name)) continue;
    const p = join(cacheDir, name);
    try {
      if (Date.now() - statSync(p).mtimeMs > 60_000) rmSync(p, { force: true });
    } catch {} // removed by another sweep meanwhile: nothing left to do
  }
}

/** the native monitor's path, extracted or compiled on first use; undefined when unavailable */
export async function nativeMonitorPath(cacheDir: string): Promise<string | undefined> {
  if (cached?.dir === cacheDir) return cached.path;
  let path: string | undefined;
  try {
    mkdirSync(cacheDir, { recursive: true, mode: 0o700 });
    const blob = embedded();
    if (blob) {
      const data = new Uint8Array(await blob.arrayBuffer());
      path = join(cacheDir, `monitor-${hash(data)}`);
      if (!existsSync(path)) {
        sweepLeftovers(cacheDir);
        atomicWriteFile(path, data, 0o755); // fsynced: a power loss never leaves a short executable under the final name
      }
    } else {
      // from source: the same C, compiled here once (a missing gcc leaves the Bun monitor)
      const monitorSource = readFileSync(monitorPath, "utf8");
      path = join(cacheDir, `monitor-src-${hash(monitorSource)}`);
      if (!existsSync(path)) {
        sweepLeftovers(cacheDir);
        // names of this process's own: two monitors may compile at once
        const mine = hash(String(Math.random()));
        const src = `${path}.${mine}.c`;
        const out = `${path}.${mine}.tmp`;
        writeFileSync(src, monitorSource);
        try {
          const r = Bun.spawnSync(["gcc", "-O2", "-s", "-o", out, src], { stdout: "ignore", stderr: "ignore" });
          if (!r.success) path = undefined;
          else renameSync(out, path);
        } catch {
          path = undefined; // no gcc on PATH: the Bun monitor serves
        } finally {
          rmSync(src, { force: true });
          rmSync(out, { force: true });
        }
      }
    }
  } catch {
    path = undefined; // an unwritable cache: the Bun monitor serves
  }
  cached = { dir: cacheDir, path };
  return path;
}
