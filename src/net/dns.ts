/**
 * Embedded DNS for user-defined networks (docker's "containers resolve each other by name"): a small
 * UDP server on the network's gateway address, port 53. A/AAAA questions for a name recorded on the
 * network (container name, --network-alias, short id) are answered from the network's record; every
 * other question is forwarded unchanged to the host's resolvers and the answer relayed back.
 *
 * Why on the gateway and not docker's 127.0.0.11 inside each container: berth has no daemon living in
 * every netns; one server per network in the host netns (podman's aardvark-dns does the same) is
 * reachable from every container on the bridge, and it can use host resolvers on loopback
 * (127.0.0.53) that a container cannot. The engine owns the server's process lifecycle (run it in a
 * hidden mode of the binary); this module is the server and its pure wire-format half.
 *
 * Wire format: RFC 1035 §4 (12-byte header, QNAME labels, QTYPE, QCLASS; answers with a 0xc00c name
 * pointer back to the question).
 */
import { existsSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { EngineError } from "../lib/errors.ts";
import type { NetworkRecord } from "./store.ts";
import { linkByName, openSocketInNetns, setUp, withNetns } from "../ffi/index.ts";
import { boundUdpSocket } from "../ffi/handoff.ts";

export const TYPE_A = 1;
export const TYPE_AAAA = 28;
export const CLASS_IN = 1;
export const RCODE_SERVFAIL = 2;
export const RCODE_NXDOMAIN = 3;

export interface DnsQuestion {
  id: number;
  flags: number;
  /** lower-cased, no trailing dot */
  name: string;
  type: number;
  class: number;
  /** offset just past the first question */
  end: number;
}

/** the first question of a query; undefined for anything that is not a well-formed standard query */
export function parseQuery(b: Uint8Array): DnsQuestion | undefined {
  if (b.length < 12) return undefined;
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const flags = dv.getUint16(2);
  if (flags & 0x8000 || dv.getUint16(4) < 1) return undefined; // a response, or no question
  const labels: string[] = [];
  let off = 12;
  for (;;) {
    if (off >= b.length) return undefined;
    const len = b[off]!;
    if (len === 0) break;
    if (len > 63 || off + 1 + len > b.length) return undefined; // compression never appears in a question
    labels.push(new TextDecoder().decode(b.subarray(off + 1, off + 1 + len)));
    off += 1 + len;
  }
  off += 1;
  if (off + 4 > b.length) return undefined;
  return { id: dv.getUint16(0), flags, name: labels.join(".").toLowerCase(), type: dv.getUint16(off), class: dv.getUint16(off + 2), end: off + 4 };
}

/**
 * An answer to `q` (echoing its question from `query`): A records for `ips`, or none with `rcode`.
 * Flags: QR, the query's opcode and RD, RA; AA because the network is our zone.
 */
export function buildAnswer(query: Uint8Array, q: DnsQuestion, ips: string[], rcode = 0, ttl = 600): Uint8Array {
  const question = query.subarray(12, q.end);
  const answers = q.type === TYPE_A ? ips : [];
  const out = new Uint8Array(12 + question.length + answers.length * 16);
  const dv = new DataView(out.buffer);
  dv.setUint16(0, q.id);
  dv.setUint16(2, 0x8000 | (q.flags & 0x7800) | 0x0400 | (q.flags & 0x0100) | 0x0080 | (rcode & 0xf));
  dv.setUint16(4, 1);
  dv.setUint16(6, answers.length);
  out.set(question, 12);
  let off = 12 + question.length;
  for (const ip of answers) {
    dv.setUint16(off, 0xc00c); // pointer to the question's name
    dv.setUint16(off + 2, TYPE_A);
    dv.setUint16(off + 4, CLASS_IN);
    dv.setUint32(off + 6, ttl);
    dv.setUint16(off + 10, 4);
    out.set(ip.split(".").map(Number), off + 12);
    off += 16;
  }
  return out;
}

/** addresses recorded for `name` on a network (names compare case-insensitively) */
export function resolveOnNetwork(rec: NetworkRecord, name: string): string[] {
  const n = name.toLowerCase().replace(/\.$/, "");
  return Object.entries(rec.endpoints)
    .filter(([, e]) => (e.names ?? []).some((x) => x.toLowerCase() === n))
    .map(([ip]) => ip)
    .sort();
}

/** host resolvers from resolv.conf text, as "ip:53" */
export function upstreamsFrom(resolvConf: string): string[] {
  return resolvConf
    .split("\n")
    .map((l) => /^\s*nameserver\s+(\S+)/.exec(l)?.[1])
    .filter((x): x is string => !!x && /^\d{1,3}(\.\d{1,3}){3}$/.test(x))
    .map((ip) => `${ip}:53`);
}

export interface DnsServerOptions {
  /** berth state root (records under <root>/network) */
  root: string;
  network: string;
  /** address to listen on; default the network's gateway */
  hostname?: string;
  port?: number;
  /** "ip:port" resolvers for other names; default the host's /etc/resolv.conf */
  upstreams?: string[];
}

export interface DnsServer {
  hostname: string;
  port: number;
  stop(): void;
}

/**
 * Serve a network's names. The record is re-read when its file changes (mtime), so containers
 * connected later resolve without restarting the server. Forwarded queries keep their id; replies are
 * matched back by (id, upstream) and dropped after 5 s.
 */
export async function startDnsServer(o: DnsServerOptions): Promise<DnsServer> {
  const file = join(o.root, "network", `${o.network}.json`);
  if (!existsSync(file)) throw new EngineError("not_found", `network ${o.network} not found`);
  let cache: { mtime: number; rec: NetworkRecord } | undefined;
  const record = (): NetworkRecord => {
    const m = statSync(file).mtimeMs;
    if (!cache || cache.mtime !== m) cache = { mtime: m, rec: JSON.parse(readFileSync(file, "utf8")) as NetworkRecord };
    return cache.rec;
  };
  const upstreams = (o.upstreams ?? upstreamsFrom(existsSync("/etc/resolv.conf") ? readFileSync("/etc/resolv.conf", "utf8") : "")).map((u) => {
    const i = u.lastIndexOf(":");
    return { address: u.slice(0, i), port: Number(u.slice(i + 1)) };
  });
  const pending = new Map<string, { address: string; port: number; at: number }>();

  const upstream = await Bun.udpSocket({
    socket: {
      data(_s, buf, port, address) {
        if (buf.length < 2) return;
        const key = `${new DataView(buf.buffer, buf.byteOffset).getUint16(0)}@${address}:${port}`;
        const client = pending.get(key);
        if (!client) return;
        pending.delete(key);
        server.send(buf, client.port, client.address);
      },
    },
  });
  const server = await Bun.udpSocket({
    hostname: o.hostname ?? record().gateway,
    port: o.port ?? 53,
    socket: {
      data(s, buf, port, address) {
        const q = parseQuery(buf);
        if (!q) return;
        let ips: string[] = [];
        try {
          ips = resolveOnNetwork(record(), q.name);
        } catch {} // record unreadable mid-rewrite or removed: answer as for an unknown name (forwarded/NXDOMAIN)
        if (ips.length > 0 && q.class === CLASS_IN) {
          s.send(buildAnswer(buf, q, ips), port, address); // AAAA for a container name: NOERROR, no records
          return;
        }
        const up = upstreams[q.id % Math.max(1, upstreams.length)];
        if (!up) {
          s.send(buildAnswer(buf, q, [], RCODE_SERVFAIL), port, address);
          return;
        }
        const now = Date.now();
        for (const [k, v] of pending) if (now - v.at > 5000) pending.delete(k);
        pending.set(`${q.id}@${up.address}:${up.port}`, { address, port, at: now });
        upstream.send(buf, up.port, up.address);
      },
    },
  });
  return {
    hostname: server.hostname,
    port: server.port,
    stop() {
      server.close();
      upstream.close();
    },
  };
}

/** docker's in-container resolver address (`nameserver 127.0.0.11` in a user network's resolv.conf) */
export const EMBEDDED_DNS_IP = "127.0.0.11";

export interface DnsRelayOptions {
  /** the container's network namespace, /proc/<pid>/ns/net */
  netnsPath: string;
  /** where queries go: the network's DNS server, "gateway:53" */
  upstream: string;
}

/**
 * docker's 127.0.0.11 inside one container: a UDP socket bound there in the container's own network
 * namespace (made by the main thread inside it, withNetns) relays each query to the network's DNS
 * server and the answer back to the asker. Lives in the process that supervises the container; no
 * process or firewall rule inside the container. lo is brought up first (a new netns starts with lo
 * down, and 127.0.0.11 is only bindable once it is up). TCP is not relayed.
 */
export async function startDnsRelay(o: DnsRelayOptions): Promise<{ stop(): void }> {
  {
    using s = openSocketInNetns(o.netnsPath);
    const lo = linkByName(s, "lo");
    if (lo && !lo.up) setUp(s, lo.index);
  }
  const i = o.upstream.lastIndexOf(":");
  const up = { address: o.upstream.slice(0, i), port: Number(o.upstream.slice(i + 1)) };
  const pending = new Map<number, { address: string; port: number; at: number }>();
  let inner: Bun.udp.Socket<"buffer"> | undefined;
  const outer = await Bun.udpSocket({
    socket: {
      data(_s, buf, port, address) {
        if (buf.length < 2 || address !== up.address || port !== up.port) return;
        const id = new DataView(buf.buffer, buf.byteOffset).getUint16(0);
        const client = pending.get(id);
        if (!client) return;
        pending.delete(id);
        inner?.send(buf, client.port, client.address);
      },
    },
  });
  try {
    inner = await withNetns(o.netnsPath, () =>
      Bun.udpSocket({
        hostname: EMBEDDED_DNS_IP,
        port: 53,
        socket: {
          data(_s, buf, port, address) {
            if (buf.length < 12) return;
            const now = Date.now();
            for (const [k, v] of pending) if (now - v.at > 5000) pending.delete(k);
            pending.set(new DataView(buf.buffer, buf.byteOffset).getUint16(0), { address, port, at: now });
            outer.send(buf, up.port, up.address);
          },
        },
      }),
    );
  } catch (e) {
    outer.close();
    throw e;
  }
  return {
    stop() {
      inner?.close();
      outer.close();
    },
  };
}

/**
 * The relay's socket only: 127.0.0.11:53 bound in the container's network namespace (lo brought up
 * first), as a plain fd for the native monitor to serve (runtime/monitor.c), so that no Bun process has
 * to stay for it. Queries that come before the monitor runs wait in the socket's buffer.
 */
export function bindDnsRelaySocket(netnsPath: string): number {
  {
    using s = openSocketInNetns(netnsPath);
    const lo = linkByName(s, "lo");
    if (lo && !lo.up) setUp(s, lo.index);
  }
  return withNetns(netnsPath, () => boundUdpSocket(EMBEDDED_DNS_IP, 53));
}
