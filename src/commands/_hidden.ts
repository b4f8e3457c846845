/**
 * The hidden commands (not listed in --help): processes berth starts for itself and the completion
 * scripts' callback. Apart from the visible table (index.ts) so `__complete` can read that table.
 */
import type { Lazy } from "./_command.ts";

export const hidden: Record<string, Lazy> = {
  __monitor: () => import("./__monitor.ts"),
  __dns: () => import("./__dns.ts"),
  __complete: () => import("./__complete.ts"),
  // docker's help command is not in its command list either
  help: () => import("./help.ts"),
};
