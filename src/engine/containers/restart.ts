/**
 * docker's restart policies, decided purely: whether a container that just exited starts again, and
 * after how long. The monitor (service.ts monitorMain) applies the decision.
 *
 *   no              never
 *   always          always, unless the user stopped it (stop, or kill through `berth stop`)
 *   unless-stopped  the same while berth runs (they differ at daemon start: `system restore`, ops/restore.ts)
 *   on-failure[:N]  when the exit code is not 0, at most N times (0: no limit)
 *
 * Delay (moby's restartmanager): 100 ms before the first restart, doubled each time up to one minute,
 * back to 100 ms once a run lasted at least 10 s.
 */
export interface RestartPolicy {
  Name: string;
  MaximumRetryCount: number;
}

export const FIRST_DELAY_MS = 100;
export const MAX_DELAY_MS = 60_000;
export const RESET_AFTER_MS = 10_000;

export function shouldRestart(p: RestartPolicy | undefined, o: { exitCode: number; restartCount: number; manuallyStopped: boolean }): boolean {
  if (!p || o.manuallyStopped) return false;
  switch (p.Name) {
    case "always":
    case "unless-stopped":
      return true;
    case "on-failure":
      return o.exitCode !== 0 && (p.MaximumRetryCount === 0 || o.restartCount < p.MaximumRetryCount);
    default:
      return false;
  }
}

/** the wait before the next start, given the previous wait (0 before the first restart) and how long the last run lasted */
export function nextDelay(previous: number, ranMs: number): number {
  if (previous === 0 || ranMs >= RESET_AFTER_MS) return FIRST_DELAY_MS;
  return Math.min(previous * 2, MAX_DELAY_MS);
}
