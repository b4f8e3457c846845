/**
 * A container's NET I/O as docker reports it: rx/tx bytes of its network namespace's interfaces
 * (/proc/<pid>/net/dev, proc(5)), summed over every interface but lo. docker sums the interfaces its
 * network sandbox created, which are all of them except the loopback.
 */
import { readFileSync, readlinkSync } from "node:fs";

export interface NetStats {
  netRx: number;
  netTx: number;
  /** per interface (lo left out), as docker's stats API lists them under `networks` */
  interfaces?: Record<string, InterfaceCounters>;
}

export interface InterfaceCounters {
  rxBytes: number;
  rxPackets: number;
  rxErrors: number;
  rxDropped: number;
  txBytes: number;
  txPackets: number;
  txErrors: number;
  txDropped: number;
}

/** parse /proc/net/dev: two header lines, then "  iface: rx_bytes packets errs … tx_bytes …" */
export function parseNetDev(text: string): NetStats {
  let netRx = 0,
    netTx = 0;
  const interfaces: Record<string, InterfaceCounters> = {};
  for (const line of text.split("\n")) {
    const colon = line.indexOf(":");
    if (colon < 0) continue;
    const iface = line.slice(0, colon).trim();
    if (iface === "lo" || iface.includes("|")) continue;
    const f = line
      .slice(colon + 1)
      .trim()
      .split(/\s+/)
      .map(Number);
    // fields: rx bytes packets errs drop fifo frame compressed multicast, then tx bytes …
    netRx += f[0] || 0;
    netTx += f[8] || 0;
    interfaces[iface] = {
      rxBytes: f[0] || 0,
      rxPackets: f[1] || 0,
      rxErrors: f[2] || 0,
      rxDropped: f[3] || 0,
      txBytes: f[8] || 0,
      txPackets: f[9] || 0,
      txErrors: f[10] || 0,
      txDropped: f[11] || 0,
    };
  }
  return { netRx, netTx, interfaces };
}

/**
 * NET I/O of the process `pid`'s network namespace; zero when there is no process (pid 0) or when it
 * shares the host's namespace (--network host: docker has no sandbox interfaces and shows 0B / 0B)
 */
export function netStats(pid: number): NetStats {
  if (!pid) return { netRx: 0, netTx: 0 };
  try {
    if (readlinkSync(`/proc/${pid}/ns/net`) === readlinkSync("/proc/self/ns/net")) return { netRx: 0, netTx: 0 };
    return parseNetDev(readFileSync(`/proc/${pid}/net/dev`, "latin1"));
  } catch {
    // the process exited between the state read and here: a stopped container has no traffic to show
    return { netRx: 0, netTx: 0 };
  }
}
