/**
 * docker's container listing words and layouts: "Up 2 seconds", "Exited (0) 3 seconds ago", the
 * truncated quoted COMMAND, tabwriter tables (minwidth 10, padding 3) and a small Go-template subset
 * (`{{.Field}}`, `{{.A.B}}`, `{{json .X}}`, `{{index .Labels "k"}}`, `table` prefix, `\t` `\n`).
 */
import { humanDuration } from "../../lib/human.ts";
import type { ContainerInfo } from "./service.ts";
import { dockerStatus } from "./types.ts";

const ago = (iso: string, now: number) => `${humanDuration(now - Date.parse(iso.replace(/(\.\d{3})\d*Z$/, "$1Z")))} ago`;

export function statusText(i: ContainerInfo, now = Date.now()): string {
  const st = i.state;
  switch (st.Status) {
    case "running":
      return `Up ${humanDuration(now - Date.parse(st.StartedAt.replace(/(\.\d{3})\d*Z$/, "$1Z")))}`;
    case "paused":
      return `Up ${humanDuration(now - Date.parse(st.StartedAt.replace(/(\.\d{3})\d*Z$/, "$1Z")))} (Paused)`;
    case "stopped":
      return `Exited (${st.ExitCode}) ${ago(st.FinishedAt, now)}`;
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
    const cmd = [i.cfg.Path, ...i.cfg.Args].join(" ");
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

/** Go's time.Time String(): "2024-01-02 15:04:05 +0000 UTC" */
function goTime(d: Date): string {
  const p = (n: number) => String(n).padStart(2, "0");
  return `${d.getUTCFullYear()}-${p(d.getUTCMonth() + 1)}-${p(d.getUTCDate())} ${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())} +0000 UTC`;
}

/** text/tabwriter as docker's CLI configures it: minwidth 10, tabwidth 1, padding 3 */
export function renderDockerTable(header: string[], rows: string[][]): string {
  const all = [header, ...rows];
  const widths = header.map((_, c) => Math.max(10, ...all.map((r) => [...(r[c] ?? "")].length + 3)));
  return all
    .map((r) => r.map((cell, c) => (c === r.length - 1 ? cell : cell + " ".repeat(Math.max(0, widths[c]! - [...cell].length)))).join(""))
    .join("\n") + "\n";
}

function lookup(data: unknown, path: string): unknown {
  if (path === "." || path === "") return data;
  let cur: unknown = data;
  for (const part of path.replace(/^\./, "").split(".")) {
    if (cur === null || cur === undefined) return undefined;
    cur = (cur as Record<string, unknown>)[part];
  }
  return cur;
}

function goString(v: unknown): string {
  if (v === null || v === undefined) return "<no value>";
  if (Array.isArray(v)) return `[${v.map(goString).join(" ")}]`;
  if (typeof v === "object") return `map[${Object.entries(v as object).sort(([a], [b]) => (a < b ? -1 : 1)).map(([k, x]) => `${k}:${goString(x)}`).join(" ")}]`;
  return String(v);
}

/** the template subset; throws on anything it does not understand */
export function renderTemplate(tmpl: string, data: unknown): string {
  const t = tmpl.replace(/\\t/g, "\t").replace(/\\n/g, "\n");
  return t.replace(/\{\{-?\s*(.*?)\s*-?\}\}/g, (_, expr: string) => {
    let m;
    if ((m = /^json\s+(\.[\w.]*)$/.exec(expr))) return JSON.stringify(lookup(data, m[1]!) ?? null);
    if ((m = /^(\.[\w.]*)\s*\|\s*json$/.exec(expr))) return JSON.stringify(lookup(data, m[1]!) ?? null);
    if ((m = /^index\s+(\.[\w.]*)\s+"([^"]*)"$/.exec(expr))) {
      const v = (lookup(data, m[1]!) as Record<string, unknown> | undefined)?.[m[2]!];
      return v === undefined ? "<no value>" : goString(v);
    }
    if ((m = /^(upper|lower)\s+(\.[\w.]*)$/.exec(expr))) {
      const s = goString(lookup(data, m[2]!));
      return m[1] === "upper" ? s.toUpperCase() : s.toLowerCase();
    }
    if (/^\.[\w.]*$/.test(expr)) return goString(lookup(data, expr));
    throw new Error(`template: unsupported expression {{${expr}}}`);
  });
}

/** header names docker prints for `table` formats */
export const PS_HEADERS: Record<string, string> = {
  ID: "CONTAINER ID", Image: "IMAGE", Command: "COMMAND", CreatedAt: "CREATED AT", RunningFor: "CREATED",
  Ports: "PORTS", State: "STATE", Status: "STATUS", Size: "SIZE", Names: "NAMES", Labels: "LABELS",
  Mounts: "MOUNTS", Networks: "NETWORKS", LocalVolumes: "LOCAL VOLUMES",
};
