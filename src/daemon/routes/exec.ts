/**
 * The Engine API's exec routes: `POST /containers/{id}/exec` records what to run (in this daemon's
 * memory, as dockerd keeps its exec configs), `POST /exec/{id}/start` runs it through the engine's exec
 * (hijacked, or detached), `/exec/{id}/resize` and `/exec/{id}/json` see it while and after it runs.
 */
import { randomBytes } from "node:crypto";
import { EngineError, ExecError } from "../../lib/errors.ts";
import { frame, type ApiRequest, type ApiResponse, type DaemonContext, type HijackedConn, type Route } from "../types.ts";
import { compare, intParam } from "./_params.ts";

interface ExecCreate {
  AttachStdin?: boolean;
  AttachStdout?: boolean;
  AttachStderr?: boolean;
  DetachKeys?: string;
  Tty?: boolean;
  ConsoleSize?: [number, number] | null;
  Env?: string[] | null;
  Cmd?: string[] | null;
  Privileged?: boolean;
  User?: string;
  WorkingDir?: string;
}

interface ExecRecord {
  id: string;
  containerId: string;
  cfg: ExecCreate & { Cmd: string[] };
  running: boolean;
  started: boolean;
  exitCode: number | null;
  pid: number;
  endedAt?: number;
  size?: { rows: number; cols: number };
  resize?: (s: { rows: number; cols: number }) => void;
}

const execs = new Map<string, ExecRecord>();
/** an ended exec stays inspectable this long (the CLI reads its exit code right after the stream) */
const KEEP_ENDED_MS = 10 * 60_000;

function sweep() {
  const old = Date.now() - KEEP_ENDED_MS;
  for (const [id, e] of execs) if (e.endedAt !== undefined && e.endedAt < old) execs.delete(id);
}

/** dockerd's ExecIDs of a container: its exec instances not ended yet (created or running), or null */
export function execIdsOf(containerId: string): string[] | null {
  const ids = [...execs.values()].filter((e) => e.containerId === containerId && e.endedAt === undefined).map((e) => e.id);
  return ids.length ? ids : null;
}

function find(id: string): ExecRecord {
  const e = execs.get(id) ?? [...execs.values()].find((x) => x.id.startsWith(id) && id.length >= 12);
  if (!e) throw new EngineError("not_found", `No such exec instance: ${id}`);
  return e;
}

async function create(req: ApiRequest, ctx: DaemonContext): Promise<ApiResponse> {
  sweep();
  const svc = ctx.engine.containers;
  const containerId = svc.resolve(req.params.id!);
  const body = (await req.json<ExecCreate>()) ?? {};
  if (!Array.isArray(body.Cmd) || body.Cmd.length === 0) throw new EngineError("invalid_argument", "No exec command specified");
  const st = svc.refreshState(containerId).Status;
  if (st === "paused") throw new EngineError("conflict", `Container ${containerId} is paused, unpause the container before exec`);
  if (st !== "running") throw new EngineError("conflict", `container ${containerId} is not running`);
  const id = randomBytes(32).toString("hex");
  const size = body.ConsoleSize?.[0] && body.ConsoleSize[1] ? { rows: body.ConsoleSize[0], cols: body.ConsoleSize[1] } : undefined;
  execs.set(id, { id, containerId, cfg: { ...body, Cmd: body.Cmd }, running: false, started: false, exitCode: null, pid: 0, size });
  return { status: 201, json: { Id: id } };
}

function exitCodeOf(e: unknown): number {
  if (e instanceof ExecError) return e.reason === "not_found" ? 127 : 126;
  return 126;
}

async function start(req: ApiRequest, ctx: DaemonContext): Promise<ApiResponse> {
  const rec = find(req.params.id!);
  const body = (await req.json<{ Detach?: boolean; Tty?: boolean; ConsoleSize?: [number, number] | null }>()) ?? {};
  if (rec.started) throw new EngineError("conflict", `Exec ${rec.id} has already been started`);
  rec.started = true;
  const svc = ctx.engine.containers;
  const tty = body.Tty ?? !!rec.cfg.Tty;
  if (body.ConsoleSize?.[0] && body.ConsoleSize[1]) rec.size = { rows: body.ConsoleSize[0], cols: body.ConsoleSize[1] };
  const opts = {
    cmd: rec.cfg.Cmd,
    env: (rec.cfg.Env ?? []).filter((e) => e.includes("=")),
    workdir: rec.cfg.WorkingDir || undefined,
    user: rec.cfg.User || undefined,
    tty,
    interactive: !!rec.cfg.AttachStdin,
    privileged: !!rec.cfg.Privileged,
  };
  const finish = (code: number) => {
    rec.exitCode = code;
    rec.running = false;
    rec.endedAt = Date.now();
    rec.resize = undefined;
  };
  if (body.Detach) {
    rec.running = true;
    try {
      // detached: the engine reaps it in the background and reports its end (exec inspect, ExecIDs)
      await svc.exec(rec.containerId, { ...opts, detach: true }, { stdout: () => {}, stderr: () => {}, onStarted: (p) => (rec.pid = p), onExit: finish });
    } catch (e) {
      finish(exitCodeOf(e));
      throw e;
    }
    return { status: 200, empty: true };
  }
  return {
    contentType: tty || compare(req.version, "1.42") < 0 ? "application/vnd.docker.raw-stream" : "application/vnd.docker.multiplexed-stream",
    hijack: async (conn: HijackedConn) => {
      const out = (n: 1 | 2) => (b: Uint8Array) => {
        if (n === 1 ? rec.cfg.AttachStdout === false : rec.cfg.AttachStderr === false) return;
        void conn.write(tty ? b : frame(n, b));
      };
      rec.running = true;
      try {
        const code = await svc.exec(
          rec.containerId,
          { ...opts, detach: false },
          {
            stdin: rec.cfg.AttachStdin ? conn.input : undefined,
            stdout: out(1),
            stderr: out(2),
            initialSize: rec.size,
            onResizer: (r) => (rec.resize = r),
            onStarted: (p) => (rec.pid = p),
          },
        );
        finish(code);
      } catch (e) {
        finish(exitCodeOf(e));
        // docker writes the runtime's error into the stream; the CLI then reads the exit code
        const msg = Buffer.from(`${(e as Error).message}\r\n`);
        await conn.write(tty ? msg : frame(1, msg));
      } finally {
        conn.end();
      }
    },
  };
}

function resize(req: ApiRequest): ApiResponse {
  const rec = find(req.params.id!);
  const rows = intParam(req, "h");
  const cols = intParam(req, "w");
  if (!rows || !cols || rows < 0 || cols < 0) throw new EngineError("invalid_argument", "bad size: h and w must be positive integers");
  rec.size = { rows, cols };
  rec.resize?.(rec.size);
  return { status: 200, empty: true };
}

function inspect(req: ApiRequest): ApiResponse {
  const rec = find(req.params.id!);
  const [entrypoint, ...args] = rec.cfg.Cmd;
  return {
    json: {
      CanRemove: false,
      ContainerID: rec.containerId,
      DetachKeys: rec.cfg.DetachKeys ?? "",
      ExitCode: rec.exitCode,
      ID: rec.id,
      OpenStderr: !!rec.cfg.AttachStderr,
      OpenStdin: !!rec.cfg.AttachStdin,
      OpenStdout: !!rec.cfg.AttachStdout,
      ProcessConfig: { arguments: args, entrypoint, privileged: !!rec.cfg.Privileged, tty: !!rec.cfg.Tty, user: rec.cfg.User ?? "" },
      Running: rec.running,
      Pid: rec.pid,
    },
  };
}

export const routes: Route[] = [
  { method: "POST", path: "/containers/{id}/exec", handler: create },
  { method: "POST", path: "/exec/{id}/start", handler: start },
  { method: "POST", path: "/exec/{id}/resize", handler: resize },
  { method: "GET", path: "/exec/{id}/json", handler: inspect },
];
