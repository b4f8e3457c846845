/** docker info's text layout, the Server half (the command prints the Client half) */
import type { SystemInfo } from "../../engine/index.ts";

const GIB = 1024 ** 3;

/** docker info's text layout (the Server half; the caller prints the Client half) */
export function renderInfo(i: SystemInfo): string {
  const mem = i.MemTotal >= GIB ? `${(i.MemTotal / GIB).toFixed(2)}GiB` : `${(i.MemTotal / 1024 ** 2).toFixed(1)}MiB`;
  const lines = [
    "Server:",
    ` Containers: ${i.Containers}`,
    `  Running: ${i.ContainersRunning}`,
    `  Paused: ${i.ContainersPaused}`,
    `  Stopped: ${i.ContainersStopped}`,
    ` Images: ${i.Images}`,
    ` Server Version: ${i.ServerVersion}`,
    ` Storage Driver: ${i.Driver}`,
    ...i.DriverStatus.map(([k, v]) => `  ${k}: ${v}`),
    ` Logging Driver: ${i.LoggingDriver}`,
    ` Cgroup Driver: ${i.CgroupDriver}`,
    ` Cgroup Version: ${i.CgroupVersion}`,
    " Plugins:",
    `  Volume: ${i.Plugins.Volume.join(" ")}`,
    `  Network: ${i.Plugins.Network.join(" ")}`,
    `  Log: ${i.Plugins.Log.join(" ")}`,
    ` Kernel Version: ${i.KernelVersion}`,
    ` Operating System: ${i.OperatingSystem}`,
    ` OSType: ${i.OSType}`,
    ` Architecture: ${i.Architecture}`,
    ` CPUs: ${i.NCPU}`,
    ` Total Memory: ${mem}`,
    ` Name: ${i.Name}`,
    ` ID: ${i.ID}`,
    ` Docker Root Dir: ${i.DockerRootDir}`,
    ` Debug Mode: ${i.Debug}`,
    ` Experimental: ${i.ExperimentalBuild}`,
    ` Live Restore Enabled: ${i.LiveRestoreEnabled}`,
  ];
  return lines.join("\n") + "\n";
}
