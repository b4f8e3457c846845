/** capabilities(7) names ↔ bits (the names and docker's default set live in oci/defaults.ts). */
import { EngineError } from "../lib/errors.ts";
import { CAPABILITY_NAMES, DEFAULT_CAPABILITIES } from "../oci/defaults.ts";

export { CAPABILITY_NAMES, DEFAULT_CAPABILITIES };

/** every capability bit set: the shim keeps whatever the kernel knows (privileged) */
export const ALL_CAPABILITIES_MASK = (1n << 64n) - 1n;

export function capabilityMask(names: string[]): bigint {
  let mask = 0n;
  for (const raw of names) {
    const name = raw.toUpperCase().startsWith("CAP_") ? raw.toUpperCase() : `CAP_${raw.toUpperCase()}`;
    if (name === "CAP_ALL") return ALL_CAPABILITIES_MASK;
    const bit = CAPABILITY_NAMES.indexOf(name as (typeof CAPABILITY_NAMES)[number]);
    if (bit < 0) throw new EngineError("invalid_argument", `unknown capability: "${raw}"`);
    mask |= 1n << BigInt(bit);
  }
  return mask;
}
