/** `update`: new resource limits and restart policy, into the cgroup of a running container and the record */
import { cpus } from "node:os";
import { applyUpdate, type UpdateOptions } from "../spec.ts";
import { isActive } from "../types.ts";
import type { ContainerDeps } from "./deps.ts";

/**
 * `update`: new limits (and restart policy) for a container; a running one gets them in its cgroup
 * at once, the record keeps them for later starts. A failed cgroup write leaves the record unchanged.
 */
export function update(d: ContainerDeps, ref: string, o: UpdateOptions): string {
  const id = d.store.resolve(ref);
  d.store.withLock(id, () => {
    const cfg = d.store.readConfig(id);
    const h = applyUpdate(cfg.HostConfig, o, cpus().length);
    const st = d.store.readState(id);
    if (isActive(st.Status) && st.Pid && d.runtime.isAlive(st.Pid, st.StartTime)) {
      d.runtime.updateCgroup(cfg.Berth.CgroupPath, {
        ...(o.memory !== undefined && h.Memory > 0 ? { memory: h.Memory } : {}),
        ...(o.memorySwap !== undefined || o.memory !== undefined ? { memorySwap: h.MemorySwap === -1 ? -1 : h.MemorySwap > 0 ? h.MemorySwap : undefined } : {}),
        ...(o.cpus !== undefined && h.NanoCpus > 0 ? { cpus: h.NanoCpus / 1e9 } : {}),
        ...(o.cpuShares !== undefined && h.CpuShares > 0 ? { cpuShares: h.CpuShares } : {}),
        ...(o.pidsLimit !== undefined && (h.PidsLimit ?? 0) > 0 ? { pidsLimit: h.PidsLimit! } : {}),
        ...(o.cpusetCpus ? { cpusetCpus: h.CpusetCpus } : {}),
        ...(o.cpusetMems ? { cpusetMems: h.CpusetMems } : {}),
        ...(o.memoryReservation !== undefined && h.MemoryReservation ? { memoryReservation: h.MemoryReservation } : {}),
      });
    }
    d.store.writeConfig({ ...cfg, HostConfig: h });
  });
  return id;
}
