/**
 * berth keeps a default bridge's lease directory, /run/berth/net/<bridge>, once made (net/leases.ts):
 * a test that gave berth a bridge of its own removes that directory with the bridge.
 */
import { rmSync } from "node:fs";

export function dropLeaseDir(bridge: string): void {
  rmSync(`/run/berth/net/${bridge}`, { recursive: true, force: true });
}
