/**
 * The network half of the engine: docker's `network` verbs over src/net's NetworkManager (drivers picked
 * from src/net's registry), the engine-wide network settings (docker daemon's --bridge / --bip), and the
 * lifecycle of the embedded DNS resolvers.
 *
 * Settings (NetworkSettings, from the engine's options). berth has no daemon, so what docker reads from
 * daemon flags main.ts reads from the environment of every berth process that touches networks:
 *   BERTH_BRIDGE      `bridge`: device of the default network (docker's --bridge), default berth0
 *   BERTH_BIP         `bip`: its subnet, "172.30.0.0/16" or docker's gateway form "172.30.0.1/16"
 *   BERTH_NFT_TABLE   `nftTable`: berth's nftables table, default "berth"
 * They matter when the default network's record is first written and whenever rules change; the
 * detached processes berth starts (monitor, DNS) get them passed on as those variables (`networkEnv`).
 * Tests set all three so they never share the host's default bridge or table with other users of the
 * machine.
 *
 * Embedded DNS. One `berth __dns` process per root (the native one, runtime/monitor.c's DNS mode, or
 * this file's serveDns under BERTH_MONITOR=bun) serves every user-defined network that has containers, listening on each network's gateway, port 53 (see src/net/dns.ts for why not
 * 127.0.0.11); one process instead of one per network keeps the resident cost of a network to a pair of
 * sockets (issue 13). A network is marked wanted (.dns/wanted/<name>) when a container connects and
 * unmarked when the last endpoint leaves or the network is removed, under one flock so a start and a
 * stop cannot cross: the stop re-reads the record under the lock and keeps a network that got a new
 * endpoint in the meantime. The server scans again on SIGHUP and every 2 s, and ends with the last
 * wanted network. Its pid is trusted only with a matching start time.
 */
import { closeSync, constants, existsSync, mkdirSync, openSync, readdirSync, readFileSync, unlinkSync } from "node:fs";
import { constants as osConstants } from "node:os";
import { join } from "node:path";
import { EngineError } from "../lib/errors.ts";
import { Filters, matchLabel } from "./filters.ts";
import { EventLog } from "./events.ts";
import { parseTimeArg } from "./containers/logs.ts";
import { replaceFile } from "../lib/atomic-write.ts";
import type { Logger } from "../lib/log.ts";
import { flock, LOCK_EX, LOCK_UN } from "../ffi/index.ts";
import { kill } from "../ffi/proc.ts";
import { nativeMonitorPath, processStartTime } from "../runtime/index.ts";
import {
  DEFAULT_NETWORK,
  DEFAULT_NETWORK_DRIVER,
  NetworkManager,
  creatableDriver,
  isReservedNetworkName,
  parseSubnet,
  parseAddressPools,
  formatSubnet,
  predefinedNetworks,
  startDnsRelay,
  startDnsServer,
  type DnsServer,
  type NetworkRecord,
} from "../net/index.ts";

export { DEFAULT_NETWORK };

/** engine-wide network settings (docker daemon's --bridge, --bip; berth's nftables table); unset = default */
export interface NetworkSettings {
  /** device of the default network, default berth0 */
  bridge?: string;
  /** the default network's subnet: "172.30.0.0/16" or docker's gateway form "172.30.0.1/16" */
  bip?: string;
  /** berth's nftables table, default "berth" */
  nftTable?: string;
  /** docker's default-address-pools as "BASE/size,…" ("10.10.0.0/16/24": /24 networks cut from 10.10.0.0/16) */
  addressPools?: string;
}

/** how to run this berth again for a helper process: argv prefix (`<argv> --root R __dns NET`) and its environment */
export interface SelfCommand {
  argv: string[];
  env: Record<string, string>;
}

/** the environment variables main.ts reads NetworkSettings from (and hands on to berth's own helpers) */
export const NETWORK_ENV = {
  bridge: "BERTH_BRIDGE",
  bip: "BERTH_BIP",
  nftTable: "BERTH_NFT_TABLE",
  addressPools: "BERTH_ADDRESS_POOLS",
} as const satisfies Record<keyof NetworkSettings, string>;

/** NetworkSettings from an environment (main.ts); empty values are unset */
export function networkSettingsFrom(env: Record<string, string | undefined>): NetworkSettings {
  const s: NetworkSettings = {};
  for (const [k, name] of Object.entries(NETWORK_ENV) as [keyof NetworkSettings, string][]) if (env[name]) s[k] = env[name];
  return s;
}

/** the settings as the environment of a process berth starts (monitor, DNS), which reads them back */
export function networkEnv(settings: NetworkSettings): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, name] of Object.entries(NETWORK_ENV) as [keyof NetworkSettings, string][]) if (settings[k]) out[name] = settings[k]!;
  return out;
}

/** BERTH_BIP: a subnet, or docker's --bip form (the gateway address with the prefix length) */
export function bipSubnet(bip: string): string {
  const m = /^([0-9.]+)\/(\d{1,2})$/.exec(bip.trim());
  if (!m) throw new EngineError("invalid_argument", `invalid BERTH_BIP "${bip}": want a.b.c.d/len`);
  const len = Number(m[2]);
  const v = m[1]!.split(".").reduce((a, p) => ((a << 8) | Number(p)) >>> 0, 0);
  const mask = len === 0 ? 0 : (0xffffffff << (32 - len)) >>> 0;
  const net = (v & mask) >>> 0;
  return formatSubnet(parseSubnet(`${[net >>> 24, (net >>> 16) & 255, (net >>> 8) & 255, net & 255].join(".")}/${len}`));
}

export interface NetworkListEntry {
  id: string;
  name: string;
  driver: string;
  scope: "local";
  createdAt: string;
  internal: boolean;
  record?: NetworkRecord;
}

export class NetworkService {
  readonly mgr: NetworkManager;
  private readonly dnsDir: string;

  readonly log: Logger;
  readonly settings: NetworkSettings;

  /** docker's network events (create, destroy; connect/disconnect come from the containers) */
  private readonly events: EventLog;

  constructor(private readonly o: { root: string; log: Logger; settings?: NetworkSettings; self?: SelfCommand }) {
    this.log = o.log;
    this.events = new EventLog(o.root);
    this.settings = o.settings ?? {};
    this.mgr = new NetworkManager({
      root: o.root,
      defaultBridge: this.settings.bridge || undefined,
      defaultSubnet: this.settings.bip ? bipSubnet(this.settings.bip) : undefined,
      natTable: this.settings.nftTable || undefined,
      addressPools: this.settings.addressPools ? parseAddressPools(this.settings.addressPools) : undefined,
    });
    this.dnsDir = join(o.root, "network", ".dns");
  }

  /** the settings as environment variables, for the processes berth starts */
  childEnv(): Record<string, string> {
    return networkEnv(this.settings);
  }

  /** a network by name, full id or unique id prefix; throws not_found */
  resolve(ref: string): NetworkRecord {
    if (ref === DEFAULT_NETWORK || ref === "default") return this.mgr.inspect(DEFAULT_NETWORK);
    const byName = this.mgr.store.list().find((r) => r.name === ref);
    if (byName) return byName;
    const byId = /^[0-9a-f]{1,64}$/.test(ref) ? this.mgr.store.list().filter((r) => r.id.startsWith(ref)) : [];
    if (byId.length === 1) return byId[0]!;
    throw new EngineError("not_found", `network ${ref} not found`);
  }

  /** host and none, each with this root's id and creation time for it (docker's predefined networks) */
  predefined(): { name: string; driver: string; id: string; created: string }[] {
    const pre = predefinedNetworks();
    const ids = this.mgr.store.predefined(pre.map((p) => p.name));
    return pre.map((p) => ({ name: p.name, driver: p.driver, id: ids[p.name]!.id, created: ids[p.name]!.created }));
  }

  list(): NetworkListEntry[] {
    const recs = [this.mgr.inspect(DEFAULT_NETWORK), ...this.mgr.store.list().filter((r) => r.name !== DEFAULT_NETWORK)];
    const out: NetworkListEntry[] = recs.map((r) => ({
      id: r.id,
      name: r.name,
      driver: r.driver,
      scope: "local",
      createdAt: r.createdAt,
      internal: r.internal,
      record: r,
    }));
    for (const p of this.predefined()) out.push({ id: p.id, name: p.name, driver: p.driver, scope: "local", createdAt: p.created, internal: false });
    return out.sort((a, b) => a.name.localeCompare(b.name));
  }

  create(
    name: string,
    o: { subnet?: string; gateway?: string; internal?: boolean; driver?: string; labels?: Record<string, string>; attachable?: boolean },
  ): NetworkRecord {
    const driver = creatableDriver(o.driver || DEFAULT_NETWORK_DRIVER).name;
    if (isReservedNetworkName(name)) {
      throw new EngineError("failed_precondition", `operation is not permitted on predefined ${name} network`);
    }
    if (o.gateway && !o.subnet) throw new EngineError("invalid_argument", "--gateway needs --subnet");
    const rec = this.mgr.create(name, { ...o, driver });
    this.events.emit("network", "create", rec.id, { name: rec.name, type: rec.driver });
    return rec;
  }

  /** `network rm`: refused while containers are connected (endpoints of removed containers are reclaimed first) */
  remove(ref: string, isKnownContainer: (id: string) => boolean): string {
    if (isReservedNetworkName(ref)) {
      throw new EngineError("failed_precondition", `${ref} is a pre-defined network and cannot be removed`);
    }
    const rec = this.resolve(ref);
    this.mgr.releaseStale(isKnownContainer);
    try {
      this.mgr.remove(rec.name);
    } catch (e) {
      if (e instanceof EngineError && e.kind === "failed_precondition") {
        throw new EngineError(e.kind, `error while removing network: ${e.message}`, { hint: e.hint });
      }
      throw e;
    }
    this.stopDns(rec.name, true);
    this.events.emit("network", "destroy", rec.id, { name: rec.name, type: rec.driver });
    return rec.name;
  }

  /**
   * `network prune`: the unused networks, those created before `until` (ms) and matching docker's
   * `label` / `label!` filters
   */
  prune(isKnownContainer: (id: string) => boolean, filters?: Filters): string[] {
    this.mgr.releaseStale(isKnownContainer);
    const f = (filters ?? new Filters()).validate(["until", "label", "label!"]);
    const now = Date.now();
    const until = f.get("until").map((v) => parseTimeArg(v, now));
    const before = new Map(this.mgr.store.list().map((r) => [r.name, r]));
    const removed = this.mgr.prune(
      (rec) =>
        until.every((t) => Date.parse(rec.createdAt) < t) &&
        f.every("label", (v) => matchLabel(rec.labels ?? {}, v)) &&
        f.every("label!", (v) => !matchLabel(rec.labels ?? {}, v)),
    );
    for (const n of removed) {
      this.stopDns(n, true);
      const rec = before.get(n);
      if (rec) this.events.emit("network", "destroy", rec.id, { name: rec.name, type: rec.driver });
    }
    return removed;
  }

  // ------------------------------------------------------------------------------------ DNS

  /** the DNS lock (one for the root's single server), held while `fn` (sync or async) runs; flock is
   * per open file, so one process never shares it with itself across an await */
  private withDnsLock<R>(fn: () => R): R {
    mkdirSync(this.dnsDir, { recursive: true, mode: 0o700 });
    const fd = openSync(join(this.dnsDir, "all.lock"), constants.O_RDWR | constants.O_CREAT | 0o2000000 /* O_CLOEXEC */, 0o600);
    flock(fd, LOCK_EX);
    const release = () => {
      flock(fd, LOCK_UN);
      closeSync(fd);
    };
    let r: R;
    try {
      r = fn();
    } catch (e) {
      release();
      throw e;
    }
    if (r instanceof Promise) return r.finally(release) as R;
    release();
    return r;
  }

  private pidFile(): string {
    return join(this.dnsDir, "all.json");
  }

  /** the networks the server should serve: one empty file each */
  private wantedDir(): string {
    return join(this.dnsDir, "wanted");
  }

  /** what the server serves now, by network: "ok" or "err <message>" (written by the server after each scan) */
  private served(): Record<string, string> {
    try {
      return JSON.parse(readFileSync(join(this.dnsDir, "served.json"), "utf8")) as Record<string, string>;
    } catch {
      return {}; // none yet (or torn mid-write): nothing known to be served
    }
  }

  /** the running DNS server's pid (it serves every user network of this root) if it serves `network`, or 0 */
  dnsPid(network?: string): number {
    try {
      const r = JSON.parse(readFileSync(this.pidFile(), "utf8")) as { pid: number; startTime: string };
      const pid = r.pid && processStartTime(r.pid) === r.startTime ? r.pid : 0;
      return pid && (network === undefined || this.served()[network] === "ok") ? pid : 0;
    } catch {
      return 0; // no pid file (never started, stopped) or a torn one: no server to trust
    }
  }

  /**
   * Make sure the network's names are served (user networks only). One `berth __dns` process serves
   * every user network of the root that has containers: the network is marked wanted, and the server
   * is started (its "ok" comes once it listens on every wanted network) or told to scan again
   * (SIGHUP); this returns once the server lists the network as served.
   */
  async ensureDns(network: string, retry = true): Promise<void> {
    if (network === DEFAULT_NETWORK) return;
    await this.withDnsLock(async () => {
      mkdirSync(this.wantedDir(), { recursive: true, mode: 0o700 });
      replaceFile(join(this.wantedDir(), network), "", 0o600);
      const pid = this.dnsPid();
      if (pid) {
        if (this.served()[network] !== "ok")
          try {
            kill(pid, osConstants.signals.SIGHUP);
          } catch {} // it ended just now: the wait below starts another
        return;
      }
      try {
        unlinkSync(join(this.dnsDir, "served.json"));
      } catch {} // none left by an earlier server
      const started = await this.spawnDnsHelper("all", [], "start DNS server");
      // a pid is meaningless after a reboot: no fsync (replaceFile)
      replaceFile(this.pidFile(), JSON.stringify({ pid: started, startTime: processStartTime(started) ?? "" }), 0o600);
    });
    // a bind that failed is retried for a second: a server just stopped may still hold the address
    let failedSince = 0;
    let hupAt = 0;
    for (const end = Date.now() + 5000; Date.now() < end; await Bun.sleep(5)) {
      const s = this.served()[network];
      if (s === "ok") return;
      if (s?.startsWith("err ")) {
        failedSince ||= Date.now();
        if (Date.now() - failedSince > 1000) throw new EngineError("unavailable", `start DNS server for network ${network}: ${s.slice(4)}`);
        const pid = this.dnsPid();
        if (pid && Date.now() - hupAt >= 100) {
          hupAt = Date.now();
          try {
            kill(pid, osConstants.signals.SIGHUP);
          } catch {} // it ended just now: the check below starts another
        }
      }
      // the server ended meanwhile (it leaves when nothing is wanted any more): start it again, once
      if (!this.dnsPid()) {
        if (retry) return this.ensureDns(network, false);
        break;
      }
    }
    throw new EngineError("unavailable", `start DNS server for network ${network}: it did not answer`, { hint: `see ${join(this.dnsDir, "all.log")}` });
  }

  /** stop serving the network when it has no endpoints left (or always, with `force`); the server ends with the last one */
  stopDns(network: string, force = false): void {
    if (network === DEFAULT_NETWORK || !existsSync(this.dnsDir)) return;
    this.withDnsLock(() => {
      if (!force) {
        const rec = this.mgr.store.get(network);
        if (rec && Object.keys(rec.endpoints).length > 0) return;
      }
      try {
        unlinkSync(join(this.wantedDir(), network));
      } catch {} // not wanted: nothing to forget
      let left: string[] = [];
      try {
        left = readdirSync(this.wantedDir()).filter((f) => !f.startsWith("."));
      } catch {} // no wanted directory: nothing is served
      const pid = this.dnsPid();
      if (pid) {
        // gone already (false) is what we want; EPERM cannot happen for a server this root started as root
        try {
          kill(pid, left.length ? osConstants.signals.SIGHUP : osConstants.signals.SIGTERM);
        } catch {}
      }
      if (!left.length)
        for (const f of ["all.json", "served.json"])
          try {
            unlinkSync(join(this.dnsDir, f));
          } catch {} // none: nothing to forget
    });
    if (force) {
      // files of the per-network servers of earlier versions; absent files are fine
      for (const f of [`${network}.lock`, `${network}.log`, `${network}.json`])
        try {
          unlinkSync(join(this.dnsDir, f));
        } catch {
          // absent files are fine: the network never had a server
        }
    }
  }

  /**
   * `berth __dns ARGS…` detached (its own session, stderr appended to the network's log), once it has said
   * "ok" on stdout: it listens. Returns its pid; `what` names the step in the error.
   */
  private async spawnDnsHelper(network: string, args: string[], what: string): Promise<number> {
    const self = this.o.self;
    if (!self) throw new EngineError("unavailable", `${what}: this engine was opened without a berth command to run`);
    const log = join(this.dnsDir, `${network}.log`);
    const logFd = openSync(log, constants.O_WRONLY | constants.O_CREAT | constants.O_APPEND, 0o600);
    // the server of every network: the native one (runtime/monitor.c's DNS mode) unless BERTH_MONITOR=bun
    const native = network === "all" && self.env.BERTH_MONITOR !== "bun" ? await nativeMonitorPath(join(this.o.root, "bin")) : undefined;
    const argv = native ? [native] : [...self.argv];
    const proc = Bun.spawn([...argv, "--root", this.o.root, "__dns", ...args], {
      stdin: "ignore",
      stdout: "pipe",
      stderr: logFd,
      detached: true,
      cwd: "/",
      env: { ...self.env, ...this.childEnv() },
    });
    closeSync(logFd);
    proc.unref();
    const line = await firstLine(proc.stdout, 5000);
    if (!line.startsWith("ok")) {
      try {
        proc.kill(9);
      } catch {} // it may have exited already; the error below is what matters
      throw new EngineError("unavailable", `${what}: ${line.replace(/^err /, "") || "exited before it listened"}`, { hint: `see ${log}` });
    }
    return proc.pid;
  }

  /**
   * docker's 127.0.0.11 for a container that is already running (`network connect` to a user network of a
   * container that had none): `berth __dns --relay PID:GATEWAY <network>` detached, which holds the relay
   * until the container's process is gone. Resolves once the relay is bound.
   */
  async startRelay(network: string, pid: number, gateway: string, containerId: string): Promise<void> {
    mkdirSync(this.dnsDir, { recursive: true, mode: 0o700 });
    const relay = await this.spawnDnsHelper(network, ["--relay", `${pid}:${gateway}`, network], `start DNS relay for network ${network}`);
    // a pid is meaningless after a reboot: no fsync (replaceFile)
    replaceFile(this.relayFile(containerId), JSON.stringify({ pid: relay, startTime: processStartTime(relay) ?? "" }), 0o600);
  }

  private relayFile(containerId: string): string {
    return join(this.dnsDir, `relay-${containerId}.json`);
  }

  /** end the relay startRelay left for a container (its stop or removal); never throws */
  stopRelay(containerId: string): void {
    const file = this.relayFile(containerId);
    try {
      const r = JSON.parse(readFileSync(file, "utf8")) as { pid: number; startTime: string };
      // only the process that was started (same start time); gone already is what we want
      if (r.pid && processStartTime(r.pid) === r.startTime)
        try {
          kill(r.pid, osConstants.signals.SIGTERM);
        } catch {
          // gone already is what we want
        }
    } catch {
      return; // no relay file (none was started) or a torn one: nothing to end; the relay also exits with the container
    }
    try {
      unlinkSync(file);
    } catch {} // removed by a concurrent stop: same result
  }

  /** body of `berth __dns --relay PID:GATEWAY <network>`: relay 127.0.0.11 in PID's network namespace to the
   * network's server until PID is gone (checked by its start time) or `stop` aborts */
  async serveRelay(pid: number, gateway: string, ready: (line: string) => void, stop: AbortSignal): Promise<number> {
    const startTime = processStartTime(pid);
    let relay;
    try {
      if (!startTime) throw new Error(`process ${pid} is gone`);
      relay = await startDnsRelay({ netnsPath: `/proc/${pid}/ns/net`, upstream: `${gateway}:53` });
    } catch (e) {
      ready(`err ${(e as Error).message}`);
      return 1;
    }
    ready("ok");
    await new Promise<void>((resolve) => {
      const t = setInterval(() => {
        if (processStartTime(pid) !== startTime) done();
      }, 1000);
      const done = () => {
        clearInterval(t);
        resolve();
      };
      if (stop.aborted) done();
      else stop.addEventListener("abort", done, { once: true });
    });
    relay.stop();
    return 0;
  }

  /**
   * body of `berth __dns`: serve every wanted user network (ensureDns) on its gateway, scanning again on
   * `rescan` (SIGHUP) and every 2 s: new networks are bound, removed ones released, and served.json
   * says what is served. Ends on `stop` (SIGTERM/SIGINT), or when nothing is wanted any more.
   */
  async serveDns(ready: (line: string) => void, stop: AbortSignal, onRescan: (fn: () => void) => void): Promise<number> {
    const servers = new Map<string, { server?: DnsServer; gateway: string; error?: string }>();
    const wanted = (): Map<string, string> => {
      const out = new Map<string, string>();
      let names: string[] = [];
      try {
        names = readdirSync(this.wantedDir()).filter((f) => !f.startsWith("."));
      } catch {} // no wanted directory: nothing to serve
      for (const n of names) {
        const rec = this.mgr.store.get(n);
        if (rec) out.set(n, rec.gateway);
      }
      return out;
    };
    let chain = Promise.resolve();
    let empty = false;
    const scan = () =>
      (chain = chain.then(async () => {
        const want = wanted();
        for (const [n, s] of servers)
          if (want.get(n) !== s.gateway || s.error) {
            s.server?.stop();
            servers.delete(n);
          }
        for (const [n, gateway] of want) {
          if (servers.has(n)) continue;
          try {
            servers.set(n, { server: await startDnsServer({ root: this.o.root, network: n }), gateway });
          } catch (e) {
            servers.set(n, { gateway, error: (e as Error).message.replace(/\n/g, " ") });
          }
        }
        const served: Record<string, string> = {};
        for (const [n, s] of servers) served[n] = s.error ? `err ${s.error}` : "ok";
        replaceFile(join(this.dnsDir, "served.json"), JSON.stringify(served), 0o600);
        empty = want.size === 0;
      }));
    await scan();
    ready("ok");
    onRescan(() => void scan());
    await new Promise<void>((resolve) => {
      const t = setInterval(() => {
        void scan().then(() => {
          if (empty) done();
        });
      }, 2000);
      const done = () => {
        clearInterval(t);
        resolve();
      };
      if (stop.aborted) done();
      else stop.addEventListener("abort", done, { once: true });
    });
    for (const s of servers.values()) s.server?.stop();
    return 0;
  }
}

async function firstLine(stream: ReadableStream<Uint8Array>, timeoutMs: number): Promise<string> {
  const reader = stream.getReader();
  let text = "";
  const timer = setTimeout(() => void reader.cancel().catch(() => {}), timeoutMs); // the read below ends either way; a closed stream refuses the cancel
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (value) text += Buffer.from(value).toString();
      if (done || text.includes("\n")) break;
    }
  } catch {} // cancelled by the timeout or the pipe broke: the caller judges what was read (maybe nothing)
  clearTimeout(timer);
  try {
    reader.releaseLock();
  } catch {} // a cancelled reader may refuse; the stream is dropped anyway
  return text.split("\n")[0] ?? "";
}
