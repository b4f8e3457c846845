/**
 * Where a daemon is and how to reach it: docker's host strings (`unix://PATH`, `tcp://HOST:PORT`,
 * `ssh://[USER@]HOST[:PORT]`), TLS from DOCKER_TLS_VERIFY / DOCKER_CERT_PATH or a context, and the
 * connection itself: a unix or tcp socket, TLS over tcp, or `ssh … -- berth system dial-stdio` whose
 * stdin/stdout carry the HTTP (docker's connhelper does the same).
 */
import net from "node:net";
import tls from "node:tls";
import { readFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { EngineError } from "../lib/errors.ts";
import type { Conn } from "./http.ts";

export const DEFAULT_SOCKET = "/run/berth/berth.sock";

export interface TlsSettings {
  /** PEM texts */
  ca?: string;
  cert?: string;
  key?: string;
  /** check the daemon's certificate (DOCKER_TLS_VERIFY, a context without skip-tls-verify) */
  verify: boolean;
}

/** a daemon to talk to */
export interface Endpoint {
  /** the host string, normalized (`unix:///run/berth/berth.sock`) */
  host: string;
  tls?: TlsSettings;
  /** the context it came from, if any */
  context?: string;
}

export type Address =
  | { proto: "unix"; path: string }
  | { proto: "tcp"; hostname: string; port: number }
  | { proto: "ssh"; hostname: string; port?: number; user?: string; path?: string };

/** docker's host string → an address; invalid_argument for anything else */
export function parseHost(s: string, tlsOn = false): Address {
  const bad = () =>
    new EngineError("invalid_argument", `unable to parse berth host ${JSON.stringify(s)}`, {
      hint: "use unix:///path/to/berth.sock, tcp://HOST:PORT or ssh://[USER@]HOST[:PORT]",
    });
  const t = s.trim();
  if (t.startsWith("unix://")) return { proto: "unix", path: t.slice(7) || DEFAULT_SOCKET };
  if (t.startsWith("tcp://") || t.startsWith("http://") || t.startsWith("https://")) {
    const rest = t.slice(t.indexOf("://") + 3).replace(/\/+$/, "");
    if (rest.includes("/")) throw bad();
    const m = /^(\[[^\]]+\]|[^:]*)(?::(\d+))?$/.exec(rest);
    if (!m) throw bad();
    const hostname = (m[1] || "127.0.0.1").replace(/^\[|\]$/g, "");
    const port = m[2] ? Number(m[2]) : tlsOn || t.startsWith("https://") ? 2376 : 2375;
    if (!(port > 0 && port < 65536)) throw bad();
    return { proto: "tcp", hostname, port };
  }
  if (t.startsWith("ssh://")) {
    let u: URL;
    try {
      u = new URL(t);
    } catch {
      throw bad();
    }
    if (!u.hostname) throw bad();
    const path = decodeURIComponent(u.pathname);
    return {
      proto: "ssh",
      hostname: u.hostname.replace(/^\[|\]$/g, ""),
      ...(u.port ? { port: Number(u.port) } : {}),
      ...(u.username ? { user: decodeURIComponent(u.username) } : {}),
      ...(path && path !== "/" ? { path } : {}),
    };
  }
  throw bad();
}

/** docker's global TLS flags (--tls, --tlsverify, --tlscacert, --tlscert, --tlskey) */
export interface TlsFlags {
  tls?: boolean;
  tlsverify?: boolean;
  tlscacert?: string;
  tlscert?: string;
  tlskey?: string;
}

/**
 * the TLS settings the flags and the environment ask for (--tlsverify or DOCKER_TLS_VERIFY, --tls or
 * DOCKER_TLS; the files from the flags, else DOCKER_CERT_PATH, else ~/.docker), if any
 */
export function tlsFromEnv(env: Readonly<Record<string, string | undefined>>, flags: TlsFlags = {}): TlsSettings | undefined {
  const verify = !!flags.tlsverify || !!env.DOCKER_TLS_VERIFY;
  const given = !!(flags.tlscacert || flags.tlscert || flags.tlskey);
  if (!verify && !flags.tls && !given && !env.DOCKER_TLS) return undefined;
  const dir = env.DOCKER_CERT_PATH || join(env.HOME || homedir(), ".docker");
  const read = (path: string, required: boolean) => {
    try {
      return readFileSync(path, "utf8");
    } catch (e) {
      if (!required) return undefined;
      throw new EngineError("invalid_argument", `could not read ${path}: ${(e as Error).message}`, {
        hint: "TLS verification needs ca.pem (and a client's cert.pem and key.pem) in DOCKER_CERT_PATH (default ~/.docker), or --tlscacert/--tlscert/--tlskey",
        cause: e,
      });
    }
  };
  return {
    verify,
    ca: read(flags.tlscacert || join(dir, "ca.pem"), verify),
    cert: read(flags.tlscert || join(dir, "cert.pem"), !!flags.tlscert),
    key: read(flags.tlskey || join(dir, "key.pem"), !!flags.tlskey),
  };
}

function refused(ep: Endpoint, e: NodeJS.ErrnoException): EngineError {
  if (e.code === "EACCES" || e.code === "EPERM")
    return new EngineError("permission_denied", `permission denied while trying to connect to the berth daemon socket at ${ep.host}: ${e.message}`, {
      cause: e,
    });
  return new EngineError("unavailable", `Cannot connect to the berth daemon at ${ep.host}. Is the berth daemon running?`, { cause: e });
}

/** a connection that broke (a reset, a TLS alert after the handshake): docker's "error during connect" */
function broken(ep: Endpoint, e: unknown): EngineError {
  if (e instanceof EngineError) return e;
  return new EngineError("unavailable", `error during connect: ${ep.host}: ${(e as Error)?.message ?? String(e)}`, { cause: e });
}

/** a node socket as a Conn; its errors become EngineErrors naming the endpoint */
function socketConn(sock: net.Socket, ep: Endpoint): Conn {
  const raw = (sock as unknown as AsyncIterable<Uint8Array>)[Symbol.asyncIterator]();
  const it = (async function* () {
    try {
      for (;;) {
        const r = await raw.next();
        if (r.done) return;
        yield r.value;
      }
    } catch (e) {
      throw broken(ep, e);
    }
  })();
  return {
    write: (b) =>
      new Promise<void>((resolve, reject) => {
        sock.write(b, (e) => (e ? reject(broken(ep, e)) : resolve()));
      }),
    closeWrite: () => void sock.end(),
    close: () => void sock.destroy(),
    chunks: it,
  };
}

/** the program (and leading arguments) used for ssh://: BERTH_SSH (e.g. "ssh -F ./config"), else ssh */
function sshCommand(env: Readonly<Record<string, string | undefined>>): string[] {
  return (env.BERTH_SSH || "ssh").split(/\s+/).filter(Boolean);
}

/** open a connection to the endpoint's daemon */
export async function dial(ep: Endpoint, env: Readonly<Record<string, string | undefined>>): Promise<Conn> {
  const a = parseHost(ep.host, !!ep.tls);
  if (a.proto === "ssh") {
    // docker's connhelper: ssh -T [-l user] [-p port] -- host docker system dial-stdio
    const remote = (env.BERTH_SSH_REMOTE_COMMAND || "berth").split(/\s+/).filter(Boolean);
    const argv = [
      ...sshCommand(env),
      "-T",
      "-o",
      "ConnectTimeout=30",
      ...(a.user ? ["-l", a.user] : []),
      ...(a.port ? ["-p", String(a.port)] : []),
      "--",
      a.hostname,
      ...remote,
      ...(a.path ? ["-H", `unix://${a.path}`] : []),
      "system",
      "dial-stdio",
    ];
    let proc: ReturnType<typeof Bun.spawn<"pipe", "pipe", "inherit">>;
    try {
      proc = Bun.spawn(argv, { stdin: "pipe", stdout: "pipe", stderr: "inherit", env: env as Record<string, string> });
    } catch (e) {
      throw new EngineError("unavailable", `could not run ${argv[0]} to reach ${ep.host}: ${(e as Error).message}`, { cause: e });
    }
    const out = proc.stdout as unknown as AsyncIterable<Uint8Array>;
    return {
      write: async (b) => {
        proc.stdin.write(b);
        await proc.stdin.flush();
      },
      closeWrite: () => {
        try {
          void proc.stdin.end();
        } catch {} // ssh is gone already: nothing left to close
      },
      close: () => proc.kill(),
      chunks: out[Symbol.asyncIterator](),
    };
  }
  if (a.proto === "unix" || !ep.tls) {
    const sock = a.proto === "unix" ? net.connect({ path: a.path, allowHalfOpen: true }) : net.connect({ host: a.hostname, port: a.port, allowHalfOpen: true });
    await new Promise<void>((resolve, reject) => {
      sock.once("connect", () => resolve());
      sock.once("error", (e) => reject(refused(ep, e as NodeJS.ErrnoException)));
    });
    return socketConn(sock, ep);
  }
  const t = ep.tls;
  const opts: tls.ConnectionOptions = { host: a.hostname, port: a.port, rejectUnauthorized: t.verify };
  if (!net.isIP(a.hostname)) opts.servername = a.hostname;
  if (t.ca) opts.ca = t.ca;
  if (t.cert) opts.cert = t.cert;
  if (t.key) opts.key = t.key;
  (opts as { allowHalfOpen?: boolean }).allowHalfOpen = true;
  const sock = tls.connect(opts);
  await new Promise<void>((resolve, reject) => {
    sock.once("secureConnect", () => resolve());
    sock.once("error", (e) => {
      const err = e as NodeJS.ErrnoException;
      reject(
        err.code?.startsWith("E") && !err.code.startsWith("ERR_")
          ? refused(ep, err)
          : new EngineError("unavailable", `tls to ${ep.host}: ${err.message}`, { cause: e }),
      );
    });
  });
  return socketConn(sock, ep);
}
