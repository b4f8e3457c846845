/**
 * The running berth process as the lifecycle needs it (its pid; how to start `berth __monitor`; the
 * monitor's environment). The one place in engine/containers that reads `process`, until the engine's
 * options carry it from main.ts (issue 11: openEngine({self})).
 */
import { redirectToDevNull } from "../../../ffi/container-io.ts";
import { DEFAULT_PATH } from "../../../oci/defaults.ts";
import { networkEnv } from "../../network.ts";
import type { SelfProcess } from "./deps.ts";

const isCompiled = () => Bun.main.startsWith("/$bunfs/") || Bun.main.startsWith("B:/~BUN/");

export function currentProcess(): SelfProcess {
  return {
    pid: process.pid,
    argv: isCompiled() ? [process.execPath] : [process.execPath, Bun.main],
    // the compiled binary needs nothing from the caller's environment; under `bun src/main.ts` (tests) pass it on
    monitorEnv: () => (isCompiled() ? { PATH: process.env.PATH ?? DEFAULT_PATH, ...networkEnv() } : { ...process.env }),
  };
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
