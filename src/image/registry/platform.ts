/**
 * A platform as the CLI and the API spell it (`os/arch[/variant]`). Apart from manifest.ts so that the
 * engine's front (which re-exports parsePlatform for the client) does not load manifest parsing.
 */
import { EngineError } from "../../lib/errors.ts";
import type { Platform } from "../../oci/index.ts";

/** `os/arch[/variant]` → Platform */
export function parsePlatform(s: string): Platform {
  const parts = s.trim().toLowerCase().split("/");
  if (parts.length < 2 || parts.length > 3 || parts.some((p) => !p)) {
    throw new EngineError("invalid_argument", `invalid platform "${s}": expected os/arch[/variant]`);
  }
  const p: Platform = { os: parts[0]!, architecture: normalizeArch(parts[1]!) };
  if (parts[2]) p.variant = parts[2];
  return p;
}

function normalizeArch(a: string): string {
  return ({ x86_64: "amd64", "x86-64": "amd64", aarch64: "arm64", armhf: "arm", armel: "arm", i386: "386" } as Record<string, string>)[a] ?? a;
}
