/** capabilities(7) names ↔ bits, and docker's default set (moby oci/caps/defaults.go). */
import { EngineError } from "../lib/errors.ts";

/** index = capability number (linux/capability.h) */
export const CAPABILITY_NAMES = [
  "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL",
  "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE", "CAP_NET_BIND_SERVICE",
  "CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_NET_RAW", "CAP_IPC_LOCK", "CAP_IPC_OWNER", "CAP_SYS_MODULE",
  "CAP_SYS_RAWIO", "CAP_SYS_CHROOT", "CAP_SYS_PTRACE", "CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT",
  "CAP_SYS_NICE", "CAP_SYS_RESOURCE", "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE",
  "CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL", "CAP_SETFCAP", "CAP_MAC_OVERRIDE", "CAP_MAC_ADMIN", "CAP_SYSLOG",
  "CAP_WAKE_ALARM", "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ", "CAP_PERFMON", "CAP_BPF", "CAP_CHECKPOINT_RESTORE",
] as const;

export const DEFAULT_CAPABILITIES = [
  "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW", "CAP_SETGID",
  "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_KILL",
  "CAP_AUDIT_WRITE",
];

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
