/**
 * Layer snapshot names. A layer's committed snapshot is named by its chain ID (image-spec config.md:
 * ChainID(L0) = DiffID(L0), ChainID(Ln) = sha256(ChainID(Ln-1) + " " + DiffID(Ln))), so images that
 * share a base share its snapshots. A snapshot being unpacked is an active key
 * `extract-<pid>-<starttime>-<random>`: `system check` and GC know an orphan by its dead owner.
 */
import { randomBytes } from "../lib/ids.ts";
import type { Digest } from "../oci/index.ts";
import { sha256Digest } from "./content-store.ts";
import { processStartTime } from "./leases.ts";

export function chainIds(diffIds: Digest[]): Digest[] {
  const out: Digest[] = [];
  for (const d of diffIds) out.push(out.length === 0 ? d : sha256Digest(`${out[out.length - 1]} ${d}`));
  return out;
}

/** the owner tag of an active extraction key, so an orphan can be told from live work */
export function extractKey(): string {
  return `extract-${process.pid}-${processStartTime(process.pid) ?? "0"}-${randomBytes(4).toString("hex")}`;
}

/** is the process that owns an extraction key still alive? */
export function isExtractKeyLive(key: string): boolean {
  const m = /^extract-(\d+)-(\d+)-/.exec(key);
  if (!m) return false;
  return processStartTime(Number(m[1])) === m[2];
}
