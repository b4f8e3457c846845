/**
 * Test peers for the registry tests: Debian's docker-registry (distribution 2.8) on 127.0.0.1 with
 * filesystem storage in a temp dir (optionally htpasswd auth), OCI image layouts built here from the
 * busybox rootfs (scripts/busybox-rootfs.sh), and skopeo to put them into the registry. Everything
 * lives under one /tmp/berth-test-registry-* dir that dispose() removes, after stopping the registry.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync, readFileSync, existsSync } from "node:fs";
import { join } from "node:path";
import { repo } from "../helpers/cli.ts";

export const haveRegistryTools = existsSync("/usr/bin/docker-registry") && existsSync("/usr/bin/skopeo");

export function sha256(b: Uint8Array | string): string {
  return `sha256:${new Bun.CryptoHasher("sha256").update(b).digest("hex")}`;
}

async function freePort(): Promise<number> {
  const s = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
  const p = s.port;
  s.stop(true);
  return p;
}

export async function run(
  argv: string[],
  opts: { stdin?: string; env?: Record<string, string> } = {},
): Promise<{ stdout: string; stderr: string; exitCode: number }> {
  const p = Bun.spawn(argv, {
    stdout: "pipe",
    stderr: "pipe",
    stdin: opts.stdin === undefined ? "ignore" : new Blob([opts.stdin]),
    env: { ...process.env, ...opts.env },
  });
  const [stdout, stderr, exitCode] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  return { stdout, stderr, exitCode };
}

export async function mustRun(argv: string[], opts: { stdin?: string; env?: Record<string, string> } = {}): Promise<string> {
  const r = await run(argv, opts);
  if (r.exitCode !== 0) throw new Error(`${argv.join(" ")} exited ${r.exitCode}: ${r.stderr}${r.stdout}`);
  return r.stdout;
}

export class Registry {
  proc?: Bun.Subprocess;
  port = 0;
  constructor(readonly dir: string) {}
  get host(): string {
    return `127.0.0.1:${this.port}`;
  }
  async start(opts: { htpasswd?: { user: string; password: string } } = {}): Promise<void> {
    this.port = await freePort();
    mkdirSync(join(this.dir, "storage"), { recursive: true });
    let auth = "";
    if (opts.htpasswd) {
      const hash = await Bun.password.hash(opts.htpasswd.password, { algorithm: "bcrypt", cost: 4 });
      writeFileSync(join(this.dir, "htpasswd"), `${opts.htpasswd.user}:${hash}\n`);
      auth = `auth:\n  htpasswd:\n    realm: berth-test\n    path: ${join(this.dir, "htpasswd")}\n`;
    }
    writeFileSync(
      join(this.dir, "config.yml"),
      `version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    rootdirectory: ${join(this.dir, "storage")}\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:${this.port}\n${auth}`,
    );
    this.proc = Bun.spawn(["/usr/bin/docker-registry", "serve", join(this.dir, "config.yml")], { stdout: "ignore", stderr: "pipe" });
    for (let i = 0; i < 200; i++) {
      try {
        const r = await fetch(`http://${this.host}/v2/`);
        await r.body?.cancel();
        if (r.status === 200 || r.status === 401) return;
      } catch {}
      await Bun.sleep(25);
    }
    throw new Error("docker-registry did not start");
  }
  async stop(): Promise<void> {
    if (this.proc) {
      this.proc.kill("SIGTERM");
      await this.proc.exited;
      this.proc = undefined;
    }
  }
}

export interface LayoutImage {
  tag: string;
  layers: Uint8Array[]; // uncompressed tars
  arch?: string;
  compress?: "gzip" | "none";
  cmd?: string[];
}

/** write blobs and return the manifest descriptor (OCI media types) */
function writeImage(
  dir: string,
  img: LayoutImage,
): { desc: { mediaType: string; digest: string; size: number; platform: { os: string; architecture: string } } } {
  const blobs = join(dir, "blobs", "sha256");
  mkdirSync(blobs, { recursive: true });
  const put = (b: Uint8Array | string) => {
    const d = sha256(b);
    writeFileSync(join(blobs, d.slice(7)), b);
    return { digest: d, size: typeof b === "string" ? Buffer.byteLength(b) : b.length };
  };
  const diffIds = img.layers.map((l) => sha256(l));
  const layers = img.layers.map((l) => {
    const gz = img.compress !== "none";
    const blob = gz ? Bun.gzipSync(new Uint8Array(l)) : l;
    return { mediaType: gz ? "application/vnd.oci.image.layer.v1.tar+gzip" : "application/vnd.oci.image.layer.v1.tar", ...put(blob) };
  });
  const arch = img.arch ?? "amd64";
  const config = JSON.stringify({
    created: "2024-01-01T00:00:00Z",
    architecture: arch,
    os: "linux",
    config: { Cmd: img.cmd ?? ["sh"], Env: ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"] },
    rootfs: { type: "layers", diff_ids: diffIds },
    history: img.layers.map(() => ({ created: "2024-01-01T00:00:00Z", created_by: "test" })),
  });
  const cfg = put(config);
  const manifest = JSON.stringify({
    schemaVersion: 2,
    mediaType: "application/vnd.oci.image.manifest.v1+json",
    config: { mediaType: "application/vnd.oci.image.config.v1+json", ...cfg },
    layers,
  });
  const m = put(manifest);
  return { desc: { mediaType: "application/vnd.oci.image.manifest.v1+json", ...m, platform: { os: "linux", architecture: arch } } };
}

/** an OCI layout with one tagged manifest per image, or one tagged index over several (multi) */
export function ociLayout(dir: string, images: LayoutImage[], multiTag?: string): string {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, "oci-layout"), JSON.stringify({ imageLayoutVersion: "1.0.0" }));
  const descs = images.map((i) => writeImage(dir, i).desc);
  let manifests: object[];
  if (multiTag) {
    const index = JSON.stringify({ schemaVersion: 2, mediaType: "application/vnd.oci.image.index.v1+json", manifests: descs });
    const d = sha256(index);
    writeFileSync(join(dir, "blobs", "sha256", d.slice(7)), index);
    manifests = [
      {
        mediaType: "application/vnd.oci.image.index.v1+json",
        digest: d,
        size: Buffer.byteLength(index),
        annotations: { "org.opencontainers.image.ref.name": multiTag },
      },
    ];
  } else {
    manifests = descs.map((d, i) => ({ ...d, annotations: { "org.opencontainers.image.ref.name": images[i]!.tag } }));
  }
  writeFileSync(join(dir, "index.json"), JSON.stringify({ schemaVersion: 2, manifests }));
  return dir;
}

/** a tar of small files made by GNU tar (an independent producer) */
export async function smallLayer(work: string, name: string, files: Record<string, string>): Promise<Uint8Array> {
  const d = join(work, `layer-${name}`);
  for (const [p, c] of Object.entries(files)) {
    mkdirSync(join(d, p, ".."), { recursive: true });
    writeFileSync(join(d, p), c);
  }
  const out = join(work, `layer-${name}.tar`);
  await mustRun(["tar", "--sort=name", "--mtime=@1700000000", "--owner=0", "--group=0", "--numeric-owner", "-C", d, "-cf", out, "."]);
  return readFileSync(out);
}

export async function busyboxLayer(work: string): Promise<Uint8Array> {
  const out = join(work, "busybox-rootfs.tar");
  if (!existsSync(out)) await mustRun(["bash", join(repo, "scripts/busybox-rootfs.sh"), out]);
  return readFileSync(out);
}

/** skopeo copy with TLS off for the loopback registry */
export async function skopeo(args: string[]): Promise<string> {
  return mustRun(["skopeo", "--insecure-policy", ...args]);
}

export function tempDir(): { path: string; [Symbol.dispose](): void } {
  const path = mkdtempSync("/tmp/berth-test-registry-");
  return { path, [Symbol.dispose]: () => rmSync(path, { recursive: true, force: true }) };
}
