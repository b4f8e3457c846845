/**
 * The Engine API's image routes (moby api/swagger.yaml "Image" and "Distribution" tags, plus /auth and
 * /commit): each one an engine call (src/engine/index.ts), the same ones `berth pull`, `push`, `images`,
 * `rmi`, `save`, `load`, `import`, `commit`, `tag`, `history` and `login` make, answered in docker's shapes.
 * Pulls, pushes, imports and loads answer docker's JSON-message stream; an error before the first message
 * is an HTTP error, one after it an {"errorDetail"} line, as dockerd does.
 */
import { EngineError } from "../../lib/errors.ts";
import {
  applyChanges,
  parseDockerRef,
  parsePlatform,
  parseReference,
  repositoryName,
  parsePruneFilters,
  pullMessages,
  pushMessages,
  registryLogin,
  type Engine,
  type JSONMessage,
} from "../../engine/index.ts";
import type { ApiRequest, ApiResponse, DaemonContext, Route } from "../types.ts";
import { credentialsOf, fetchUntil, insecureOf, messageLine, messageStream, readableOf, registryAuth } from "./_image-io.ts";
import { boolParam, filtersParam } from "./_params.ts";
import { primed, produce } from "./_stream.ts";

const JSON_STREAM = "application/json";

/** `name` with the query's tag (or digest) when one is given: docker's CLI sends them apart */
function withTag(name: string, tag: string | null): string {
  if (!tag) return name;
  return tag.includes(":") ? `${name}@${tag}` : `${name}:${tag}`;
}

/**
 * A pull's or push's messages as a stream. The first message ("Pulling from …", "The push refers to …")
 * is held until a second one comes, so a name the registry does not know is a 404, not a stream.
 */
async function progressStream(req: ApiRequest, run: (emit: (messages: JSONMessage[], held?: boolean) => void) => Promise<void>): Promise<ApiResponse> {
  const stream = await messageStream(async (write) => {
    let held: string | undefined;
    const send = (s: string) => void write(s).catch(() => {}); // the client went away: fetchUntil stops the operation
    await run((messages, hold) => {
      const text = messages.map(messageLine).join("");
      if (hold && held === undefined) {
        held = text;
        return;
      }
      if (held !== undefined) send(held);
      held = "";
      send(text);
    });
    if (held) await write(held);
  }, req.signal);
  return { stream, contentType: JSON_STREAM };
}

async function pull(req: ApiRequest, ctx: DaemonContext): Promise<ApiResponse> {
  const engine = ctx.engine;
  const q = req.query;
  const from = q.get("fromImage") ?? "";
  const name = withTag(from, q.get("tag"));
  // a bad reference is a 400 before anything streams
  const ref = parseReference(name);
  // dockerd pulls every tag of a bare name (`docker pull -a`); berth pulls one image at a time
  if (!ref.tag && !ref.digest) throw new EngineError("not_implemented", `pulling all tags of ${from} is not supported by berth: name a tag`);
  const platform = q.get("platform") ? parsePlatform(q.get("platform")!) : undefined;
  const insecure = await insecureOf(ctx);
  const creds = credentialsOf(registryAuth(req));
  return progressStream(req, async (emit) => {
    await engine.imagePull(name, {
      platform,
      insecure,
      ...creds,
      fetch: fetchUntil(req.signal),
      signal: req.signal,
      onProgress: (e) => emit(pullMessages(e), e.type === "start"),
    });
  });
}

/** `POST /images/create?fromSrc=`: a tarball (the body with `-`, else a URL) as a one-layer image */
async function importImage(req: ApiRequest, engine: Engine): Promise<ApiResponse> {
  const q = req.query;
  const src = q.get("fromSrc")!;
  const repo = q.get("repo") ?? "";
  const ref = repo ? withTag(repo, q.get("tag")) : undefined;
  if (ref) parseDockerRef(ref);
  const changes = q.getAll("changes").filter(Boolean);
  const platform = q.get("platform") ? parsePlatform(q.get("platform")!) : undefined;
  let source: ReadableStream<Uint8Array>;
  if (src === "-") source = readableOf(req.body());
  else if (/^https?:\/\//.test(src)) {
    const res = await fetch(src, { signal: req.signal });
    if (!res.ok || !res.body) throw new EngineError("unavailable", `import ${src}: ${res.status} ${res.statusText}`);
    source = res.body;
  } else throw new EngineError("invalid_argument", `import ${src}: fromSrc must be "-" (the request body) or an http(s) URL`);
  const id = await engine.images.importTarball(source, {
    sourceName: src,
    ref,
    message: q.get("message") || undefined,
    changes: changes.length ? applyChanges({}, changes) : undefined,
    platform,
  });
  return { text: messageLine({ status: id }), contentType: JSON_STREAM };
}

async function push(req: ApiRequest, ctx: DaemonContext): Promise<ApiResponse> {
  const engine = ctx.engine;
  const name = withTag(req.params.name!, req.query.get("tag"));
  const ref = parseReference(name);
  // dockerd: a bare name pushes every local tag of that repository
  let names = [name];
  if (!ref.tag && !ref.digest) {
    const repo = repositoryName(parseDockerRef(name));
    names = [];
    for (const img of await engine.imageList({ all: true })) {
      for (const t of img.RepoTags) if (repositoryName(parseDockerRef(t)) === repo) names.push(t);
    }
    names.sort();
  }
  // dockerd: a name that is not here is a 404 before the stream, in its words
  try {
    if (!names.length) throw new EngineError("not_found", "no tag");
    for (const n of names) await engine.images.resolve(n);
  } catch (e) {
    if (e instanceof EngineError && e.kind === "not_found") throw new EngineError("not_found", `An image does not exist locally with the tag: ${name}`);
    throw e;
  }
  const insecure = await insecureOf(ctx);
  const creds = credentialsOf(registryAuth(req));
  return progressStream(req, async (emit) => {
    for (const n of names) {
      await engine.imagePush(n, { insecure, ...creds, fetch: fetchUntil(req.signal), onProgress: (e) => emit(pushMessages(e), e.type === "start") });
    }
  });
}

/** docker's rmi answer: [{"Untagged": …}, {"Deleted": …}] from the engine's lines */
function deleteItems(lines: string[]): { Untagged?: string; Deleted?: string }[] {
  return lines.map((l) => {
    const m = /^(untagged|deleted): (.*)$/i.exec(l);
    if (!m) return { Deleted: l };
    return m[1]!.toLowerCase() === "untagged" ? { Untagged: m[2]! } : { Deleted: m[2]! };
  });
}

/** docker's registry address → the domain berth names it by (Docker Hub's URLs are docker.io) */
function serverDomain(addr: string | undefined): string {
  if (!addr) return "docker.io";
  const s = addr.replace(/^https?:\/\//, "").replace(/\/.*$/, "");
  return s === "index.docker.io" || s === "registry-1.docker.io" ? "docker.io" : s;
}

export const routes: Route[] = [
  {
    method: "POST",
    path: "/images/create",
    handler(req, ctx) {
      const engine = ctx.engine;
      if (req.query.get("fromImage")) return pull(req, ctx);
      if (req.query.get("fromSrc")) return importImage(req, engine);
      throw new EngineError("invalid_argument", "fromImage or fromSrc is required");
    },
  },
  {
    method: "GET",
    path: "/images/json",
    async handler(req, { engine }) {
      const filters = filtersParam(req);
      // API < 1.41's `filter=` is a reference filter
      const legacy = req.query.get("filter");
      if (legacy) filters.add("reference", legacy);
      return { json: await engine.imageList({ all: boolParam(req, "all"), filters, digests: boolParam(req, "digests") }) };
    },
  },
  {
    method: "GET",
    path: "/images/search",
    handler() {
      throw new EngineError("not_implemented", "search is not supported: berth has no registry index to search", {
        hint: "look the image up on its registry's web site",
      });
    },
  },
  {
    method: "GET",
    path: "/images/get",
    async handler(req, { engine }) {
      const names = req.query
        .getAll("names")
        .flatMap((n) => n.split(","))
        .filter(Boolean);
      if (!names.length) throw new EngineError("invalid_argument", "names is required: the images to save");
      return saveResponse(req, engine, names);
    },
  },
  {
    method: "POST",
    path: "/images/load",
    async handler(req, { engine }) {
      const res = await engine.imagesLoad(req.body());
      return { text: res.lines.map((l) => messageLine({ stream: `${l}\n` })).join(""), contentType: JSON_STREAM };
    },
  },
  {
    method: "POST",
    path: "/images/prune",
    async handler(req, { engine }) {
      const f = filtersParam(req);
      f.validate(["dangling", "until", "label", "label!"]);
      const dangling = f.get("dangling");
      const all = dangling.length > 0 && !dangling.some((v) => ["1", "true"].includes(v.toLowerCase()));
      const filter = await parsePruneFilters(f.keys().flatMap((k) => (k === "dangling" ? [] : f.get(k).map((v) => `${k}=${v}`))));
      const { deleted, reclaimed } = await engine.imagePrune({ all, filter });
      return { json: { ImagesDeleted: deleted.length ? deleteItems(deleted) : null, SpaceReclaimed: reclaimed } };
    },
  },
  {
    method: "GET",
    path: "/images/{name*}/json",
    async handler(req, { engine }) {
      return { json: await engine.imageInspect(req.params.name!) };
    },
  },
  {
    method: "GET",
    path: "/images/{name*}/history",
    async handler(req, { engine }) {
      const rows = await engine.images.history(req.params.name!);
      const tags = new Map<string, string[]>();
      for (const r of rows) {
        if (r.id === "<missing>" || tags.has(r.id)) continue;
        tags.set(r.id, (await engine.imageInspect(r.id)).RepoTags);
      }
      return {
        json: rows.map((r) => ({
          Id: r.id,
          Created: r.created ? Math.floor(Date.parse(r.created) / 1000) : 0,
          CreatedBy: r.createdBy,
          Tags: tags.get(r.id)?.length ? tags.get(r.id) : null,
          Size: r.size,
          Comment: r.comment,
        })),
      };
    },
  },
  {
    method: "POST",
    path: "/images/{name*}/tag",
    async handler(req, { engine }) {
      const repo = req.query.get("repo");
      if (!repo) throw new EngineError("invalid_argument", "repo is required: the name to tag the image with");
      const target = withTag(repo, req.query.get("tag"));
      parseDockerRef(target);
      const img = await engine.images.resolve(req.params.name!);
      engine.images.tag(target, img.id);
      return { status: 201, empty: true };
    },
  },
  {
    method: "POST",
    path: "/images/{name*}/push",
    handler: (req, ctx) => push(req, ctx),
  },
  {
    method: "GET",
    path: "/images/{name*}/get",
    handler: (req, { engine }) => saveResponse(req, engine, [req.params.name!]),
  },
  {
    method: "DELETE",
    path: "/images/{name*}",
    async handler(req, { engine }) {
      const lines = await engine.images.remove(req.params.name!, { force: boolParam(req, "force"), noPrune: boolParam(req, "noprune") });
      return { json: deleteItems(lines) };
    },
  },
  {
    method: "POST",
    path: "/commit",
    async handler(req, { engine }) {
      const q = req.query;
      const container = q.get("container");
      if (!container) throw new EngineError("invalid_argument", "container is required: the container to commit");
      const repo = q.get("repo") ?? "";
      const ref = repo ? withTag(repo, q.get("tag")) : undefined;
      if (ref) parseDockerRef(ref);
      const config = (await req.json<Record<string, unknown> | null>()) ?? undefined;
      const id = await engine.containerCommit(container, {
        ref,
        message: q.get("comment") || undefined,
        author: q.get("author") || undefined,
        changes: q
          .getAll("changes")
          .flatMap((c) => c.split("\n"))
          .filter((c) => c.trim()),
        pause: boolParam(req, "pause", true),
        ...(config && typeof config === "object" ? { config } : {}),
      });
      return { status: 201, json: { Id: id } };
    },
  },
  {
    method: "GET",
    path: "/distribution/{name*}/json",
    async handler(req, ctx) {
      const engine = ctx.engine;
      return {
        json: await engine.distributionInspect(req.params.name!, { insecure: await insecureOf(ctx), ...credentialsOf(registryAuth(req)) }),
      };
    },
  },
  {
    method: "POST",
    path: "/auth",
    async handler(req, ctx) {
      const body = (await req.json<Record<string, unknown>>()) ?? {};
      const str = (k: string) => (typeof body[k] === "string" ? (body[k] as string) : "");
      const username = str("username");
      const password = str("password");
      if (!username || !password) throw new EngineError("invalid_argument", "username and password are required");
      try {
        await registryLogin(serverDomain(str("serveraddress") || undefined), { username, password }, { insecure: await insecureOf(ctx) });
      } catch (e) {
        // dockerd answers a refused login 401 (errdefs.Unauthorized)
        if (e instanceof EngineError && e.kind === "permission_denied") throw new EngineError("unauthorized", e.message, { cause: e });
        throw e;
      }
      return { json: { Status: "Login Succeeded", IdentityToken: "" } };
    },
  },
];

/** `docker save`: a docker-archive of `names`, streamed as it is written */
async function saveResponse(req: ApiRequest, engine: Engine, names: string[]): Promise<ApiResponse> {
  // a name that is not here is a 404 before any byte
  for (const n of names) await engine.images.resolve(n);
  const stream = await primed(produce((write) => engine.imagesSave(names, write), req.signal));
  return { stream, contentType: "application/x-tar" };
}
