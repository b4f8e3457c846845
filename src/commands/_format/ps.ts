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

/** the PORTS column: "0.0.0.0:8080->80/tcp, 53/udp", in the order the engine lists them */
export function portsColumn(ports: Port[]): string {
  return ports
    .map((p) => (p.PublicPort !== undefined ? `${p.IP ?? "0.0.0.0"}:${p.PublicPort}->${p.PrivatePort}/${p.Type}` : `${p.PrivatePort}/${p.Type}`))
    .join(", ");
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
};
