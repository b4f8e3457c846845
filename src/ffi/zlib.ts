/**
 * zlib's streaming inflate (libz.so.1, zlib 1.2.x) through bun:ffi, for gzip layers.
 *
 * Why not DecompressionStream or node:zlib: both hand out a fresh ArrayBuffer for every output chunk,
 * ~2.5× the compressed bytes of garbage per layer, and JSC lets tens of MB of it pile up between
 * collections (the pull peak-RSS issue). Here the caller owns the output memory: one inflate(3) step
 * writes into any window of a buffer the caller reuses, so a layer of any size inflates in constant
 * memory (zlib's own state: ~7 KiB + a 32 KiB window, malloc'd by zlib and freed by end()).
 *
 * This is the ffi layer: it wraps the calls and decides nothing. Multi-member gzip (a STREAM_END
 * followed by more input → reset()) and the ring of output windows are the caller's (tar/compress.ts).
 * Errors: a failed inflateInit2_ is a SyscallError (ENOMEM); corrupt data is
 * EngineError("invalid_argument") with zlib's own message (`gzip: invalid distance too far back`),
 * since no errno is involved.
 */
import { dlopen, FFIType as T, ptr, CString, type Pointer } from "bun:ffi";
import { EngineError, SyscallError } from "../lib/errors.ts";
import { keep } from "./_core.ts";

export const LIBZ = "libz.so.1";

/** inflate() return codes (zlib.h) */
export const Z_OK = 0;
export const Z_STREAM_END = 1;
export const Z_NEED_DICT = 2;
export const Z_STREAM_ERROR = -2;
export const Z_DATA_ERROR = -3;
export const Z_MEM_ERROR = -4;
export const Z_BUF_ERROR = -5;
export const Z_NO_FLUSH = 0;
/** windowBits for inflateInit2: 15 (32 KiB window) + 16 = gzip wrapper only */
export const GZIP_WINDOW_BITS = 15 + 16;

let lib: ReturnType<typeof open> | undefined;
function open() {
  return dlopen(LIBZ, {
    zlibVersion: { args: [], returns: T.cstring },
    inflateInit2_: { args: [T.ptr, T.i32, T.ptr, T.i32], returns: T.i32 },
    inflate: { args: [T.ptr, T.i32], returns: T.i32 },
    inflateReset: { args: [T.ptr], returns: T.i32 },
    inflateEnd: { args: [T.ptr], returns: T.i32 },
  } as const);
}
const z = () => (lib ??= open()).symbols;

/**
 * struct z_stream_s on LP64 (112 bytes):
 *   next_in   (offset: 0   - length: 8)   avail_in  (offset: 8  - length: 4)   total_in  (offset: 16 - length: 8)
 *   next_out  (offset: 24  - length: 8)   avail_out (offset: 32 - length: 4)   total_out (offset: 40 - length: 8)
 *   msg       (offset: 48  - length: 8)   state     (offset: 56 - length: 8)
 *   zalloc    (offset: 64  - length: 8)   zfree     (offset: 72 - length: 8)   opaque    (offset: 80 - length: 8)
 *   data_type (offset: 88  - length: 4)   adler     (offset: 96 - length: 8)   reserved  (offset: 104 - length: 8)
 * zalloc/zfree/opaque NULL: zlib uses malloc/free.
 */
const Z_STREAM_SIZE = 112;
const OFF_NEXT_IN = 0;
const OFF_AVAIL_IN = 8;
const OFF_NEXT_OUT = 24;
const OFF_AVAIL_OUT = 32;
const OFF_MSG = 48;

/**
 * One inflate stream. zlib keeps a pointer back to the z_stream (inflateStateCheck), so the struct is
 * one buffer this object owns for its whole life; input and output are handed over per step() and
 * must stay referenced only for the duration of that call (nothing is kept between steps that the
 * next step does not set again).
 */
export class Inflater implements Disposable {
  private strm: Uint8Array | undefined = new Uint8Array(Z_STREAM_SIZE);
  private view = new DataView(this.strm!.buffer);
  private readonly sp: Pointer;
  /** input bytes the last step() consumed */
  consumed = 0;
  /** output bytes the last step() wrote */
  produced = 0;

  constructor(windowBits = GZIP_WINDOW_BITS) {
    const version = Buffer.from(`${z().zlibVersion()}\0`);
    this.sp = ptr(this.strm!);
    const rc = z().inflateInit2_(this.sp, windowBits, version, Z_STREAM_SIZE);
    if (rc !== Z_OK) {
      this.strm = undefined;
      if (rc === Z_MEM_ERROR) throw new SyscallError("inflateInit2", 12, "ENOMEM", "Cannot allocate memory");
      throw new EngineError("internal", `zlib: inflateInit2 failed (${rc}, ${LIBZ} ${z().zlibVersion()})`);
    }
  }

  private message(): string {
    const p = Number(this.view.getBigUint64(OFF_MSG, true));
    return p ? String(new CString(p as Pointer)) : "";
  }

  /**
   * One inflate(Z_NO_FLUSH): from `input[inOff..]` into `out[outOff, outOff + outLen)`. Sets `consumed`
   * and `produced`; returns Z_OK, Z_STREAM_END (end of a gzip member: consumed stops there) or
   * Z_BUF_ERROR (no progress possible: more input or more room needed). Throws on corrupt data.
   */
  step(input: Uint8Array, inOff: number, out: Uint8Array, outOff: number, outLen: number): number {
    const sp = this.live();
    const v = this.view;
    const inLen = input.length - inOff;
    // ptr() of an empty view is refused; with nothing to read, next_in is never dereferenced
    v.setBigUint64(OFF_NEXT_IN, inLen > 0 ? BigInt(ptr(input, inOff)) : 0n, true);
    v.setUint32(OFF_AVAIL_IN, inLen, true);
    v.setBigUint64(OFF_NEXT_OUT, BigInt(ptr(out, outOff)), true);
    v.setUint32(OFF_AVAIL_OUT, outLen, true);
    const rc = z().inflate(sp, Z_NO_FLUSH);
    keep(input, out); // zlib reached them through next_in/next_out only
    this.consumed = inLen - v.getUint32(OFF_AVAIL_IN, true);
    this.produced = outLen - v.getUint32(OFF_AVAIL_OUT, true);
    if (rc === Z_OK || rc === Z_STREAM_END || rc === Z_BUF_ERROR) return rc;
    if (rc === Z_NEED_DICT) throw new EngineError("invalid_argument", "gzip: stream needs a preset dictionary");
    if (rc === Z_MEM_ERROR) throw new SyscallError("inflate", 12, "ENOMEM", "Cannot allocate memory");
    throw new EngineError("invalid_argument", `gzip: ${this.message() || `corrupt data (zlib ${rc})`}`);
  }

  /** start over for the next gzip member (keeps the allocated state) */
  reset(): void {
    const rc = z().inflateReset(this.live());
    if (rc !== Z_OK) throw new EngineError("internal", `zlib: inflateReset failed (${rc})`);
  }

  /** free zlib's state; idempotent */
  end(): void {
    if (!this.strm) return;
    z().inflateEnd(this.sp);
    this.strm = undefined;
  }

  [Symbol.dispose](): void {
    this.end();
  }

  private live(): Pointer {
    if (!this.strm) throw new EngineError("failed_precondition", "zlib: inflater already ended");
    return this.sp;
  }
}
