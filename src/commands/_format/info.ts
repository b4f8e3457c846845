/** docker info's text layout, the Server half (the command prints the Client half) */
import type { SystemInfo } from "../../engine/index.ts";
import { bytesSize } from "../../lib/human.ts";

/** what dockerd's /info adds to the engine's summary, as far as the text shows it */
interface InfoExtras {
  Swarm?: { LocalNodeState?: string };
  Runtimes?: Record<string, unknown>;
  DefaultRuntime?: string;
  SecurityOptions?: string[];
  HttpProxy?: string;
  HttpsProxy?: string;
  NoProxy?: string;
  RegistryConfig?: { InsecureRegistryCIDRs?: string[] | null; IndexConfigs?: Record<string, { Secure?: boolean }>; Mirrors?: string[] | null };
}

/** docker/cli's "Security Options:" lines: each option's name, its profile (if any) indented below */
function securityOptions(opts: string[]): string[] {
  const out = [" Security Options:"];
  for (const o of opts) {
    const kv = Object.fromEntries(o.split(",").map((p) => [p.slice(0, p.indexOf("=")), p.slice(p.indexOf("=") + 1)]));
    out.push(`  ${kv.name ?? o}`);
    if (kv.profile !== undefined) out.push(`   Profile: ${kv.profile}`);
  }
  return out;
}

/** docker/cli's "Insecure Registries:" (names not marked secure, then the CIDRs) and "Registry Mirrors:" */
function registries(r: NonNullable<InfoExtras["RegistryConfig"]>): string[] {
  const out: string[] = [];
  const names = Object.entries(r.IndexConfigs ?? {})
    .filter(([, c]) => c.Secure === false)
    .map(([n]) => n);
  const insecure = [...names, ...(r.InsecureRegistryCIDRs ?? [])];
  if (insecure.length) out.push(" Insecure Registries:", ...insecure.map((x) => `  ${x}`));
  if (r.Mirrors?.length) out.push(" Registry Mirrors:", ...r.Mirrors.map((x) => `  ${x}`));
  return out;
}

/** docker info's text layout (the Server half; the caller prints the Client half) */
export function renderInfo(i: SystemInfo & InfoExtras): string {
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
    ...(i.Swarm?.LocalNodeState ? [` Swarm: ${i.Swarm.LocalNodeState}`] : []),
    ...(i.Runtimes ? [` Runtimes: ${Object.keys(i.Runtimes).sort().join(" ")}`] : []),
    ...(i.DefaultRuntime ? [` Default Runtime: ${i.DefaultRuntime}`] : []),
    ...(i.SecurityOptions?.length ? securityOptions(i.SecurityOptions) : []),
    ` Kernel Version: ${i.KernelVersion}`,
    ` Operating System: ${i.OperatingSystem}`,
    ` OSType: ${i.OSType}`,
    ` Architecture: ${i.Architecture}`,
    ` CPUs: ${i.NCPU}`,
    // units.BytesSize, as docker: 23.54GiB, 7.756GiB, 2GiB
    ` Total Memory: ${bytesSize(i.MemTotal)}`,
    ` Name: ${i.Name}`,
    ` ID: ${i.ID}`,
    ` Docker Root Dir: ${i.DockerRootDir}`,
    ` Debug Mode: ${i.Debug}`,
    ...(i.HttpProxy ? [` HTTP Proxy: ${i.HttpProxy}`] : []),
    ...(i.HttpsProxy ? [` HTTPS Proxy: ${i.HttpsProxy}`] : []),
    ...(i.NoProxy ? [` No Proxy: ${i.NoProxy}`] : []),
    ` Experimental: ${i.ExperimentalBuild}`,
    ...(i.RegistryConfig ? registries(i.RegistryConfig) : []),
    ` Live Restore Enabled: ${i.LiveRestoreEnabled}`,
  ];
  return lines.join("\n") + "\n";
}
