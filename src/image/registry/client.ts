/**
 * A registry v2 API client for one repository (distribution docs/spec/api.md, OCI distribution-spec).
 * Auth: a request that gets 401 reads the challenge; Bearer → token from the realm (cached per scope
 * until its expiry), Basic → the stored credentials; then it is sent once more. Only idempotent
 * requests (GET, HEAD, and PUT/PATCH with a re-sendable body before any byte was accepted) are retried
 * on a dropped connection, 429 or 5xx, with backoff. Redirects are followed by hand so that the
 * Authorization header never travels to another host (blob storage behind a redirect).
 */
import { EngineError, type ErrorKind } from "../../lib/errors.ts";
import type { Digest } from "../../oci/index.ts";
import { basicHeader, parseChallenges, type Challenge, type Credentials } from "./auth.ts";
import type { RegistryEndpoint } from "./endpoint.ts";
import { ACCEPT_MANIFESTS, MANIFEST_MAX } from "./manifest.ts";

type Body = RequestInit["body"];
export type FetchFn = (url: string, init: RequestInit) => Promise<Response>;

export interface ClientOptions {
  credentials?: Credentials;
  /** "pull" or "pull,push" on the client's repository */
  actions?: string;
  fetch?: FetchFn;
  /** attempts for a retriable request (default 4) */
  attempts?: number;
  /** first backoff in ms, doubled per attempt (default 200) */
  backoffMs?: number;
  /**
   * a blob body that sends no byte for this long is dropped and resumed with Range (counted as one of
   * `attempts`); default 30 s (docker's newer pulls also time out a stalled body and resume)
   */
  readTimeoutMs?: number;
  userAgent?: string;
  /**
   * the caller's end (the daemon's client went away): a blob body being read stops at once, not at its
   * read timeout (a fetch's own abort does not always settle a read that waits on a stalled body)
   */
  signal?: AbortSignal;
}

export const DEFAULT_READ_TIMEOUT_MS = 30_000;

/** a body's chunks; a read that waits longer than `ms` cancels the body and throws "no data for …";
 * `signal` aborted: the body is cancelled and CanceledRead thrown */
async function* timedChunks(body: ReadableStream<Uint8Array>, ms: number, signal?: AbortSignal): AsyncGenerator<Uint8Array> {
  const reader = body.getReader();
  const aborted = signal
    ? new Promise<"aborted">((r) => (signal.aborted ? r("aborted") : signal.addEventListener("abort", () => r("aborted"), { once: true })))
    : undefined;
  try {
    for (;;) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const stalled = new Promise<"stalled">((r) => (timer = setTimeout(() => r("stalled"), ms)));
      const got = await Promise.race(aborted ? [reader.read(), stalled, aborted] : [reader.read(), stalled]).finally(() => clearTimeout(timer));
      if (got === "aborted") {
        void reader.cancel().catch(() => {}); // settles the read still pending
        throw new RegistryError("unavailable", "canceled: the client went away", 0);
      }
      if (got === "stalled") {
        // the read still pending is settled by the cancel; the connection is dropped
        void reader.cancel().catch(() => {});
        throw new Error(`no data for ${ms >= 1000 ? `${ms / 1000} s` : `${ms} ms`}`);
      }
      if (got.done) return;
      yield got.value;
    }
  } finally {
    // an early return (an error downstream) releases the body too; a cancel of a finished body is a no-op
    void reader.cancel().catch(() => {});
  }
}

interface CachedToken {
  header: string;
  expires: number;
}

/** a registry error in docker's words: `manifest unknown: manifest unknown` */
export class RegistryError extends EngineError {
  constructor(
    kind: ErrorKind,
    message: string,
    readonly status: number,
    readonly code?: string,
  ) {
    super(kind, message);
  }
}

function kindOf(status: number): ErrorKind {
  if (status === 404) return "not_found";
  if (status === 401 || status === 403) return "permission_denied";
  if (status === 400 || status === 405 || status === 413 || status === 416) return "invalid_argument";
  if (status === 409) return "already_exists";
  return "unavailable";
}

/** read the error document of a failed response: `code lower: message` like docker's errcode */
export async function registryError(res: Response, what: string): Promise<RegistryError> {
  let text = "";
  try {
    text = (await res.text()).slice(0, 64 * 1024);
  } catch {} // the connection broke mid-error: the status alone describes it below
  let detail = "";
  let code: string | undefined;
  try {
    const doc = JSON.parse(text) as { errors?: { code?: string; message?: string }[]; details?: string };
    const e = doc.errors?.[0];
    if (e) {
      code = e.code;
      detail = `${(e.code ?? "unknown").toLowerCase().replace(/_/g, " ")}: ${e.message ?? ""}`.trim();
    } else if (doc.details) detail = doc.details;
  } catch {} // not JSON (a proxy's HTML page): the status describes it below
  if (!detail) {
    detail =
      res.status === 401
        ? "unauthorized: authentication required"
        : res.status === 403
          ? "denied: requested access to the resource is denied"
          : res.status === 404
            ? "not found"
            : res.status === 429
              ? "toomanyrequests: too many requests"
              : `unexpected status ${res.status} ${res.statusText}`.trim();
  }
  return new RegistryError(kindOf(res.status), `${what}: ${detail}`, res.status, code);
}

const RETRIABLE = new Set([408, 429, 500, 502, 503, 504]);

export interface RequestOptions {
  headers?: Record<string, string>;
  /** must be re-sendable (bytes, Blob) if the request may be retried */
  body?: Body;
  /** safe to send again (GET, HEAD, re-sendable PUT) */
  retry?: boolean;
  /** extra token scopes (a mount's source repository) */
  scopes?: string[];
  /** statuses the caller handles itself (not turned into errors) */
  allow?: number[];
  what?: string;
}

export class RegistryClient {
  private tokens = new Map<string, CachedToken>();
  private challenge?: Challenge;
  private readonly fetchFn: FetchFn;
  private readonly attempts: number;
  private readonly backoffMs: number;
  private readonly readTimeoutMs: number;

  constructor(
    readonly endpoint: RegistryEndpoint,
    /** repository path on the registry: library/busybox */
    readonly repo: string,
    private readonly opts: ClientOptions = {},
  ) {
    this.fetchFn = opts.fetch ?? ((u, i) => fetch(u, i));
    this.attempts = opts.attempts ?? 4;
    this.backoffMs = opts.backoffMs ?? 200;
    this.readTimeoutMs = opts.readTimeoutMs ?? DEFAULT_READ_TIMEOUT_MS;
  }

  private scopeFor(extra: string[] = []): string[] {
    // no repository (login): a token without scope, as docker login asks for
    return this.repo ? [`repository:${this.repo}:${this.opts.actions ?? "pull"}`, ...extra] : extra;
  }

  url(path: string): string {
    return new URL(path, this.endpoint.base + "/").toString();
  }

  private cachedAuth(scopes: string[]): string | undefined {
    if (!this.challenge) return undefined;
    if (this.challenge.scheme === "basic") return this.opts.credentials ? basicHeader(this.opts.credentials) : undefined;
    const t = this.tokens.get(scopes.join(" "));
    return t && t.expires > Date.now() ? t.header : undefined;
  }

  /** the token flow of distribution docs/spec/auth/token.md */
  private async fetchToken(ch: Challenge, scopes: string[]): Promise<string> {
    const realm = ch.params.realm;
    if (!realm) throw new RegistryError("permission_denied", `${this.endpoint.domain}: bearer challenge without realm`, 401);
    const u = new URL(realm);
    if (ch.params.service) u.searchParams.set("service", ch.params.service);
    for (const s of scopes) u.searchParams.append("scope", s);
    const headers: Record<string, string> = {};
    const c = this.opts.credentials;
    if (c) {
      const b = basicHeader(c);
      if (b) headers.authorization = b;
    }
    let res: Response;
    try {
      res = await this.fetchFn(u.toString(), { headers, redirect: "follow" });
    } catch (e) {
      throw new RegistryError("unavailable", `get token from ${u.origin}: ${(e as Error).message}`, 0);
    }
    if (!res.ok) {
      const err = await registryError(res, `get token from ${u.origin}`);
      if (res.status === 401) throw new RegistryError("permission_denied", "unauthorized: authentication required", 401, "UNAUTHORIZED");
      throw err;
    }
    let doc: { token?: string; access_token?: string; expires_in?: number; issued_at?: string };
    try {
      doc = (await res.json()) as typeof doc;
    } catch {
      throw new RegistryError("unavailable", `get token from ${u.origin}: invalid json`, res.status);
    }
    const token = doc.token || doc.access_token;
    if (!token) throw new RegistryError("unavailable", `get token from ${u.origin}: no token in response`, res.status);
    // spec: expires_in defaults to 60 s; renew a little early
    const ttl = Math.max(10, doc.expires_in ?? 60);
    const issued = doc.issued_at ? Date.parse(doc.issued_at) : NaN;
    const start = Number.isFinite(issued) && issued <= Date.now() ? issued : Date.now();
    const header = `Bearer ${token}`;
    this.tokens.set(scopes.join(" "), { header, expires: start + (ttl - 5) * 1000 });
    return header;
  }

  private async authorize(res: Response, scopes: string[]): Promise<string | undefined> {
    const chs = parseChallenges(res.headers.get("www-authenticate") ?? "");
    const ch = chs.find((c) => c.scheme === "bearer") ?? chs.find((c) => c.scheme === "basic");
    if (!ch) return undefined;
    this.challenge = ch;
    if (ch.scheme === "basic") return this.opts.credentials ? basicHeader(this.opts.credentials) : undefined;
    return this.fetchToken(ch, scopes);
  }

  /**
   * One API call. `path` is relative to the registry (`/v2/…`) or an absolute URL (an upload
   * Location). Returns the final response when its status is 2xx or in `allow`; otherwise throws
   * RegistryError in the registry's own words.
   */
  async request(method: string, path: string, o: RequestOptions = {}): Promise<Response> {
    const scopes = this.scopeFor(o.scopes);
    const what = o.what ?? `${method} ${path}`;
    let url = this.url(path);
    const origin = new URL(url).origin;
    let authTried = false;
    let redirects = 0;
    for (let attempt = 1; ; attempt++) {
      const headers: Record<string, string> = { "user-agent": this.opts.userAgent ?? "berth", ...o.headers };
      const sameOrigin = new URL(url).origin === origin;
      const auth = sameOrigin ? this.cachedAuth(scopes) : undefined;
      if (auth) headers.authorization = auth;
      let res: Response;
      try {
        res = await this.fetchFn(url, { method, headers, body: o.body ?? null, redirect: "manual" });
      } catch (e) {
        if (o.retry !== false && (o.retry || method === "GET" || method === "HEAD") && attempt < this.attempts) {
          await Bun.sleep(this.backoffMs * 2 ** (attempt - 1));
          continue;
        }
        // Bun appends advice about its own fetch options to socket errors; the user needs the error only
        const msg = (e as Error).message.replace(/\s*For more information, pass .verbose: true.*$/s, "");
        throw new RegistryError("unavailable", `${what}: ${msg}`, 0);
      }
      if (res.status >= 300 && res.status < 400 && res.headers.get("location") && res.status !== 304) {
        if (++redirects > 5) throw new RegistryError("unavailable", `${what}: too many redirects`, res.status);
        await res.body?.cancel().catch(() => {}); // discarding an unread body; a broken connection changes nothing
        url = new URL(res.headers.get("location")!, url).toString();
        attempt--;
        continue;
      }
      if (res.status === 401 && sameOrigin && !authTried) {
        authTried = true;
        await res.body?.cancel().catch(() => {}); // discarding an unread body; a broken connection changes nothing
        const h = await this.authorize(res, scopes);
        if (h || this.challenge) {
          attempt--;
          continue;
        }
        throw new RegistryError("permission_denied", "unauthorized: authentication required", 401, "UNAUTHORIZED");
      }
      if (RETRIABLE.has(res.status) && (o.retry || method === "GET" || method === "HEAD") && o.retry !== false && attempt < this.attempts) {
        await res.body?.cancel().catch(() => {}); // discarding an unread body; a broken connection changes nothing
        const ra = Number(res.headers.get("retry-after"));
        await Bun.sleep(Number.isFinite(ra) && ra > 0 && ra <= 10 ? ra * 1000 : this.backoffMs * 2 ** (attempt - 1));
        continue;
      }
      if (res.ok || o.allow?.includes(res.status)) return res;
      if (res.status === 401) {
        await res.body?.cancel().catch(() => {}); // discarding an unread body; a broken connection changes nothing
        throw new RegistryError("permission_denied", "unauthorized: authentication required", 401, "UNAUTHORIZED");
      }
      throw await registryError(res, what);
    }
  }

  /** GET /v2/: does the registry answer, and do our credentials work (login) */
  async ping(): Promise<void> {
    await this.request("GET", "/v2/", { what: `login to ${this.endpoint.domain}`, scopes: [] });
  }

  /** the manifest bytes (capped at 4 MiB) with its media type and digest */
  async getManifest(reference: string): Promise<{ bytes: Uint8Array; mediaType: string | null; digest: Digest }> {
    const res = await this.request("GET", `/v2/${this.repo}/manifests/${reference}`, {
      headers: { accept: ACCEPT_MANIFESTS },
      what: `manifest for ${this.repo}:${reference}`,
    });
    const len = Number(res.headers.get("content-length"));
    if (Number.isFinite(len) && len > MANIFEST_MAX) {
      await res.body?.cancel().catch(() => {}); // discarding an unread body; a broken connection changes nothing
      throw new RegistryError("invalid_argument", `manifest for ${this.repo}:${reference}: too large (${len} bytes, limit ${MANIFEST_MAX})`, res.status);
    }
    const bytes = await readCapped(res, MANIFEST_MAX, `manifest for ${this.repo}:${reference}`);
    const digest = `sha256:${new Bun.CryptoHasher("sha256").update(bytes).digest("hex")}` as Digest;
    return { bytes, mediaType: res.headers.get("content-type"), digest };
  }

  /** a small blob (config) in memory, verified against its digest */
  async getSmallBlob(digest: Digest, max = MANIFEST_MAX): Promise<Uint8Array> {
    const res = await this.request("GET", `/v2/${this.repo}/blobs/${digest}`, { what: `blob ${digest}` });
    const bytes = await readCapped(res, max, `blob ${digest}`);
    const got = `sha256:${new Bun.CryptoHasher("sha256").update(bytes).digest("hex")}`;
    if (got !== digest) throw new RegistryError("invalid_argument", `blob ${digest}: digest mismatch: got ${got}`, 200);
    return bytes;
  }

  /**
   * A blob's bytes from `offset` on, as one stream that survives dropped connections: after an error
   * or a short body it asks again with `Range: bytes=<n>-` (and skips the prefix itself when the
   * server answers 200 instead of 206). A body that stalls (no byte for readTimeoutMs) is dropped and
   * resumed the same way. The consumer never sees the interruption; after `attempts` it gets one line
   * naming the blob: `blob sha256:…: truncated: got n of m bytes (no data for 30 s, after 4 attempts)`.
   */
  async *blobStream(digest: Digest, size: number, offset = 0, onResume?: (at: number, why: string) => void): AsyncGenerator<Uint8Array> {
    let pos = offset;
    let failures = 0;
    for (;;) {
      const headers: Record<string, string> = {};
      if (pos > 0) headers.range = `bytes=${pos}-`;
      let res: Response;
      try {
        res = await this.request("GET", `/v2/${this.repo}/blobs/${digest}`, { headers, what: `blob ${digest}` });
      } catch (e) {
        // a connection that dies after part of the body arrived is a truncated blob, whatever the
        // socket error on the resume was; before any byte it is the request's own error
        if (!(e instanceof RegistryError) || e.status !== 0 || pos === offset) throw e;
        throw new RegistryError("unavailable", `blob ${digest}: truncated: got ${pos} of ${size} bytes (${e.message.replace(`blob ${digest}: `, "")})`, 0);
      }
      let skip = 0;
      if (pos > 0) {
        if (res.status === 200) skip = pos;
        else if (res.status !== 206) {
          await res.body?.cancel().catch(() => {}); // discarding an unread body; a broken connection changes nothing
          throw new RegistryError("unavailable", `blob ${digest}: unexpected status ${res.status} for a range request`, res.status);
        }
      }
      let why = "";
      try {
        if (!res.body) throw new Error("empty body");
        for await (let chunk of timedChunks(res.body, this.readTimeoutMs, this.opts.signal)) {
          if (skip > 0) {
            if (chunk.length <= skip) {
              skip -= chunk.length;
              continue;
            }
            chunk = chunk.subarray(skip);
            skip = 0;
          }
          if (pos + chunk.length > size) throw new RegistryError("invalid_argument", `blob ${digest}: longer than its ${size} bytes`, res.status);
          pos += chunk.length;
          yield chunk;
        }
        if (pos >= size) return;
        why = `connection closed at ${pos} of ${size} bytes`;
      } catch (e) {
        if (e instanceof RegistryError) throw e;
        why = (e as Error).message;
      }
      if (++failures >= this.attempts) {
        throw new RegistryError("unavailable", `blob ${digest}: truncated: got ${pos} of ${size} bytes (${why}, after ${failures} attempts)`, 0);
      }
      onResume?.(pos, why);
      await Bun.sleep(this.backoffMs * 2 ** (failures - 1));
    }
  }

  /** HEAD the blob: true when the repository has it */
  async hasBlob(digest: Digest): Promise<boolean> {
    const res = await this.request("HEAD", `/v2/${this.repo}/blobs/${digest}`, { allow: [404], what: `blob ${digest}` });
    return res.status !== 404;
  }

  /**
   * Start an upload. With `mount`, ask for a cross-repository mount first (api.md "Cross Repository
   * Blob Mount"): 201 means done (returns undefined), 202 is a fresh upload session the registry
   * opened instead.
   */
  async startUpload(mount?: { digest: Digest; from: string }): Promise<string | undefined> {
    const q = mount ? `?mount=${encodeURIComponent(mount.digest)}&from=${encodeURIComponent(mount.from)}` : "";
    const res = await this.request("POST", `/v2/${this.repo}/blobs/uploads/${q}`, {
      retry: true,
      scopes: mount ? [`repository:${mount.from}:pull`] : [],
      what: `start upload${mount ? ` (mount ${mount.digest} from ${mount.from})` : ""}`,
    });
    await res.body?.cancel().catch(() => {}); // discarding an unread body; a broken connection changes nothing
    if (res.status === 201) return undefined;
    const loc = res.headers.get("location");
    if (!loc) throw new RegistryError("unavailable", "start upload: no Location in response", res.status);
    return this.url(loc);
  }

  /** PATCH one chunk; returns the next upload location */
  async uploadChunk(location: string, body: Blob | Uint8Array, start: number): Promise<string> {
    const len = body instanceof Blob ? body.size : body.length;
    const res = await this.request("PATCH", location, {
      body: body as Body,
      retry: false,
      headers: { "content-type": "application/octet-stream", "content-range": `${start}-${start + len - 1}` },
      what: "upload chunk",
    });
    await res.body?.cancel().catch(() => {}); // discarding an unread body; a broken connection changes nothing
    const loc = res.headers.get("location");
    return loc ? this.url(loc) : location;
  }

  /** finish an upload: PUT ?digest= with the remaining bytes (the whole blob when monolithic) */
  async finishUpload(location: string, digest: Digest, body?: Blob | Uint8Array): Promise<void> {
    const u = new URL(location);
    u.searchParams.set("digest", digest);
    const res = await this.request("PUT", u.toString(), {
      body: (body ?? new Uint8Array(0)) as Body,
      retry: false,
      headers: { "content-type": "application/octet-stream" },
      what: `upload blob ${digest}`,
    });
    await res.body?.cancel().catch(() => {}); // discarding an unread body; a broken connection changes nothing
  }

  async putManifest(reference: string, bytes: Uint8Array, mediaType: string): Promise<Digest | undefined> {
    const res = await this.request("PUT", `/v2/${this.repo}/manifests/${reference}`, {
      body: bytes as Body,
      retry: true,
      headers: { "content-type": mediaType },
      what: `put manifest ${this.repo}:${reference}`,
    });
    await res.body?.cancel().catch(() => {}); // discarding an unread body; a broken connection changes nothing
    return (res.headers.get("docker-content-digest") as Digest | null) ?? undefined;
  }
}

async function readCapped(res: Response, max: number, what: string): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  let n = 0;
  if (res.body) {
    for await (const c of res.body as unknown as AsyncIterable<Uint8Array>) {
      n += c.length;
      if (n > max) {
        await res.body.cancel().catch(() => {}); // discarding the rest; the size error below is what matters
        throw new RegistryError("invalid_argument", `${what}: too large (more than ${max} bytes)`, res.status);
      }
      parts.push(c);
    }
  }
  return Buffer.concat(parts, n);
}
