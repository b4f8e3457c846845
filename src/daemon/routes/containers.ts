/**
 * The Engine API's container routes over the engine's container calls (the same calls the daemonless
 * commands make: create, startDetached, attach, logs, stop, …). The daemon keeps no container state of
 * its own beyond the attach sessions it holds right now (a `docker run` attaches before it starts).
 */
import { readFileSync } from "node:fs";
import { EngineError } from "../../lib/errors.ts";
import {
  followEvents,
  Filters,
  parsePruneFilters,
  type ContainerCreateRequest,
  type ContainerUpdateRequest,
  type Engine,
  type EventMessage,
} from "../../engine/index.ts";
import { frame, type ApiRequest, type ApiResponse, type DaemonContext, type HijackedConn, type Route } from "../types.ts";
import { boolParam, compare, filtersParam, intParam } from "./_params.ts";
import { primed, produce } from "./_stream.ts";
import { execIdsOf } from "./exec.ts";

const RAW = "application/vnd.docker.raw-stream";
const MUX = "application/vnd.docker.multiplexed-stream";

type Size = { rows: number; cols: number };

/** attach sessions of this daemon, by container id: a pending one waits for the start; resize reaches them */
interface Session {
  pending: boolean;
  started: PromiseWithResolvers<void>;
  size?: Size;
  resize?: (s: Size) => void;
}
const sessions = new Map<string, Set<Session>>();

const svcOf = (ctx: DaemonContext) => ctx.engine.containers;
const idOf = (ctx: DaemonContext, ref: string) => svcOf(ctx).resolve(ref);

function statusOf(ctx: DaemonContext, id: string): string {
  return svcOf(ctx).refreshState(id).Status;
}

// ------------------------------------------------------------------------------------------ create, list, inspect

async function create(req: ApiRequest, ctx: DaemonContext): Promise<ApiResponse> {
  const body = ((await req.json<ContainerCreateRequest>()) ?? {}) as ContainerCreateRequest & { HostConfig?: Record<string, unknown> };
  if (typeof body !== "object" || Array.isArray(body)) throw new EngineError("invalid_argument", "the request body must be a JSON object");
  const name = req.query.get("name") || undefined;
  const platform = req.query.get("platform") || undefined;
  if (name !== undefined && !/^\/?[a-zA-Z0-9][a-zA-Z0-9_.-]+$/.test(name))
    throw new EngineError("invalid_argument", `Invalid container name (${name}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed`);
  // the daemon's default log driver (daemon.json) when the client names none, as dockerd
  const d = ctx.daemon;
  const host = (body.HostConfig ??= {}) as Record<string, unknown>;
  const lc = host.LogConfig as { Type?: string; Config?: Record<string, string> } | undefined;
  if (d && (d["log-driver"] || d["log-opts"]) && !lc?.Type)
    host.LogConfig = { Type: d["log-driver"] || "json-file", Config: { ...(d["log-opts"] ?? {}), ...(lc?.Config ?? {}) } };
  const r = await svcOf(ctx).create(body as ContainerCreateRequest, { name: name?.replace(/^\//, ""), platform });
  return { status: 201, json: { Id: r.Id, Warnings: r.Warnings ?? [] } };
}

async function list(req: ApiRequest, ctx: DaemonContext): Promise<ApiResponse> {
  const limit = intParam(req, "limit");
  return {
    json: await ctx.engine.containerList({
      all: boolParam(req, "all"),
      limit: limit !== undefined && limit > 0 ? limit : undefined,
      size: boolParam(req, "size"),
      filters: filtersParam(req),
    }),
  };
}

async function inspect(req: ApiRequest, ctx: DaemonContext): Promise<ApiResponse> {
  const doc = await ctx.engine.containerInspect(req.params.id!, { size: boolParam(req, "size") });
  // the exec instances this daemon holds for it (the engine's record has none: execs live here)
  return { json: { ...doc, ExecIDs: execIdsOf(doc.Id) } };
}

// ------------------------------------------------------------------------------------------ lifecycle

async function start(req: ApiRequest, ctx: DaemonContext): Promise<ApiResponse> {
  const svc = svcOf(ctx);
  const id = idOf(ctx, req.params.id!);
  const st = statusOf(ctx, id);
  if (st === "running" || st === "paused") return { status: 304, empty: true };
  const waiting = [...(sessions.get(id) ?? [])].filter((s) => s.pending);
  const autoRemove = svc.store.readConfig(id).HostConfig.AutoRemove;
  try {
    await svc.startDetached(id, { awaitAttach: waiting.length > 0 });
  } catch (e) {
    if (autoRemove) await svc.rm(id, true).catch(() => {}); // --rm after a failed start (the monitor may have removed it already); the start error is the answer
    throw e;
  }
  for (const s of waiting) s.started.resolve();
  return { status: 204, empty: true };
}

function notRunning(ctx: DaemonContext, id: string): boolean {
  const st = statusOf(ctx, id);
  return st !== "running" && st !== "paused";
}

async function stop(req: ApiRequest, ctx: DaemonContext): Promise<ApiResponse> {
  const id = idOf(ctx, req.params.id!);
  if (notRunning(ctx, id)) return { status: 304, empty: true };
  await svcOf(ctx).stop(id, intParam(req, "t"), req.query.get("signal") || undefined);
  return { status: 204, empty: true };
}

async function restart(req: ApiRequest, ctx: DaemonContext): Promise<ApiResponse> {
  await svcOf(ctx).restart(req.params.id!, intParam(req, "t"));
  return { status: 204, empty: true };
}

async function kill(req: ApiRequest, ctx: DaemonContext): Promise<ApiResponse> {
  const id = idOf(ctx, req.params.id!);
  if (notRunning(ctx, id)) throw new EngineError("conflict", `Cannot kill container: ${req.params.id}: Container ${id} is not running`);
  const signal = req.query.get("signal") || "SIGKILL";
  await svcOf(ctx).kill(id, signal);
  // dockerd's kill with SIGKILL returns once the container is down (a prune or rm right after sees it stopped)
  if (/^(SIG)?KILL$|^9$/i.test(signal)) await svcOf(ctx).waitStopped(id, 10_000);
  return { status: 204, empty: true };
}

function pause(req: ApiRequest, ctx: DaemonContext): ApiResponse {
  svcOf(ctx).pause(req.params.id!);
  return { status: 204, empty: true };
}

function unpause(req: ApiRequest, ctx: DaemonContext): ApiResponse {
  svcOf(ctx).unpause(req.params.id!);
  return { status: 204, empty: true };
}

/**
 * `POST /containers/{id}/wait?condition=not-running|next-exit|removed`: the head at once (the client
 * then starts the container), the body when the condition holds. The exit code comes from the event
 * log's `die` (an --rm container's record is gone by the time anyone looks).
 */
async function wait(req: ApiRequest, ctx: DaemonContext): Promise<ApiResponse> {
  const condition = req.query.get("condition") || "not-running";
  if (!["not-running", "next-exit", "removed"].includes(condition)) throw new EngineError("invalid_argument", `invalid condition: "${condition}"`);
  const svc = svcOf(ctx);
  const id = idOf(ctx, req.params.id!);
  // the follower starts at the log's end now (the generator's first step runs at once), before the state
  // is read: an exit between the two is not missed, and the log's past is not read at all
  const stop = new AbortController();
  const onAbort = () => stop.abort();
  req.signal.addEventListener("abort", onAbort, { once: true });
  const it = followEvents(ctx.engine.root, { filters: new Filters({ container: [id], type: ["container"] }), signal: stop.signal, pollMs: 10 });
  const first = it.next();
  first.catch(() => {}); // an unreadable log fails the await below; not awaited at all, it must not count as unhandled
  const state = svc.refreshState(id);
  const active = state.Status === "running" || state.Status === "paused";
  async function* body() {
    let code = state.ExitCode;
    try {
      if (condition !== "not-running" || active) {
        for (let n = await first; !n.done; n = await it.next()) {
          const e = n.value as EventMessage;
          if (e.Action === "die") {
            code = Number(e.Actor.Attributes.exitCode ?? code);
            if (condition !== "removed") break;
          }
          if (e.Action === "destroy" && condition === "removed") break;
        }
      }
    } finally {
      stop.abort();
      req.signal.removeEventListener("abort", onAbort);
    }
    if (req.signal.aborted) return;
    yield JSON.stringify({ StatusCode: code, Error: null }) + "\n";
  }
  return { stream: body(), contentType: "application/json" };
}

function rename(req: ApiRequest, ctx: DaemonContext): ApiResponse {
  const name = req.query.get("name");
  if (!name) throw new EngineError("invalid_argument", "Neither old nor new names may be empty");
  svcOf(ctx).rename(req.params.id!, name.replace(/^\//, ""));
  return { status: 204, empty: true };
}

async function update(req: ApiRequest, ctx: DaemonContext): Promise<ApiResponse> {
  const body = (await req.json<ContainerUpdateRequest>()) ?? {};
  const r = svcOf(ctx).update(req.params.id!, body);
  return { json: { Warnings: r.Warnings ?? [] } };
}

async function remove(req: ApiRequest, ctx: DaemonContext): Promise<ApiResponse> {
  if (boolParam(req, "link")) throw new EngineError("not_implemented", "berth does not support legacy links removal (rm --link)");
  await svcOf(ctx).rm(req.params.id!, boolParam(req, "force"), boolParam(req, "v"));
  return { status: 204, empty: true };
}

async function prune(req: ApiRequest, ctx: DaemonContext): Promise<ApiResponse> {
  const f = filtersParam(req);
  const flags = f.keys().flatMap((k) => f.get(k).map((v) => `${k}=${v}`));
  const r = await ctx.engine.containerPrune(await parsePruneFilters(flags));
  return { json: { ContainersDeleted: r.deleted.length ? r.deleted : null, SpaceReclaimed: r.reclaimed } };
}

// ------------------------------------------------------------------------------------------ top, stats, changes, export

function top(req: ApiRequest, ctx: DaemonContext): ApiResponse {
  // ps_args: one string of ps options, split on blanks as dockerd does
  const psArgs = (req.query.get("ps_args") ?? "").split(/\s+/).filter(Boolean);
  const r = svcOf(ctx).top(req.params.id!, psArgs);
  return { json: { Titles: r.titles, Processes: r.processes } };
}

/** /proc/stat's cpu line in ns (docker's system_cpu_usage) and the online cpus */
function systemCpu(): { ns: number; cpus: number } {
  try {
    const text = readFileSync("/proc/stat", "latin1");
    const first = text.split("\n")[0]!.trim().split(/\s+/).slice(1, 8).map(Number);
    const cpus = text.split("\n").filter((l) => /^cpu\d+ /.test(l)).length;
    return { ns: first.reduce((a, b) => a + b, 0) * 1e7, cpus };
  } catch {
    return { ns: 0, cpus: 1 }; // no /proc/stat: the client shows 0% CPU
  }
}

/** dockerd's stats `read`: a time.Time in JSON, RFC3339Nano (the wall clock to the microsecond here; it was milliseconds) */
function readTime(): string {
  const us = Math.round((performance.timeOrigin + performance.now()) * 1000);
  const frac = String(us % 1_000_000)
    .padStart(6, "0")
    .replace(/0+$/, "");
  return `${new Date(Math.floor(us / 1000)).toISOString().slice(0, 19)}${frac ? `.${frac}` : ""}Z`;
}

function statsDoc(ctx: DaemonContext, id: string, prev?: Record<string, unknown>): Record<string, unknown> {
  const svc = svcOf(ctx);
  const cfg = svc.store.readConfig(id);
  const sys = systemCpu();
  let s: ReturnType<typeof svc.stats> = { memoryUsage: 0, memoryLimit: 0, cpuNs: 0, pids: 0, blkioRead: 0, blkioWrite: 0, netRx: 0, netTx: 0 };
  try {
    s = { ...s, ...svc.stats(id) };
  } catch {
    // stopped or its cgroup is gone: docker reports zeros
  }
  const limit = Number.isFinite(s.memoryLimit) && s.memoryLimit > 0 && s.memoryLimit < 2 ** 60 ? s.memoryLimit : totalMem();
  const t = s.throttling ?? { periods: 0, throttledPeriods: 0, throttledNs: 0 };
  const cpu = {
    cpu_usage: {
      total_usage: s.cpuNs,
      ...(s.percpuNs ? { percpu_usage: s.percpuNs } : {}),
      usage_in_kernelmode: s.cpuSystemNs ?? 0,
      usage_in_usermode: s.cpuUserNs ?? 0,
    },
    system_cpu_usage: sys.ns,
    online_cpus: sys.cpus,
    throttling_data: { periods: t.periods, throttled_periods: t.throttledPeriods, throttled_time: t.throttledNs },
  };
  // docker lists the sandbox's interfaces; a container without any (--network none, stopped) has no key
  const networks = Object.fromEntries(
    Object.entries(s.interfaces ?? {}).map(([name, c]) => [
      name,
      {
        rx_bytes: c.rxBytes,
        rx_packets: c.rxPackets,
        rx_errors: c.rxErrors,
        rx_dropped: c.rxDropped,
        tx_bytes: c.txBytes,
        tx_packets: c.txPackets,
        tx_errors: c.txErrors,
        tx_dropped: c.txDropped,
      },
    ]),
  );
  return {
    name: cfg.Name,
    id,
    read: readTime(),
    preread: (prev?.read as string) ?? "0001-01-01T00:00:00Z",
    pids_stats: { current: s.pids, limit: cfg.HostConfig.PidsLimit || 0 },
    // per device, as dockerd gives them (null when the cgroup has none, as its nil slice)
    blkio_stats: { io_service_bytes_recursive: s.blkioDevices?.length ? s.blkioDevices : null },
    num_procs: 0,
    storage_stats: {},
    cpu_stats: cpu,
    precpu_stats: prev?.cpu_stats ?? { cpu_usage: { total_usage: 0 }, throttling_data: {} },
    memory_stats: { usage: s.memoryUsage, limit, stats: s.memoryStat ?? {} },
    ...(Object.keys(networks).length ? { networks } : {}),
  };
}

function totalMem(): number {
  try {
    return Number(/^MemTotal:\s+(\d+)/m.exec(readFileSync("/proc/meminfo", "latin1"))?.[1] ?? 0) * 1024;
  } catch {
    return 0; // no /proc/meminfo: no limit to show
  }
}

async function stats(req: ApiRequest, ctx: DaemonContext): Promise<ApiResponse> {
  const id = idOf(ctx, req.params.id!);
  const stream = boolParam(req, "stream", true);
  const oneShot = boolParam(req, "one-shot");
  if (!stream) {
    let prev: Record<string, unknown> | undefined;
    if (!oneShot) {
      prev = statsDoc(ctx, id);
      await Bun.sleep(500);
    }
    return { json: statsDoc(ctx, id, prev) };
  }
  async function* body() {
    let prev: Record<string, unknown> | undefined;
    while (!req.signal.aborted) {
      const doc = statsDoc(ctx, id, prev);
      yield JSON.stringify(doc) + "\n";
      prev = doc;
      await Bun.sleep(1000);
    }
  }
  return { stream: body(), contentType: "application/json" };
}

async function changes(req: ApiRequest, ctx: DaemonContext): Promise<ApiResponse> {
  const kinds = { C: 0, A: 1, D: 2 } as const;
  const r = await ctx.engine.containerChanges(req.params.id!);
  return { json: r.length ? r.map((c) => ({ Path: c.path, Kind: kinds[c.kind] })) : null };
}

async function exportContainer(req: ApiRequest, ctx: DaemonContext): Promise<ApiResponse> {
  const e: Engine = ctx.engine;
  const ref = idOf(ctx, req.params.id!);
  const stream = await primed(produce((push) => e.containerExport(ref, push), req.signal));
  return { stream, contentType: "application/x-tar" };
}

// ------------------------------------------------------------------------------------------ archive

function statHeader(s: { name: string; size: number; mode: number; mtime: string; linkTarget: string }): string {
  return Buffer.from(JSON.stringify(s)).toString("base64");
}

async function archiveHead(req: ApiRequest, ctx: DaemonContext): Promise<ApiResponse> {
  const path = req.query.get("path");
  if (!path) throw new EngineError("invalid_argument", "path must not be empty");
  const st = await svcOf(ctx).statPath(idOf(ctx, req.params.id!), path);
  return { status: 200, empty: true, headers: { "X-Docker-Container-Path-Stat": statHeader(st), "Content-Type": "application/json" } };
}

async function archiveGet(req: ApiRequest, ctx: DaemonContext): Promise<ApiResponse> {
  const path = req.query.get("path");
  if (!path) throw new EngineError("invalid_argument", "path must not be empty");
  const svc = svcOf(ctx);
  const id = idOf(ctx, req.params.id!);
  const st = await svc.statPath(id, path);
  const stream = produce((push) => svc.copyFrom(id, path, "-", push), req.signal);
  return { stream, contentType: "application/x-tar", headers: { "X-Docker-Container-Path-Stat": statHeader(st) } };
}

async function archivePut(req: ApiRequest, ctx: DaemonContext): Promise<ApiResponse> {
  const path = req.query.get("path");
  if (!path) throw new EngineError("invalid_argument", "path must not be empty");
  const svc = svcOf(ctx);
  const id = idOf(ctx, req.params.id!);
  const flag = (k: string) => ["1", "true"].includes((req.query.get(k) ?? "").toLowerCase());
  await svc.copyTo(id, "-", path, req.body(), { keepOwners: flag("copyUIDGID"), noOverwriteDirNonDir: flag("noOverwriteDirNonDir") });
  return { status: 200, empty: true };
}

// ------------------------------------------------------------------------------------------ logs

async function logs(req: ApiRequest, ctx: DaemonContext): Promise<ApiResponse> {
  const svc = svcOf(ctx);
  const id = idOf(ctx, req.params.id!);
  const cfg = svc.store.readConfig(id);
  const wantOut = boolParam(req, "stdout");
  const wantErr = boolParam(req, "stderr");
  if (!wantOut && !wantErr) throw new EngineError("invalid_argument", "Bad parameters: you must choose at least one stream");
  const tty = cfg.Config.Tty;
  const ts = boolParam(req, "timestamps");
  const since = req.query.get("since");
  const until = req.query.get("until");
  const tail = req.query.get("tail") || undefined;
  const follow = boolParam(req, "follow");
  const stream = produce(
    (push) =>
      svc.logs(id, {
        follow,
        tail,
        since: since && since !== "0" ? since : undefined,
        until: until && until !== "0" ? until : undefined,
        signal: req.signal,
        onEntry: (e) => {
          const isErr = e.stream === "stderr";
          if (isErr ? !wantErr : !wantOut) return;
          const line = Buffer.from((ts ? `${e.time} ` : "") + e.log);
          void push(tty ? line : frame(isErr ? 2 : 1, line)).catch(() => {}); // the client left: the follow ends by the signal
        },
      }),
    req.signal,
  );
  return { stream, contentType: tty || compare(req.version, "1.42") < 0 ? RAW : MUX };
}

// ------------------------------------------------------------------------------------------ attach, resize

function sizeOf(req: ApiRequest): Size {
  const rows = intParam(req, "h");
  const cols = intParam(req, "w");
  if (!rows || !cols || rows < 0 || cols < 0) throw new EngineError("invalid_argument", "bad size: h and w must be positive integers");
  return { rows, cols };
}

async function resize(req: ApiRequest, ctx: DaemonContext): Promise<ApiResponse> {
  const svc = svcOf(ctx);
  const id = idOf(ctx, req.params.id!);
  const size = sizeOf(req);
  const mine = [...(sessions.get(id) ?? [])];
  for (const s of mine) {
    s.size = size;
    s.resize?.(size);
  }
  // a session of ours (connected, or about to): it carries the size; a second session would take the
  // output the supervisor kept for the first one
  if (mine.length) return { status: 200, empty: true };
  const st = statusOf(ctx, id);
  if (st !== "running") throw new EngineError("conflict", `Container ${id} is not running`);
  if (!svc.store.readConfig(id).Config.Tty) return { status: 200, empty: true };
  // no session of ours: a session of no streams carries the size to the container's supervisor
  const done = new AbortController();
  const session = svc.attach(id, {
    stdout: () => {},
    stderr: () => {},
    want: { stdin: false, stdout: false, stderr: false },
    initialSize: size,
    detach: done.signal,
  });
  setTimeout(() => done.abort(), 50);
  await session.catch(() => 0); // the container ended meanwhile: nothing left to size
  return { status: 200, empty: true };
}

function attach(req: ApiRequest, ctx: DaemonContext): ApiResponse {
  const svc = svcOf(ctx);
  const id = idOf(ctx, req.params.id!);
  const cfg = svc.store.readConfig(id);
  const tty = cfg.Config.Tty;
  const want = {
    stdin: boolParam(req, "stdin") && cfg.Config.OpenStdin,
    stdout: boolParam(req, "stdout"),
    stderr: boolParam(req, "stderr"),
  };
  const withLogs = boolParam(req, "logs");
  const stream = boolParam(req, "stream");
  const session: Session = { pending: false, started: Promise.withResolvers<void>() };
  const initial = statusOf(ctx, id);
  if (stream && initial === "paused") throw new EngineError("conflict", "You cannot attach to a paused container, unpause it first");
  if (stream && initial === "created") {
    session.pending = true;
    const set = sessions.get(id) ?? new Set();
    set.add(session);
    sessions.set(id, set);
  }
  const leave = () => {
    const set = sessions.get(id);
    set?.delete(session);
    if (set && set.size === 0) sessions.delete(id);
  };
  return {
    // dockerd names the multiplexed stream from API 1.42 on (older clients get the raw type, framed all the same)
    contentType: tty || compare(req.version, "1.42") < 0 ? RAW : MUX,
    hijack: async (conn: HijackedConn) => {
      const out = (n: 1 | 2) => (b: Uint8Array) => void conn.write(tty ? b : frame(n, b));
      try {
        if (withLogs) {
          await svc.logs(id, {
            signal: conn.signal,
            onEntry: (e) => {
              const isErr = e.stream === "stderr";
              if (isErr ? want.stderr : want.stdout) out(isErr ? 2 : 1)(Buffer.from(e.log));
            },
          });
        }
        if (!stream) return;
        if (session.pending) {
          // `docker run`: attach, wait, then start — the session starts with the container
          const aborted = new Promise<void>((r) => conn.signal.addEventListener("abort", () => r(), { once: true }));
          const poll = (async () => {
            for (;;) {
              let st: string;
              try {
                st = statusOf(ctx, id);
              } catch {
                return; // removed meanwhile (a failed start of an --rm container): the session ends
              }
              if (conn.signal.aborted || st !== "created") return;
              await Bun.sleep(100);
            }
          })();
          await Promise.race([session.started.promise, aborted, poll]);
          session.pending = false;
          if (conn.signal.aborted) return;
        }
        const st = statusOf(ctx, id);
        if (st !== "running" && st !== "paused") return;
        await svc.attach(id, {
          stdin: want.stdin ? conn.input : undefined,
          stdout: out(1),
          stderr: out(2),
          want: { ...want, replay: true },
          // read when the session connects: a resize that came meanwhile counts
          get initialSize() {
            return session.size;
          },
          onResizer: (r) => (session.resize = r),
          detach: conn.signal,
        });
      } finally {
        leave();
        conn.end();
      }
    },
  };
}

export const routes: Route[] = [
  { method: "POST", path: "/containers/create", handler: create },
  { method: "GET", path: "/containers/json", handler: list },
  { method: "POST", path: "/containers/prune", handler: prune },
  { method: "GET", path: "/containers/{id}/json", handler: inspect },
  { method: "POST", path: "/containers/{id}/start", handler: start },
  { method: "POST", path: "/containers/{id}/stop", handler: stop },
  { method: "POST", path: "/containers/{id}/restart", handler: restart },
  { method: "POST", path: "/containers/{id}/kill", handler: kill },
  { method: "POST", path: "/containers/{id}/pause", handler: pause },
  { method: "POST", path: "/containers/{id}/unpause", handler: unpause },
  { method: "POST", path: "/containers/{id}/wait", handler: wait },
  { method: "POST", path: "/containers/{id}/rename", handler: rename },
  { method: "POST", path: "/containers/{id}/update", handler: update },
  { method: "DELETE", path: "/containers/{id}", handler: remove },
  { method: "GET", path: "/containers/{id}/top", handler: top },
  { method: "GET", path: "/containers/{id}/stats", handler: stats },
  { method: "GET", path: "/containers/{id}/changes", handler: changes },
  { method: "GET", path: "/containers/{id}/export", handler: exportContainer },
  { method: "HEAD", path: "/containers/{id}/archive", handler: archiveHead },
  { method: "GET", path: "/containers/{id}/archive", handler: archiveGet },
  { method: "PUT", path: "/containers/{id}/archive", handler: archivePut },
  { method: "GET", path: "/containers/{id}/logs", handler: logs },
  { method: "POST", path: "/containers/{id}/resize", handler: resize },
  { method: "POST", path: "/containers/{id}/attach", handler: attach },
];
