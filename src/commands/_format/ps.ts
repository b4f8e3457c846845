/**
 * ps's formatter context (docker/cli formatter.ContainerContext): a ContainerSummary as the columns and
 * --format fields docker prints — the truncated quoted COMMAND, CREATED, the PORTS column.
 */
import { humanDuration, humanSize } from "../../lib/human.ts";
import type { ContainerSummary, Port } from "../../engine/index.ts";
import { goTime } from "./template.ts";

/** Go's strconv.Quote for the COMMAND column */
function goQuote(s: string): string {
  return JSON.stringify(s);
}

function ellipsis(s: string, n: number): string {
  const chars = [...s];
  return chars.length <= n ? s : chars.slice(0, n - 1).join("") + "…";
}

/**
 * The PORTS column as docker's CLI prints it (formatter.DisplayablePorts): sorted by container port,
 * address, host port, protocol; a port published on the same number, or only exposed, joins a range
 * per address and protocol ("0.0.0.0:80-81->80-81/tcp", "[::]:80->80/tcp", "7000/tcp"), listed first;
 * the others follow as "0.0.0.0:8080->80/tcp", "[::]:8080->80/tcp"
 */
export function portsColumn(ports: Port[]): string {
  const cmp = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
  const host = (ip: string) => (ip.includes(":") ? `[${ip}]` : ip); // Go's net.JoinHostPort
  const sorted = [...ports].sort(
    (a, b) => a.PrivatePort - b.PrivatePort || cmp(a.IP ?? "", b.IP ?? "") || (a.PublicPort ?? 0) - (b.PublicPort ?? 0) || cmp(a.Type, b.Type),
  );
  const groups = new Map<string, { first: number; last: number }>();
  const ranges: string[] = [];
  const mappings: string[] = [];
  const formGroup = (key: string, g: { first: number; last: number }) => {
    const i = key.lastIndexOf("/");
    const [ip, type] = i < 0 ? ["", key] : [key.slice(0, i), key.slice(i + 1)];
    const n = g.first === g.last ? String(g.first) : `${g.first}-${g.last}`;
    return `${ip ? `${host(ip)}:${n}->${n}` : n}/${type}`;
  };
  for (const p of sorted) {
    let key: string = p.Type;
    if (p.IP) {
      if (p.PublicPort !== p.PrivatePort) {
        mappings.push(`${host(p.IP)}:${p.PublicPort ?? 0}->${p.PrivatePort}/${p.Type}`);
        continue;
      }
      key = `${p.IP}/${p.Type}`;
    }
    const g = groups.get(key);
    if (!g) groups.set(key, { first: p.PrivatePort, last: p.PrivatePort });
    else if (p.PrivatePort === g.last + 1) g.last = p.PrivatePort;
    else {
      ranges.push(formGroup(key, g));
      groups.set(key, { first: p.PrivatePort, last: p.PrivatePort });
    }
  }
  for (const [key, g] of groups) ranges.push(formGroup(key, g));
  return [...ranges, ...mappings].join(", ");
}

export interface PsRow {
  ID: string;
  Image: string;
  Command: string;
  CreatedAt: string;
  RunningFor: string;
  Ports: string;
  State: string;
  Status: string;
  Size: string;
  Names: string;
  Labels: string;
  Mounts: string;
  Networks: string;
  LocalVolumes: string;
  Platform: null;
}

export function psRows(list: ContainerSummary[], noTrunc: boolean, now = Date.now()): PsRow[] {
  return list.map((c) => {
    const created = c.Created * 1000;
    const image = /^sha256:[0-9a-f]{64}$/.test(c.Image) && !noTrunc ? c.Image.slice(7, 19) : c.Image;
    return {
      ID: noTrunc ? c.Id : c.Id.slice(0, 12),
      Image: image,
      Command: goQuote(noTrunc ? c.Command : ellipsis(c.Command, 20)),
      CreatedAt: goTime(new Date(created)),
      RunningFor: `${humanDuration(now - created)} ago`,
      Ports: portsColumn(c.Ports),
      State: c.State,
      Status: c.Status,
      // docker/cli ContainerContext.Size: the virtual size only when the daemon sent a non-zero one
      Size: c.SizeRootFs ? `${humanSize(c.SizeRw ?? 0)} (virtual ${humanSize(c.SizeRootFs)})` : humanSize(c.SizeRw ?? 0),
      Names: c.Names.map((n) => n.slice(1)).join(","),
      Labels: Object.entries(c.Labels)
        .map(([k, v]) => `${k}=${v}`)
        .join(","),
      // docker/cli's ContainerContext: a volume by its name, anything else by its source, each cut to 15
      // characters unless --no-trunc; LOCAL VOLUMES counts the mounts of the "local" volume driver
      Mounts: c.Mounts.map((m) => (noTrunc ? m.Name || m.Source : ellipsis(m.Name || m.Source, 15))).join(","),
      Networks: Object.keys(c.NetworkSettings.Networks).join(","),
      LocalVolumes: String(c.Mounts.filter((m) => m.Driver === "local").length),
      // docker/cli's ContainerContext.Platform: the image manifest's platform, which dockerd sends only
      // with the containerd image store (ImageManifestDescriptor); nil otherwise, as from berth
      Platform: null,
    };
  });
}

/** header names docker prints for `table` formats */
export const PS_HEADERS: Record<string, string> = {
  ID: "CONTAINER ID",
  Image: "IMAGE",
  Command: "COMMAND",
  CreatedAt: "CREATED AT",
  RunningFor: "CREATED",
  Ports: "PORTS",
  State: "STATE",
  Status: "STATUS",
  Size: "SIZE",
  Names: "NAMES",
  Labels: "LABELS",
  Mounts: "MOUNTS",
  Networks: "NETWORKS",
  LocalVolumes: "LOCAL VOLUMES",
  Platform: "PLATFORM",
};
