/**
 * `POST /build`: docker's legacy builder over the API (moby api/swagger.yaml "ImageBuild"). The tar context
 * is unpacked into a scratch directory as it arrives (never held in memory whole), then src/build runs it
 * exactly as `berth build` does; its output goes out as docker's JSON messages ({"stream": "Step 1/3 : …"}
 * lines, then {"aux": {"ID": "sha256:…"}}). BuildKit requests (version=2) are refused with a message that
 * names DOCKER_BUILDKIT=0.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { join, posix } from "node:path";
import { EngineError } from "../../lib/errors.ts";
import { parseDockerRef, type Engine } from "../../engine/index.ts";
import { build } from "../../build/executor.ts";
import type { ApiRequest, ApiResponse, Route } from "../types.ts";
import { messageLine, messageStream, queryJson, readableOf } from "./_image-io.ts";
import { boolParam } from "./_params.ts";

/** the Dockerfile named by `dockerfile` inside the context (docker also takes a lowercase `dockerfile`) */
function readDockerfile(contextDir: string, name: string): string {
  const rel = posix.normalize(`/${name}`);
  const tries = name === "Dockerfile" ? [rel, "/dockerfile"] : [rel];
  for (const t of tries) {
    try {
      return readFileSync(join(contextDir, t), "utf8");
    } catch {} // not this one: the next spelling, then the error below
  }
  throw new EngineError("invalid_argument", `Cannot locate specified Dockerfile: ${name}`);
}

/** query `buildargs` / `labels`: a JSON object of strings (a null build-arg value is docker's "unset": left out) */
function stringObject(q: URLSearchParams, name: string): Record<string, string> {
  const o = queryJson<Record<string, unknown>>(q, name) ?? {};
  if (typeof o !== "object" || o === null || Array.isArray(o)) throw new EngineError("invalid_argument", `${name} must be a JSON object`);
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(o)) {
    if (v === null) continue;
    if (typeof v !== "string") throw new EngineError("invalid_argument", `${name}: the value of ${k} must be a string`);
    out[k] = v;
  }
  return out;
}

async function buildImage(req: ApiRequest, engine: Engine): Promise<ApiResponse> {
  const q = req.query;
  if (q.get("version") === "2")
    throw new EngineError("invalid_argument", "BuildKit (version=2) is not supported by berth: use the legacy builder (DOCKER_BUILDKIT=0)", {
      hint: "export DOCKER_BUILDKIT=0",
    });
  if (q.get("remote")) throw new EngineError("invalid_argument", `remote build contexts are not supported by berth: ${q.get("remote")}`);
  if (boolParam(req, "squash")) throw new EngineError("not_implemented", "squash is not supported by berth's builder");
  const tags = q.getAll("t").filter(Boolean);
  for (const t of tags) {
    try {
      parseDockerRef(t);
    } catch {
      throw new EngineError("invalid_argument", `invalid reference format: ${t}`);
    }
  }
  const platform = q.get("platform");
  if (platform) {
    const [os, arch] = platform.split("/");
    if (os !== "linux" || (arch !== undefined && arch !== (process.arch === "x64" ? "amd64" : process.arch)))
      throw new EngineError("invalid_argument", `platform ${platform} is not supported: berth builds for the host's platform only`);
  }
  const buildArgs = new Map(Object.entries(stringObject(q, "buildargs")));
  const labels = stringObject(q, "labels");
  const cacheFrom = queryJson<unknown>(q, "cachefrom") ?? [];
  if (!Array.isArray(cacheFrom) || cacheFrom.some((c) => typeof c !== "string"))
    throw new EngineError("invalid_argument", "cachefrom must be a JSON array of image names");
  const addHost = q
    .getAll("extrahosts")
    .flatMap((h) => h.split(","))
    .filter(Boolean);
  const network = q.get("networkmode") || undefined;
  const quiet = boolParam(req, "q");

  // the context streams to disk: unpacked entry by entry as the body arrives
  const scratch = join(engine.root, "builder", "tmp");
  mkdirSync(scratch, { recursive: true, mode: 0o700 });
  const contextDir = mkdtempSync(join(scratch, "ctx-"));
  const cleanup = () => rmSync(contextDir, { recursive: true, force: true });
  let dockerfile: string;
  try {
    await engine.buildContextExtract(readableOf(req.body()), contextDir);
    dockerfile = readDockerfile(contextDir, q.get("dockerfile") || "Dockerfile");
  } catch (e) {
    cleanup();
    throw e;
  }
  const decoder = new TextDecoder();
  const failedOutput: string[] = [];
  const stream = await messageStream(async (write) => {
    const send = (s: string) => void write(messageLine({ stream: s })).catch(() => {}); // the client went away: the abort below stops the build
    try {
      const res = await build(engine, {
        contextDir,
        dockerfile,
        dockerfileName: posix.basename(q.get("dockerfile") || "Dockerfile"),
        tags,
        buildArgs,
        labels,
        target: q.get("target") || undefined,
        noCache: boolParam(req, "nocache"),
        pull: boolParam(req, "pull"),
        network,
        quiet,
        addHost,
        cacheFrom: cacheFrom as string[],
        out: (s) => send(typeof s === "string" ? s : decoder.decode(s, { stream: true })),
        // quiet: a failed RUN step's output, sent with the error as dockerd does
        err: (b) => void failedOutput.push(decoder.decode(b, { stream: true })),
        signal: req.signal,
      });
      await write(messageLine({ aux: { ID: res.id } }));
      if (quiet) await write(messageLine({ stream: `${res.id}\n` }));
    } catch (e) {
      if (failedOutput.length) await write(messageLine({ stream: failedOutput.join("") }));
      throw e;
    } finally {
      cleanup();
    }
  }, req.signal);
  return { stream, contentType: "application/json" };
}

export const routes: Route[] = [
  { method: "POST", path: "/build", handler: (req, { engine }) => buildImage(req, engine) },
  {
    method: "POST",
    path: "/build/prune",
    async handler(_req, { engine }) {
      const { deleted, reclaimed } = await engine.buildCachePrune();
      return { json: { CachesDeleted: deleted.length ? deleted : null, SpaceReclaimed: reclaimed } };
    },
  },
];
