/**
 * Shared pieces of the OCI runtime tests: a `berth-runc` to hand to peers (a symlink to dist/berth, or
 * a wrapper running the sources), busybox bundles (Debian's busybox-static as the rootfs, runc's default
 * config.json edited per case), an OCI image archive of the same rootfs for containerd, and cleanup of
 * the cgroup parents the peers leave (runc does not remove a parent it created either).
 */
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmdirSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { createHash } from "node:crypto";
import { join } from "node:path";
import { distBin, repo, useDist } from "../helpers/cli.ts";

/** this test file's scratch dir: each file calls freshTmp() when it loads and dropTmp() in afterAll (bun
 * test runs the files one after another in one process, so the binding is per file) */
export let TMP = "";
let rootfsTar: string | undefined;

export function freshTmp(): string {
  TMP = mkdtempSync("/tmp/berth-oci-");
  // a user-namespaced container's root (a mapped uid) must traverse it to reach its rootfs and binds
  chmodSync(TMP, 0o755);
  rootfsTar = undefined;
  return TMP;
}

export function dropTmp(): void {
  if (TMP) rmSync(TMP, { recursive: true, force: true });
}

/** an executable named berth-runc: argv0 detection with the compiled binary, `berth oci` otherwise */
export function berthRunc(dir = TMP): string {
  const path = join(dir, "berth-runc");
  if (existsSync(path)) return path;
  if (useDist) symlinkSync(distBin, path);
  else {
    writeFileSync(path, `#!/bin/sh\nexec ${process.execPath} ${join(repo, "src/main.ts")} oci "$@"\n`);
    chmodSync(path, 0o755);
  }
  return path;
}

/** busybox rootfs tarball (scripts/busybox-rootfs.sh), built once per process */
export function busyboxTar(): string {
  if (rootfsTar) return rootfsTar;
  const tar = join(TMP, "busybox.tar");
  const p = Bun.spawnSync(["bash", join(repo, "scripts/busybox-rootfs.sh"), tar]);
  if (p.exitCode !== 0) throw new Error(`busybox-rootfs.sh: ${p.stderr}`);
  return (rootfsTar = tar);
}

// biome-ignore lint/suspicious/noExplicitAny: config.json is edited freely by the cases
export type Config = Record<string, any>;

/** runc's default config.json (`berth oci spec`), non-terminal, edited by `edit` */
export function makeBundle(name: string, edit: (c: Config) => void): string {
  const dir = join(TMP, name);
  mkdirSync(join(dir, "rootfs"), { recursive: true });
  const x = Bun.spawnSync(["tar", "-C", join(dir, "rootfs"), "-xf", busyboxTar()]);
  if (x.exitCode !== 0) throw new Error(`tar: ${x.stderr}`);
  const s = Bun.spawnSync([berthRunc(), "spec", "--bundle", dir]);
  if (s.exitCode !== 0) throw new Error(`spec: ${s.stderr}`);
  const c = JSON.parse(readFileSync(join(dir, "config.json"), "utf8"));
  c.process.terminal = false;
  c.root.readonly = false;
  edit(c);
  writeFileSync(join(dir, "config.json"), JSON.stringify(c, null, 1));
  return dir;
}

/** an OCI image layout archive of the busybox rootfs (for `ctr image import`) */
export function busyboxOciArchive(): string {
  const out = join(TMP, "busybox-oci.tar");
  if (existsSync(out)) return out;
  const layer = readFileSync(busyboxTar());
  const sha = (b: Buffer | string) => createHash("sha256").update(b).digest("hex");
  const ld = sha(layer);
  const cfg = JSON.stringify({
    architecture: process.arch === "arm64" ? "arm64" : "amd64",
    os: "linux",
    config: { Env: ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"], Cmd: ["sh"] },
    rootfs: { type: "layers", diff_ids: [`sha256:${ld}`] },
  });
  const man = JSON.stringify({
    schemaVersion: 2,
    mediaType: "application/vnd.oci.image.manifest.v1+json",
    config: { mediaType: "application/vnd.oci.image.config.v1+json", digest: `sha256:${sha(cfg)}`, size: cfg.length },
    layers: [{ mediaType: "application/vnd.oci.image.layer.v1.tar", digest: `sha256:${ld}`, size: layer.length }],
  });
  const index = JSON.stringify({
    schemaVersion: 2,
    manifests: [
      {
        mediaType: "application/vnd.oci.image.manifest.v1+json",
        digest: `sha256:${sha(man)}`,
        size: man.length,
        annotations: { "io.containerd.image.name": "docker.io/library/busybox:latest", "org.opencontainers.image.ref.name": "latest" },
      },
    ],
  });
  const d = join(TMP, "oci-layout");
  mkdirSync(join(d, "blobs/sha256"), { recursive: true });
  writeFileSync(join(d, "oci-layout"), '{"imageLayoutVersion":"1.0.0"}');
  writeFileSync(join(d, "index.json"), index);
  writeFileSync(join(d, "blobs/sha256", ld), layer);
  writeFileSync(join(d, "blobs/sha256", sha(cfg)), cfg);
  writeFileSync(join(d, "blobs/sha256", sha(man)), man);
  const t = Bun.spawnSync(["tar", "-C", d, "-cf", out, "oci-layout", "index.json", "blobs"]);
  if (t.exitCode !== 0) throw new Error(`tar: ${t.stderr}`);
  return out;
}

/** rmdir a cgroup parent (and its empty children) in every mounted hierarchy */
export function removeCgroupParent(name: string): void {
  for (const line of readFileSync("/proc/self/mountinfo", "utf8").split("\n")) {
    const fstype = line.split(" - ")[1]?.split(" ")[0];
    if (fstype !== "cgroup" && fstype !== "cgroup2") continue;
    const dir = join(line.split(" ")[4]!, name);
    if (existsSync(dir)) rmTree(dir);
  }
}

function rmTree(dir: string): void {
  for (const e of readdirSync(dir, { withFileTypes: true })) if (e.isDirectory()) rmTree(join(dir, e.name));
  try {
    rmdirSync(dir);
  } catch {} // still in use (a leftover process): the test's own checks report it
}

export interface Run {
  stdout: string;
  stderr: string;
  exitCode: number;
}

/** run a runtime command; `out` sends the output to a file (create/run: the container inherits it) */
export async function sh(argv: string[], opts: { out?: string; stdin?: string; timeoutMs?: number; env?: Record<string, string> } = {}): Promise<Run> {
  const file = opts.out ? Bun.file(opts.out) : undefined;
  const p = Bun.spawn(argv, {
    stdin: opts.stdin === undefined ? "ignore" : new Blob([opts.stdin]),
    stdout: file ?? "pipe",
    stderr: file ?? "pipe",
    env: { ...process.env, ...opts.env },
    timeout: opts.timeoutMs ?? 60_000,
  });
  const exitCode = await p.exited;
  if (file) return { stdout: readFileSync(opts.out!, "utf8"), stderr: "", exitCode };
  return { stdout: await new Response(p.stdout as ReadableStream).text(), stderr: await new Response(p.stderr as ReadableStream).text(), exitCode };
}

export async function waitFor(pred: () => Promise<boolean> | boolean, ms = 10_000): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await pred()) return true;
    await Bun.sleep(20);
  }
  return false;
}
