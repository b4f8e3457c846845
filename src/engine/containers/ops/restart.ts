/** `restart`: stop the container as `stop` does, then start it under a new monitor, whatever its status was */
import { ev, type ContainerDeps } from "./deps.ts";
import { startDetached } from "./start.ts";
import { waitSupervisorGone } from "./state.ts";
import { stop } from "./stop.ts";

/** `restart`: stop (as `stop` does), then start under a new monitor, whatever the status was */
export async function restart(d: ContainerDeps, ref: string, timeoutSec?: number): Promise<string> {
  const before = d.store.readState(d.store.resolve(ref));
  const id = await stop(d, ref, timeoutSec);
  // the old supervisor's last steps (networks, cgroup) must be done before the new one starts
  await waitSupervisorGone(d, id, { pid: before.MonitorPid, startTime: before.MonitorStartTime });
  await startDetached(d, id);
  ev(d, "restart", d.store.readConfig(id));
  return id;
}
