/**
 * How a berth command is declared: a citty command definition (meta + args; citty's types and
 * defineCommand) whose `run` receives typed flags, positionals and the shared context, parsed by our
 * docker-style parser (_parser.ts). A command returns its exit status (e.g. `run` returns the
 * container's) or nothing for 0.
 */
import { defineCommand, type ArgsDef, type CommandMeta } from "citty";
import type { FlagsDef } from "./_parser.ts";
import type { Context } from "./_context.ts";
import type { ExitPolicy } from "./_exit-codes.ts";

export interface BerthMeta extends CommandMeta {
  name: string;
  description: string;
  /** docker's usage tail, e.g. "[OPTIONS] IMAGE [COMMAND] [ARG...]" */
  usage?: string;
  aliases?: string[];
  stopAtPositional?: boolean;
  /** docker's "requires at least N argument(s)" / "accepts at most N" checks */
  minArgs?: number;
  maxArgs?: number;
  /** how an error of this command maps to docker's exit code (the table in _exit-codes.ts; default "request") */
  exitPolicy?: ExitPolicy;
  /** writes to stdout only through ctx.out or _stdout.ts's stdout(), so the stream is built only when used (start-up cost) */
  lazyStdout?: boolean;
  /**
   * runs for a few tens of milliseconds of run-once code (create, start, a `run` until its container
   * starts): JSC's tier-up thresholds are scaled up (main.ts), so the JIT does not compile code that
   * runs once — ~10 % of the CPU of `run --rm IMG true` (issue 13)
   */
  shortLived?: boolean;
}

export interface RunInput {
  flags: Record<string, any>;
  positionals: string[];
  rest: string[];
  ctx: Context;
}

export type Lazy = () => Promise<{ default: BerthCommand }>;

export interface BerthCommand {
  meta: BerthMeta;
  args: FlagsDef;
  subCommands?: Record<string, Lazy>;
  run?: (input: RunInput) => Promise<number | void> | number | void;
}

export function defineBerthCommand(c: BerthCommand): BerthCommand {
  // citty validates nothing at definition time; going through it keeps one command shape everywhere
  defineCommand({ meta: c.meta, args: c.args as ArgsDef });
  return c;
}
