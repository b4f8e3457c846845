/**
 * The running berth process as the lifecycle needs it: its pid, how to start `berth __monitor`, the
 * monitor's environment. main.ts says how berth runs itself (EngineOptions.self); without that (unit
 * tests) the fallback runs this same executable with PATH only.
 */
import { redirectToDevNull } from "../../../ffi/container-io.ts";
import { DEFAULT_PATH } from "../../../oci/defaults.ts";
import type { SelfCommand } from "../../network.ts";
import type { SelfProcess } from "./deps.ts";

const isCompiled = () => Bun.main.startsWith("/$bunfs/") || Bun.main.startsWith("B:/~BUN/");

export function currentProcess(): SelfProcess {
  return { pid: process.pid, argv: isCompiled() ? [process.execPath] : [process.execPath, Bun.main], monitorEnv: () => ({ PATH: DEFAULT_PATH }) };
}

/** main.ts's SelfCommand, with the network settings the monitor must read back (BERTH_BRIDGE…) */
export function fromCommand(cmd: SelfCommand, networkEnv: () => Record<string, string>): SelfProcess {
  return { pid: process.pid, argv: cmd.argv, monitorEnv: () => ({ ...cmd.env, ...networkEnv() }) };
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
