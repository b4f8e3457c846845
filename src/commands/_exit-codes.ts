/**
 * The one table from an error to docker's exit code. The engine reports what went wrong (an
 * EngineError's kind, an ExecError's reason); only the CLI knows what docker's CLI exits with, and that
 * depends on the command (its `exitPolicy`) and on the step that failed (`during`):
 *
 *   error                                  request  build  run      create  exec
 *   ExitStatus, CliError                    their own code, every policy (a --format template
 *                                            that does not parse is a CliError: docker's 64)
 *   ArgCountError (wrong number of args)    1, every policy
 *   UsageError (bad flag or value)          125, every policy
 *   ExecError not_found / not_executable    127/126  1      127/126  127/126 127/126
 *   EngineError during "pull"               1        1      125      1       -
 *   not_found                               1        1      125      1       1; 126 during "exec"
 *   already_exists, not_implemented,
 *     "Invalid container name"              1        1      125      1       125; 126 during "exec"
 *   failed_precondition, conflict           1        1      125      125     125; 1 during "exec"
 *   any other kind                          1        1      125      125     125; 126 during "exec"
 *   not an error berth made (a bug)         125, and main prints the stack
 *
 * request: docker's CLI returns the daemon's error, exit 1 (most verbs; start -a and attach keep the
 * container command's 127/126). build: 1 whatever failed once the build started. run: 125 for any
 * failure of the engine, docker's toStatusError. create: docker's parse errors are 125, the daemon's
 * answers 1 (berth still checks option values in the engine: invalid_argument stays 125). exec: 1
 * until the process is being set up; then 126 unless the container is not running or paused (1).
 */
import { EngineError, ExecError, ExitStatus, UsageError } from "../lib/errors.ts";

export type ExitPolicy = "request" | "build" | "run" | "create" | "exec";
export type Stage = "pull" | "exec";

/** a CLI-only condition with docker's own code, e.g. "the input device is not a TTY" (1) */
export class CliError extends EngineError {
  constructor(
    message: string,
    readonly code: number,
    options: { hint?: string; cause?: unknown } = {},
  ) {
    super("invalid_argument", message, options);
  }
}

/** docker's "'berth exec' requires at least 2 arguments": the usage is printed, exit 1 */
export class ArgCountError extends UsageError {}

const stages = new WeakMap<object, Stage>();

/** run `fn` as `stage` of the command: an error it throws keeps its identity and is marked with the stage */
export async function during<T>(stage: Stage, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    if (e !== null && typeof e === "object" && !stages.has(e)) stages.set(e, stage);
    throw e;
  }
}

function execCode(e: EngineError): number | undefined {
  if (e instanceof ExecError) return e.reason === "not_found" ? 127 : 126;
  return undefined;
}

/** docker's exit code for an error that a command with `policy` raised */
export function exitCodeFor(e: unknown, policy: ExitPolicy = "request"): number {
  if (e instanceof ExitStatus) return e.code;
  if (e instanceof CliError) return e.code;
  if (e instanceof ArgCountError) return 1;
  if (e instanceof UsageError) return 125;
  if (!(e instanceof EngineError)) return 125;
  const stage = stages.get(e);
  switch (policy) {
    case "request":
      return execCode(e) ?? 1;
    case "build":
      return 1;
    case "run":
      if (stage === "pull") return 125;
      return execCode(e) ?? 125;
    case "create":
      if (stage === "pull") return 1;
      return execCode(e) ?? (daemonAnswer(e) ? 1 : 125);
    case "exec":
      if (stage !== "exec") return execCode(e) ?? (e.kind === "not_found" ? 1 : 125);
      return execCode(e) ?? (e.kind === "failed_precondition" || e.kind === "conflict" ? 1 : 126);
  }
}

/** create's errors that docker's daemon (not its flag parser) reports: exit 1 */
function daemonAnswer(e: EngineError): boolean {
  if (e.kind === "not_found" || e.kind === "already_exists" || e.kind === "not_implemented") return true;
  // transitional: the name check is the engine's (engine/containers/names.ts), an invalid_argument
  return e.message.startsWith("Invalid container name");
}
