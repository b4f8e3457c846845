/**
 * Client mode's streams: docker's JSON progress messages (pull, push, load, build) shown as docker's CLI
 * shows them (pkg/jsonmessage, through pull's progress printer), the X-Registry-Auth header from the
 * client's docker config, and the fully qualified name docker prints after a pull.
 */
import { EngineError } from "../../lib/errors.ts";
import { ndjson } from "../../client/index.ts";
import { progressPrinter } from "../pull.ts";
import type { Context } from "../_context.ts";

interface Message {
  id?: string;
  status?: string;
  stream?: string;
  progressDetail?: { current?: number; total?: number };
  error?: string;
  errorDetail?: { message?: string; code?: number };
  aux?: Record<string, unknown>;
}

/** show a progress stream; the aux objects go to `onAux`; an error message in the stream is thrown */
export async function showProgress(
  body: AsyncIterable<Uint8Array>,
  o: { quiet: boolean; write: (s: string) => void; tty: boolean; onAux?: (aux: Record<string, unknown>) => void },
): Promise<void> {
  const p = progressPrinter(o.quiet, o.write, o.tty);
  for await (const m of ndjson<Message>(body)) {
    if (m.errorDetail || m.error) throw new EngineError("internal", m.errorDetail?.message || m.error || "unknown error");
    if (m.aux) o.onAux?.(m.aux);
    else if (m.stream !== undefined) {
      if (!o.quiet) o.write(m.stream);
    } else if (m.status !== undefined) {
      if (m.id) p.layer(m.id, m.status, m.progressDetail?.current, m.progressDetail?.total);
      else p.line(m.status);
    }
  }
}

/** docker.io/library/busybox:latest for `busybox` (docker prints this name after a pull) */
export function qualify(ref: string): string {
  const slash = ref.indexOf("/");
  const first = slash < 0 ? "" : ref.slice(0, slash);
  const hasDomain = first !== "" && (first.includes(".") || first.includes(":") || first === "localhost");
  let out = hasDomain ? ref : `docker.io/${slash < 0 ? "library/" : ""}${ref}`;
  const lastPart = out.slice(out.lastIndexOf("/") + 1);
  if (!lastPart.includes(":") && !out.includes("@")) out += ":latest";
  return out;
}

/** the registry domain of a reference (docker.io when none) */
export function domainOf(ref: string): string {
  const slash = ref.indexOf("/");
  const first = slash < 0 ? "" : ref.slice(0, slash);
  return first !== "" && (first.includes(".") || first.includes(":") || first === "localhost") ? first : "docker.io";
}

/** docker's X-Registry-Auth: base64url of the credentials for the image's registry ("{}" when there are none) */
export async function registryAuth(ctx: Context, ref: string): Promise<string> {
  const { dockerConfigPath, loadCredentials } = await import("../../engine/index.ts");
  const domain = domainOf(ref);
  let auth: Record<string, string> = {};
  try {
    const c = await loadCredentials(domain, dockerConfigPath(ctx.env));
    if (c?.identityToken) auth = { identitytoken: c.identityToken, serveraddress: domain };
    else if (c?.username !== undefined) auth = { username: c.username, password: c.password ?? "", serveraddress: domain };
  } catch (e) {
    ctx.log.warn(`credentials for ${domain}: ${(e as Error).message}`); // the daemon then pulls anonymously, as docker's CLI does
  }
  return Buffer.from(JSON.stringify(auth)).toString("base64url");
}
