/**
 * How a berth command is declared: a citty command definition (meta + args; citty's types and
 * defineCommand) whose `run` receives typed flags, positionals and the shared context, parsed by our
 * docker-style parser (_parser.ts). A command returns its exit status (e.g. `run` returns the
 * container's) or nothing for 0.
 */
import { defineCommand, type ArgsDef, type CommandMeta } from "citty";
import type { FlagsDef } from "./_parser.ts";
import type { Context } from "./_context.ts";
import { EngineError, UsageError } from "../lib/errors.ts";

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
  /**
   * the exit status of an engine error: docker's CLI exits 1 for a failed request and keeps 125 for
   * `run` (and for flag errors everywhere). "keep" leaves each error's own code (run, exec);
   * "create" is docker's create: 1 for a missing image or a name problem, 125 for bad option values.
   */
  engineErrors?: "keep" | "create";
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

/** docker's exit status for an error a command's run raised (see BerthMeta.engineErrors) */
export function cliError(e: unknown, mode: BerthMeta["engineErrors"]): unknown {
  if (!(e instanceof EngineError) || e instanceof UsageError || e.exitCode !== 125 || mode === "keep") return e;
  if (mode === "create" && !(e.kind === "not_found" || e.kind === "already_exists" || e.message.startsWith("Invalid container name"))) return e;
  return new EngineError(e.kind, e.message, { cause: e, hint: e.hint, exitCode: 1 });
}

export function defineBerthCommand(c: BerthCommand): BerthCommand {
  // citty validates nothing at definition time; going through it keeps one command shape everywhere
  defineCommand({ meta: c.meta, args: c.args as ArgsDef });
  const run = c.run;
  if (!run || c.meta.engineErrors === "keep") return c;
  return {
    ...c,
    async run(input) {
      try {
        return await run(input);
      } catch (e) {
        throw cliError(e, c.meta.engineErrors);
      }
    },
  };
}
