/**
 * Reading files of a container's rootfs before it is mounted, straight from the snapshot's layer
 * directories (overlay upper first, then each lower; or a bind source), the way overlayfs would resolve
 * them. Nothing here follows a symlink: a path whose component is a symlink (it could point anywhere on
 * the host) is treated as absent, as is an overlay whiteout (char device 0:0) or a path hidden by an
 * opaque directory (trusted.overlay.opaque=y). Used for /etc/passwd and /etc/group (`-u name`).
 */
import { lstatSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { Mount } from "../../oci/index.ts";
import { lgetxattr } from "../../ffi/fs.ts";

/** layer directories, topmost first */
export function layerDirs(mounts: Mount[]): string[] {
  const root = mounts.find((m) => m.target === "/" || m.target === "") ?? mounts[0];
  if (!root) return [];
  if (root.type === "bind") return [root.source];
  const dirs: string[] = [];
  let lower: string[] = [];
  for (const o of root.options) {
    if (o.startsWith("upperdir=")) dirs.push(o.slice(9));
    else if (o.startsWith("lowerdir=")) lower = o.slice(9).split(":");
  }
  return [...dirs, ...lower.filter(Boolean)];
}

function isWhiteout(st: { isCharacterDevice(): boolean; rdev: number }): boolean {
  return st.isCharacterDevice() && st.rdev === 0;
}

function isOpaque(path: string): boolean {
  try {
    const v = lgetxattr(path, "trusted.overlay.opaque");
    return v !== null && v.length > 0 && v[0] === 0x79; // "y"
  } catch {
    return false; // ENOTSUP (no trusted xattrs on this filesystem) or gone: not an opaque directory
  }
}

/** the content of absolute `path` (e.g. "/etc/passwd") in the merged view, or null */
export function readRootfsFile(mounts: Mount[], path: string, maxBytes = 1 << 20): string | null {
  const parts = path.split("/").filter(Boolean);
  for (const dir of layerDirs(mounts)) {
    let cur = dir;
    let stop = false;
    let found = true;
    for (let i = 0; i < parts.length; i++) {
      cur = join(cur, parts[i]!);
      let st;
      try {
        st = lstatSync(cur);
      } catch {
        // ENOENT/ENOTDIR: not in this layer
        found = false;
        break;
      }
      if (isWhiteout(st) || st.isSymbolicLink()) return null;
      const last = i === parts.length - 1;
      if (!last) {
        if (!st.isDirectory()) return null;
        if (isOpaque(cur)) stop = true;
      } else {
        if (!st.isFile() || st.size > maxBytes) return null;
        return readFileSync(cur, "utf8");
      }
    }
    void found;
    if (stop) return null;
  }
  return null;
}
