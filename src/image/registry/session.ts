/** A client for a reference's repository with the endpoint and stored credentials worked out. */
import type { Reference } from "../references.ts";
import { loadCredentials, type Credentials } from "./auth.ts";
import { RegistryClient, type FetchFn } from "./client.ts";
import { resolveEndpoint } from "./endpoint.ts";

export interface SessionOptions {
  /** "pull" or "pull,push" */
  actions?: string;
  /** insecure registries (loadInsecureRegistries) */
  insecure?: string[];
  /** explicit credentials; otherwise read from docker's config.json */
  credentials?: Credentials;
  /** docker's config.json to read stored credentials from (the caller's: see dockerConfigPath); none without it */
  configPath?: string;
  fetch?: FetchFn;
  attempts?: number;
  backoffMs?: number;
  /** a stalled blob body is dropped and resumed after this long without a byte (client.ts; default 30 s) */
  readTimeoutMs?: number;
  /** the caller's end: blob bodies stop at once (client.ts) */
  signal?: AbortSignal;
}

export function clientFor(ref: Reference, o: SessionOptions = {}): RegistryClient {
  const endpoint = resolveEndpoint(ref.domain, o.insecure ?? []);
  const credentials = o.credentials ?? (o.configPath !== undefined ? loadCredentials(ref.domain, o.configPath) : undefined);
  return new RegistryClient(endpoint, ref.path, {
    actions: o.actions ?? "pull",
    ...(credentials ? { credentials } : {}),
    ...(o.fetch ? { fetch: o.fetch } : {}),
    ...(o.attempts ? { attempts: o.attempts } : {}),
    ...(o.backoffMs !== undefined ? { backoffMs: o.backoffMs } : {}),
    ...(o.readTimeoutMs !== undefined ? { readTimeoutMs: o.readTimeoutMs } : {}),
    ...(o.signal ? { signal: o.signal } : {}),
  });
}
