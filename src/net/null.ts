/**
 * The null network driver (libnetwork's drivers/null), docker's `--network none`: the container gets a
 * network namespace of its own with loopback only. No links, no addresses; the runtime brings lo up in
 * every new network namespace, and planLoopback is the same step for a namespace made elsewhere.
 */
import { registerNetworkDriver } from "./driver.ts";
import type { NetOp } from "./ops.ts";

/** loopback up, nothing else */
export function planLoopback(): NetOp[] {
  return [{ op: "ns-up", name: "lo" }];
}

registerNetworkDriver({
  name: "null",
  attach: "loopback",
  creatable: false,
  predefined: { network: "none" },
  create: () => ({ name: "null", attach: "loopback" }),
});
