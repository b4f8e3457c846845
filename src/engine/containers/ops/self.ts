/**
 * The running berth process as the lifecycle needs it: its pid, how to start `berth __monitor`, the
 * monitor's environment. main.ts says how berth runs itself (EngineOptions.self); without that (unit
 * tests) the fallback runs this same executable with PATH only.
 */
import { closeSync, constants, openSync } from "node:fs";
import { join } from "node:path";
import { redirectToDevNull } from "../../../ffi/container-io.ts";
import { DEFAULT_PATH } from "../../../oci/defaults.ts";
import type { SelfCommand } from "../../network.ts";
import type { ContainerDeps, SelfProcess } from "./deps.ts";

const isCompiled = () => Bun.main.startsWith("/$bunfs/") || Bun.main.startsWith("B:/~BUN/");

export function currentProcess(): SelfProcess {
  return { pid: process.pid, argv: isCompiled() ? [process.execPath] : [process.execPath, Bun.main], monitorEnv: () => ({ PATH: DEFAULT_PATH }) };
}

/** main.ts's SelfCommand, with the network settings the monitor must read back (BERTH_BRIDGE…) */
export function fromCommand(cmd: SelfCommand, networkEnv: () => Record<string, string>): SelfProcess {
  return { pid: process.pid, argv: cmd.argv, monitorEnv: () => ({ ...cmd.env, ...networkEnv() }) };
}

/**
 * Start `berth --root <root> __monitor --resume|--adopt <id>` that nobody waits for (a container whose
 * monitor died, found by the next command: the restart it owed, or the supervision of the container
 * still running): its own session, stdin and stdout /dev/null, stderr appended to the container's
 * monitor.log. Returns its pid.
 */
export function launchMonitor(d: ContainerDeps, id: string, mode: "resume" | "adopt"): number {
  const args = ["--root", d.berthRoot, "__monitor", `--${mode}`, id];
  if (d.self.launch) return d.self.launch(args);
  const logFd = openSync(join(d.store.dir(id), "monitor.log"), constants.O_WRONLY | constants.O_CREAT | constants.O_APPEND, 0o600);
  try {
    const proc = Bun.spawn([...d.self.argv, ...args], { stdin: "ignore", stdout: "ignore", stderr: logFd, detached: true, cwd: "/", env: d.self.monitorEnv() });
    proc.unref();
    return proc.pid;
  } finally {
    closeSync(logFd);
  }
}

/**
 * For `berth __monitor`, once its report is written: its spawner goes away, so fd 1 becomes /dev/null
 * and a later write cannot meet a broken pipe.
 */
export function detachStdout(): void {
  try {
    redirectToDevNull(1);
  } catch {
    // fd 1 stays the pipe; the monitor writes nothing more to it
  }
}
