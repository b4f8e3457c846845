/**
 * HTTP/1.1 over any byte stream (a unix or tcp socket, TLS, or an ssh child's stdin/stdout): the client
 * side of the Docker Engine API. One request per connection (`Connection: close`), as the API needs
 * nothing more: a body is Content-Length, chunked or read to the close. A hijacked request (attach,
 * exec start: `Upgrade: tcp`, 101) hands back the raw connection after the headers.
 */
import { EngineError } from "../lib/errors.ts";

/** a bidirectional byte stream; `closeWrite` half-closes (the far side reads EOF, we keep reading) */
export interface Conn {
  write(b: Uint8Array | string): Promise<void>;
  closeWrite(): void;
  close(): void;
  chunks: AsyncIterator<Uint8Array>;
}

const enc = new TextEncoder();
const dec = new TextDecoder();

/** buffered reads over a connection's chunks: lines for the head, exact counts for bodies */
export class Reader {
  private buf = new Uint8Array(0);
  private done = false;
  constructor(private readonly it: AsyncIterator<Uint8Array>) {}

  private async fill(): Promise<boolean> {
    if (this.done) return false;
    const r = await this.it.next();
    if (r.done) {
      this.done = true;
      return false;
    }
    const next = new Uint8Array(this.buf.length + r.value.length);
    next.set(this.buf);
    next.set(r.value, this.buf.length);
    this.buf = next;
    return true;
  }

  /** one CRLF-terminated line without its CRLF; undefined at EOF before any byte */
  async line(): Promise<string | undefined> {
    for (;;) {
      const i = this.buf.indexOf(10);
      if (i >= 0) {
        const end = i > 0 && this.buf[i - 1] === 13 ? i - 1 : i;
        const s = dec.decode(this.buf.subarray(0, end));
        this.buf = this.buf.subarray(i + 1);
        return s;
      }
      if (!(await this.fill())) {
        if (this.buf.length === 0) return undefined;
        const s = dec.decode(this.buf);
        this.buf = new Uint8Array(0);
        return s;
      }
    }
  }

  /** up to `max` bytes, whatever is buffered or arrives next; undefined at EOF */
  async some(max = Infinity): Promise<Uint8Array | undefined> {
    if (this.buf.length === 0 && !(await this.fill())) return undefined;
    const n = Math.min(max, this.buf.length);
    const out = this.buf.subarray(0, n);
    this.buf = this.buf.subarray(n);
    return out;
  }

  /** exactly n bytes; a short read is an error (the connection broke mid-message) */
  async exact(n: number): Promise<Uint8Array> {
    while (this.buf.length < n) {
      if (!(await this.fill())) throw new EngineError("unavailable", "the daemon closed the connection in the middle of a response");
    }
    const out = this.buf.slice(0, n);
    this.buf = this.buf.subarray(n);
    return out;
  }

  /** everything left, as it comes */
  async *rest(): AsyncGenerator<Uint8Array> {
    for (;;) {
      const b = await this.some();
      if (!b) return;
      yield b;
    }
  }
}

export interface HttpRequest {
  method: string;
  path: string;
  headers?: Record<string, string>;
  body?: Uint8Array | string | AsyncIterable<Uint8Array>;
  /** `Upgrade: tcp`: the connection becomes the stream after the response head */
  hijack?: boolean;
}

export interface HttpResponse {
  status: number;
  statusText: string;
  /** lower-cased names */
  headers: Record<string, string>;
  /** the decoded body; for a hijacked response, the raw rest of the connection */
  body: AsyncIterable<Uint8Array>;
  reader: Reader;
  conn: Conn;
}

/** send `req` on `conn` and read the response head; the body streams from the returned iterable */
export async function roundTrip(conn: Conn, req: HttpRequest, hostHeader: string): Promise<HttpResponse> {
  const h: Record<string, string> = { Host: hostHeader, ...req.headers };
  if (req.hijack) {
    h.Connection = "Upgrade";
    h.Upgrade = "tcp";
  } else h.Connection = "close";
  const body = req.body;
  const streamed = body !== undefined && typeof body !== "string" && !(body instanceof Uint8Array);
  const bytes = typeof body === "string" ? enc.encode(body) : body instanceof Uint8Array ? body : undefined;
  if (bytes) h["Content-Length"] = String(bytes.length);
  else if (streamed) h["Transfer-Encoding"] = "chunked";
  else if (req.method === "POST" || req.method === "PUT") h["Content-Length"] = "0";
  let head = `${req.method} ${req.path} HTTP/1.1\r\n`;
  for (const [k, v] of Object.entries(h)) head += `${k}: ${v}\r\n`;
  await conn.write(head + "\r\n");
  const reader = new Reader(conn.chunks);
  // the response can come before the whole body is sent (an error answered early); read it alongside
  const sending = (async () => {
    if (bytes?.length) await conn.write(bytes);
    else if (streamed) {
      for await (const chunk of body as AsyncIterable<Uint8Array>) {
        if (chunk.length === 0) continue;
        await conn.write(`${chunk.length.toString(16)}\r\n`);
        await conn.write(chunk);
        await conn.write("\r\n");
      }
      await conn.write("0\r\n\r\n");
    }
  })();
  let sendError: unknown;
  const sent = sending.catch((e) => {
    sendError = e; // reported only if the daemon answered nothing (else its answer says more)
  });
  const status = await reader.line();
  if (status === undefined) {
    await sent;
    throw new EngineError("unavailable", `the daemon closed the connection without answering ${req.method} ${req.path}`, { cause: sendError });
  }
  const m = /^HTTP\/1\.[01] (\d{3}) ?(.*)$/.exec(status);
  if (!m) throw new EngineError("unavailable", `not an HTTP response from the daemon: ${JSON.stringify(status.slice(0, 80))}`);
  const headers: Record<string, string> = {};
  for (;;) {
    const l = await reader.line();
    if (l === undefined || l === "") break;
    const c = l.indexOf(":");
    if (c > 0) headers[l.slice(0, c).trim().toLowerCase()] = l.slice(c + 1).trim();
  }
  const code = Number(m[1]);
  if (!streamed) await sent;
  const upgraded = req.hijack && (code === 101 || (code === 200 && !headers["content-length"] && !headers["transfer-encoding"]));
  const out: HttpResponse = { status: code, statusText: m[2] ?? "", headers, reader, conn, body: empty() };
  if (upgraded) out.body = reader.rest();
  else if (req.method === "HEAD" || code === 204 || code === 304) out.body = empty();
  else if (/chunked/i.test(headers["transfer-encoding"] ?? "")) out.body = chunked(reader);
  else if (headers["content-length"] !== undefined) out.body = counted(reader, Number(headers["content-length"]));
  else out.body = reader.rest();
  return out;
}

async function* empty(): AsyncGenerator<Uint8Array> {}

async function* counted(r: Reader, n: number): AsyncGenerator<Uint8Array> {
  while (n > 0) {
    const b = await r.some(n);
    if (!b) throw new EngineError("unavailable", "the daemon closed the connection in the middle of a response");
    n -= b.length;
    yield b;
  }
}

async function* chunked(r: Reader): AsyncGenerator<Uint8Array> {
  for (;;) {
    const sizeLine = await r.line();
    if (sizeLine === undefined) throw new EngineError("unavailable", "the daemon closed the connection in the middle of a response");
    const size = parseInt(sizeLine.split(";")[0]!.trim(), 16);
    if (!Number.isFinite(size)) throw new EngineError("unavailable", `bad chunk size from the daemon: ${JSON.stringify(sizeLine.slice(0, 40))}`);
    if (size === 0) {
      // trailers, then the empty line
      for (;;) {
        const l = await r.line();
        if (l === undefined || l === "") return;
      }
    }
    let left = size;
    while (left > 0) {
      const b = await r.some(left);
      if (!b) throw new EngineError("unavailable", "the daemon closed the connection in the middle of a response");
      left -= b.length;
      yield b;
    }
    await r.line();
  }
}

/** the whole body as bytes */
export async function readAll(body: AsyncIterable<Uint8Array>): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  let n = 0;
  for await (const b of body) {
    parts.push(b);
    n += b.length;
  }
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** newline-delimited JSON objects from a body (docker's progress and event streams) */
export async function* ndjson<T = Record<string, unknown>>(body: AsyncIterable<Uint8Array>): AsyncGenerator<T> {
  let pending = "";
  const d = new TextDecoder();
  for await (const b of body) {
    pending += d.decode(b, { stream: true });
    let i: number;
    while ((i = pending.indexOf("\n")) >= 0) {
      const line = pending.slice(0, i).trim();
      pending = pending.slice(i + 1);
      if (line) yield JSON.parse(line) as T;
    }
    // docker's streams may also put objects back to back without newlines (the build's json stream)
    while (pending.trim().startsWith("{")) {
      const end = completeObject(pending);
      if (end < 0) break;
      yield JSON.parse(pending.slice(0, end)) as T;
      pending = pending.slice(end);
    }
  }
  if (pending.trim()) yield JSON.parse(pending) as T;
}

/** the end of the first complete JSON object in s (after leading spaces), or -1 */
function completeObject(s: string): number {
  let depth = 0;
  let inStr = false;
  let esc = false;
  let started = false;
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (inStr) {
      if (esc) esc = false;
      else if (c === "\\") esc = true;
      else if (c === '"') inStr = false;
      continue;
    }
    if (c === '"') inStr = true;
    else if (c === "{") {
      depth++;
      started = true;
    } else if (c === "}") {
      depth--;
      if (started && depth === 0) return i + 1;
    }
  }
  return -1;
}

/**
 * docker's multiplexed stream (attach and exec without a TTY, logs): an 8-byte header [stream, 0, 0, 0,
 * length u32 BE] before each payload. Yields (stream, payload); stream 0 is stdin, 1 stdout, 2 stderr,
 * 3 the daemon's own error text (systemerr).
 */
export async function* demux(body: AsyncIterable<Uint8Array>): AsyncGenerator<[number, Uint8Array]> {
  const r = new Reader(body[Symbol.asyncIterator]());
  for (;;) {
    const first = await r.some(8);
    if (!first) return;
    const head = first.length === 8 ? first : concat(first, await r.exact(8 - first.length));
    const n = new DataView(head.buffer, head.byteOffset, 8).getUint32(4);
    let left = n;
    while (left > 0) {
      const b = await r.some(left);
      if (!b) return;
      left -= b.length;
      yield [head[0]!, b];
    }
  }
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}
