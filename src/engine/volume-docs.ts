/**
 * docker's Volume documents (`GET /volumes`, `GET /volumes/{name}`) and the filters of the volume list
 * and prune, over the volume service.
 */
import { EngineError } from "../lib/errors.ts";
import type { Volume, VolumeListResponse, VolumePruneResponse } from "./api/volumes.ts";
import type { ContainerService } from "./containers/service.ts";
import { Filters, invalidFilter, matchLabel } from "./filters.ts";

export const VOLUME_FILTERS = ["name", "driver", "label", "dangling"] as const;
export const VOLUME_PRUNE_FILTERS = ["label", "all"] as const;

const isTrue = (v: string) => v === "true" || v === "1";

/** `GET /volumes`: sorted by name; UsageData.RefCount counts the containers that mount each volume */
export function listVolumes(svc: ContainerService, filters: Filters = new Filters()): VolumeListResponse {
  filters.validate(VOLUME_FILTERS);
  for (const v of filters.get("dangling")) if (!["true", "false", "1", "0"].includes(v)) throw invalidFilter(`dangling=${v}`);
  const users = svc.volumeUsers();
  const refs = (name: string) => (users.get(name) ?? []).length;
  const volumes: Volume[] = svc.volumes
    .list()
    .filter(
      (r) =>
        filters.every("name", (v) => r.Name.includes(v)) &&
        filters.every("driver", (v) => r.Driver === v) &&
        filters.every("label", (v) => matchLabel(r.Labels, v)) &&
        filters.every("dangling", (v) => (refs(r.Name) === 0) === isTrue(v)),
    )
    .map((r) => ({ ...r, UsageData: { Size: -1, RefCount: refs(r.Name) } }));
  return { Volumes: volumes, Warnings: null };
}

/** `GET /volumes/{name}`: the stored document; not_found for an unknown volume */
export function inspectVolume(svc: ContainerService, name: string): Volume {
  const v = svc.volumes.find(name);
  if (!v) throw new EngineError("not_found", `get ${name}: no such volume`);
  return v;
}

/**
 * `POST /volumes/prune`: unused volumes, anonymous ones only unless `all` (or the filter all=true, which
 * wins over the flag, as under docker), matching every `label` filter.
 */
export function pruneVolumes(svc: ContainerService, q: { all?: boolean; filters?: Filters } = {}): VolumePruneResponse {
  const f = (q.filters ?? new Filters()).validate(VOLUME_PRUNE_FILTERS);
  const all = f.has("all") ? isTrue(f.get("all").at(-1)!) : !!q.all;
  const { removed, reclaimed } = svc.volumes.prune({ all, labels: [...f.get("label")] });
  return { VolumesDeleted: removed, SpaceReclaimed: reclaimed };
}
