/**
 * Outbound NAT and forwarding for bridge networks, in berth's own nftables table (`table ip berth`).
 *
 * Why the `nft` tool and not NETLINK_NETFILTER from TypeScript: nftables rules travel as batched
 * nf_tables expressions (payload/cmp/meta/masq registers inside NFTA_RULE_EXPRESSIONS, wrapped in
 * NFNL_MSG_BATCH_BEGIN/END), a second binary protocol several times the size of rtnetlink's, and the
 * deadline for issue 5 did not leave room to write and verify it. `nft -f -` applies a script as one
 * atomic transaction, which is exactly what berth needs. This is the ONLY module that runs a host tool;
 * `checkNft()` runs before any container starts and names the Debian package. Replacing it with
 * netlink later changes nothing outside this file.
 *
 * Ownership: berth only ever adds, flushes or deletes objects inside its own table. Other tables
 * (docker's and podman's iptables-nft tables, firewalld's) are never listed, flushed or touched.
 * Each network gets its own base chains named after its bridge, so removing one network is deleting
 * its chains; the table goes when the last network goes.
 *
 * Caveat: a DROP verdict in someone else's forward chain (docker sets the iptables FORWARD policy to
 * DROP) still drops berth's forwarded packets — an accept in our table cannot override another base
 * chain. berth does not edit foreign rules; doctor-style hints are the engine's job.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { EngineError } from "../lib/errors.ts";

export const DEFAULT_TABLE = "berth";
const IP_FORWARD = "/proc/sys/net/ipv4/ip_forward";

let nftPath: string | undefined;

/** find `nft`; throws unavailable with the package name when missing */
export function checkNft(): string {
  if (nftPath) return nftPath;
  const p = Bun.which("nft", { PATH: `${process.env.PATH ?? ""}:/usr/sbin:/sbin` });
  if (!p) {
    throw new EngineError("unavailable", "nft not found: bridge networking needs nftables for NAT", {
      hint: "install it (Debian/Ubuntu: apt-get install nftables), or run containers with --network none or host",
    });
  }
  return (nftPath = p);
}

function nft(args: string[], stdin?: string): string {
  const r = Bun.spawnSync([checkNft(), ...args], { stdin: stdin === undefined ? "ignore" : Buffer.from(stdin), stdout: "pipe", stderr: "pipe" });
  if (r.exitCode !== 0) {
    const err = r.stderr.toString().trim().split("\n").slice(0, 3).join("; ");
    throw new EngineError("internal", `nft ${args.join(" ")}: ${err || `exit status ${r.exitCode}`}`);
  }
  return r.stdout.toString();
}

/** nft identifiers: letters, digits, underscore */
function chainSuffix(bridge: string): string {
  return bridge.replace(/[^a-zA-Z0-9_]/g, "_");
}

export interface NatNetwork {
  bridge: string;
  subnet: string;
  internal: boolean;
}

/**
 * The script that makes a network's chains exactly right, idempotently: `add` is a no-op for existing
 * objects and `flush` empties our own chains before their rules are written again.
 */
export function natScript(table: string, n: NatNetwork): string {
  const sfx = chainSuffix(n.bridge);
  const br = JSON.stringify(n.bridge);
  const lines = [
    `add table ip ${table}`,
    `add chain ip ${table} post_${sfx} { type nat hook postrouting priority srcnat; policy accept; }`,
    `add chain ip ${table} fwd_${sfx} { type filter hook forward priority filter; policy accept; }`,
    `flush chain ip ${table} post_${sfx}`,
    `flush chain ip ${table} fwd_${sfx}`,
  ];
  if (n.internal) {
    // --internal: nothing enters or leaves the bridge except between its own ports
    lines.push(`add rule ip ${table} fwd_${sfx} iifname ${br} oifname != ${br} drop`);
    lines.push(`add rule ip ${table} fwd_${sfx} oifname ${br} iifname != ${br} drop`);
  } else {
    lines.push(`add rule ip ${table} post_${sfx} ip saddr ${n.subnet} oifname != ${br} masquerade`);
  }
  return lines.join("\n") + "\n";
}

export function removeScript(table: string, bridge: string, existingChains: string[]): string {
  const sfx = chainSuffix(bridge);
  const lines: string[] = [];
  for (const c of [`post_${sfx}`, `fwd_${sfx}`]) {
    if (existingChains.includes(c)) lines.push(`flush chain ip ${table} ${c}`, `delete chain ip ${table} ${c}`);
  }
  return lines.join("\n") + (lines.length ? "\n" : "");
}

function tableChains(table: string): string[] | undefined {
  const r = Bun.spawnSync([checkNft(), "-j", "list", "table", "ip", table], { stdout: "pipe", stderr: "pipe" });
  if (r.exitCode !== 0) return undefined; // no such table
  const j = JSON.parse(r.stdout.toString()) as { nftables: { chain?: { name: string } }[] };
  return j.nftables.flatMap((o) => (o.chain ? [o.chain.name] : []));
}

/** install (or refresh) a network's NAT/forward rules and turn on IPv4 forwarding */
export function ensureNat(table: string, n: NatNetwork): void {
  nft(["-f", "-"], natScript(table, n));
  if (!n.internal) enableIpForward();
}

/** remove a network's chains; drop the table when no chain is left in it */
export function removeNat(table: string, bridge: string): void {
  const chains = tableChains(table);
  if (!chains) return;
  const script = removeScript(table, bridge, chains);
  if (script) nft(["-f", "-"], script);
  const left = tableChains(table);
  if (left && left.length === 0) nft(["delete", "table", "ip", table]);
}

export function removeTable(table: string): void {
  if (tableChains(table)) nft(["delete", "table", "ip", table]);
}

/** net.ipv4.ip_forward=1 (host-wide, as docker does); never turned off again, other software may rely on it */
export function enableIpForward(): void {
  if (readFileSync(IP_FORWARD, "utf8").trim() !== "1") writeFileSync(IP_FORWARD, "1\n");
}
