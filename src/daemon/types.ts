/**
 * src/daemon — the Docker Engine API front door (issue 12). Like src/commands it is a client of the
 * engine's public module (src/engine/index.ts) and of nothing below it.
 *
 * This file is the contract between the HTTP server (server.ts: listeners, HTTP/1.1, version
 * negotiation, errors, hijack) and the route modules (routes/*.ts). A route module exports
 * `routes: Route[]`; a handler gets a parsed request and returns one of the response shapes below, or
 * throws an EngineError, which the server maps to docker's status and `{"message": …}` body
 * (src/lib/errors.ts lists the kinds and their statuses).
 */
import type { Engine } from "../engine/index.ts";
import type { DaemonConfig } from "../lib/daemon-config.ts";

export interface ApiRequest {
  method: string;
  /** the path without the `/v1.xx` prefix, e.g. `/containers/abc/json` */
  path: string;
  /** `{name}` segments of the route's pattern, URI-decoded */
  params: Record<string, string>;
  query: URLSearchParams;
  /** lower-cased header names */
  headers: Record<string, string>;
  /** the negotiated API version of this request, e.g. "1.43" (the prefix, else the server's default) */
  version: string;
  /** the request body as it arrives (chunked or Content-Length), bounded by nothing: stream it */
  body(): AsyncIterable<Uint8Array>;
  /** the whole body parsed as JSON (an empty body is `undefined`); limited in size, 400 on bad JSON */
  json<T = unknown>(): Promise<T | undefined>;
  /** aborted when the client goes away; long handlers (follow, events, pulls) must stop and free */
  signal: AbortSignal;
}

/** the hijacked connection of attach and exec start, after the server sent 101 (or 200) and the headers */
export interface HijackedConn {
  /** what the client writes: stdin; ends when the client half-closes (CloseWrite) or goes away */
  input: AsyncIterable<Uint8Array>;
  write(b: Uint8Array): void | Promise<void>;
  /** closes the connection (the client sees EOF) */
  end(): void;
  signal: AbortSignal;
}

export type ApiResponse =
  /** a JSON document (`application/json`); status defaults to 200 */
  | { status?: number; json: unknown; headers?: Record<string, string> }
  /** no body: 204, 304, or 200/201 with nothing to say */
  | { status: number; empty: true; headers?: Record<string, string> }
  /** a plain body (e.g. `OK` for /_ping), `text/plain` unless contentType says otherwise */
  | { status?: number; text: string; contentType?: string; headers?: Record<string, string> }
  /**
   * a streamed body, sent chunked as it is produced (NDJSON progress, logs, tar archives, events).
   * Strings are UTF-8 encoded. The server stops pulling when the client goes away.
   */
  | { status?: number; stream: AsyncIterable<Uint8Array | string>; contentType: string; headers?: Record<string, string> }
  /**
   * the connection is taken over (attach, exec start): the server answers `101 UPGRADED` when the
   * client asked for `Upgrade: tcp`, else 200, with this content type
   * (`application/vnd.docker.raw-stream` or `application/vnd.docker.multiplexed-stream`), then calls run.
   */
  | { hijack: (conn: HijackedConn) => Promise<void>; contentType: string };

export interface DaemonContext {
  engine: Engine;
  /** the daemon runs with --debug (`/info`'s Debug) */
  debug?: boolean;
  /** the daemon's config file (docker's daemon.json keys berth applies), reloaded on SIGHUP */
  daemon?: DaemonConfig;
  /** the server's API version range */
  minVersion: string;
  maxVersion: string;
}

export interface Route {
  method: "GET" | "HEAD" | "POST" | "PUT" | "DELETE";
  /** docker's path with `{name}` segments, e.g. `/containers/{id}/json`; `{name*}` takes the rest (image names with slashes) */
  path: string;
  handler(req: ApiRequest, ctx: DaemonContext): Promise<ApiResponse> | ApiResponse;
}

/** docker's 8-byte multiplexed-stream frame header: [stream, 0, 0, 0, length BE u32] then the payload */
export function frame(stream: 0 | 1 | 2 | 3, payload: Uint8Array): Uint8Array {
  const out = new Uint8Array(8 + payload.length);
  out[0] = stream;
  new DataView(out.buffer).setUint32(4, payload.length);
  out.set(payload, 8);
  return out;
}
