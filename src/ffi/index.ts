/**
 * src/ffi — libc through bun:ffi dlopen. Owns: symbol tables, typed wrappers, kernel constants spelled as
 * in the headers, struct layouts with offset comments. Imports only lib/errors. Wrappers decide nothing
 * and retry only on EINTR; every failure is a SyscallError carrying syscall, paths, errno name, strerror.
 *
 * Never fork() from JS here (docs/bun-ffi.md §5): the namespace work happens in the C shim
 * (src/runtime), which is the only code that runs in a cloned child.
 */
export * from "./_core.ts";
export * from "./errno.ts";
export * from "./fs.ts";
export * from "./netlink.ts";
export * from "./nftables.ts";
export * from "./mount-api.ts";
export * from "./cow-fs.ts";
export * from "./lock.ts";
