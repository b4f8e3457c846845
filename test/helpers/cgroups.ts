/**
 * berth's parent cgroup (`<hierarchy>/berth`) in every hierarchy: made by the first container of a run.
 * A run that made them removes them at its end, so it leaves the host's cgroup trees as it found them.
 */
import { existsSync, readdirSync, rmdirSync } from "node:fs";

export function berthCgroupParents(): string[] {
  if (!existsSync("/sys/fs/cgroup")) return [];
  return readdirSync("/sys/fs/cgroup")
    .map((c) => `/sys/fs/cgroup/${c}/berth`)
    .filter((d) => existsSync(d));
}

/** remove the parents that were not there before (`before`); one still holding a container stays */
export function removeNewCgroupParents(before: Set<string>): void {
  for (const d of berthCgroupParents()) {
    if (before.has(d)) continue;
    try {
      rmdirSync(d);
    } catch {
      // EBUSY/ENOTEMPTY: a container of another berth on this host still lives under it
    }
  }
}
