/** Client mode `system df`: `GET /system/df` summed into docker's four rows, printed by df's own printer */
import type { RunInput } from "../_command.ts";
import type { ApiClient } from "../../client/index.ts";
import type { DiskUsageRow } from "../../engine/index.ts";
import { EngineError } from "../../lib/errors.ts";
import { printDiskUsage } from "../system/df.ts";

interface DiskUsage {
  LayersSize?: number;
  Images?: { Size: number; SharedSize?: number; Containers: number }[] | null;
  Containers?: { SizeRw?: number; State: string }[] | null;
  Volumes?: { UsageData?: { Size: number; RefCount: number } | null }[] | null;
  BuildCache?: { Size: number; InUse: boolean; Shared: boolean }[] | null;
}

/** docker's CLI arithmetic (cli/command/formatter/disk_usage.go), near enough: what is in use is not reclaimable */
export function usageRows(d: DiskUsage): DiskUsageRow[] {
  const images = d.Images ?? [];
  const imgSize = d.LayersSize ?? images.reduce((a, i) => a + i.Size, 0);
  const active = images.filter((i) => i.Containers > 0);
  // docker: what an image in use needs of its own (Size − SharedSize) is not reclaimable
  const activeSize = active.reduce((a, i) => a + i.Size - Math.max(0, i.SharedSize ?? 0), 0);
  const ctrs = d.Containers ?? [];
  const live = (s: string) => s === "running" || s === "paused" || s === "restarting";
  const vols = d.Volumes ?? [];
  const cache = d.BuildCache ?? [];
  const sum = <T>(xs: T[], f: (x: T) => number) => xs.reduce((a, x) => a + f(x), 0);
  return [
    { type: "Images", total: images.length, active: active.length, size: imgSize, reclaimable: Math.max(0, imgSize - activeSize) },
    {
      type: "Containers",
      total: ctrs.length,
      active: ctrs.filter((c) => live(c.State)).length,
      size: sum(ctrs, (c) => c.SizeRw ?? 0),
      reclaimable: sum(
        ctrs.filter((c) => !live(c.State)),
        (c) => c.SizeRw ?? 0,
      ),
    },
    {
      type: "Local Volumes",
      total: vols.length,
      active: vols.filter((v) => (v.UsageData?.RefCount ?? 0) > 0).length,
      size: sum(vols, (v) => Math.max(0, v.UsageData?.Size ?? 0)),
      reclaimable: sum(
        vols.filter((v) => (v.UsageData?.RefCount ?? 0) === 0),
        (v) => Math.max(0, v.UsageData?.Size ?? 0),
      ),
    },
    {
      type: "Build Cache",
      total: cache.length,
      active: cache.filter((c) => c.InUse).length,
      size: sum(cache, (c) => c.Size),
      reclaimable: sum(
        cache.filter((c) => !c.InUse && !c.Shared),
        (c) => c.Size,
      ),
    },
  ];
}

export default async function df(input: RunInput, api: ApiClient) {
  if (input.flags.verbose) throw new EngineError("not_implemented", "berth system df -v: not available in client mode");
  printDiskUsage(input.ctx, input.flags, usageRows(await api.json<DiskUsage>("GET", "/system/df")));
}
