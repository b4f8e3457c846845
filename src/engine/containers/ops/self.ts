/**
 * The running berth process as the lifecycle needs it (its pid; how to start `berth __monitor`; the
 * monitor's environment). The one place in engine/containers that reads `process`, until the engine's
 * options carry it from main.ts (issue 11: openEngine({self})).
 */
import { DEFAULT_PATH } from "../spec.ts";
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
