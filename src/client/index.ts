/**
 * src/client — berth as a client of a daemon (docker's Engine API), the front door beside src/commands.
 * This file picks the endpoint as docker's CLI does:
 *
 *   -H/--host  >  --context  >  BERTH_HOST / DOCKER_HOST  >  BERTH_CONTEXT / DOCKER_CONTEXT  >  `context use`
 *
 * (BERTH_HOST beats DOCKER_HOST, BERTH_CONTEXT beats DOCKER_CONTEXT.) No endpoint means daemonless:
 * berth works on its own store, as it always did.
 */
import { EngineError } from "../lib/errors.ts";
import { ContextStore, envHost } from "./contexts.ts";
import { parseHost, tlsFromEnv, type Endpoint, type TlsFlags } from "./dial.ts";

export { ApiClient, CLIENT_MAX_API, DaemonError, filtersParam, type CallOptions, type Query } from "./api.ts";
export { DEFAULT_SOCKET, dial, parseHost, type Endpoint, type TlsFlags } from "./dial.ts";
export { ContextStore, checkContextName, configDir, envHost, type ContextInspect, type ContextMeta } from "./contexts.ts";
export { demux, ndjson, readAll, Reader, roundTrip, type Conn, type HttpResponse } from "./http.ts";

type Env = Readonly<Record<string, string | undefined>>;

/** the endpoint named by a host string, with the environment's TLS settings */
function fromHost(host: string, env: Env, flags: TlsFlags = {}): Endpoint {
  const tls = tlsFromEnv(env, flags);
  const a = parseHost(host, !!tls);
  return { host: a.proto === "unix" ? `unix://${a.path}` : host.trim(), ...(tls && a.proto === "tcp" ? { tls } : {}) };
}

/** a stored context's endpoint; undefined for one without a docker endpoint (the daemonless default) */
function fromContext(name: string, env: Env): Endpoint | undefined {
  const store = new ContextStore(env);
  if (name === "default") {
    const h = envHost(env);
    return h ? fromHost(h, env) : undefined;
  }
  const meta = store.get(name);
  const host = meta.Endpoints.docker?.Host;
  if (!host) return undefined;
  const tls = store.tls(name);
  parseHost(host, !!tls);
  return { host, context: name, ...(tls ? { tls } : {}) };
}

/** which daemon this invocation talks to, or undefined for none (daemonless) */
export function selectEndpoint(o: { hosts: string[]; context?: string; env: Env; tls?: TlsFlags }): Endpoint | undefined {
  const { env } = o;
  if (o.hosts.length > 1) throw new EngineError("invalid_argument", "Specify only one -H");
  if (o.hosts.length && o.context) throw new EngineError("invalid_argument", "conflicting options: cannot specify both --host and --context");
  if (o.hosts.length) return fromHost(o.hosts[0]!, env, o.tls);
  if (o.context) return fromContext(o.context, env);
  const h = envHost(env);
  if (h) return fromHost(h, env, o.tls);
  const named = env.BERTH_CONTEXT || env.DOCKER_CONTEXT;
  if (named) return fromContext(named, env);
  const store = new ContextStore(env);
  const current = store.current();
  if (current === "default") return undefined;
  try {
    return fromContext(current, env);
  } catch (e) {
    if (e instanceof EngineError && e.kind === "not_found")
      throw new EngineError("not_found", `current context "${current}" does not exist`, { hint: "run `berth context use default`", cause: e });
    throw e;
  }
}

/** the name of the context in effect (for `context ls`'s star and `context show`) */
export function currentContextName(o: { hosts: string[]; context?: string; env: Env }): string {
  if (o.hosts.length) return "default";
  if (o.context) return o.context;
  if (envHost(o.env)) return "default";
  return o.env.BERTH_CONTEXT || o.env.DOCKER_CONTEXT || new ContextStore(o.env).current();
}
