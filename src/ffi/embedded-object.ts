/**
 * Native objects `bun run build` compiled and embedded in the binary (scripts/build.ts): the container
 * shim (runtime/shim.ts) and the layer inflate thread (layer-inflate.ts). Found among Bun's embedded
 * files by the name stem that hashes their source, and dlopen()ed from a sealed memfd: nothing lands on
 * disk, and an object built from another source text is never used.
 */
import { dlopen, type FFIFunction } from "bun:ffi";
import { closeSync, mkdtempSync, readFileSync, rmSync, writeFileSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname } from "node:path";
import { T, lazyLib } from "./_core.ts";

const MFD_CLOEXEC = 1;
const MFD_ALLOW_SEALING = 2;
const F_ADD_SEALS = 1033;
const F_SEAL_ALL = 1 | 2 | 4 | 8; // SEAL, SHRINK, GROW, WRITE

const lib = lazyLib({
  memfd_create: { args: [T.ptr, T.u32], returns: T.i32 },
  fcntl: { args: [T.i32, T.i32, T.i32], returns: T.i32 },
} as const);

/** the bytes of the embedded `<stem>….so`, or undefined when the binary has none (or it is no ELF file) */
export function embeddedObject(stem: string): Uint8Array | undefined {
  const blob = Bun.embeddedFiles.find((b) => {
    const name = (b as Blob & { name?: string }).name;
    return name?.startsWith(stem) && name.endsWith(".so");
  }) as (Blob & { name: string }) | undefined;
  if (!blob) return undefined;
  const bytes = readFileSync(`${dirname(Bun.main)}/${blob.name}`);
  // an ELF shared object, as the build made it (the name's hash already matched the source)
  if (bytes.length < 64 || bytes[0] !== 0x7f || bytes[1] !== 0x45 || bytes[2] !== 0x4c || bytes[3] !== 0x46) return undefined;
  return bytes;
}

/** the text of a C source embedded as a file (`import p from "./x.c" with { type: "file" }`): read on
 * first use only (a prebuilt object's name, a compile from source), not kept in every command's chunk */
export function lazySource(path: string): () => string {
  let text: string | undefined;
  return () => (text ??= readFileSync(path, "utf8"));
}

/**
 * `source` compiled with the host's cc (`flags`, `libs`) in a private temp dir, removed again right
 * after the dlopen; null when there is no compiler on PATH or the build fails (the caller's fallback)
 */
export function compileObject<const S extends Record<string, FFIFunction>>(stem: string, source: string, flags: string[], libs: string[], symbols: S) {
  const dir = mkdtempSync(`${tmpdir()}/${stem}-`);
  try {
    writeFileSync(`${dir}/src.c`, source);
    const r = Bun.spawnSync(["cc", ...flags, "-o", `${dir}/obj.so`, `${dir}/src.c`, ...libs], { stdout: "ignore", stderr: "ignore" });
    if (!r.success) return null;
    return dlopen(`${dir}/obj.so`, symbols).symbols;
  } catch {
    return null; // no compiler on PATH
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** dlopen `bytes` from a sealed memfd named `name`; throws when memfd_create or dlopen refuses */
export function dlopenSealed<const S extends Record<string, FFIFunction>>(name: string, bytes: Uint8Array, symbols: S) {
  const fd = lib().memfd_create(Buffer.from(`${name}\0`), MFD_CLOEXEC | MFD_ALLOW_SEALING);
  if (fd < 0) throw new Error("memfd_create failed");
  try {
    for (let off = 0; off < bytes.length; ) off += writeSync(fd, bytes, off);
    lib().fcntl(fd, F_ADD_SEALS, F_SEAL_ALL); // best effort: the fd is ours alone until it is closed
    return dlopen(`/proc/self/fd/${fd}`, symbols).symbols;
  } finally {
    closeSync(fd);
  }
}
