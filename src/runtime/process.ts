/** Re-identifying and signalling container processes from any berth process (not only the spawner). */
import { readFileSync } from "node:fs";
import { kill } from "../ffi/proc.ts";
import { openDevptsConsole, openPtyInRoot, type ContainerPty, type DevptsConsole } from "../ffi/pty.ts";

/** /proc/<pid>/stat field 22 (starttime, clock ticks since boot); undefined if gone or a zombie */
export function processStartTime(pid: number): string | undefined {
  if (!pid) return undefined;
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, "latin1");
  } catch {
    return undefined; // ENOENT/ESRCH: the process has exited (or never existed), which is what undefined says
  }
  // comm (field 2) may contain spaces and ')': fields resume after the last ')'
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  if (fields[0] === "Z" || fields[0] === "X") return undefined;
  return fields[19];
}

/** the pid still names the same live process (crun compares the start time the same way) */
export function isAlive(pid: number, startTime: string): boolean {
  return !!pid && !!startTime && processStartTime(pid) === startTime;
}

/** kill(2) the container's PID 1; false when it is already gone (ESRCH is not an error) */
export function killContainer(pid: number, signal: number): boolean {
  return kill(pid, signal);
}

/** a pty from the container's own devpts (for `exec -t`): inside, the slave is /dev/pts/N */
export function openContainerPty(pid: number): ContainerPty {
  return openPtyInRoot(`/proc/${pid}/root`);
}

/** the terminal of a container about to be created (`run -t`): pty 0 of a fresh devpts instance.
 * Pass { stdin: slave, stdout: slave, stderr: slave, devpts: { mountFd, name } } to createContainer;
 * the caller keeps the master and closes slave and mountFd once the container has started. */
export function openConsole(): DevptsConsole {
  return openDevptsConsole();
}
