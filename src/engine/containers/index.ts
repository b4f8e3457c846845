/**
 * src/engine/containers — docker's container half of the engine: records, lifecycle, supervision,
 * logs, exec, attach. One operation per file in ops/ (a function over ops/deps.ts ContainerDeps); the
 * lifecycle rules are the transition table in types.ts; service.ts is the façade callers use. The
 * runtime is reached only through the ContainerRuntime interface (runtime-port.ts).
 *
 * Owns <root>/containers/** (a directory per container: docker-shaped config.json and state.json, the
 * json-file log, generated /etc files, the attach socket; names/<name> link files). May import
 * src/runtime (through runtime-port.ts only), the SnapshotDriver contract (src/cow/driver.ts), the
 * ImageResolver contract (../image-types.ts), the engine's NetworkService (../network.ts) and src/net's
 * pure helpers (through networking.ts), src/ffi, src/oci, src/lib.
 *
 * Invariants: every state write is tmp → fsync → rename under the container's flock; a stored pid is
 * trusted only when /proc/<pid>/stat's start time matches; a container is a directory with config.json
 * (written last at create, so a crash mid-create leaves no container, and its debris — marked with its
 * creator — is swept by the next create or prune); `rm` renames the directory away before deleting it
 * and leaves no cgroup, snapshot, name or directory, even when the supervisor was SIGKILLed; a running
 * container's monitor exists before it (the monitor starts it) and does not die with its spawner; a
 * pause for an operation (commit) and a restart policy's next start do not die with the process that
 * owed them (refreshState: the next reader thaws, or hands the restart to a new monitor); a container's addresses and veths live
 * from the runtime's beforeStart hook to its exit, its published host ports from create to `rm`.
 */
export { detachStdout } from "./ops/self.ts";
export { defaultAttachDir } from "./attach-proto.ts";
export { ContainerService, normalizeRef, snapshotKey, type ContainerServiceOptions, type ContainerInfo, type ForegroundOptions } from "./service.ts";
export { parseSignal, signalName } from "./signals.ts";
/** docker's -p syntax, for the client (commands/_container-opts.ts) */
export { parsePortSpec } from "../../net/index.ts";
export { NoSuchContainer } from "./store.ts";
export type { LogEntry } from "./logs.ts";
export type { ContainerConfigFile, ContainerStateFile, ContainerStatus } from "./types.ts";
export { dockerStatus } from "./types.ts";
