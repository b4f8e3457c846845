/**
 * A small HTTP/1.1 server over a stream socket (node:net or node:tls), because the Engine API needs what
 * Bun.serve cannot give: taking a connection over after the response head (attach and exec start's
 * `101 UPGRADED` hijack) with half-close (the client's CloseWrite is the container's end of stdin).
 *
 * One request at a time per connection (keep-alive, no pipelining of responses): the head is parsed
 * with limits (431 for an oversized head, 400 for a malformed one, then the connection closes), the
 * body is streamed (Content-Length or chunked) and what the handler left unread is drained before the
 * next request. A handler never sees the socket: it gets a RawRequest and answers through a Responder.
 */
import type { Socket } from "node:net";

/** request line + headers, at most this many bytes (dockerd's Go server: 1 MiB; nginx: 8 KiB per line) */
const MAX_HEAD = 64 * 1024;
const MAX_HEADERS = 200;
/** a socket's input buffered beyond this pauses it until the handler reads */
const HIGH_WATER = 1 << 20;

export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** pull-based reading of a socket's input: chunks as they come, null at the client's end of input */
export class SocketReader {
  private chunks: Buffer[] = [];
  private buffered = 0;
  private ended = false;
  private waiter?: () => void;

  constructor(private readonly sock: Socket) {
    sock.on("data", (b: Buffer) => {
      this.chunks.push(b);
      this.buffered += b.length;
      if (this.buffered > HIGH_WATER) sock.pause();
      this.wake();
    });
    sock.on("end", () => {
      this.ended = true;
      this.wake();
    });
    sock.on("close", () => {
      this.ended = true;
      this.wake();
    });
  }

  get atEnd(): boolean {
    return this.ended && this.chunks.length === 0;
  }

  /** the client sent FIN (or the socket closed) */
  get inputEnded(): boolean {
    return this.ended;
  }

  private wake() {
    const w = this.waiter;
    this.waiter = undefined;
    w?.();
  }

  /** resolves when input arrives or ends (for watchers that must not consume) */
  waitInput(): Promise<void> {
    if (this.chunks.length || this.ended) return Promise.resolve();
    return new Promise((r) => (this.waiter = r));
  }

  async read(): Promise<Buffer | null> {
    for (;;) {
      const c = this.chunks.shift();
      if (c) {
        this.buffered -= c.length;
        if (this.buffered <= HIGH_WATER / 2 && this.sock.isPaused()) this.sock.resume();
        return c;
      }
      if (this.ended) return null;
      await new Promise<void>((r) => (this.waiter = r));
    }
  }

  unshift(b: Buffer) {
    if (b.length === 0) return;
    this.chunks.unshift(b);
    this.buffered += b.length;
  }

  /** exactly up to `n` bytes (fewer only at the end of input) */
  async readUpTo(n: number): Promise<Buffer | null> {
    const c = await this.read();
    if (!c) return null;
    if (c.length <= n) return c;
    this.unshift(c.subarray(n));
    return c.subarray(0, n);
  }

  /** a line ending in CRLF (without it); 400 past `limit` bytes or at a premature end */
  async readLine(limit: number): Promise<string> {
    let acc: Buffer = Buffer.alloc(0);
    for (;;) {
      const c = await this.read();
      if (!c) throw new HttpError(400, "unexpected end of request");
      acc = acc.length ? Buffer.concat([acc, c]) : c;
      const i = acc.indexOf("\r\n");
      if (i >= 0) {
        this.unshift(acc.subarray(i + 2));
        return acc.subarray(0, i).toString("latin1");
      }
      if (acc.length > limit) throw new HttpError(400, "line too long");
    }
  }
}

export interface RawRequest {
  method: string;
  /** the request target as sent (path and query) */
  target: string;
  httpVersion: "1.0" | "1.1";
  /** lower-cased names; repeated headers joined with ", " */
  headers: Record<string, string>;
}

/** read one request head; null when the client closed between requests */
export async function readHead(r: SocketReader): Promise<RawRequest | null> {
  let acc: Buffer = Buffer.alloc(0);
  for (;;) {
    const c = await r.read();
    if (!c) {
      if (acc.length === 0) return null;
      throw new HttpError(400, "unexpected end of request head");
    }
    acc = acc.length ? Buffer.concat([acc, c]) : c;
    // tolerate blank lines before a request (RFC 9112 §2.2)
    while (acc.length >= 2 && acc[0] === 13 && acc[1] === 10) acc = acc.subarray(2);
    const end = acc.indexOf("\r\n\r\n");
    if (end < 0) {
      if (acc.length > MAX_HEAD) throw new HttpError(431, "request header fields too large");
      continue;
    }
    if (end > MAX_HEAD) throw new HttpError(431, "request header fields too large");
    r.unshift(acc.subarray(end + 4));
    return parseHead(acc.subarray(0, end).toString("latin1"));
  }
}

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

export function parseHead(text: string): RawRequest {
  const lines = text.split("\r\n");
  const m = /^([A-Z]+) (\S+) HTTP\/(1\.[01])$/.exec(lines[0] ?? "");
  if (!m) throw new HttpError(400, "malformed request line");
  if (lines.length - 1 > MAX_HEADERS) throw new HttpError(431, "too many header fields");
  const headers: Record<string, string> = {};
  for (const line of lines.slice(1)) {
    const i = line.indexOf(":");
    if (i <= 0) throw new HttpError(400, "malformed header line");
    const name = line.slice(0, i);
    if (!TOKEN.test(name)) throw new HttpError(400, "malformed header name");
    const key = name.toLowerCase();
    const value = line.slice(i + 1).trim();
    headers[key] = key in headers ? `${headers[key]}, ${value}` : value;
  }
  if (!m[2]!.startsWith("/")) throw new HttpError(400, "request target must be a path");
  return { method: m[1]!, target: m[2]!, httpVersion: m[3] as "1.0" | "1.1", headers };
}

/**
 * The request body as it arrives: `Content-Length` bytes, or chunked (trailers skipped), or nothing.
 * 400 on a malformed framing; the iterator ends at the body's end, never reads past it.
 */
export function bodyReader(r: SocketReader, headers: Record<string, string>): { iter: AsyncIterable<Uint8Array>; done(): boolean } {
  const te = (headers["transfer-encoding"] ?? "").toLowerCase();
  const clText = headers["content-length"];
  let finished = false;
  if (te && te !== "identity") {
    if (!te.split(",").some((t) => t.trim() === "chunked")) throw new HttpError(400, `unsupported transfer encoding "${te}"`);
    const iter = (async function* () {
      for (;;) {
        const line = await r.readLine(4096);
        const size = Number.parseInt(line.split(";")[0]!.trim(), 16);
        if (!Number.isFinite(size) || size < 0 || !/^[0-9a-fA-F]+$/.test(line.split(";")[0]!.trim())) throw new HttpError(400, "malformed chunk size");
        if (size === 0) {
          // trailers, up to the blank line
          while ((await r.readLine(8192)) !== "");
          finished = true;
          return;
        }
        let left = size;
        while (left > 0) {
          const c = await r.readUpTo(left);
          if (!c) throw new HttpError(400, "unexpected end of chunked body");
          left -= c.length;
          yield c;
        }
        if ((await r.readLine(16)) !== "") throw new HttpError(400, "malformed chunk end");
      }
    })();
    return { iter, done: () => finished };
  }
  if (clText !== undefined) {
    if (!/^\d+$/.test(clText.trim())) throw new HttpError(400, "malformed Content-Length");
    let left = Number(clText.trim());
    if (!Number.isSafeInteger(left)) throw new HttpError(400, "malformed Content-Length");
    if (left === 0) finished = true;
    const iter = (async function* () {
      while (left > 0) {
        const c = await r.readUpTo(left);
        if (!c) throw new HttpError(400, "unexpected end of request body");
        left -= c.length;
        if (left === 0) finished = true;
        yield c;
      }
      finished = true;
    })();
    return { iter, done: () => finished };
  }
  finished = true;
  return { iter: (async function* () {})(), done: () => true };
}

const REASONS: Record<number, string> = {
  100: "Continue",
  101: "UPGRADED",
  200: "OK",
  201: "Created",
  204: "No Content",
  206: "Partial Content",
  304: "Not Modified",
  400: "Bad Request",
  401: "Unauthorized",
  403: "Forbidden",
  404: "Not Found",
  405: "Method Not Allowed",
  406: "Not Acceptable",
  409: "Conflict",
  411: "Length Required",
  413: "Payload Too Large",
  431: "Request Header Fields Too Large",
  499: "Client Closed Request",
  500: "Internal Server Error",
  501: "Not Implemented",
  503: "Service Unavailable",
};

export function statusLine(status: number): string {
  return `HTTP/1.1 ${status} ${REASONS[status] ?? "Status"}\r\n`;
}

/** write with backpressure: resolves once the socket took it (or failed: the close handler aborts the request) */
export function writeAll(sock: Socket, b: Uint8Array | string): Promise<void> {
  if (sock.destroyed || !sock.writable) return Promise.resolve();
  return new Promise((resolve) => {
    const ok = sock.write(b, () => resolve());
    // the callback fires when flushed; don't wait for the kernel when the buffer is not full
    if (ok) resolve();
  });
}

export function headBytes(status: number, headers: Record<string, string>): string {
  let s = statusLine(status);
  for (const [k, v] of Object.entries(headers)) s += `${k}: ${v}\r\n`;
  return s + "\r\n";
}
