/**
 * docker's container listing words and layout: "Up 2 seconds", "Exited (0) 3 seconds ago", the
 * truncated quoted COMMAND, and the fields of ps's formatter context (the --format names).
 */
import { humanDuration } from "../../lib/human.ts";
import type { ContainerInfo } from "../../engine/containers/index.ts";
import { dockerStatus } from "../../engine/containers/index.ts";
import { goTime } from "./template.ts";

const ago = (iso: string, now: number) => `${humanDuration(now - Date.parse(iso.replace(/(\.\d{3})\d*Z$/, "$1Z")))} ago`;

export function statusText(i: ContainerInfo, now = Date.now()): string {
  const st = i.state;
  switch (st.Status) {
    case "running":
      return `Up ${humanDuration(now - Date.parse(st.StartedAt.replace(/(\.\d{3})\d*Z$/, "$1Z")))}${st.Health ? (st.Health.Status === "starting" ? " (health: starting)" : ` (${st.Health.Status})`) : ""}`;
    case "paused":
      return `Up ${humanDuration(now - Date.parse(st.StartedAt.replace(/(\.\d{3})\d*Z$/, "$1Z")))} (Paused)`;
    case "stopped":
      return st.Restarting ? `Restarting (${st.ExitCode}) ${ago(st.FinishedAt, now)}` : `Exited (${st.ExitCode}) ${ago(st.FinishedAt, now)}`;
    default:
      return "Created";
  }
}

/** Go's strconv.Quote for the COMMAND column */
function goQuote(s: string): string {
  return JSON.stringify(s);
}

function ellipsis(s: string, n: number): string {
  const chars = [...s];
  return chars.length <= n ? s : chars.slice(0, n - 1).join("") + "…";
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

/** `portsOf`: the PORTS column ("0.0.0.0:8080->80/tcp"), from the network records */
export function psRows(list: ContainerInfo[], noTrunc: boolean, now = Date.now(), portsOf: (i: ContainerInfo) => string = () => ""): PsRow[] {
  return list.map((i) => {
    // docker's daemon quotes each argument that holds a space: "sh -c 'exit 2'"
    const cmd = [i.cfg.Path, ...i.cfg.Args.map((a) => (a.includes(" ") ? `'${a}'` : a))].join(" ");
    const created = new Date(Date.parse(i.cfg.Created.replace(/(\.\d{3})\d*Z$/, "$1Z")));
    const image = /^sha256:[0-9a-f]{64}$/.test(i.cfg.Config.Image) && !noTrunc ? i.cfg.Config.Image.slice(7, 19) : i.cfg.Config.Image;
    return {
      ID: noTrunc ? i.cfg.Id : i.cfg.Id.slice(0, 12),
      Image: image,
      Command: goQuote(noTrunc ? cmd : ellipsis(cmd, 20)),
      CreatedAt: goTime(created),
      RunningFor: ago(i.cfg.Created, now),
      Ports: portsOf(i),
      State: dockerStatus(i.state.Status),
      Status: statusText(i, now),
      Size: "0B",
      Names: i.cfg.Name.slice(1),
      Labels: Object.entries(i.cfg.Config.Labels ?? {}).map(([k, v]) => `${k}=${v}`).join(","),
      Mounts: i.cfg.Mounts.map((m) => m.Source).join(","),
      Networks: i.cfg.Berth.Networks ? Object.keys(i.cfg.Berth.Networks).join(",") : i.cfg.HostConfig.NetworkMode,
      LocalVolumes: "0",
    };
  });
}

/** header names docker prints for `table` formats */
export const PS_HEADERS: Record<string, string> = {
  ID: "CONTAINER ID", Image: "IMAGE", Command: "COMMAND", CreatedAt: "CREATED AT", RunningFor: "CREATED",
  Ports: "PORTS", State: "STATE", Status: "STATUS", Size: "SIZE", Names: "NAMES", Labels: "LABELS",
  Mounts: "MOUNTS", Networks: "NETWORKS", LocalVolumes: "LOCAL VOLUMES",
};
