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
  /** config.json to read credentials from (default: $DOCKER_CONFIG or ~/.docker) */
  configPath?: string;
  fetch?: FetchFn;
  attempts?: number;
  backoffMs?: number;
}

export function clientFor(ref: Reference, o: SessionOptions = {}): RegistryClient {
  const endpoint = resolveEndpoint(ref.domain, o.insecure ?? []);
  const credentials = o.credentials ?? loadCredentials(ref.domain, o.configPath);
  return new RegistryClient(endpoint, ref.path, {
    actions: o.actions ?? "pull",
    ...(credentials ? { credentials } : {}),
    ...(o.fetch ? { fetch: o.fetch } : {}),
    ...(o.attempts ? { attempts: o.attempts } : {}),
    ...(o.backoffMs !== undefined ? { backoffMs: o.backoffMs } : {}),
  });
}
