/**
 * The daemon's listeners, docker's `-H` addresses: `unix://PATH` (0660, root:group, never
 * world-writable), `tcp://HOST:PORT` (loopback, or TLS: a TCP address anyone can reach is refused
 * without it) and `fd://[NAME|N]` (systemd socket activation, sd_listen_fds(3): LISTEN_PID, LISTEN_FDS,
 * LISTEN_FDNAMES, fds from 3).
 */
import net from "node:net";
import tls from "node:tls";
import { chmodSync, chownSync, existsSync, lstatSync, mkdirSync, readFileSync, unlinkSync } from "node:fs";
import { dirname } from "node:path";
import { isIP } from "node:net";
import { EngineError } from "../lib/errors.ts";

export const DEFAULT_SOCKET = "/run/berth/berth.sock";

export interface TlsOptions {
  verify: boolean;
  ca?: string;
  cert?: string;
  key?: string;
}

export type HostSpec = { kind: "unix"; path: string } | { kind: "tcp"; host: string; port: number } | { kind: "fd"; name: string };

/** docker's -H syntax; a bare path is a unix socket, `HOST:PORT` is tcp */
export function parseHost(h: string): HostSpec {
  if (h.startsWith("unix://")) {
    const path = h.slice("unix://".length) || DEFAULT_SOCKET;
    if (!path.startsWith("/")) throw new EngineError("invalid_argument", `invalid unix socket address "${h}": the path must be absolute`);
    return { kind: "unix", path };
  }
  if (h.startsWith("fd://")) return { kind: "fd", name: h.slice("fd://".length) };
  if (h.startsWith("/")) return { kind: "unix", path: h };
  const rest = h.startsWith("tcp://") ? h.slice("tcp://".length) : h;
  if (/^[a-z]+:\/\//.test(rest)) throw new EngineError("invalid_argument", `invalid bind address "${h}": use unix://, tcp:// or fd://`);
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:/]*)):(\d+)\/?$/.exec(rest);
  if (!m) throw new EngineError("invalid_argument", `invalid bind address "${h}": want tcp://HOST:PORT`);
  const port = Number(m[3]);
  if (port < 0 || port > 65535) throw new EngineError("invalid_argument", `invalid bind address "${h}": port out of range`);
  return { kind: "tcp", host: m[1] ?? (m[2] || "0.0.0.0"), port };
}

export function isLoopback(host: string): boolean {
  if (host === "localhost") return true;
  if (isIP(host) === 4) return host.startsWith("127.");
  return host === "::1";
}

/** a group's gid from /etc/group; undefined when there is none of that name */
export function groupId(name: string): number | undefined {
  if (/^\d+$/.test(name)) return Number(name);
  try {
    for (const line of readFileSync("/etc/group", "utf8").split("\n")) {
      const f = line.split(":");
      if (f[0] === name && f[2] !== undefined) return Number(f[2]);
    }
  } catch {
    // no /etc/group: no group of that name
  }
  return undefined;
}

export interface Listener {
  /** what was asked for, e.g. unix:///run/berth/berth.sock */
  address: string;
  server: net.Server;
  /** the socket file this daemon created (removed at shutdown; not for fd:// sockets, systemd owns them) */
  socketPath?: string;
}

export interface ListenOptions {
  /** the socket's group; undefined: root-only (0660 root:root, or the daemon's own uid when not root) */
  gid?: number;
  tls?: TlsOptions;
  /** the environment's LISTEN_* variables (socket activation), with this process's pid */
  activation?: { pid: number; env: Record<string, string | undefined> };
  onConnection(sock: net.Socket): void;
}

function activatedFds(o: ListenOptions["activation"]): { fd: number; name: string }[] {
  if (!o) return [];
  const { env, pid } = o;
  if (!env.LISTEN_PID || !env.LISTEN_FDS) return [];
  if (Number(env.LISTEN_PID) !== pid) return [];
  const n = Number(env.LISTEN_FDS);
  const names = (env.LISTEN_FDNAMES ?? "").split(":");
  return Array.from({ length: n }, (_, i) => ({ fd: 3 + i, name: names[i] || "unknown" }));
}

function listenOn(server: net.Server, how: net.ListenOptions): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(how, () => {
      server.off("error", reject);
      resolve();
    });
  });
}

/** open every -H address; closes what it opened when one fails */
export async function openListeners(hosts: string[], o: ListenOptions): Promise<Listener[]> {
  const specs = hosts.map((h) => ({ h, spec: parseHost(h) }));
  const opened: Listener[] = [];
  const fds = activatedFds(o.activation);
  const tlsCtx = o.tls ? tlsContext(o.tls) : undefined;
  const make = (secure: boolean): net.Server =>
    secure && tlsCtx
      ? tls.createServer({ ...tlsCtx, allowHalfOpen: true }, (s) => o.onConnection(s))
      : net.createServer({ allowHalfOpen: true }, (s) => o.onConnection(s));
  try {
    for (const { h, spec } of specs) {
      if (spec.kind === "unix") {
        const server = make(false);
        mkdirSync(dirname(spec.path), { recursive: true, mode: 0o755 });
        removeStaleSocket(spec.path);
        // created 0660 (the umask), so there is no moment when anyone else may connect; then root:group
        const umask = process.umask(0o117);
        try {
          await listenOn(server, { path: spec.path });
        } finally {
          process.umask(umask);
        }
        const gid = o.gid ?? (process.getuid?.() === 0 ? 0 : undefined);
        if (gid !== undefined) chownSync(spec.path, process.getuid?.() ?? 0, gid);
        chmodSync(spec.path, 0o660);
        opened.push({ address: h, server, socketPath: spec.path });
      } else if (spec.kind === "tcp") {
        if (!isLoopback(spec.host) && !tlsCtx)
          throw new EngineError("invalid_argument", `refusing to listen on ${h} without TLS: anyone who reaches it would be root on this host`, {
            hint: "use --tlsverify with --tlscacert, --tlscert and --tlskey, or a loopback address (tcp://127.0.0.1:2375)",
          });
        const server = make(true);
        await listenOn(server, { host: spec.host, port: spec.port });
        opened.push({ address: h, server });
      } else {
        if (!fds.length) throw new EngineError("invalid_argument", `${h}: no sockets passed by systemd (LISTEN_FDS is not set for this process)`);
        const chosen = spec.name === "" ? fds : fds.filter((f) => f.name === spec.name || String(f.fd) === spec.name);
        if (!chosen.length) throw new EngineError("not_found", `${h}: systemd passed no socket of that name (have: ${fds.map((f) => f.name).join(", ")})`);
        for (const f of chosen) {
          const server = make(false);
          await listenOn(server, { fd: f.fd } as net.ListenOptions);
          opened.push({ address: `fd://${f.name}`, server });
        }
      }
    }
  } catch (e) {
    await closeListeners(opened);
    if (e instanceof EngineError) throw e;
    const err = e as NodeJS.ErrnoException;
    throw new EngineError(err.code === "EADDRINUSE" ? "already_exists" : err.code === "EACCES" ? "permission_denied" : "internal", `listen: ${err.message}`, {
      cause: e,
    });
  }
  return opened;
}

/** a socket file left by a daemon that died; a path that is not a socket is never removed */
function removeStaleSocket(path: string) {
  if (!existsSync(path)) return;
  if (!lstatSync(path).isSocket()) throw new EngineError("already_exists", `${path} exists and is not a socket`);
  unlinkSync(path);
}

function tlsContext(t: TlsOptions): tls.TlsOptions {
  const read = (what: string, p?: string) => {
    if (!p) throw new EngineError("invalid_argument", `TLS needs ${what}`);
    try {
      return readFileSync(p);
    } catch (e) {
      throw new EngineError("invalid_argument", `read ${what} ${p}: ${(e as Error).message}`);
    }
  };
  return {
    cert: read("--tlscert", t.cert),
    key: read("--tlskey", t.key),
    ...(t.verify ? { ca: read("--tlscacert", t.ca), requestCert: true, rejectUnauthorized: true } : {}),
    minVersion: "TLSv1.2",
  };
}

/** stop accepting (open connections stay: the server drains them); the unix socket files this daemon made go */
export async function closeListeners(ls: Listener[]): Promise<void> {
  for (const l of ls) l.server.close();
  for (const l of ls) {
    if (!l.socketPath) continue;
    try {
      unlinkSync(l.socketPath);
    } catch {
      // gone already (removed by hand, or server.close() took it)
    }
  }
}
