/** `update`: new resource limits and restart policy, into the cgroup of a running container and the record */
import { cpus } from "node:os";
import { applyUpdate } from "../create-config.ts";
import type { ContainerUpdateRequest, ContainerUpdateResponse } from "../../api/containers.ts";
import { isActive } from "../types.ts";
import type { ContainerDeps } from "./deps.ts";

/**
 * `update`: new limits (and restart policy) for a container; a running one gets them in its cgroup
 * at once, the record keeps them for later starts. A failed cgroup write leaves the record unchanged.
 */
export function update(d: ContainerDeps, ref: string, req: ContainerUpdateRequest): ContainerUpdateResponse {
  const id = d.store.resolve(ref);
  d.store.withLock(id, () => {
    const cfg = d.store.readConfig(id);
    const h = applyUpdate(cfg.HostConfig, req, cpus().length);
    const st = d.store.readState(id);
    if (isActive(st.Status) && st.Pid && d.runtime.isAlive(st.Pid, st.StartTime)) {
      const cpusGiven = req.NanoCpus !== undefined || req.CpuQuota !== undefined || req.CpuPeriod !== undefined;
      d.runtime.updateCgroup(cfg.Berth.CgroupPath, {
        ...(req.Memory !== undefined && h.Memory > 0 ? { memory: h.Memory } : {}),
        ...(req.MemorySwap !== undefined || req.Memory !== undefined
          ? { memorySwap: h.MemorySwap === -1 ? -1 : h.MemorySwap > 0 ? h.MemorySwap : undefined }
          : {}),
        ...(cpusGiven && h.NanoCpus > 0 ? { cpus: h.NanoCpus / 1e9 } : {}),
        ...(req.CpuQuota !== undefined && h.CpuQuota ? { cpuQuota: h.CpuQuota } : {}),
        ...(req.CpuPeriod !== undefined && h.CpuPeriod ? { cpuPeriod: h.CpuPeriod } : {}),
        ...(req.CpuShares !== undefined && h.CpuShares > 0 ? { cpuShares: h.CpuShares } : {}),
        ...(req.PidsLimit !== undefined && (h.PidsLimit ?? 0) > 0 ? { pidsLimit: h.PidsLimit! } : {}),
        ...(req.CpusetCpus ? { cpusetCpus: h.CpusetCpus } : {}),
        ...(req.CpusetMems ? { cpusetMems: h.CpusetMems } : {}),
        ...(req.MemoryReservation !== undefined && h.MemoryReservation ? { memoryReservation: h.MemoryReservation } : {}),
      });
    }
    d.store.writeConfig({ ...cfg, HostConfig: h });
  });
  return { Warnings: [] };
}
