/**
 * A Docker Engine API client: version negotiation through `/_ping` (the daemon's `API-Version` header,
 * capped at the client's own maximum, or DOCKER_API_VERSION as given), versioned paths, JSON and streamed
 * calls, the hijack of attach/exec, and the daemon's `{"message": …}` errors as DaemonError, whose kind
 * comes from the HTTP status (so the CLI's exit-code table applies unchanged).
 */
import { EngineError, type ErrorKind } from "../lib/errors.ts";
import { VERSION } from "../version.ts";
import { dial, type Endpoint } from "./dial.ts";
import { readAll, roundTrip, type Conn, type HttpResponse } from "./http.ts";

/** the newest API version this client speaks (docker 25's); a daemon that knows less is spoken to in its own */
export const CLIENT_MAX_API = "1.44";
/** the oldest one the client can speak */
export const CLIENT_MIN_API = "1.24";

/** an error the daemon answered: docker's CLI prints it as "Error response from daemon: …" */
export class DaemonError extends EngineError {
  constructor(
    readonly status: number,
    readonly daemonMessage: string,
  ) {
    super(kindOf(status, daemonMessage), `Error response from daemon: ${daemonMessage}`);
  }
}

function kindOf(status: number, message: string): ErrorKind {
  switch (status) {
    case 400:
      return "invalid_argument";
    case 401:
      return "unauthorized";
    case 403:
      return "permission_denied";
    case 404:
      return "not_found";
    case 409:
      return /already (in use|exists)/.test(message) ? "already_exists" : "conflict";
    case 501:
      return "not_implemented";
    case 503:
      return "unavailable";
    default:
      return "internal";
  }
}

export function compareVersions(a: string, b: string): number {
  const [a1 = 0, a2 = 0] = a.split(".").map(Number);
  const [b1 = 0, b2 = 0] = b.split(".").map(Number);
  return a1 - b1 || a2 - b2;
}

export type Query = Record<string, string | number | boolean | undefined | string[]>;

export interface CallOptions {
  query?: Query;
  /** a JSON body (serialized here) */
  json?: unknown;
  /** a raw body: bytes or a stream (sent chunked) */
  body?: Uint8Array | string | AsyncIterable<Uint8Array>;
  headers?: Record<string, string>;
  /** attach / exec start: `Upgrade: tcp` */
  hijack?: boolean;
}

function queryString(q: Query | undefined): string {
  if (!q) return "";
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(q)) {
    if (v === undefined || v === false || v === "") continue;
    if (Array.isArray(v)) for (const x of v) p.append(k, x);
    else p.set(k, v === true ? "1" : String(v));
  }
  const s = p.toString();
  return s ? `?${s}` : "";
}

/** filters as the API takes them: `{"name": {"x": true}}`, JSON in the `filters` query parameter */
export function filtersParam(flags: string[] | undefined): string | undefined {
  if (!flags?.length) return undefined;
  const out: Record<string, Record<string, boolean>> = {};
  for (const f of flags) {
    const i = f.indexOf("=");
    if (i <= 0) throw new EngineError("invalid_argument", `bad format of filter (expected name=value)`);
    const k = f.slice(0, i).trim().toLowerCase();
    (out[k] ??= {})[f.slice(i + 1)] = true;
  }
  return JSON.stringify(out);
}

export class ApiClient {
  private version?: string;
  private negotiating?: Promise<string>;
  /** the daemon's `/_ping` answer headers (OSType, Server, …), once negotiated */
  pingHeaders: Record<string, string> = {};

  constructor(
    readonly endpoint: Endpoint,
    private readonly env: Readonly<Record<string, string | undefined>>,
  ) {
    const pinned = env.DOCKER_API_VERSION || env.BERTH_API_VERSION;
    if (pinned) this.version = pinned.replace(/^v/, "");
  }

  /** the host header docker sends over a socket (and the host itself over tcp) */
  private hostHeader(): string {
    const h = this.endpoint.host;
    return h.startsWith("tcp://") ? h.slice(6) : "api.moby.localhost";
  }

  private connect(): Promise<Conn> {
    return dial(this.endpoint, this.env);
  }

  /** the API version used on this connection's paths */
  async apiVersion(): Promise<string> {
    if (this.version) return this.version;
    this.negotiating ??= (async () => {
      const res = await this.raw("GET", "/_ping", {});
      await readAll(res.body).catch(() => undefined); // the body ("OK") says nothing more
      res.conn.close();
      this.pingHeaders = res.headers;
      const server = res.headers["api-version"];
      if (res.status >= 500 && !server) throw new EngineError("unavailable", `the daemon at ${this.endpoint.host} answered /_ping with ${res.status}`);
      // docker: a daemon that does not say is spoken to in 1.24; one newer than us in ours
      const v = !server ? CLIENT_MIN_API : compareVersions(server, CLIENT_MAX_API) > 0 ? CLIENT_MAX_API : server;
      this.version = v;
      return v;
    })();
    return this.negotiating;
  }

  private async raw(method: string, path: string, o: CallOptions): Promise<HttpResponse> {
    const conn = await this.connect();
    const headers: Record<string, string> = { "User-Agent": `berth/${VERSION}`, ...o.headers };
    let body = o.body;
    if (o.json !== undefined) {
      body = JSON.stringify(o.json);
      headers["Content-Type"] = "application/json";
    }
    try {
      return await roundTrip(conn, { method, path: path + queryString(o.query), headers, body, hijack: o.hijack }, this.hostHeader());
    } catch (e) {
      conn.close();
      throw e;
    }
  }

  /** a request on the versioned path; an error status becomes a DaemonError (the body read and closed) */
  async call(method: string, path: string, o: CallOptions = {}): Promise<HttpResponse> {
    const v = await this.apiVersion();
    const res = await this.raw(method, `/v${v}${path}`, o);
    if (res.status >= 400) {
      const text = new TextDecoder().decode(await readAll(res.body).catch(() => new Uint8Array(0)));
      res.conn.close();
      let message = text.trim();
      try {
        const j = JSON.parse(text) as { message?: string };
        if (typeof j?.message === "string") message = j.message;
      } catch {} // not JSON: docker prints the body as it came
      throw new DaemonError(res.status, message || `${res.status} ${res.statusText}`.trim());
    }
    return res;
  }

  /** a call whose answer is JSON */
  async json<T>(method: string, path: string, o: CallOptions = {}): Promise<T> {
    const res = await this.call(method, path, o);
    try {
      const text = new TextDecoder().decode(await readAll(res.body));
      return (text.trim() ? JSON.parse(text) : undefined) as T;
    } finally {
      res.conn.close();
    }
  }

  /** a call whose answer does not matter beyond its status */
  async ok(method: string, path: string, o: CallOptions = {}): Promise<void> {
    const res = await this.call(method, path, o);
    try {
      await readAll(res.body);
    } finally {
      res.conn.close();
    }
  }

  /** a streamed answer; the connection closes when the caller stops reading */
  async stream(method: string, path: string, o: CallOptions = {}): Promise<{ res: HttpResponse; body: AsyncGenerator<Uint8Array> }> {
    const res = await this.call(method, path, o);
    const body = (async function* () {
      try {
        yield* res.body;
      } finally {
        res.conn.close();
      }
    })();
    return { res, body };
  }
}
