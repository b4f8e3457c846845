/**
 * A gzip layer's inflate and diffID hash on a native thread of its own (layer-inflate.c), for pull.
 *
 * Why: a pull on 2 cores was bound by its one JS thread (perf: libz inflate 52 % of the samples,
 * SHA-256 and JSC 24 %, 95 % of all on the JS thread). Here the thread inflates and hashes while JS
 * only copies HTTP chunks in (`open`), or nothing at all where the compressed bytes are a file the
 * thread reads itself (`openFile`: a pull's ingest), and hands the tar reader views of the output ring.
 *
 * Where the object comes from, fastest first:
 *  - prebuilt: `bun run build` compiles layer-inflate.c with the system C compiler (scripts/build.ts)
 *    and embeds it (Bun.embeddedFiles, `berth-inflate-<hash of the source>.so`); it is copied into a
 *    sealed memfd and dlopen()ed from /proc/self/fd/N, as runtime/shim.ts does with the shim.
 *  - from source (`bun src/main.ts`, the unit tests): compiled once per process with the host's `cc` into
 *    a private temp dir that is removed right after dlopen.
 *  - neither (no compiler, no zlib.h): `LayerInflate.open` returns undefined and the caller keeps its
 *    JS inflate.
 *
 * The inflate is ISA-L's igzip when the machine has libisal.so.2 (optional: dlopen()ed by the C), else
 * libz. With libz the gzip CRC-32 is not computed (inflateValidate); ISA-L checks it. Either way a
 * caller must check the compressed bytes' digest and the diffID it gets from here, as pull does; a
 * corrupt or cut-short stream fails.
 *
 * Memory rules (bun:ffi): the rings are JS ArrayBuffers the native thread reads and writes, so an
 * open LayerInflate is kept in `live` (never garbage) until end() has joined its thread.
 */
import { dlopen, FFIType as T, ptr, type Pointer } from "bun:ffi";
import { EngineError } from "../lib/errors.ts";
import { fail } from "./_core.ts";
import { compileObject, dlopenSealed, embeddedObject, lazySource } from "./embedded-object.ts";
// the C text as an embedded file, read only when needed (the prebuilt object's name, a compile from source)
import inflatePath from "./layer-inflate.c" with { type: "file" };

const SYMBOLS = {
  li_open: { args: [T.ptr, T.u64, T.ptr, T.u64], returns: T.ptr },
  li_open_file: { args: [T.i32, T.ptr, T.u64, T.ptr, T.u64], returns: T.ptr },
  li_close_at: { args: [T.ptr, T.u64], returns: T.void },
  li_in_tail: { args: [T.ptr], returns: T.u64_fast },
  li_push: { args: [T.ptr, T.u64], returns: T.void },
  li_close: { args: [T.ptr], returns: T.void },
  li_out_head: { args: [T.ptr], returns: T.u64_fast },
  li_release: { args: [T.ptr, T.u64], returns: T.void },
  li_status: { args: [T.ptr, T.ptr], returns: T.i32 },
  li_end: { args: [T.ptr], returns: T.void },
  li_portable_sha: { args: [T.i32], returns: T.i32 },
  li_engine: { args: [T.i32], returns: T.i32 },
  li_syncfs_start: { args: [T.i32], returns: T.ptr },
  li_syncfs_poll: { args: [T.ptr], returns: T.i32 },
} as const;

type Lib = ReturnType<typeof dlopen<typeof SYMBOLS>>["symbols"];
/** undefined: not tried yet; null: unavailable in this process */
let lib: Lib | null | undefined;
/** how the object was obtained (BERTH_TRACE, tests) */
export let layerInflateOrigin: "embedded" | "compiled" | "none" | undefined;

const inflateSource = lazySource(inflatePath);

/** the name stem scripts/build.ts gives the compiled object: the hash ties it to this source */
export function prebuiltInflateName(source: string = inflateSource()): string {
  return `berth-inflate-${Bun.hash(source).toString(16)}`;
}

/** the C compiler's flags for the object (scripts/build.ts uses the same) */
export const INFLATE_CFLAGS = ["-O2", "-shared", "-fPIC", "-Wall", "-Wl,-z,now", "-Wl,-z,noexecstack", "-s"];
export const INFLATE_LIBS = ["-lz", "-lpthread"];

function load(): Lib | null {
  if (lib !== undefined) return lib;
  const bytes = embeddedObject(prebuiltInflateName());
  if (bytes) {
    try {
      lib = dlopenSealed("berth-inflate", bytes, SYMBOLS);
      layerInflateOrigin = "embedded";
      return lib;
    } catch {} // no memfd_create or a dlopen refusal (libz missing): try the source, else JS
  }
  lib = compileObject("berth-inflate", inflateSource(), INFLATE_CFLAGS, INFLATE_LIBS, SYMBOLS); // none: the JS inflate serves
  layerInflateOrigin = lib ? "compiled" : "none";
  return lib;
}

/** is the native inflate there (loads it on first call) */
export function layerInflateAvailable(): boolean {
  return load() !== null;
}

/** the SHA-256 code of the streams' diffIDs: SHA-NI, libcrypto's (a CPU without SHA-NI), or portable C */
export type ShaCode = "sha-ni" | "portable" | "libcrypto";
const SHA_CODES: ShaCode[] = ["sha-ni", "portable", "libcrypto"];

/**
 * Which SHA-256 code the streams use: "auto" (the default) SHA-NI where the CPU has it and
 * OPENSSL_ia32cap does not mask it, else libcrypto's where libcrypto.so.3 loads, else portable C;
 * "portable" or "libcrypto" force one (tests). Returns the code chosen, or undefined without the
 * native object.
 */
export function useShaCode(want: "auto" | "portable" | "libcrypto" = "auto"): ShaCode | undefined {
  const l = load();
  if (!l) return undefined;
  return SHA_CODES[l.li_portable_sha(want === "auto" ? 0 : want === "portable" ? 1 : 2)];
}

/**
 * Which inflate the streams opened from now on use: ISA-L's igzip where the object was built with its
 * header and libisal.so.2 loads (`"isal"`, the default), else libz; `"zlib"` forces libz (tests, and
 * comparisons). Returns the engine they get, or undefined without the native object.
 */
export function useInflateEngine(want: "isal" | "zlib" = "isal"): "isal" | "zlib" | undefined {
  const l = load();
  if (!l) return undefined;
  return l.li_engine(want === "isal" ? 1 : 0) === 1 ? "isal" : "zlib";
}

/** the engine the streams opened from now on get (useInflateEngine's answer, changing nothing) */
export function inflateEngine(): "isal" | "zlib" | undefined {
  const l = load();
  if (!l) return undefined;
  return l.li_engine(-1) === 1 ? "isal" : "zlib";
}

/** open threads: their rings must outlive them (see the module comment) */
const live = new Set<LayerInflate>();

/**
 * One gzip stream (one or more members) inflating on its own thread. The caller owns the flow:
 * `push` copies compressed bytes in (as many as fit), `outHead` says how far output is ready,
 * `release` gives output back, `status` reports the end (the diffID) or zlib's error, and `end`
 * stops and joins the thread; it must be called, also on error paths.
 */
export class LayerInflate implements Disposable {
  private p: Pointer | null;
  private inHead = 0;
  private readonly buf = new Uint8Array(256);

  private constructor(
    private readonly l: Lib,
    p: Pointer,
    readonly input: Uint8Array,
    readonly output: Uint8Array,
  ) {
    this.p = p;
    live.add(this);
  }

  /** a running thread over fresh rings of `inSize` and `outSize` bytes, or undefined when unavailable */
  static open(inSize: number, outSize: number): LayerInflate | undefined {
    const l = load();
    if (!l) return undefined;
    const input = new Uint8Array(inSize);
    const output = new Uint8Array(outSize);
    const p = l.li_open(ptr(input), inSize, ptr(output), outSize);
    if (!p || typeof p === "bigint") return undefined; // no memory or no thread: the JS inflate serves
    return new LayerInflate(l, p, input, output);
  }

  /**
   * The same, reading its input itself from `fd`, a file a writer (this process) appends to: as far
   * as the file's size goes (the thread looks with fstat(2) when it has read that far, and at least
   * every 2 ms; `poke` wakes it sooner) until `closeAt` gives the final size. `bufSize` is its read
   * buffer. No JS copies the input, and the inflate does not wait for JS to hand it over. The caller
   * keeps `fd` open until end().
   */
  static openFile(fd: number, bufSize: number, outSize: number): LayerInflate | undefined {
    const l = load();
    if (!l) return undefined;
    const input = new Uint8Array(bufSize);
    const output = new Uint8Array(outSize);
    const p = l.li_open_file(fd, ptr(input), bufSize, ptr(output), outSize);
    if (!p || typeof p === "bigint") return undefined;
    return new LayerInflate(l, p, input, output);
  }

  /** file mode: the file grew (wake the thread if it waits) */
  poke(): void {
    this.l.li_push(this.live(), 0);
  }

  /** file mode: the file is complete at `size` bytes */
  closeAt(size: number): void {
    this.l.li_close_at(this.live(), size);
  }

  private live(): Pointer {
    if (!this.p) throw new EngineError("failed_precondition", "layer inflate: already ended");
    return this.p;
  }

  /** copy what fits of `src[off..]` into the input ring; returns the bytes taken (0: ring full) */
  push(src: Uint8Array, off = 0): number {
    const p = this.live();
    const cap = this.input.length;
    const free = cap - (this.inHead - Number(this.l.li_in_tail(p)));
    let n = Math.min(free, src.length - off);
    if (n <= 0) return 0;
    const at = this.inHead % cap;
    n = Math.min(n, cap - at); // up to the ring's end; the next push goes on from its start
    this.input.set(src.subarray(off, off + n), at);
    this.inHead += n;
    this.l.li_push(p, n);
    return n;
  }

  /** the input is complete */
  close(): void {
    this.l.li_close(this.live());
  }

  /** output bytes produced so far (a counter: the ring position is `% output.length`) */
  outHead(): number {
    return Number(this.l.li_out_head(this.live()));
  }

  /** the reader is done with output up to the counter `upto` */
  release(upto: number): void {
    this.l.li_release(this.live(), upto);
  }

  /** running, or done with the diffID (`sha256:…`), or failed with zlib's message (EngineError) */
  status(): { state: "running" } | { state: "done"; diffId: string } {
    const st = this.l.li_status(this.live(), ptr(this.buf));
    if (st === 0) return { state: "running" };
    if (st === 1) return { state: "done", diffId: `sha256:${Buffer.from(this.buf.subarray(0, 32)).toString("hex")}` };
    const end = this.buf.indexOf(0);
    const msg = Buffer.from(this.buf.subarray(0, end < 0 ? this.buf.length : end)).toString();
    throw new EngineError("invalid_argument", msg || "gzip: corrupt data");
  }

  /** stop and join the thread; idempotent */
  end(): void {
    if (!this.p) return;
    this.l.li_end(this.p);
    this.p = null;
    live.delete(this);
  }

  [Symbol.dispose](): void {
    this.end();
  }
}

/**
 * syncfs(2) of the filesystem holding `fd` on a native thread of its own, polled every `pollMs`: the
 * JS thread goes on meanwhile (a pull's other layers keep unpacking). A syncfs flushes whatever is
 * dirty on that filesystem, other processes' writes too: in the bench, after docker's and podman's
 * pulls, one took 0.65 s of the JS thread in the middle of a pull. False when the native object or a
 * thread is not there (the caller then syncs itself); a failure throws syncfs's errno. The caller
 * keeps `fd` open until this settles.
 */
export async function syncfsOffThread(fd: number, path: string, pollMs = 1): Promise<boolean> {
  const l = load();
  if (!l) return false;
  const h = l.li_syncfs_start(fd);
  if (!h || typeof h === "bigint") return false;
  for (;;) {
    const e = l.li_syncfs_poll(h);
    if (e === 0) return true;
    if (e > 0) fail("syncfs", [path], e);
    await Bun.sleep(pollMs);
  }
}
