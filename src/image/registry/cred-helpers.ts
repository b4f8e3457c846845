/**
 * docker's credential helpers: `credHelpers.<registry>` (per registry) or `credsStore` (all registries) in
 * config.json name a program `docker-credential-<name>` on PATH, called as the docker CLI calls it
 * (docker-credential-helpers' protocol): `get` with the server URL on stdin answers
 * `{"ServerURL","Username","Secret"}` (Username "<token>" means Secret is an identity token); `store` reads
 * that JSON on stdin; `erase` reads the server URL. "credentials not found" on a failed `get` is no
 * credentials, not an error. Docker Hub's server URL is "https://index.docker.io/v1/", any other
 * registry's is its host[:port].
 */
import { EngineError } from "../../lib/errors.ts";

export const TOKEN_USERNAME = "<token>";

/** the helper config.json picks for a registry key (credHelpers first, then credsStore), if any */
export function helperFor(cfg: { credsStore?: unknown; credHelpers?: unknown }, keys: string[]): string | undefined {
  const per = (cfg.credHelpers ?? {}) as Record<string, string>;
  for (const k of keys) if (typeof per[k] === "string" && per[k] !== "") return per[k];
  return typeof cfg.credsStore === "string" && cfg.credsStore !== "" ? cfg.credsStore : undefined;
}

function call(helper: string, action: "get" | "store" | "erase", input: string): { ok: boolean; out: string } {
  const program = `docker-credential-${helper}`;
  let p: ReturnType<typeof Bun.spawnSync>;
  try {
    p = Bun.spawnSync([program, action], { stdin: new TextEncoder().encode(input), stdout: "pipe", stderr: "pipe" });
  } catch (e) {
    throw new EngineError("failed_precondition", `error getting credentials - err: exec: "${program}": executable file not found in $PATH, out: \`\``, {
      cause: e,
    });
  }
  const out = `${p.stdout?.toString() ?? ""}`.trim();
  return { ok: p.exitCode === 0, out: out || `${p.stderr?.toString() ?? ""}`.trim() };
}

export function helperGet(helper: string, serverURL: string): { username: string; secret: string } | undefined {
  const r = call(helper, "get", serverURL);
  if (!r.ok) {
    if (/credentials not found/i.test(r.out)) return undefined;
    throw new EngineError("failed_precondition", `error getting credentials - err: exit status 1, out: \`${r.out}\``);
  }
  let v: { Username?: string; Secret?: string };
  try {
    v = JSON.parse(r.out);
  } catch {
    throw new EngineError("failed_precondition", `error getting credentials - docker-credential-${helper} answered no JSON: ${r.out.slice(0, 80)}`);
  }
  if (!v.Secret && !v.Username) return undefined;
  return { username: v.Username ?? "", secret: v.Secret ?? "" };
}

export function helperStore(helper: string, serverURL: string, username: string, secret: string): void {
  const r = call(helper, "store", JSON.stringify({ ServerURL: serverURL, Username: username, Secret: secret }));
  if (!r.ok) throw new EngineError("failed_precondition", `error storing credentials - err: exit status 1, out: \`${r.out}\``);
}

/** false when the helper had nothing for the server */
export function helperErase(helper: string, serverURL: string): boolean {
  const r = call(helper, "erase", serverURL);
  if (r.ok) return true;
  if (/credentials not found/i.test(r.out)) return false;
  throw new EngineError("failed_precondition", `error erasing credentials - err: exit status 1, out: \`${r.out}\``);
}
