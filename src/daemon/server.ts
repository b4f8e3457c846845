/**
 * The Engine API server: connections (http.ts) → version prefix → route → handler → response, with
 * docker's error statuses and bodies, the 101 hijack of attach and exec start, and a drain for SIGTERM.
 *
 * Versions as dockerd negotiates them: `/v1.NN/…` between MIN and MAX, a path without a prefix is the
 * newest; `/_ping` answers `API-Version` so the client picks min(its max, ours).
 */
import type { Socket } from "node:net";
import { EngineError, type ErrorKind } from "../lib/errors.ts";
import { ENGINE_MAX_API, ENGINE_MIN_API, VERSION } from "../version.ts";
import { bodyReader, headBytes, HttpError, readHead, SocketReader, writeAll, type RawRequest } from "./http.ts";
import type { ApiRequest, ApiResponse, DaemonContext, HijackedConn, Route } from "./types.ts";
import type { Logger } from "../lib/log.ts";

export const MIN_API_VERSION = ENGINE_MIN_API;
export const MAX_API_VERSION = ENGINE_MAX_API;
/** a JSON request body larger than this is refused (a create or update body is a few KiB) */
const MAX_JSON_BODY = 16 << 20;

const STATUS: Record<ErrorKind, number> = {
  not_found: 404,
  already_exists: 409,
  conflict: 409,
  invalid_argument: 400,
  failed_precondition: 409,
  permission_denied: 403,
  unauthorized: 401,
  unavailable: 503,
  not_implemented: 501,
  cancelled: 499,
  internal: 500,
};

export function statusOf(e: unknown): number {
  if (e instanceof HttpError) return e.status;
  if (e instanceof EngineError) return STATUS[e.kind];
  return 500;
}

/** "1.41" < "1.9"? no: compare as numbers per part */
export function compareVersions(a: string, b: string): number {
  const [am, an] = a.split(".").map(Number);
  const [bm, bn] = b.split(".").map(Number);
  return am! - bm! || an! - bn!;
}

interface CompiledRoute {
  route: Route;
  re: RegExp;
  names: string[];
  literal: number;
}

function compile(route: Route): CompiledRoute {
  const names: string[] = [];
  let literal = 0;
  const src = route.path
    .split("/")
    .map((seg) => {
      const m = /^\{(\w+)(\*?)\}$/.exec(seg);
      if (!m) {
        literal += seg.length;
        return seg.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
      }
      names.push(m[1]!);
      return m[2] ? "(.+)" : "([^/]+)";
    })
    .join("/");
  return { route, re: new RegExp(`^${src}$`), names, literal };
}

export class Router {
  private readonly byMethod = new Map<string, CompiledRoute[]>();

  constructor(routes: Route[]) {
    for (const r of routes) {
      const list = this.byMethod.get(r.method) ?? [];
      list.push(compile(r));
      this.byMethod.set(r.method, list);
    }
    // literal paths first (`/containers/json` before `/containers/{id}/json`), then the longer literal part
    for (const list of this.byMethod.values()) list.sort((a, b) => a.names.length - b.names.length || b.literal - a.literal);
  }

  match(method: string, path: string): { route: Route; params: Record<string, string> } | undefined {
    for (const c of this.byMethod.get(method) ?? []) {
      const m = c.re.exec(path);
      if (!m) continue;
      const params: Record<string, string> = {};
      try {
        c.names.forEach((n, i) => (params[n] = decodeURIComponent(m[i + 1]!)));
      } catch {
        throw new HttpError(400, "malformed percent-encoding in the path");
      }
      return { route: c.route, params };
    }
    return undefined;
  }
}

export interface ServerOptions {
  ctx: DaemonContext;
  routes: Route[];
  log: Logger;
  /**
   * how long a connection may take to send a whole request head, idle keep-alive time included; then it
   * is closed, so clients that connect and never finish a request cannot hold the daemon's fds (dockerd's
   * ReadHeaderTimeout); default 5 minutes
   */
  headTimeoutMs?: number;
}

/** the headers dockerd puts on every response */
function commonHeaders(): Record<string, string> {
  return { "Api-Version": MAX_API_VERSION, "Docker-Experimental": "false", Ostype: "linux", Server: `Docker/${VERSION} (linux)` };
}

interface ConnState {
  sock: Socket;
  /** a request is being handled (not idle between keep-alive requests) */
  busy: boolean;
  /** its response is a stream or a hijacked connection (follow, events, attach): a drain ends it at once */
  streaming?: boolean;
  abort?: AbortController;
}

export class ApiServer {
  private readonly router: Router;
  private readonly conns = new Set<ConnState>();
  private draining = false;

  constructor(private readonly o: ServerOptions) {
    this.router = new Router(o.routes);
  }

  get connectionCount(): number {
    return this.conns.size;
  }

  /** serve one accepted connection until it closes */
  handleConnection(sock: Socket): void {
    const st: ConnState = { sock, busy: false };
    this.conns.add(st);
    sock.setNoDelay?.(true);
    sock.on("error", () => {
      // a reset or broken pipe: the close handler below aborts what the connection held
    });
    sock.on("close", () => {
      this.conns.delete(st);
      st.abort?.abort();
    });
    void this.loop(st).catch((e) => {
      this.o.log.debug(`connection: ${(e as Error).message}`);
      sock.destroy();
    });
  }

  /** SIGTERM: idle connections close now, streams are aborted, the others get `graceMs` to finish */
  async drain(graceMs: number): Promise<void> {
    this.draining = true;
    const end = Date.now() + graceMs;
    while (this.conns.size && Date.now() < end) {
      for (const c of this.conns) {
        if (c.busy && !c.streaming) continue;
        c.abort?.abort();
        c.sock.destroy();
      }
      await Bun.sleep(20);
    }
    for (const c of this.conns) {
      c.abort?.abort();
      c.sock.destroy();
    }
  }

  private async loop(st: ConnState): Promise<void> {
    const { sock } = st;
    const reader = new SocketReader(sock);
    for (;;) {
      let raw: RawRequest | null;
      const timer = setTimeout(() => sock.destroy(), this.o.headTimeoutMs ?? 300_000);
      timer.unref();
      try {
        raw = await readHead(reader);
      } catch (e) {
        await this.fail(sock, e);
        return;
      } finally {
        clearTimeout(timer);
      }
      if (!raw) {
        sock.end();
        return;
      }
      st.busy = true;
      const keep = await this.serve(st, reader, raw);
      st.busy = false;
      st.streaming = false;
      st.abort = undefined;
      if (!keep || this.draining || sock.destroyed) {
        if (!sock.destroyed) sock.end();
        return;
      }
    }
  }

  /** a request the server could not parse: its status, `{"message"}`, and the connection closes */
  private async fail(sock: Socket, e: unknown): Promise<void> {
    const status = statusOf(e);
    const body = JSON.stringify({ message: (e as Error).message }) + "\n";
    await writeAll(
      sock,
      headBytes(status, { ...commonHeaders(), "Content-Type": "application/json", "Content-Length": String(Buffer.byteLength(body)), Connection: "close" }) +
        body,
    );
    sock.end();
  }

  /** one request; whether the connection may carry another */
  private async serve(st: ConnState, reader: SocketReader, raw: RawRequest): Promise<boolean> {
    const { sock } = st;
    const abort = new AbortController();
    st.abort = abort;
    // a client that closes its side while a (non-hijacked) request runs is gone, as Go's server sees it
    const onEnd = () => abort.abort();
    sock.on("end", onEnd);
    let keepAlive = raw.httpVersion === "1.1" ? !/\bclose\b/i.test(raw.headers.connection ?? "") : /keep-alive/i.test(raw.headers.connection ?? "");
    let body: ReturnType<typeof bodyReader>;
    try {
      body = bodyReader(reader, raw.headers);
    } catch (e) {
      sock.off("end", onEnd);
      await this.fail(sock, e);
      return false;
    }
    let bodyTaken = false;
    const isHead = raw.method === "HEAD";
    const t0 = performance.now();
    let response: ApiResponse;
    try {
      if (/100-continue/i.test(raw.headers.expect ?? "")) await writeAll(sock, "HTTP/1.1 100 Continue\r\n\r\n");
      const req = this.request(raw, abort.signal, () => {
        if (bodyTaken) throw new HttpError(500, "request body read twice");
        bodyTaken = true;
        return body.iter;
      });
      const m = this.route(raw.method, req.path);
      if (!m) throw new HttpError(404, "page not found");
      req.params = m.params;
      response = await m.route.handler(req, this.o.ctx);
    } catch (e) {
      response = this.errorResponse(e, raw);
    }

    this.o.log.debug(`${raw.method} ${raw.target} → ${"hijack" in response ? "hijack" : (response.status ?? 200)} (${(performance.now() - t0).toFixed(1)} ms)`);
    try {
      if ("hijack" in response) {
        st.streaming = true;
        sock.off("end", onEnd);
        await this.hijack(st, reader, raw, response);
        return false;
      }
      st.streaming = "stream" in response;
      await this.send(sock, response, { isHead, http10: raw.httpVersion === "1.0", keepAlive, signal: abort.signal });
    } catch (e) {
      this.o.log.debug(`${raw.method} ${raw.target}: ${(e as Error).message}`);
      keepAlive = false;
    } finally {
      sock.off("end", onEnd);
      // a stream that stopped because its socket is gone (a reset seen by a write, before the close
      // event): the request's work stops too. The close handler cannot do it once this request is
      // over, and a pull or a log follower would run on for nobody
      if (sock.destroyed && !abort.signal.aborted) abort.abort();
    }
    if (abort.signal.aborted) return false;
    // what the handler left of the body: read it away (a small one) so the next request starts clean
    if (!body.done()) {
      if (bodyTaken) return false;
      try {
        let n = 0;
        for await (const c of body.iter) if ((n += c.length) > 1 << 20) return false;
      } catch {
        return false; // a malformed remainder: the connection cannot carry another request
      }
    }
    return keepAlive && (raw.httpVersion === "1.1" || /keep-alive/i.test(raw.headers.connection ?? ""));
  }

  private route(method: string, path: string) {
    const m = this.router.match(method, path);
    if (m || method !== "HEAD") return m;
    return this.router.match("GET", path); // HEAD of a GET route: its headers, no body
  }

  private request(raw: RawRequest, signal: AbortSignal, takeBody: () => AsyncIterable<Uint8Array>): ApiRequest {
    let url: URL;
    try {
      url = new URL(raw.target, "http://berth");
    } catch {
      throw new HttpError(400, "malformed request target");
    }
    let path = url.pathname;
    let version = MAX_API_VERSION;
    const vm = /^\/v(\d+\.\d+)(\/.*)?$/.exec(path);
    if (vm) {
      version = vm[1]!;
      path = vm[2] ?? "/";
      if (compareVersions(version, MAX_API_VERSION) > 0)
        throw new HttpError(400, `client version ${version} is too new. Maximum supported API version is ${MAX_API_VERSION}`);
      if (compareVersions(version, MIN_API_VERSION) < 0)
        throw new HttpError(
          400,
          `client version ${version} is too old. Minimum supported API version is ${MIN_API_VERSION}, please upgrade your client to a newer version`,
        );
    }
    return {
      method: raw.method,
      path,
      params: {},
      query: url.searchParams,
      headers: raw.headers,
      version,
      body: takeBody,
      json: async <T>() => {
        const chunks: Uint8Array[] = [];
        let n = 0;
        for await (const c of takeBody()) {
          n += c.length;
          if (n > MAX_JSON_BODY) throw new HttpError(400, `request body larger than ${MAX_JSON_BODY} bytes`);
          chunks.push(c);
        }
        const text = Buffer.concat(chunks).toString("utf8").trim();
        if (text === "") return undefined;
        try {
          return JSON.parse(text) as T;
        } catch (e) {
          throw new HttpError(400, `invalid JSON in the request body: ${(e as Error).message}`);
        }
      },
      signal,
    };
  }

  private errorResponse(e: unknown, raw: RawRequest): ApiResponse {
    const status = statusOf(e);
    if (!(e instanceof EngineError) && !(e instanceof HttpError)) {
      this.o.log.error(`${raw.method} ${raw.target}: internal error: ${(e as Error)?.stack ?? String(e)}`);
    } else if (status >= 500) {
      this.o.log.warn(`${raw.method} ${raw.target}: ${(e as Error).message}`);
    } else {
      this.o.log.debug(`${raw.method} ${raw.target}: ${status} ${(e as Error).message}`);
    }
    if (status === 499) return { status, empty: true };
    const message = e instanceof Error ? e.message : String(e);
    return { status, json: { message } };
  }

  private async send(
    sock: Socket,
    r: Exclude<ApiResponse, { hijack: unknown }>,
    o: { isHead: boolean; http10: boolean; keepAlive: boolean; signal: AbortSignal },
  ): Promise<void> {
    const headers: Record<string, string> = { ...commonHeaders() };
    const conn = o.keepAlive ? (o.http10 ? { Connection: "keep-alive" } : {}) : { Connection: "close" };
    if ("stream" in r) {
      const status = r.status ?? 200;
      Object.assign(headers, { "Content-Type": r.contentType }, r.headers ?? {});
      // HTTP/1.0 has no chunked encoding: the body ends with the connection
      if (o.http10) Object.assign(headers, { Connection: "close" });
      else Object.assign(headers, { "Transfer-Encoding": "chunked" }, conn);
      await writeAll(sock, headBytes(status, headers));
      if (o.isHead) {
        if (!o.http10) await writeAll(sock, "0\r\n\r\n");
        return;
      }
      await this.pump(sock, r.stream, o.http10, o.signal);
      return;
    }
    let status: number;
    let payload: Buffer | undefined;
    if ("json" in r) {
      status = r.status ?? 200;
      payload = Buffer.from(JSON.stringify(r.json) + "\n");
      headers["Content-Type"] = "application/json";
    } else if ("text" in r) {
      status = r.status ?? 200;
      payload = Buffer.from(r.text);
      headers["Content-Type"] = r.contentType ?? "text/plain; charset=utf-8";
    } else {
      status = r.status;
    }
    Object.assign(headers, r.headers ?? {}, conn);
    if (status !== 204 && status !== 304 && !(status < 200)) headers["Content-Length"] = String(payload?.length ?? 0);
    await writeAll(sock, headBytes(status, headers));
    if (payload && !o.isHead && status !== 204 && status !== 304) await writeAll(sock, payload);
  }

  /** a streamed body, chunk by chunk with backpressure; stops when the client goes away */
  private async pump(sock: Socket, stream: AsyncIterable<Uint8Array | string>, raw: boolean, signal: AbortSignal): Promise<void> {
    const it = stream[Symbol.asyncIterator]();
    const aborted = new Promise<"aborted">((r) => (signal.aborted ? r("aborted") : signal.addEventListener("abort", () => r("aborted"), { once: true })));
    try {
      for (;;) {
        const next = await Promise.race([it.next(), aborted]);
        if (next === "aborted" || next.done) break;
        const v = typeof next.value === "string" ? Buffer.from(next.value) : next.value;
        if (v.length === 0) continue;
        if (raw) await writeAll(sock, v);
        else {
          sock.cork();
          sock.write(v.length.toString(16) + "\r\n");
          sock.write(v);
          const ok = sock.write("\r\n");
          sock.uncork();
          if (!ok && !sock.destroyed) await drained(sock);
        }
        if (sock.destroyed) break;
      }
    } finally {
      // the generator stops at its next await (handlers also watch the request's signal)
      void Promise.resolve(it.return?.()).catch(() => {}); // a generator failing while it unwinds has nobody to tell
    }
    if (!raw && !signal.aborted && !sock.destroyed) await writeAll(sock, "0\r\n\r\n");
  }

  /** 101 UPGRADED (or 200 without `Upgrade: tcp`), then the handler owns the byte streams */
  private async hijack(st: ConnState, reader: SocketReader, raw: RawRequest, r: Extract<ApiResponse, { hijack: unknown }>): Promise<void> {
    const { sock } = st;
    const upgrade = /\btcp\b/i.test(raw.headers.upgrade ?? "");
    const headers: Record<string, string> = { "Content-Type": r.contentType, ...commonHeaders() };
    if (upgrade) Object.assign(headers, { Connection: "Upgrade", Upgrade: "tcp" });
    await writeAll(sock, headBytes(upgrade ? 101 : 200, headers));
    const ctl = st.abort ?? new AbortController();
    const input: AsyncIterable<Uint8Array> = {
      async *[Symbol.asyncIterator]() {
        for (;;) {
          const c = await reader.read();
          if (!c) return;
          yield c;
        }
      },
    };
    const conn: HijackedConn = {
      input,
      write: (b) => writeAll(sock, b),
      end: () => {
        if (!sock.destroyed) sock.end();
      },
      signal: ctl.signal,
    };
    try {
      await r.hijack(conn);
    } catch (e) {
      // the head is sent: the error can only end the stream (docker writes it as a last line)
      this.o.log.debug(`${raw.method} ${raw.target}: hijacked stream: ${(e as Error).message}`);
      if (!sock.destroyed) await writeAll(sock, `Error: ${(e as Error).message}\n`);
    }
    if (!sock.destroyed) {
      sock.end();
      // a client that keeps its side open after the stream ended: close it after a while
      setTimeout(() => sock.destroy(), 2000).unref();
    }
  }
}

/** the socket took what was queued, or closed */
function drained(sock: Socket): Promise<void> {
  return new Promise<void>((resolve) => {
    const done = () => {
      sock.off("drain", done);
      sock.off("close", done);
      resolve();
    };
    sock.on("drain", done);
    sock.on("close", done);
  });
}
