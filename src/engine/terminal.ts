/**
 * The user's terminal, as the foreground commands need it (raw mode restored on every exit path,
 * window size for SIGWINCH forwarding). Commands reach libc only through the engine (STYLE §1).
 */
export { getWinsize, isatty, makeRaw, setWinsize } from "../ffi/container-io.ts";
