/**
 * The command table: docker's verbs, each a lazy import so only the command being run is loaded. Keep
 * the specifiers string literals: `bun build --compile` bundles them.
 */
import type { Lazy } from "./_command.ts";

export const commands: Record<string, Lazy> = {






  version: () => import("./version.ts"),
};

/** hidden commands: not listed in --help */
export const hidden: Record<string, Lazy> = {};
