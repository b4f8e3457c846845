/**
 * One error type for the whole engine, with a small closed set of kinds (containerd's errdefs) and an
 * optional hint. Only src/main.ts turns an error into an exit code.
 */
export type ErrorKind =
  | "not_found"
  | "already_exists"
  | "invalid_argument"
  | "failed_precondition"
  | "permission_denied"
  | "unavailable"
  | "internal";

export interface ErrorOptions {
  cause?: unknown;
  hint?: string;
  /** process exit code for the CLI; defaults to 125 like docker's engine errors */
  exitCode?: number;
}

export class EngineError extends Error {
  readonly hint?: string;
  readonly exitCode: number;
  constructor(
    readonly kind: ErrorKind,
    message: string,
    options: ErrorOptions = {},
  ) {
    super(message, { cause: options.cause });
    this.name = new.target.name;
    this.hint = options.hint;
    this.exitCode = options.exitCode ?? 125;
  }
}

/** bad flags or arguments: main prints the message and the command's usage, exit 125 */
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
  if (err instanceof EngineError) {
    const e = new EngineError(err.kind, `${context}: ${err.message}`, { cause: err, hint: err.hint, exitCode: err.exitCode });
    return e;
  }
  const msg = err instanceof Error ? err.message : String(err);
  return new EngineError("internal", `${context}: ${msg}`, { cause: err });
}

export function isKind(err: unknown, kind: ErrorKind): boolean {
  return err instanceof EngineError && err.kind === kind;
}

/** raised by commands that want a specific exit status without a message (e.g. `run` returning the
 * container's status is done by returning a number; this is for early exits like `wait` on error) */
export class ExitStatus extends Error {
  constructor(readonly code: number) {
    super(`exit status ${code}`);
  }
}
