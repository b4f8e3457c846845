/**
 * `system df -v`: docker's four verbose tables (cli/command/formatter/disk_usage.go verboseWriteTable):
 * "Images space usage:", "Containers space usage:", "Local Volumes space usage:" and "Build cache
 * usage: SIZE", each a table under its title, with docker's columns and size precisions.
 */
import { humanDuration, humanSize } from "../../lib/human.ts";
import { renderDockerTable } from "../_format/table.ts";
import { psRows } from "../_format/ps.ts";
import type { VerboseDiskUsage } from "../../engine/index.ts";

/** units.HumanSize (4 digits): docker's SHARED SIZE, UNIQUE SIZE and volume SIZE */
const humanSize4 = (size: number) => humanSize(size, 4);

export function renderVerboseDiskUsage(du: VerboseDiskUsage, now = Date.now()): string {
  const since = (t: string | Date) => `${humanDuration(now - (typeof t === "string" ? Date.parse(t) : t.getTime()))} ago`;
  const short = (id: string) => id.replace(/^sha256:/, "").slice(0, 12);
  let out = "Images space usage:\n\n";
  out += renderDockerTable(
    ["REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE", "SHARED SIZE", "UNIQUE SIZE", "CONTAINERS"],
    du.images.map((i) => {
      // docker shows the first tag only
      let repo = "<none>",
        tag = "<none>";
      const first = i.tags[0];
      if (first) {
        const c = first.lastIndexOf(":");
        if (c > first.lastIndexOf("/")) [repo, tag] = [first.slice(0, c), first.slice(c + 1)];
      }
      return [repo, tag, short(i.id), since(i.created), humanSize(i.size), humanSize4(i.shared), humanSize4(i.size - i.shared), String(i.containers)];
    }),
  );
  out += "\nContainers space usage:\n\n";
  const ps = psRows(
    du.containers.map((c) => c.summary),
    false,
    now,
  );
  out += renderDockerTable(
    ["CONTAINER ID", "IMAGE", "COMMAND", "LOCAL VOLUMES", "SIZE", "CREATED", "STATUS", "NAMES"],
    du.containers.map((c, n) => {
      const r = ps[n]!;
      return [r.ID, r.Image, r.Command, String(c.localVolumes), humanSize(c.size), r.RunningFor, r.Status, r.Names];
    }),
  );
  out += "\nLocal Volumes space usage:\n\n";
  out += renderDockerTable(
    ["VOLUME NAME", "LINKS", "SIZE"],
    du.volumes.map((v) => [v.name, String(v.links), humanSize4(v.size)]),
  );
  out += `\nBuild cache usage: ${humanSize4(du.buildCache.reduce((a, e) => a + e.size, 0))}\n\n`;
  // docker's buildCacheSort: least recently used first
  const cache = [...du.buildCache].sort((a, b) => a.lastUsed.getTime() - b.lastUsed.getTime());
  out += renderDockerTable(
    ["CACHE ID", "CACHE TYPE", "SIZE", "CREATED", "LAST USED", "USAGE", "SHARED"],
    cache.map((e) => [short(e.id), "regular", humanSize(e.size), since(e.created), since(e.lastUsed), String(e.keys), String(e.inUse)]),
  );
  return out;
}
