/**
 * Where a blob came from: the repositories (`registry/path`) a pull fetched it from or a push sent it
 * to, so a later push to another repository on the same registry can ask for a cross-repository mount
 * (distribution api.md "Cross Repository Blob Mount") instead of uploading it again. containerd keeps
 * the same fact as `containerd.io/distribution.source.<registry>` labels on the blob.
 *
 *   <dir>/<hex>   one "registry/path" per line, at most SOURCES_MAX lines, newest last
 *
 * Hints only: a stale or missing entry costs an upload, never correctness (the registry checks the
 * mount). Written atomically; concurrent writers may lose each other's line, which is harmless.
 */
import { mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { atomicWriteFile } from "../../lib/atomic-write.ts";
import type { Digest } from "../../oci/index.ts";

const SOURCES_MAX = 16;

export class BlobSources {
  constructor(readonly dir: string) {}

  private path(digest: Digest): string {
    return join(this.dir, digest.slice(7).replace(/[^0-9a-f]/g, ""));
  }

  get(digest: Digest): string[] {
    try {
      return readFileSync(this.path(digest), "utf8").split("\n").filter(Boolean);
    } catch {
      return []; // ENOENT: no source recorded for this blob
    }
  }

  add(digest: Digest, repository: string): void {
    const cur = this.get(digest);
    if (cur[cur.length - 1] === repository) return;
    const next = [...cur.filter((r) => r !== repository), repository].slice(-SOURCES_MAX);
    try {
      mkdirSync(this.dir, { recursive: true, mode: 0o700 });
      atomicWriteFile(this.path(digest), next.join("\n") + "\n", 0o600);
    } catch {
      // a hint store: failing to record a source only means a later upload instead of a mount
    }
  }

  /** a repository on `domain` other than `exclude` that had the blob; the path without the domain */
  mountSource(digest: Digest, domain: string, exclude: string): string | undefined {
    const prefix = `${domain}/`;
    for (const r of this.get(digest).reverse()) {
      if (r.startsWith(prefix) && r.slice(prefix.length) !== exclude) return r.slice(prefix.length);
    }
    return undefined;
  }
}
