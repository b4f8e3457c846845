/**
 * The host network driver (libnetwork's drivers/host), docker's `--network host`: the container stays in
 * the host's network namespace (and, as in docker, its UTS namespace); berth makes nothing for it.
 */
import { registerNetworkDriver } from "./driver.ts";

registerNetworkDriver({
  name: "host",
  attach: "host",
  creatable: false,
  predefined: { network: "host" },
  create: () => ({ name: "host", attach: "host" }),
});
