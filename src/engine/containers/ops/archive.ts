/** `cp` glue: a container's root (live through its pid, or the snapshot mounted) for ../cp.ts */
import { lstatSync, statSync } from "node:fs";
import { basename, join, posix } from "node:path";
import { EngineError } from "../../../lib/errors.ts";
import { copyIn, copyOut, extractIn, type CopyInOptions } from "../cp.ts";
import { resolveInRoot, withContainerRoot } from "../container-root.ts";
import { isActive } from "../types.ts";
import { ev, type ContainerDeps } from "./deps.ts";
import { refreshState } from "./state.ts";

export function rootOf(d: ContainerDeps, id: string) {
  const cfg = d.store.readConfig(id);
  const st = refreshState(d, id);
  return {
    pid: isActive(st.Status) ? st.Pid : 0,
    mounts: () => d.snapshots.mounts(cfg.Berth.SnapshotKey),
    scratch: join(d.store.dir(id), `cp-${d.self.pid}`),
  };
}

/** container → host path, or a tar on `out` when dest is "-" */
export async function copyFrom(
  d: ContainerDeps,
  id: string,
  src: string,
  dest: string,
  out: (b: Uint8Array) => Promise<void> | void,
  followLink = false,
): Promise<void> {
  const cfg = d.store.readConfig(id);
  await withContainerRoot(rootOf(d, id), (root) => copyOut(root, cfg.Name.slice(1), src, dest, out, followLink));
  ev(d, "archive-path", cfg); // dockerd's event for a copy out of a container
}

/** host path (or the tar read from `stdin` when src is "-") → container */
export async function copyTo(
  d: ContainerDeps,
  id: string,
  src: string,
  dest: string,
  stdin: AsyncIterable<Uint8Array>,
  opts: CopyInOptions = {},
): Promise<void> {
  await withContainerRoot(rootOf(d, id), async (root) => {
    if (src === "-") await extractIn(root, dest, stdin, opts);
    else copyIn(root, src, dest, opts);
  });
  ev(d, "extract-to-dir", d.store.readConfig(id)); // dockerd's event for a copy into a container
}

/** swagger ContainerPathStat: what `HEAD /containers/{id}/archive` says of a path (mode as Go's os.FileMode) */
export interface PathStat {
  name: string;
  size: number;
  mode: number;
  mtime: string;
  linkTarget: string;
}

/** Go's os.FileMode type bits over the permission bits */
function goFileMode(st: import("node:fs").Stats): number {
  let m = st.mode & 0o777;
  if (st.mode & 0o4000) m |= 1 << 23;
  if (st.mode & 0o2000) m |= 1 << 22;
  if (st.mode & 0o1000) m |= 1 << 20;
  if (st.isDirectory()) m |= 2 ** 31;
  else if (st.isSymbolicLink()) m |= 1 << 27;
  else if (st.isFIFO()) m |= 1 << 25;
  else if (st.isSocket()) m |= 1 << 24;
  else if (st.isCharacterDevice()) m |= (1 << 26) | (1 << 21);
  else if (st.isBlockDevice()) m |= 1 << 26;
  return m >>> 0;
}

/** stat of a path inside the container (a symlink itself, with its target resolved inside the container) */
export async function statPath(d: ContainerDeps, id: string, path: string): Promise<PathStat> {
  const name = d.store.readConfig(id).Name.slice(1);
  return withContainerRoot(rootOf(d, id), async (root) => {
    const host = resolveInRoot(root, path, false);
    let st;
    try {
      // the root itself is /proc/PID/root (a symlink on the host) for a running container
      st = host === join(root) ? statSync(host) : lstatSync(host);
    } catch {
      throw new EngineError("not_found", `Could not find the file ${path} in container ${name}`);
    }
    const linkTarget = st.isSymbolicLink() ? "/" + resolveInRoot(root, path, true).slice(root.length).replace(/^\/+/, "") : "";
    const base = /(^|\/)\.$/.test(path) ? "." : basename(posix.normalize("/" + path)) || "/";
    return { name: base, size: st.size, mode: goFileMode(st), mtime: st.mtime.toISOString(), linkTarget };
  });
}
