/**
 * What the image, build, network and volume routes share: docker's query booleans and filters, the
 * X-Registry-Auth header, the registries' insecure list, and streamed answers (JSON messages, tar bytes)
 * produced by an engine call while the client reads them.
 */
import { EngineError } from "../../lib/errors.ts";
import { Filters, insecureRegistries, type Engine, type JSONMessage } from "../../engine/index.ts";
import type { ApiRequest } from "../types.ts";

/** docker's boolValue: absent → `def`; "", "0", "no", "false", "none" → false; anything else → true */
export function queryBool(q: URLSearchParams, name: string, def = false): boolean {
  const v = q.get(name);
  if (v === null) return def;
  return !["", "0", "no", "false", "none"].includes(v.trim().toLowerCase());
}

/** `?filters=` as docker sends it ({"k":{"v":true}} or the old {"k":["v"]}); 400 on bad JSON */
export function queryFilters(q: URLSearchParams): Filters {
  return Filters.fromJSON(q.get("filters") ?? "");
}

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

/** the registries spoken to over plain HTTP: the engine's settings, the root's daemon.json, the environment */
export async function insecureOf(engine: Engine): Promise<string[]> {
  return [...engine.insecureRegistries, ...(await insecureRegistries(engine.root, process.env))];
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
 * Run `produce` and stream what it writes. The answer waits for the first chunk: an error before it is
 * thrown (the server answers docker's status and {"message"}); an error after it ends the stream with
 * `errorChunk(e)`, or, without one, breaks the stream (a tar cut short). `write` resolves when the
 * client has taken the chunk or the queue is short (backpressure); it rejects once the client is gone,
 * which stops a producer that awaits it.
 */
export async function startStream(
  produce: (write: (chunk: Uint8Array | string) => Promise<void>) => Promise<void>,
  o: { signal: AbortSignal; errorChunk?: (e: unknown) => string; highWater?: number },
): Promise<AsyncIterable<Uint8Array | string>> {
  const high = o.highWater ?? 16;
  const queue: (Uint8Array | string)[] = [];
  let finished = false;
  let failure: { e: unknown } | undefined;
  let wakeReader: (() => void) | undefined;
  let writers: (() => void)[] = [];
  const wakeWriters = () => {
    const w = writers;
    writers = [];
    for (const f of w) f();
  };
  let first: (() => void) | undefined;
  const firstSeen = new Promise<void>((r) => (first = r));
  const gone = () => new EngineError("cancelled", "the client went away");
  const write = async (chunk: Uint8Array | string) => {
    if (o.signal.aborted) throw gone();
    queue.push(chunk);
    first?.();
    wakeReader?.();
    while (queue.length >= high && !o.signal.aborted) await new Promise<void>((r) => writers.push(r));
    if (o.signal.aborted) throw gone();
  };
  o.signal.addEventListener("abort", wakeWriters, { once: true });
  const done = produce(write).then(
    () => {
      finished = true;
    },
    (e) => {
      finished = true;
      failure = { e };
    },
  );
  void done.then(() => {
    first?.();
    wakeReader?.();
  });
  await firstSeen;
  first = undefined;
  if (failure && queue.length === 0) throw failure.e;
  return {
    async *[Symbol.asyncIterator]() {
      for (;;) {
        if (queue.length) {
          const batch = queue.splice(0);
          wakeWriters();
          for (const c of batch) yield c;
          continue;
        }
        if (finished) break;
        await new Promise<void>((r) => (wakeReader = r));
        wakeReader = undefined;
      }
      if (failure) {
        if (failure.e instanceof EngineError && failure.e.kind === "cancelled") return;
        if (!o.errorChunk) throw failure.e;
        yield o.errorChunk(failure.e);
      }
    },
  };
}

/** an async iterable as the ReadableStream some engine calls take */
export function readableOf(body: AsyncIterable<Uint8Array>): ReadableStream<Uint8Array> {
  const it = body[Symbol.asyncIterator]();
  return new ReadableStream<Uint8Array>(
    {
      async pull(c) {
        const r = await it.next();
        if (r.done) c.close();
        else c.enqueue(r.value);
      },
      async cancel() {
        await it.return?.();
      },
    },
    { highWaterMark: 0 },
  );
}
