/**
 * bun run build → dist/berth, one self-contained executable.
 *
 * Hardening of the compiled binary (it runs as root and is called from shebang scripts):
 *  - --no-compile-autoload-dotenv / --no-compile-autoload-bunfig: a `.env` or `bunfig.toml` in the
 *    caller's directory is never read (a bunfig `preload` would run foreign code as root);
 *  - the runtime's checks for BUN_BE_BUN (turns the executable into the bun CLI) and BUN_OPTIONS (extra
 *    runtime flags) are disabled by renaming those environment variable names inside the binary to
 *    names of the same length that nobody sets. Bun 1.4.4 has no build flag for either; the patch is
 *    verified here (each name must occur the expected number of times) and by test/cli/hardening.test.ts.
 *
 * The container shim (src/runtime/shim.c) is compiled here with the system C compiler and embedded in the
 * executable, so `run` loads it instead of compiling it with TinyCC at every start (src/runtime/shim.ts).
 * `-z now` binds every libc symbol when the object is loaded, as TinyCC's in-memory link does: the cloned
 * child never enters the dynamic linker. Without a C compiler (BERTH_CC, else cc) the build goes on and
 * the binary falls back to TinyCC, with a warning.
 */
import { $ } from "bun";
import { readFileSync, writeFileSync, renameSync, chmodSync, mkdirSync, rmSync } from "node:fs";
import { dlopen, FFIType } from "bun:ffi";
import pkg from "../package.json" with { type: "json" };
import { VERSION } from "../src/version.ts";
import { prebuiltShimName } from "../src/runtime/shim.ts";
import { INFLATE_CFLAGS, INFLATE_LIBS, prebuiltInflateName } from "../src/ffi/layer-inflate.ts";
import { BODY_WRITER_CFLAGS, BODY_WRITER_LIBS, prebuiltBodyWriterName } from "../src/ffi/body-writer.ts";

if (pkg.version !== VERSION) throw new Error(`src/version.ts (${VERSION}) and package.json (${pkg.version}) disagree`);
const root = new URL("..", import.meta.url).pathname;
mkdirSync(`${root}/dist`, { recursive: true });
const tmp = `${root}/dist/.berth.build`;

/** compile shim.c into dist/native/<name>.so; undefined (and a warning) when there is no C compiler */
async function buildShim(): Promise<string | undefined> {
  const dir = `${root}/dist/native`;
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const out = `${dir}/${prebuiltShimName()}.so`;
  const compiler = process.env.BERTH_CC || "cc";
  // -fno-strict-aliasing: shim.c reads its plan as u64 words out of a char arena, which TinyCC never
  // second-guesses and gcc -O2 may (type-based alias analysis)
  const flags = ["-O2", "-fno-strict-aliasing", "-shared", "-fPIC", "-fno-stack-protector", "-Wl,-z,now", "-Wl,-z,relro", "-Wl,-z,noexecstack", "-s"];
  const r = await $`${compiler} ${flags} -o ${out} ${root}/src/runtime/shim.c`.quiet().nothrow();
  if (r.exitCode !== 0) {
    console.error(
      `warning: no prebuilt container shim (${compiler}: ${r.stderr.toString().trim().split("\n")[0] || `exit ${r.exitCode}`}); run will compile it with TinyCC`,
    );
    return undefined;
  }
  // the object must load and export what shim.ts binds
  const lib = dlopen(out, {
    berth_spawn: { args: [FFIType.ptr, FFIType.i32], returns: FFIType.i32 },
    berth_wait: { args: [FFIType.i32, FFIType.i32], returns: FFIType.i32 },
  });
  lib.close();
  return out;
}
const shimObject = await buildShim();

/**
 * The native monitor (src/runtime/monitor.c, runtime/monitor.ts): compiled with gcc and embedded as
 * the asset `berth-monitor.bin` (Bun.embeddedFiles). Without gcc the binary has none and detached
 * containers keep the Bun monitor. Returns the extra entry points for `bun build`.
 */
async function buildMonitor(): Promise<string[]> {
  const out = `${root}/dist/.gen/berth-monitor.bin`;
  mkdirSync(`${root}/dist/.gen`, { recursive: true });
  const r = await $`gcc -O2 -s -Wall -Wextra -Werror -o ${out} ${root}/src/runtime/monitor.c`.nothrow().quiet();
  if (r.exitCode !== 0) {
    console.error(`native monitor not built (gcc: ${r.stderr.toString().trim().split("\n")[0] || "missing"}): detached containers use the Bun monitor`);
    return [];
  }
  return [out, "--asset-naming=[name].[ext]"];
}
const monitorEntries = await buildMonitor();

/**
 * The pull's native inflate thread (src/ffi/layer-inflate.c, ffi/layer-inflate.ts): embedded as
 * `berth-inflate-<hash>.so` next to the shim. Without a C compiler (or zlib.h) the build goes on and
 * pull keeps its JS inflate.
 */
async function buildInflate(): Promise<string | undefined> {
  const out = `${root}/dist/native/${prebuiltInflateName()}.so`;
  const compiler = process.env.BERTH_CC || "cc";
  const r = await $`${compiler} ${INFLATE_CFLAGS} -o ${out} ${root}/src/ffi/layer-inflate.c ${INFLATE_LIBS}`.quiet().nothrow();
  if (r.exitCode !== 0) {
    console.error(
      `warning: no native inflate thread (${compiler}: ${r.stderr.toString().trim().split("\n")[0] || `exit ${r.exitCode}`}); pull inflates on its JS thread`,
    );
    return undefined;
  }
  dlopen(out, { li_open: { args: [FFIType.ptr, FFIType.u64, FFIType.ptr, FFIType.u64], returns: FFIType.ptr } }).close();
  return out;
}
const inflateObject = await buildInflate();

/**
 * Import's native body writer thread (src/ffi/body-writer.c, ffi/body-writer.ts): embedded as
 * `berth-body-writer-<hash>.so`. Without a C compiler the build goes on and import writes the files'
 * bodies on its JS thread.
 */
async function buildBodyWriter(): Promise<string | undefined> {
  const out = `${root}/dist/native/${prebuiltBodyWriterName()}.so`;
  const compiler = process.env.BERTH_CC || "cc";
  const r = await $`${compiler} ${BODY_WRITER_CFLAGS} -o ${out} ${root}/src/ffi/body-writer.c ${BODY_WRITER_LIBS}`.quiet().nothrow();
  if (r.exitCode !== 0) {
    console.error(
      `warning: no native body writer (${compiler}: ${r.stderr.toString().trim().split("\n")[0] || `exit ${r.exitCode}`}); import writes on its JS thread`,
    );
    return undefined;
  }
  dlopen(out, { bw_open: { args: [FFIType.ptr, FFIType.u64], returns: FFIType.ptr } }).close();
  return out;
}
const bodyWriterObject = await buildBodyWriter();
// what `berth version` and the daemon's /version report as Git commit and Built (src/version.ts)
const head = await $`git -C ${root} rev-parse --short=7 HEAD`.quiet().nothrow();
const dirty = await $`git -C ${root} status --porcelain --untracked-files=no`.quiet().nothrow();
const gitCommit = head.exitCode === 0 ? head.stdout.toString().trim() + (dirty.stdout.toString().trim() ? "-dirty" : "") : "";
const defines = ["--define", `BERTH_GIT_COMMIT=${JSON.stringify(gitCommit)}`, "--define", `BERTH_BUILD_TIME=${JSON.stringify(new Date().toISOString())}`];
// the embedded shim's name, hashed here from the same shim.c text the binary embeds: a `run` need not
// read and hash the 38 KB source to find it (runtime/shim.ts prebuiltShimName)
if (shimObject) defines.push("--define", `BERTH_SHIM_STEM=${JSON.stringify(prebuiltShimName())}`);
// --compile-jit-policy=4: JSC's tier-up thresholds ×4 from the start. Most berth processes live for
// tens of milliseconds and run each function a few times: compiling hot-looking code for them costs more
// than it saves (`run --rm --network none`: −2 to −3 ms, interleaved medians of 40, issue 13). Long
// streams set their own (engine/_layer-stream.ts withLayerJitPolicy); the daemon goes back to 1.
await $`bun build --compile --compile-jit-policy=4 --bytecode --splitting --format=esm --no-compile-autoload-dotenv --no-compile-autoload-bunfig --no-compile-autoload-tsconfig --no-compile-autoload-package-json --minify-syntax --minify-whitespace --sourcemap=none ${root}/src/main.ts ${shimObject ?? []} ${inflateObject ?? []} ${bodyWriterObject ?? []} ${monitorEntries} ${defines} --outfile ${tmp}`.quiet();

const PATCHES: [string, string][] = [
  ["BUN_BE_BUN", "BERTH_NO_B"],
  ["BUN_OPTIONS", "BERTH_NO_OP"],
];
const bin = Buffer.from(readFileSync(tmp));
for (const [from, to] of PATCHES) {
  if (from.length !== to.length) throw new Error("patch length mismatch");
  const needle = Buffer.from(from),
    repl = Buffer.from(to);
  let n = 0;
  for (let i = bin.indexOf(needle); i >= 0; i = bin.indexOf(needle, i + needle.length)) {
    repl.copy(bin, i);
    n++;
  }
  if (n === 0) throw new Error(`hardening: ${from} not found in the compiled binary (did Bun change?)`);
}
writeFileSync(tmp, bin);
chmodSync(tmp, 0o755);
renameSync(tmp, `${root}/dist/berth`);
console.error(`built dist/berth (${(bin.length / 1e6).toFixed(1)} MB)`);
