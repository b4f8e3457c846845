/**
 * The image, volume and network route handlers called directly with a small request object, on a temp
 * root (root only: the store writes snapshots). The real clients drive them through the server in
 * test/daemon/*.test.ts.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Engine } from "../../engine/index.ts";
import { createLogger } from "../../lib/log.ts";
import { EngineError } from "../../lib/errors.ts";
import type { ApiRequest, ApiResponse, DaemonContext, Route } from "../types.ts";
import { routes as imageRoutes } from "./images.ts";
import { routes as volumeRoutes } from "./volumes.ts";
import { routes as networkRoutes } from "./networks.ts";
import { routes as buildRoutes } from "./build.ts";

const isRoot = process.getuid?.() === 0;
const repo = join(import.meta.dir, "../../..");
const all: Route[] = [...imageRoutes, ...volumeRoutes, ...networkRoutes, ...buildRoutes];

/** the route for `method path`, with its params (the server's matcher, simplified: `{x*}` takes the rest) */
function match(method: string, path: string): { route: Route; params: Record<string, string> } {
  for (const route of all) {
    if (route.method !== method) continue;
    const re = new RegExp(`^${route.path.replace(/\{(\w+)\*\}/g, "(?<$1>.+)").replace(/\{(\w+)\}/g, "(?<$1>[^/]+)")}$`);
    const m = re.exec(path);
    if (m) return { route, params: { ...m.groups } };
  }
  throw new Error(`no route for ${method} ${path}`);
}

async function call(
  ctx: DaemonContext,
  method: string,
  url: string,
  o: { body?: unknown; raw?: AsyncIterable<Uint8Array>; headers?: Record<string, string>; version?: string } = {},
): Promise<ApiResponse> {
  const u = new URL(url, "http://x");
  const { route, params } = match(method, u.pathname);
  const text = o.body === undefined ? "" : JSON.stringify(o.body);
  const req: ApiRequest = {
    method,
    path: u.pathname,
    params,
    query: u.searchParams,
    headers: o.headers ?? {},
    version: o.version ?? "1.47",
    body: () => o.raw ?? (async function* () {})(),
    json: async <T>() => (text ? (JSON.parse(text) as T) : undefined),
    signal: new AbortController().signal,
  };
  return route.handler(req, ctx);
}

const json = (r: ApiResponse): unknown => ("json" in r ? r.json : undefined);
async function streamText(r: ApiResponse): Promise<string> {
  if ("text" in r) return r.text;
  if (!("stream" in r)) throw new Error("not a stream");
  let s = "";
  for await (const c of r.stream) s += typeof c === "string" ? c : new TextDecoder().decode(c);
  return s;
}
async function streamBytes(r: ApiResponse): Promise<Uint8Array> {
  if (!("stream" in r)) throw new Error("not a stream");
  const parts: Uint8Array[] = [];
  for await (const c of r.stream) parts.push(typeof c === "string" ? new TextEncoder().encode(c) : c);
  return Buffer.concat(parts);
}
async function errOf(p: Promise<unknown> | (() => unknown)): Promise<EngineError> {
  try {
    await (typeof p === "function" ? p() : p);
  } catch (e) {
    if (e instanceof EngineError) return e;
    throw e;
  }
  throw new Error("no error");
}

describe.skipIf(!isRoot)("image, volume and network routes", () => {
  let root: string;
  let ctx: DaemonContext;
  let busyboxId: string;

  beforeAll(async () => {
    root = mkdtempSync("/tmp/berth-test-routes-");
    const tar = join(root, "busybox.tar");
    const p = Bun.spawnSync(["bash", join(repo, "scripts/busybox-rootfs.sh"), tar]);
    if (p.exitCode !== 0) throw new Error(`busybox-rootfs.sh: ${p.stderr}`);
    const engine = new Engine({ root: join(root, "r"), log: createLogger(0, () => {}), storageDriver: "vfs" });
    ctx = { engine, minVersion: "1.24", maxVersion: "1.47" };
    // POST /images/create?fromSrc=- with the tarball as the body
    const file = Bun.file(tar);
    const r = await call(ctx, "POST", "/images/create?fromSrc=-&repo=busybox&tag=latest&changes=CMD%20%5B%22sh%22%5D&message=hello", {
      raw: file.stream() as unknown as AsyncIterable<Uint8Array>,
    });
    const line = JSON.parse((await streamText(r)).trim());
    busyboxId = line.status;
    expect(busyboxId).toMatch(/^sha256:[0-9a-f]{64}$/);
  });
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  test("list, inspect, history, tag, delete", async () => {
    const list = json(await call(ctx, "GET", "/images/json")) as { Id: string; RepoTags: string[] }[];
    expect(list.map((i) => i.Id)).toContain(busyboxId);
    const insp = json(await call(ctx, "GET", "/images/busybox/json")) as { Id: string; Config: { Cmd: string[] } };
    expect(insp.Id).toBe(busyboxId);
    expect(insp.Config.Cmd).toEqual(["sh"]);
    const hist = json(await call(ctx, "GET", "/images/busybox:latest/history")) as { Id: string; Tags: string[]; Comment: string }[];
    expect(hist[0]!.Id).toBe(busyboxId);
    expect(hist[0]!.Tags).toEqual(["busybox:latest"]);
    expect(hist[0]!.Comment).toBe("hello");
    const tagged = await call(ctx, "POST", "/images/busybox/tag?repo=example.com/team/bb&tag=v1");
    expect(tagged).toEqual({ status: 201, empty: true });
    const filtered = json(await call(ctx, "GET", `/images/json?filters=${encodeURIComponent('{"reference":{"example.com/team/bb":true}}')}`)) as {
      RepoTags: string[];
    }[];
    expect(filtered).toHaveLength(1);
    // docker: the reference filter also narrows the RepoTags shown
    expect(filtered[0]!.RepoTags).toEqual(["example.com/team/bb:v1"]);
    expect(json(await call(ctx, "DELETE", "/images/example.com/team/bb:v1"))).toEqual([{ Untagged: "example.com/team/bb:v1" }]);
    expect((await errOf(call(ctx, "GET", "/images/nope/json"))).kind).toBe("not_found");
    expect((await errOf(call(ctx, "POST", "/images/busybox/tag?repo=Bad Name"))).kind).toBe("invalid_argument");
    expect((await errOf(() => call(ctx, "GET", "/images/search?term=x"))).kind).toBe("not_implemented");
  });

  test("save streams a docker-archive that load reads back", async () => {
    const tar = await streamBytes(await call(ctx, "GET", "/images/get?names=busybox"));
    expect(Buffer.from(tar.subarray(257, 262)).toString()).toBe("ustar");
    expect((await errOf(call(ctx, "GET", "/images/get?names=nope"))).kind).toBe("not_found");
    await call(ctx, "DELETE", "/images/busybox");
    const loaded = await streamText(
      await call(ctx, "POST", "/images/load?quiet=1", {
        raw: (async function* () {
          for (let i = 0; i < tar.length; i += 65536) yield tar.subarray(i, i + 65536);
        })(),
      }),
    );
    expect(JSON.parse(loaded.trim())).toEqual({ stream: "Loaded image: busybox:latest\n" });
  });

  test("build streams the legacy builder's lines and the image ID", async () => {
    const dir = join(root, "ctx");
    mkdirSync(dir);
    writeFileSync(join(dir, "Dockerfile"), "FROM busybox\nARG X=1\nLABEL x=$X\nENV Y=2\n");
    const tar = Bun.spawnSync(["tar", "-C", dir, "-cf", "-", "."]).stdout;
    const r = await call(ctx, "POST", `/build?t=built:1&buildargs=${encodeURIComponent('{"X":"7"}')}`, {
      raw: (async function* () {
        yield new Uint8Array(tar);
      })(),
    });
    const lines = (await streamText(r))
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    expect(lines[0].stream).toMatch(/^Step 1\/4 : FROM busybox/);
    const id = lines.find((l) => l.aux)?.aux.ID;
    expect(id).toMatch(/^sha256:/);
    expect((json(await call(ctx, "GET", "/images/built:1/json")) as { Config: { Labels: Record<string, string> } }).Config.Labels).toEqual({ x: "7" });
    expect((await errOf(call(ctx, "POST", "/build?version=2"))).message).toContain("DOCKER_BUILDKIT=0");
  });

  test("volumes: create, list, inspect, remove, prune", async () => {
    const v = json(await call(ctx, "POST", "/volumes/create", { body: { Name: "data", Labels: { a: "b" } } })) as { Name: string; Labels: object };
    expect(v).toMatchObject({ Name: "data", Labels: { a: "b" }, Driver: "local" });
    const list = json(await call(ctx, "GET", `/volumes?filters=${encodeURIComponent('{"label":{"a=b":true}}')}`)) as { Volumes: { Name: string }[] };
    expect(list.Volumes.map((x) => x.Name)).toEqual(["data"]);
    expect((json(await call(ctx, "GET", "/volumes/data")) as { Name: string }).Name).toBe("data");
    expect((await errOf(call(ctx, "POST", "/volumes/create", { body: { Name: "x", Driver: "nfs" } }))).kind).toBe("not_found");
    expect(await call(ctx, "DELETE", "/volumes/data")).toEqual({ status: 204, empty: true });
    expect((await errOf(async () => call(ctx, "DELETE", "/volumes/data"))).kind).toBe("not_found");
    expect(await call(ctx, "DELETE", "/volumes/data?force=1")).toEqual({ status: 204, empty: true });
    await call(ctx, "POST", "/volumes/create", { body: { Name: "named" } });
    // API 1.41: prune takes named volumes too; 1.42+: anonymous ones only
    expect(json(await call(ctx, "POST", "/volumes/prune", { version: "1.43" }))).toEqual({ VolumesDeleted: [], SpaceReclaimed: 0 });
    expect((json(await call(ctx, "POST", "/volumes/prune", { version: "1.41" })) as { VolumesDeleted: string[] }).VolumesDeleted).toEqual(["named"]);
  });

  test("networks: create with labels, list by label, inspect, remove, prune", async () => {
    const created = json(
      await call(ctx, "POST", "/networks/create", {
        body: { Name: "apinet", CheckDuplicate: true, Labels: { "com.docker.compose.project": "p" }, IPAM: { Config: [{ Subnet: "10.231.7.0/24" }] } },
      }),
    ) as { Id: string };
    expect(created.Id).toMatch(/^[0-9a-f]{64}$/);
    expect((await errOf(call(ctx, "POST", "/networks/create", { body: { Name: "apinet" } }))).kind).toBe("already_exists");
    expect((await errOf(call(ctx, "POST", "/networks/create", { body: { Name: "v6", EnableIPv6: true } }))).kind).toBe("not_implemented");
    const listed = json(await call(ctx, "GET", `/networks?filters=${encodeURIComponent('{"label":{"com.docker.compose.project=p":true}}')}`)) as {
      Name: string;
    }[];
    expect(listed.map((n) => n.Name)).toEqual(["apinet"]);
    const custom = json(await call(ctx, "GET", `/networks?filters=${encodeURIComponent('{"type":{"custom":true}}')}`)) as { Name: string }[];
    expect(custom.map((n) => n.Name)).toEqual(["apinet"]);
    const insp = json(await call(ctx, "GET", "/networks/apinet")) as { IPAM: { Config: { Subnet: string }[] }; Labels: object };
    expect(insp.IPAM.Config[0]!.Subnet).toBe("10.231.7.0/24");
    expect(insp.Labels).toEqual({ "com.docker.compose.project": "p" });
    expect(await call(ctx, "DELETE", `/networks/${created.Id.slice(0, 12)}`)).toEqual({ status: 204, empty: true });
    await call(ctx, "POST", "/networks/create", { body: { Name: "unused", Labels: { keep: "no" } } });
    expect(json(await call(ctx, "POST", `/networks/prune?filters=${encodeURIComponent('{"label":{"keep=no":true}}')}`))).toEqual({
      NetworksDeleted: ["unused"],
    });
  });
});
