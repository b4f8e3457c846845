/**
 * What the image and build routes share: JSON query values, the X-Registry-Auth header, the registries'
 * insecure list, and docker's JSON-message streams (the query booleans and filters are _params.ts's).
 */
import { EngineError } from "../../lib/errors.ts";
import { insecureRegistries, type JSONMessage } from "../../engine/index.ts";
import { primed, produce } from "./_stream.ts";
import type { ApiRequest, DaemonContext } from "../types.ts";

/** a JSON query value (buildargs, labels, cachefrom); 400 when it is not JSON */
export function queryJson<T>(q: URLSearchParams, name: string): T | undefined {
  const v = q.get(name);
  if (v === null || v === "") return undefined;
  try {
    return JSON.parse(v) as T;
  } catch {
    throw new EngineError("invalid_argument", `invalid ${name}: not JSON: ${v.slice(0, 80)}`);
  }
}

export interface RegistryAuth {
  username?: string;
  password?: string;
  identityToken?: string;
  serveraddress?: string;
}

/** docker's X-Registry-Auth: base64url JSON {username, password, serveraddress} or {identitytoken}; absent or empty → none */
export function registryAuth(req: ApiRequest): RegistryAuth | undefined {
  const h = req.headers["x-registry-auth"];
  if (!h) return undefined;
  let doc: Record<string, unknown>;
  try {
    doc = JSON.parse(Buffer.from(h.replace(/-/g, "+").replace(/_/g, "/"), "base64").toString("utf8"));
  } catch {
    throw new EngineError("invalid_argument", "invalid X-Registry-Auth header: not base64-encoded JSON");
  }
  if (typeof doc !== "object" || doc === null) return undefined;
  const s = (k: string) => (typeof doc[k] === "string" && doc[k] !== "" ? (doc[k] as string) : undefined);
  const out: RegistryAuth = { username: s("username"), password: s("password"), identityToken: s("identitytoken"), serveraddress: s("serveraddress") };
  return out.username || out.identityToken ? out : undefined;
}

/** the registry session's credentials for an engine call, from the header (none: the engine's own) */
export function credentialsOf(auth: RegistryAuth | undefined): { credentials?: { username?: string; password?: string; identityToken?: string } } {
  if (!auth) return {};
  return { credentials: { username: auth.username, password: auth.password, ...(auth.identityToken ? { identityToken: auth.identityToken } : {}) } };
}

/** the registries spoken to over plain HTTP: the daemon's config file (reloaded on SIGHUP), the engine's
 * settings, the root's daemon.json, the environment */
export async function insecureOf(ctx: DaemonContext): Promise<string[]> {
  const e = ctx.engine;
  return [...(ctx.daemon?.["insecure-registries"] ?? []), ...e.insecureRegistries, ...(await insecureRegistries(e.root, process.env))];
}

/** one JSON-message line, as dockerd writes them */
export function messageLine(m: JSONMessage): string {
  return `${JSON.stringify(m)}\r\n`;
}

/** docker's in-stream error: {"errorDetail":{"message":…},"error":…} */
export function errorLine(e: unknown): string {
  const message = e instanceof Error ? e.message : String(e);
  return messageLine({ errorDetail: { message }, error: message });
}

/**
 * A JSON-message stream written by `run`: nothing is answered before its first message, so an error
 * before it is thrown (the server answers docker's status and {"message"}); an error after it ends the
 * stream with docker's {"errorDetail"} line. `write` rejects once the client is gone (_stream.ts).
 */
export async function messageStream(
  run: (write: (chunk: string) => Promise<void>) => Promise<void>,
  signal: AbortSignal,
): Promise<AsyncIterable<Uint8Array | string>> {
  return primed(
    produce(async (push) => {
      let wrote = false;
      try {
        await run((c) => {
          wrote = true;
          return push(c);
        });
      } catch (e) {
        if (!wrote || (e instanceof EngineError && e.kind === "cancelled")) throw e;
        await push(errorLine(e));
      }
    }, signal),
  );
}

/** the registry session's fetch, stopped when the client goes away (a pull or push then fails and undoes what it made) */
export function fetchUntil(signal: AbortSignal): (url: string, init: RequestInit) => Promise<Response> {
  return (url, init) => fetch(url, { ...init, signal: init.signal ? AbortSignal.any([init.signal, signal]) : signal });
}

/** an async iterable as the ReadableStream some engine calls take */
export { readableOf } from "../../lib/readable.ts";
