/**
 * The shared half of the libc layer: one lazily opened libc handle for errno and strerror, C string
 * helpers, and the check that turns a failed call into a SyscallError. errno is read straight after the
 * call through __errno_location (STYLE §4): nothing may run between the call and `fail()`.
 *
 * Each area (fs.ts, proc.ts, …) declares its own symbol table `as const` and opens libc once, lazily,
 * with `lazyLib()`. dlopen of the same library returns the same handle; the tables only keep the
 * declarations next to their wrappers.
 */
import { dlopen, FFIType as T, ptr, read, CString, type FFIFunction, type Pointer } from "bun:ffi";
import { SyscallError } from "../lib/errors.ts";
import { errnoName } from "./errno.ts";

export { T, ptr, read, CString };
export type { Pointer };

export const LIBC = "libc.so.6";

export function lazyLib<const S extends Record<string, FFIFunction>>(symbols: S) {
  let lib: ReturnType<typeof dlopen<S>> | undefined;
  return () => (lib ??= dlopen(LIBC, symbols)).symbols;
}

const core = lazyLib({
  __errno_location: { args: [], returns: T.ptr },
  strerror: { args: [T.i32], returns: T.cstring },
} as const);

export function errno(): number {
  return read.i32(core().__errno_location()!, 0);
}

export function strerror(n: number): string {
  return String(core().strerror(n));
}

/** throw a SyscallError for the errno the previous call left behind */
export function fail(syscall: string, paths: string[] = [], e = errno()): never {
  throw new SyscallError(syscall, e, errnoName(e), strerror(e), paths);
}

let kept: unknown;
/**
 * Keep buffers alive across a call that got only their addresses (`ptr(buf)` as an integer argument):
 * JSC's liveness analysis may collect a buffer whose variable is never read again, even while the
 * call runs with its address (a fsopen("overlay") of an optimised loop once saw a reused string:
 * ENODEV). Call it after the call; the store to a module variable cannot be optimised away.
 */
export function keep(...bufs: unknown[]): void {
  kept = bufs;
}

/** NUL-terminated copy of s; keep the returned buffer referenced until the call returns */
export function cstr(s: string): Buffer {
  return Buffer.from(s + "\0");
}

export function cstrOrNull(s: string | null | undefined): Buffer | null {
  return s == null ? null : cstr(s);
}

/** bun:ffi accepts a TypedArray for a pointer argument; null stays NULL */
export function ptrOrNull(b: Buffer | Uint8Array | null): Uint8Array | null {
  return b;
}

/** NULL-terminated char*[]; the result holds references to every string buffer */
export function cstrArray(xs: string[]): { array: BigUint64Array; keep: Buffer[] } {
  const keep = xs.map(cstr);
  const array = new BigUint64Array(xs.length + 1);
  keep.forEach((b, i) => (array[i] = BigInt(ptr(b))));
  return { array, keep };
}

/** call `fn` and retry while it fails with EINTR; returns the result, throws SyscallError otherwise */
export function retryEintr(syscall: string, paths: string[], fn: () => number | bigint): number {
  for (;;) {
    const rc = Number(fn());
    if (rc >= 0) return rc;
    const e = errno();
    if (e !== 4 /* EINTR */) fail(syscall, paths, e);
  }
}
