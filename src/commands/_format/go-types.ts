/**
 * docker's inspect documents as the Go types they are (api/types/container, api/types/image), for
 * templates: `{{.NetworkSettings.Ports}}` prints `map[80/tcp:[{ 18080}]]` as docker does, not a JS
 * object as a map. Only the structs a template commonly prints whole are described; the rest prints
 * as before.
 */
import { goTyped, type GoType } from "./template.ts";

const strMap: GoType = { map: "string" };
const portBinding: GoType = { struct: { HostIp: "string", HostPort: "string" } };
const portMap: GoType = { map: { slice: portBinding } };
const graphDriver: GoType = { struct: { Data: strMap, Name: "string" } };
const health: GoType = {
  ptr: true,
  struct: {
    Status: "string",
    FailingStreak: "int",
    Log: { slice: { ptr: true, struct: { Start: "string", End: "string", ExitCode: "int", Output: "string" } } },
  },
};
const state: GoType = {
  ptr: true,
  struct: {
    Status: "string",
    Running: "bool",
    Paused: "bool",
    Restarting: "bool",
    OOMKilled: "bool",
    Dead: "bool",
    Pid: "int",
    ExitCode: "int",
    Error: "string",
    StartedAt: "string",
    FinishedAt: "string",
    Health: health,
  },
};
const mountPoint: GoType = {
  struct: { Type: "string", Name: "string", Source: "string", Destination: "string", Driver: "string", Mode: "string", RW: "bool", Propagation: "string" },
};
const restartPolicy: GoType = { struct: { Name: "string", MaximumRetryCount: "int" } };
const logConfig: GoType = { struct: { Type: "string", Config: strMap } };
const rootFS: GoType = { struct: { Type: "string", Layers: { slice: "string" } } };

/** mark a container's or an image's inspect document (in place) with docker's Go types; returns it */
export function goTypedInspect<T>(doc: T): T {
  if (doc === null || typeof doc !== "object") return doc;
  const d = doc as Record<string, Record<string, unknown> | undefined>;
  if ("GraphDriver" in d) goTyped(d.GraphDriver, graphDriver);
  if ("RootFS" in d) goTyped(d.RootFS, rootFS);
  if ("State" in d && d.State && typeof d.State === "object") {
    goTyped(d.State, state);
    goTyped(d.Mounts, { slice: mountPoint });
    if (d.NetworkSettings) goTyped(d.NetworkSettings.Ports, portMap);
    if (d.HostConfig) {
      goTyped(d.HostConfig.PortBindings, portMap);
      goTyped(d.HostConfig.RestartPolicy, restartPolicy);
      goTyped(d.HostConfig.LogConfig, logConfig);
    }
  }
  return doc;
}
