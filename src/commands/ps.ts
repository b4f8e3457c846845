/** `berth ps`: docker's columns, filters, -q, --no-trunc, --format json|table|template. */
import { defineBerthCommand } from "./_command.ts";
import { EngineError } from "../lib/errors.ts";
import { humanSize } from "../lib/human.ts";
import { FORMAT_HELP, formatRows, renderDockerTable, sortedKeys } from "./_format/table.ts";
import { PS_HEADERS, psRows } from "./_format/ps.ts";
import type { ContainerInfo } from "../engine/containers/index.ts";
import { containers } from "./container.ts";

function filterFn(filters: string[], all: ContainerInfo[]): { keep: (i: ContainerInfo) => boolean; impliesAll: boolean } {
  const by = new Map<string, string[]>();
  for (const f of filters) {
    const i = f.indexOf("=");
    if (i <= 0) throw new EngineError("invalid_argument", `bad format of filter (expected name=value)`);
    const k = f.slice(0, i), v = f.slice(i + 1);
    if (!["name", "status", "ancestor", "id", "label", "exited", "before", "since", "network", "health"].includes(k)) throw new EngineError("invalid_argument", `Invalid filter '${k}'`);
    if (k === "health" && !["starting", "healthy", "unhealthy", "none"].includes(v)) throw new EngineError("invalid_argument", `Unrecognised filter value for health: ${v}`);
    if (k === "status" && !["created", "restarting", "running", "removing", "paused", "exited", "dead"].includes(v)) {
      throw new EngineError("invalid_argument", `Invalid filter 'status=${v}'`);
    }
    by.set(k, [...(by.get(k) ?? []), v]);
  }
  // before/since name a container: keep those created before / after it (docker's creation order)
  const createdOf = (ref: string) => {
    const c = all.find((i) => i.cfg.Id === ref || i.cfg.Name.slice(1) === ref) ?? all.filter((i) => i.cfg.Id.startsWith(ref)).find((_, n, a) => a.length === 1);
    if (!c) throw new EngineError("not_found", `No such container: ${ref}`);
    return Date.parse(c.cfg.Created.replace(/(\.\d{3})\d*Z$/, "$1Z"));
  };
  const before = by.get("before")?.map(createdOf), since = by.get("since")?.map(createdOf);
  const created = (c: ContainerInfo) => Date.parse(c.cfg.Created.replace(/(\.\d{3})\d*Z$/, "$1Z"));
  const networksOf = (c: ContainerInfo) => (c.cfg.Berth.Networks ? Object.keys(c.cfg.Berth.Networks) : [c.cfg.HostConfig.NetworkMode]);
  const any = (k: string, pred: (v: string) => boolean) => !by.has(k) || by.get(k)!.some(pred);
  return {
    impliesAll: by.has("status") || by.has("exited") || by.has("before") || by.has("since"),
    keep: (c) =>
      (!before || before.every((t) => created(c) < t)) &&
      (!since || since.every((t) => created(c) > t)) &&
      any("network", (v) => networksOf(c).includes(v)) &&
      any("name", (v) => new RegExp(v).test(c.cfg.Name.slice(1))) &&
      any("id", (v) => c.cfg.Id.startsWith(v)) &&
      any("status", (v) => (c.state.Restarting ? "restarting" : ({ created: "created", creating: "created", running: "running", paused: "paused", stopped: "exited" })[c.state.Status]) === v) &&
      any("health", (v) => (c.state.Status === "running" || c.state.Status === "paused" ? c.state.Health?.Status ?? "none" : "none") === v) &&
      any("exited", (v) => c.state.Status === "stopped" && c.state.ExitCode === Number(v)) &&
      any("ancestor", (v) => {
        const img = c.cfg.Config.Image;
        const norm = (s: string) => (s.includes(":") || s.includes("@") ? s : `${s}:latest`);
        return img === v || norm(img) === norm(v) || c.cfg.Image === v || c.cfg.Image.replace(/^sha256:/, "").startsWith(v.replace(/^sha256:/, ""));
      }) &&
      (!by.has("label") || by.get("label")!.every((v) => {
        const [k, val] = v.split(/=(.*)/s);
        const labels = c.cfg.Config.Labels ?? {};
        return k! in labels && (val === undefined || labels[k!] === val);
      })),
  };
}

export default defineBerthCommand({
  meta: { name: "ps", description: "List containers", usage: "[OPTIONS]", aliases: ["berth container ls", "berth container list", "berth container ps", "berth ps"], maxArgs: 0 },
  args: {
    all: { type: "boolean", alias: "a", description: "Show all containers (default shows just running)" },
    filter: { type: "string", multiple: true, alias: "f", description: "Filter output based on conditions provided" },
    format: { type: "string", description: FORMAT_HELP },
    last: { type: "string", alias: "n", description: "Show n last created containers (includes all states)", valueHint: "int" },
    latest: { type: "boolean", alias: "l", description: "Show the latest created container (includes all states)" },
    "no-trunc": { type: "boolean", description: "Don't truncate output" },
    quiet: { type: "boolean", alias: "q", description: "Only display container IDs" },
    size: { type: "boolean", alias: "s", description: "Display total file sizes" },
  },
  async run({ flags, ctx }) {
    const svc = await containers(ctx);
    const filters = (flags.filter as string[]) ?? [];
    const last = flags.latest ? 1 : flags.last !== undefined ? Number(flags.last) : -1;
    const { keep, impliesAll } = filterFn(filters, svc.list(true));
    let list = svc.list(!!flags.all || impliesAll || last >= 0).filter(keep);
    if (last >= 0) list = list.slice(0, last);
    const noTrunc = !!flags["no-trunc"];
    const rows = psRows(list, noTrunc, Date.now(), (i) => svc.portsColumn(i));
    if (flags.quiet) {
      ctx.out(rows.map((r) => r.ID + "\n").join(""));
      return;
    }
    const size = !!flags.size;
    if (size) {
      // docker's SIZE: the container's own layer, and with its image's ("virtual")
      const engine = await ctx.engine();
      const imageSize = new Map((await engine.images.list()).map((i) => [i.id as string, i.size]));
      for (const [n, r] of rows.entries()) {
        const c = list[n]!;
        const rw = (await engine.snapshots.usage(c.cfg.Berth.SnapshotKey).catch(() => ({ size: 0 }))).size;
        r.Size = `${humanSize(rw)} (virtual ${humanSize(rw + (imageSize.get(c.cfg.Image) ?? 0))})`;
      }
    }
    const header = ["CONTAINER ID", "IMAGE", "COMMAND", "CREATED", "STATUS", "PORTS", "NAMES", ...(size ? ["SIZE"] : [])];
    // docker's formatter context: the row's fields in sorted order, and its .Label "key" method
    const objs = rows.map((r, n) => {
      const labels = list[n]!.cfg.Config.Labels ?? {};
      return Object.assign(sortedKeys(r), { Label: (k: unknown) => labels[String(k)] ?? "" });
    });
    formatRows(ctx.out, typeof flags.format === "string" ? flags.format : undefined, objs, PS_HEADERS, () =>
      ctx.out(renderDockerTable(header, rows.map((r) => [r.ID, r.Image, r.Command, r.RunningFor, r.Status, r.Ports, r.Names, ...(size ? [r.Size] : [])]))),
      "ContainerContext",
    );
  },
});
