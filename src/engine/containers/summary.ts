/**
 * docker's container views, computed from the records the way moby's daemon computes them: the list
 * (`GET /containers/json`: ContainerSummary, with its filters, limit and sizes) and inspect
 * (`GET /containers/{id}/json`: ContainerInspect, with sizes). Free functions over the service, so the
 * CLI and a daemon make the same call.
 */
import { humanDuration } from "../../lib/human.ts";
import { EngineError } from "../../lib/errors.ts";
import type { SnapshotDriver } from "../../cow/driver.ts";
import type { ContainerInspect, ContainerListOptions, ContainerSummary, Port } from "../api/views.ts";
import { Filters, invalidFilter } from "../filters.ts";
import type { ContainerInfo, ContainerService } from "./service.ts";
import { dockerStatus, isActive, listedMounts, type ContainerConfigFile } from "./types.ts";
import { hostHasIpv6, networkSettings } from "./networking.ts";
import { bindingAddrs } from "../../net/index.ts";

/**
 * GraphDriver.Data as docker's drivers report it: overlay2's LowerDir (colon list, nearest first),
 * UpperDir, WorkDir and MergedDir; vfs and btrfs report none (null). berth mounts a container's rootfs
 * only inside the container's own mount namespace, so MergedDir is that view from the host,
 * /proc/PID/root, while the container runs (absent otherwise).
 */
async function graphDriverData(snapshots: SnapshotDriver, info: ContainerInfo): Promise<Record<string, string> | null> {
  if (snapshots.name !== "overlay") return null;
  let mounts;
  try {
    mounts = await snapshots.mounts(info.cfg.Berth.SnapshotKey);
  } catch (e) {
    if (e instanceof EngineError && e.kind === "not_found") return null; // a record whose layer is gone: `system check` names it
    throw e;
  }
  const data: Record<string, string> = {};
  const m = mounts[0];
  const opt = (k: string) => m?.options?.find((o) => o.startsWith(`${k}=`))?.slice(k.length + 1);
  if (m?.type === "overlay") {
    const lower = opt("lowerdir");
    if (lower) data.LowerDir = lower;
    if (isActive(info.state.Status) && info.state.Pid > 0) data.MergedDir = `/proc/${info.state.Pid}/root`;
    const upper = opt("upperdir");
    if (upper) data.UpperDir = upper;
    const work = opt("workdir");
    if (work) data.WorkDir = work;
  } else if (m) {
    // a container of a base-less image: its layer is bound, not overlaid
    if (isActive(info.state.Status) && info.state.Pid > 0) data.MergedDir = `/proc/${info.state.Pid}/root`;
    data.UpperDir = m.source;
  }
  return data;
}

/** what the views read besides the container records */
export interface SummaryDeps {
  containers: ContainerService;
  snapshots: SnapshotDriver;
  /** image id → unpacked size (SizeRootFs) */
  imageSizes(): Promise<Map<string, number>>;
  /** the ID of the image `ref` names and of every image built or committed on it (docker's ancestor
   * filter); empty when no image has that name */
  imageFamily?(ref: string): Set<string>;
}

/** an RFC 3339 time with nanoseconds, in ms (Date.parse takes three fraction digits) */
const ms = (iso: string) => Date.parse(iso.replace(/(\.\d{3})\d*Z$/, "$1Z"));
const ago = (iso: string, now: number) => `${humanDuration(now - ms(iso))} ago`;

/** docker's State.String(): "Up 2 seconds (healthy)", "Exited (0) 3 seconds ago", "Created" */
export function statusText(i: ContainerInfo, now = Date.now()): string {
  const st = i.state;
  switch (st.Status) {
    case "running":
      return `Up ${humanDuration(now - ms(st.StartedAt))}${st.Health ? (st.Health.Status === "starting" ? " (health: starting)" : ` (${st.Health.Status})`) : ""}`;
    case "paused":
      return `Up ${humanDuration(now - ms(st.StartedAt))} (Paused)`;
    case "stopped":
      return st.Restarting ? `Restarting (${st.ExitCode}) ${ago(st.FinishedAt, now)}` : `Exited (${st.ExitCode}) ${ago(st.FinishedAt, now)}`;
    default:
      return "Created";
  }
}

/** the daemon's Command: the path and arguments, an argument that holds a space in single quotes */
export function commandLine(cfg: ContainerConfigFile): string {
  return [cfg.Path, ...cfg.Args.map((a) => (a.includes(" ") ? `'${a}'` : a))].join(" ");
}

/**
 * published ports of a running container (sorted by container port), then the exposed ones not
 * published (sorted). Reads the network records only for containers that publish or expose ports.
 */
export function summaryPorts(svc: ContainerService, i: ContainerInfo): Port[] {
  const c = i.cfg;
  if (!Object.keys(c.Config.ExposedPorts ?? {}).length && !Object.keys(c.HostConfig.PortBindings ?? {}).length) return [];
  const out: Port[] = [];
  const published = new Set<string>();
  if (isActive(i.state.Status)) {
    const v6 = hostHasIpv6();
    for (const b of [...svc.ports(c.Id)].sort((a, z) => a.containerPort - z.containerPort)) {
      for (const ip of bindingAddrs(b, v6)) out.push({ IP: ip, PrivatePort: b.containerPort, PublicPort: b.hostPort, Type: b.proto });
      published.add(`${b.containerPort}/${b.proto}`);
    }
  }
  for (const k of Object.keys(c.Config.ExposedPorts ?? {}).sort((a, b) => parseInt(a, 10) - parseInt(b, 10))) {
    const key = k.includes("/") ? k : `${k}/tcp`;
    if (!published.has(key)) out.push({ PrivatePort: parseInt(key, 10), Type: key.split("/")[1] as Port["Type"] });
  }
  return out;
}

/** the networks a container is on; a mode without endpoints (host, none, container:…) names itself */
function networkNames(cfg: ContainerConfigFile): string[] {
  return cfg.Berth.Networks ? Object.keys(cfg.Berth.Networks) : [cfg.HostConfig.NetworkMode];
}

export const CONTAINER_FILTERS = [
  "name",
  "status",
  "ancestor",
  "id",
  "label",
  "exited",
  "before",
  "since",
  "network",
  "health",
  "publish",
  "expose",
  "volume",
] as const;

/**
 * docker's portOp: `80`, `80/udp`, `8000-8080/tcp` → the set of "port/proto" it names (tcp when no
 * protocol); a ':' is refused (docker: "filter for 'publish' should not contain ':'")
 */
function portSet(key: string, values: readonly string[]): Set<string> {
  const out = new Set<string>();
  for (const v of values) {
    if (v.includes(":")) throw new EngineError("invalid_argument", `filter for '${key}' should not contain ':': ${v}`);
    const slash = v.indexOf("/");
    const port = slash < 0 ? v : v.slice(0, slash);
    const proto = slash < 0 ? "tcp" : v.slice(slash + 1).toLowerCase();
    const m = /^(\d+)(?:-(\d+))?$/.exec(port);
    const start = m ? Number(m[1]) : NaN;
    const end = m?.[2] !== undefined ? Number(m[2]) : start;
    if (!m || start > 65535 || end > 65535)
      throw new EngineError("invalid_argument", `error while looking up for ${key} ${v}: invalid port ${JSON.stringify(port)}`);
    if (end < start) throw new EngineError("invalid_argument", `error while looking up for ${key} ${v}: invalid range specified for port: ${port}`);
    for (let p = start; p <= end; p++) out.add(`${p}/${proto}`);
  }
  return out;
}
const STATUSES = ["created", "restarting", "running", "removing", "paused", "exited", "dead"];
const HEALTH = ["starting", "healthy", "unhealthy", "none"];

/** docker's container filters as a predicate; `all` are the records before/since name containers in */
function containerFilter(svc: ContainerService, f: Filters, all: ContainerInfo[], family?: (ref: string) => Set<string>): (c: ContainerInfo) => boolean {
  f.validate(CONTAINER_FILTERS, "Invalid");
  for (const v of f.get("health")) if (!HEALTH.includes(v)) throw new EngineError("invalid_argument", `Unrecognised filter value for health: ${v}`);
  for (const v of f.get("status")) if (!STATUSES.includes(v)) throw invalidFilter(`status=${v}`, "Invalid");
  // before/since name a container: keep those created before / after it (docker's creation order)
  const createdOf = (ref: string) => {
    const c =
      all.find((i) => i.cfg.Id === ref || i.cfg.Name.slice(1) === ref) ?? all.filter((i) => i.cfg.Id.startsWith(ref)).find((_c, _n, a) => a.length === 1);
    if (!c) throw new EngineError("not_found", `No such container: ${ref}`);
    return ms(c.cfg.Created);
  };
  const before = f.get("before").map(createdOf),
    since = f.get("since").map(createdOf);
  const created = (c: ContainerInfo) => ms(c.cfg.Created);
  const families = new Map<string, Set<string>>();
  const ancestors = (v: string) => {
    let s = families.get(v);
    if (!s) families.set(v, (s = family?.(v) ?? new Set()));
    return s;
  };
  const publish = portSet("publish", f.get("publish")),
    expose = portSet("expose", f.get("expose"));
  // dockerd (daemon/list.go): publish names a container port of HostConfig.PortBindings, expose one of
  // Config.ExposedPorts, running or not; each filter given must match (berth matched publish against the
  // host port of a running container, so `--filter publish=80` missed `-p 8080:80`)
  const portsMatch = (c: ContainerInfo) =>
    (publish.size === 0 || Object.keys(c.cfg.HostConfig.PortBindings ?? {}).some((k) => publish.has(k))) &&
    (expose.size === 0 || Object.keys(c.cfg.Config.ExposedPorts ?? {}).some((k) => expose.has(k)));
  // docker: a volume's name (a bind's source) or a mount's destination
  const mounts = (v: string, c: ContainerInfo) => c.cfg.Mounts.some((m) => (m.Name ? m.Name === v : m.Source === v) || m.Destination === v);
  // docker: a network's name, or a prefix of its ID
  let ids: Map<string, string> | undefined; // network name → ID, read at the first value that is no name
  const idOf = (n: string) => (ids ??= new Map(svc.networks.list().map((x) => [x.name, x.id]))).get(n);
  const onNetwork = (v: string, c: ContainerInfo) => networkNames(c.cfg).includes(v) || (v !== "" && networkNames(c.cfg).some((n) => !!idOf(n)?.startsWith(v)));
  return (c) =>
    before.every((t) => created(c) < t) &&
    since.every((t) => created(c) > t) &&
    f.any("network", (v) => onNetwork(v, c)) &&
    f.any("volume", (v) => mounts(v, c)) &&
    portsMatch(c) &&
    f.any("name", (v) => new RegExp(v).test(c.cfg.Name.slice(1))) &&
    f.any("id", (v) => c.cfg.Id.startsWith(v)) &&
    f.any(
      "status",
      (v) =>
        (c.state.Restarting
          ? "restarting"
          : { created: "created", creating: "created", running: "running", paused: "paused", stopped: "exited" }[c.state.Status]) === v,
    ) &&
    f.any("health", (v) => (c.state.Status === "running" || c.state.Status === "paused" ? (c.state.Health?.Status ?? "none") : "none") === v) &&
    f.any("exited", (v) => c.state.Status === "stopped" && c.state.ExitCode === Number(v)) &&
    f.any("ancestor", (v) => {
      const img = c.cfg.Config.Image;
      const norm = (s: string) => (s.includes(":") || s.includes("@") ? s : `${s}:latest`);
      // dockerd: the image the value names and its children (images committed or built on it)
      if (ancestors(v).has(c.cfg.Image)) return true;
      return img === v || norm(img) === norm(v) || c.cfg.Image === v || c.cfg.Image.replace(/^sha256:/, "").startsWith(v.replace(/^sha256:/, ""));
    }) &&
    f.every("label", (v) => {
      const [k, val] = v.split(/=(.*)/s);
      const labels = c.cfg.Config.Labels ?? {};
      return k! in labels && (val === undefined || labels[k!] === val);
    });
}

/** docker's SizeRw (the container's own layer) and SizeRootFs (with its image's) */
async function sizes(d: SummaryDeps, cfg: ContainerConfigFile, imageSizes: Map<string, number>): Promise<{ SizeRw: number; SizeRootFs: number }> {
  // docker's measure of the layer (files' bytes, not blocks: a container that wrote nothing is 0B); a
  // layer that cannot be measured (removed meanwhile, a driver without usage) counts as empty
  const rw = (await d.snapshots.usage(cfg.Berth.SnapshotKey).catch(() => ({ apparent: 0 }))).apparent;
  return { SizeRw: rw, SizeRootFs: rw + (imageSizes.get(cfg.Image) ?? 0) };
}

/** one record as docker's list shows it */
export function toSummary(svc: ContainerService, i: ContainerInfo, now = Date.now()): ContainerSummary {
  const { cfg, state } = i;
  return {
    Id: cfg.Id,
    Names: [cfg.Name],
    Image: cfg.Config.Image,
    ImageID: cfg.Image,
    Command: commandLine(cfg),
    Created: Math.floor(ms(cfg.Created) / 1000),
    Ports: summaryPorts(svc, i),
    Labels: cfg.Config.Labels ?? {},
    // dockerd's StateString(): "restarting" while a restart policy waits to start it again (as inspect's)
    State: state.Restarting ? "restarting" : dockerStatus(state.Status),
    Status: statusText(i, now),
    HostConfig: { NetworkMode: cfg.HostConfig.NetworkMode },
    // dockerd's list carries each network's whole endpoint, as inspect's (a running container's address,
    // gateway, network and endpoint ids), not the settings the container was created with
    NetworkSettings: {
      Networks: networkSettings(svc.networks, cfg, isActive(state.Status), state.Pid).Networks as ContainerSummary["NetworkSettings"]["Networks"],
    },
    Mounts: listedMounts(cfg),
  };
}

/**
 * `GET /containers/json`: newest first; running ones only unless `all`, a `limit`, or a filter on
 * status, exited, before or since asks for others (as under docker).
 */
export async function listContainers(d: SummaryDeps, q: ContainerListOptions = {}): Promise<ContainerSummary[]> {
  const svc = d.containers;
  const f = q.filters ?? new Filters();
  const keep = containerFilter(svc, f, svc.list(true), d.imageFamily);
  const all = !!q.all || q.limit !== undefined || f.has("status") || f.has("exited") || f.has("before") || f.has("since");
  let list = svc.list(all).filter(keep);
  if (q.limit !== undefined) list = list.slice(0, Math.max(0, q.limit));
  const now = Date.now();
  const out = list.map((i) => toSummary(svc, i, now));
  if (q.size) {
    const imageSizes = await d.imageSizes();
    for (const [n, s] of out.entries()) Object.assign(s, await sizes(d, list[n]!.cfg, imageSizes));
  }
  return out;
}

/** `GET /containers/{id}/json`; not_found for an unknown reference */
export async function inspectContainer(d: SummaryDeps, ref: string, o: { size?: boolean } = {}): Promise<ContainerInspect> {
  const svc = d.containers;
  const info = svc.info(svc.resolve(ref));
  const doc = svc.inspectJson(info) as unknown as ContainerInspect;
  doc.GraphDriver = { Data: await graphDriverData(d.snapshots, info), Name: doc.GraphDriver.Name };
  if (o.size) Object.assign(doc, await sizes(d, info.cfg, await d.imageSizes()));
  return doc;
}
