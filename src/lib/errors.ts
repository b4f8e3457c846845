/**
 * One error type for the whole engine, with a small closed set of kinds (containerd's and moby's errdefs)
 * and an optional hint. The engine never decides an exit code or an HTTP status: the CLI maps a kind to
 * docker's exit code in one table (src/commands/_exit-codes.ts), the daemon maps it to docker's HTTP status.
 *
 *   kind                  meaning                                         docker HTTP status
 *   not_found             no such container, image, network, volume, file   404
 *   already_exists        a name or object is taken                         409
 *   conflict              the object's state forbids it (not running…)      409
 *   invalid_argument      bad input: a value, a reference, a spec           400
 *   failed_precondition   the host or store is not ready for it             409 (moby: Conflict)
 *   permission_denied     the kernel or a registry said no                  403
 *   unauthorized          a registry wants credentials                      401
 *   unavailable           busy, locked, a peer is down                      503
 *   not_implemented       berth does not do this (yet)                      501
 *   cancelled             the caller aborted                                499 (no body)
 *   internal              anything else                                     500
 */
export type ErrorKind =
  | "not_found"
  | "already_exists"
  | "conflict"
  | "invalid_argument"
  | "failed_precondition"
  | "permission_denied"
  | "unauthorized"
  | "unavailable"
  | "not_implemented"
  | "cancelled"
  | "internal";

export interface ErrorOptions {
  cause?: unknown;
  hint?: string;
}

export class EngineError extends Error {
  readonly hint?: string;
  constructor(
    readonly kind: ErrorKind,
    message: string,
    options: ErrorOptions = {},
  ) {
    super(message, { cause: options.cause });
    this.name = new.target.name;
    this.hint = options.hint;
  }
}

/**
 * The container's command could not be started: docker's 127 (not found) and 126 (found but not
 * executable: EACCES, ENOEXEC, a directory…) for `run`, `start -a` and `exec`.
 */
export class ExecError extends EngineError {
  constructor(
    readonly reason: "not_found" | "not_executable",
    message: string,
    options: ErrorOptions = {},
  ) {
    super(reason === "not_found" ? "not_found" : "permission_denied", message, options);
  }
}

/** bad flags or arguments: main prints the message and the command's usage (exit 125; see _exit-codes.ts) */
export class UsageError extends EngineError {
  constructor(message: string, options: ErrorOptions = {}) {
    super("invalid_argument", message, options);
  }
}

/** a failed libc call: `mount "/a" on "/b": Operation not permitted (EPERM)` */
export class SyscallError extends EngineError {
  constructor(
    readonly syscall: string,
    readonly errno: number,
    readonly code: string,
    readonly strerror: string,
    readonly paths: string[] = [],
    options: ErrorOptions = {},
  ) {
    super(kindOfErrno(code), formatSyscall(syscall, paths, strerror, code), options);
  }
}

function formatSyscall(syscall: string, paths: string[], strerror: string, code: string): string {
  const where = paths.length === 0 ? "" : " " + paths.map((p) => JSON.stringify(p)).join(syscall === "mount" ? " on " : " ");
  return `${syscall}${where}: ${strerror} (${code})`;
}

function kindOfErrno(code: string): ErrorKind {
  switch (code) {
    case "ENOENT":
    case "ESRCH":
      return "not_found";
    case "EEXIST":
      return "already_exists";
    case "EPERM":
    case "EACCES":
      return "permission_denied";
    case "EINVAL":
      return "invalid_argument";
    case "EBUSY":
    case "EAGAIN":
    case "EWOULDBLOCK":
      return "unavailable";
    default:
      return "internal";
  }
}

/** prefix context while an error travels up: wrap("prepare rootfs", e) → "prepare rootfs: <e>" */
export function wrap(context: string, err: unknown): EngineError {
  if (err instanceof ExecError) return new ExecError(err.reason, `${context}: ${err.message}`, { cause: err, hint: err.hint });
  if (err instanceof EngineError) return new EngineError(err.kind, `${context}: ${err.message}`, { cause: err, hint: err.hint });
  const msg = err instanceof Error ? err.message : String(err);
  return new EngineError("internal", `${context}: ${msg}`, { cause: err });
}

export function isKind(err: unknown, kind: ErrorKind): boolean {
  return err instanceof EngineError && err.kind === kind;
}

/** raised by commands that want a specific exit status without a message (e.g. `run` returning the
 * container's status is done by returning a number; this is for early exits such as 141 on a broken
 * pipe). A CLI-only value: the engine never raises it. */
export class ExitStatus extends Error {
  constructor(readonly code: number) {
    super(`exit status ${code}`);
  }
}
