/** The Engine API's system routes: `/_ping`, `/version`, `/info`, `/events`, `/system/df` */
import { readdirSync, readFileSync } from "node:fs";
import { release } from "node:os";
import { EVENT_FILTERS, followEvents, parseTimeArg, type Engine, type SystemInfo } from "../../engine/index.ts";
import type { DaemonConfig } from "../../lib/daemon-config.ts";
import { BUILD_TIME, GIT_COMMIT, VERSION } from "../../version.ts";
import type { ApiRequest, ApiResponse, DaemonContext, Route } from "../types.ts";
import { filtersParam } from "./_params.ts";

const arch = () => (process.arch === "x64" ? "amd64" : process.arch);

function ping(req: ApiRequest, ctx: DaemonContext): ApiResponse {
  const headers = {
    "Api-Version": ctx.maxVersion,
    "Builder-Version": "1",
    "Docker-Experimental": "false",
    Swarm: "inactive",
    "Cache-Control": "no-cache, no-store, must-revalidate",
    Pragma: "no-cache",
  };
  if (req.method === "HEAD") return { status: 200, empty: true, headers: { ...headers, "Content-Type": "text/plain; charset=utf-8" } };
  return { text: "OK", headers };
}

function version(_req: ApiRequest, ctx: DaemonContext): ApiResponse {
  const details = {
    ApiVersion: ctx.maxVersion,
    MinAPIVersion: ctx.minVersion,
    Os: "linux",
    Arch: arch(),
    KernelVersion: release(),
    // docker's CLI prints these lines of the Engine component: berth is built by Bun, not Go
    GoVersion: `bun${Bun.version}`,
    GitCommit: GIT_COMMIT,
    BuildTime: BUILD_TIME,
    Experimental: "false",
  };
  return {
    json: {
      Platform: { Name: "berth" },
      Components: [{ Name: "Engine", Version: VERSION, Details: details }],
      Version: VERSION,
      ApiVersion: ctx.maxVersion,
      MinAPIVersion: ctx.minVersion,
      GitCommit: GIT_COMMIT,
      GoVersion: `bun${Bun.version}`,
      Os: "linux",
      Arch: arch(),
      KernelVersion: release(),
      BuildTime: BUILD_TIME,
    },
  };
}

/** the /events streams open now (`/info`'s NEventsListener) */
let eventListeners = 0;

/** a file's first line, "" when it cannot be read (a module not loaded, a path this kernel lacks) */
function readLine(path: string): string {
  try {
    return readFileSync(path, "utf8").trim();
  } catch {
    return ""; // absent: the caller's default
  }
}

/** dockerd's getConfigOrEnv + MaskCredentials: a proxy URL's user and password as xxxxx */
export function maskProxy(url: string): string {
  return url.replace(/^([a-z][a-z0-9+.-]*:\/\/)[^/@]*@/i, "$1xxxxx:xxxxx@");
}

/** the open file descriptors of this process (`/info`'s NFd) */
function openFds(): number {
  try {
    return readdirSync("/proc/self/fd").length - 1; // less the directory handle readdir itself holds
  } catch {
    return 0; // no /proc: nothing to count
  }
}

async function info(_req: ApiRequest, ctx: DaemonContext): Promise<ApiResponse> {
  return { json: await dockerInfo(ctx.engine, { debug: !!ctx.debug, apiVersion: ctx.maxVersion, daemon: ctx.daemon, eventListeners }) };
}

/**
 * `/info`'s document, dockerd's shape: the engine's summary plus what docker's CLI reads besides
 * (Swarm, Runtimes, SecurityOptions, RegistryConfig, …). `berth info` prints the same document, so
 * `info --format '{{.SecurityOptions}}'` or `{{.Swarm.LocalNodeState}}` reads the same with or without
 * a daemon.
 */
export async function dockerInfo(
  engine: Engine,
  o: { debug: boolean; apiVersion: string; daemon?: DaemonConfig; eventListeners?: number },
): Promise<Record<string, unknown> & SystemInfo> {
  const i = await engine.systemInfo({ debug: o.debug, version: VERSION, apiVersion: o.apiVersion, loggingDriver: o.daemon?.["log-driver"] });
  const mirrors = engine.images.registryMirrors ?? [];
  // daemon.json's insecure-registries: CIDRs go to the CIDR list, names to IndexConfigs (dockerd's split)
  const insecure = o.daemon?.["insecure-registries"] ?? [];
  const cidrs = insecure.filter((r) => /^[0-9a-f.:]+\/\d+$/i.test(r));
  const insecureNames = insecure.filter((r) => !cidrs.includes(r));
  const indexConfigs: Record<string, unknown> = { "docker.io": { Name: "docker.io", Mirrors: mirrors, Secure: true, Official: true } };
  for (const name of insecureNames) indexConfigs[name] = { Name: name, Mirrors: [], Secure: false, Official: false };
  return {
    ...i,
    // what docker's CLI reads besides, in dockerd's shape (berth has no swarm, one runtime, no plugins)
    Swarm: { NodeID: "", NodeAddr: "", LocalNodeState: "inactive", ControlAvailable: false, Error: "", RemoteManagers: null },
    Runtimes: { berth: { path: process.execPath } },
    DefaultRuntime: "berth",
    InitBinary: "",
    SecurityOptions: ["name=seccomp,profile=builtin", ...(process.getuid?.() === 0 ? [] : ["name=rootless"])],
    RegistryConfig: {
      AllowNondistributableArtifactsCIDRs: null,
      AllowNondistributableArtifactsHostnames: null,
      InsecureRegistryCIDRs: ["127.0.0.0/8", "::1/128", ...cidrs],
      IndexConfigs: indexConfigs,
      Mirrors: mirrors,
    },
    // the proxies this process uses (registry pulls go through them), credentials masked as dockerd does
    HttpProxy: maskProxy(process.env.HTTP_PROXY ?? process.env.http_proxy ?? ""),
    HttpsProxy: maskProxy(process.env.HTTPS_PROXY ?? process.env.https_proxy ?? ""),
    NoProxy: process.env.NO_PROXY ?? process.env.no_proxy ?? "",
    Isolation: "",
    CDISpecDirs: [],
    Containerd: null,
    ContainerdCommit: { ID: "" },
    RuncCommit: { ID: "" },
    InitCommit: { ID: "" },
    KernelMemoryTCP: false,
    BridgeNfIptables: readLine("/proc/sys/net/bridge/bridge-nf-call-iptables") === "1",
    BridgeNfIp6tables: readLine("/proc/sys/net/bridge/bridge-nf-call-ip6tables") === "1",
    NEventsListener: o.eventListeners ?? 0,
    NFd: openFds(),
    // NGoroutines is left out: a Bun process has no goroutines to count
    IndexServerAddress: "https://index.docker.io/v1/",
    GenericResources: null,
    DefaultAddressPools: (o.daemon?.["default-address-pools"] ?? []).map((p) => ({ Base: p.base, Size: p.size })),
  };
}

/** `GET /events?since=&until=&filters=`: NDJSON, followed until `until` or the client leaves */
function events(req: ApiRequest, ctx: DaemonContext): ApiResponse {
  const filters = filtersParam(req).validate(EVENT_FILTERS);
  const now = Date.now();
  const since = req.query.get("since") ? parseTimeArg(req.query.get("since")!, now) : undefined;
  const until = req.query.get("until") ? parseTimeArg(req.query.get("until")!, now) : undefined;
  const root = ctx.engine.root;
  async function* lines() {
    eventListeners++;
    try {
      for await (const e of followEvents(root, { since, until, filters, signal: req.signal })) yield JSON.stringify(e) + "\n";
    } finally {
      eventListeners--;
    }
  }
  return { stream: lines(), contentType: "application/json" };
}

/** `GET /system/df` (swagger SystemDataUsageResponse), from the engine's verbose usage */
async function df(req: ApiRequest, ctx: DaemonContext): Promise<ApiResponse> {
  const e: Engine = ctx.engine;
  const types = new Set(req.query.getAll("type"));
  const want = (t: string) => types.size === 0 || types.has(t);
  const v = await e.diskUsageVerbose();
  const out: Record<string, unknown> = {};
  if (want("image")) {
    const usage = new Map(v.images.map((i) => [i.id as string, i]));
    const images = await e.imageList({ all: false });
    out.LayersSize = v.layersSize;
    out.Images = images.map((i) => ({ ...i, SharedSize: usage.get(i.Id)?.shared ?? 0, Containers: usage.get(i.Id)?.containers ?? i.Containers }));
  }
  if (want("container")) {
    // SizeRootFs: the writable layer with its image's, as /containers/json?size=1 reports it
    const imageSize = new Map(v.images.map((i) => [i.id as string, i.size]));
    out.Containers = v.containers.map((c) => ({ ...c.summary, SizeRw: c.size, SizeRootFs: c.size + (imageSize.get(c.info.cfg.Image) ?? 0) }));
  }
  if (want("volume")) {
    const usage = new Map(v.volumes.map((u) => [u.name, u]));
    out.Volumes = e
      .volumeList()
      .Volumes.map((vol) => ({ ...vol, UsageData: { Size: usage.get(vol.Name)?.size ?? -1, RefCount: usage.get(vol.Name)?.links ?? 0 } }));
  }
  if (want("build-cache"))
    out.BuildCache = v.buildCache.map((b) => ({
      ID: b.id.replace(/^sha256:/, "").slice(0, 25),
      Parents: null,
      Type: "regular",
      Description: "",
      InUse: b.inUse,
      Shared: false,
      Size: b.size,
      CreatedAt: b.created,
      LastUsedAt: b.lastUsed.toISOString(),
      UsageCount: b.keys,
    }));
  return { json: out };
}

export const routes: Route[] = [
  { method: "GET", path: "/_ping", handler: ping },
  { method: "HEAD", path: "/_ping", handler: ping },
  { method: "GET", path: "/version", handler: version },
  { method: "GET", path: "/info", handler: info },
  { method: "GET", path: "/events", handler: events },
  { method: "GET", path: "/system/df", handler: df },
];
