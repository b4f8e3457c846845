/**
 * Test objects, the same for every engine, cached under the bench work dir:
 *  - busybox rootfs tar (Debian busybox-static's /bin/busybox, its applet symlinks, /etc/passwd, /etc/group),
 *    written by GNU tar with fixed owners and mtimes so it is byte-identical on every run;
 *  - imported as busybox:bench into berth, docker and podman; an OCI bundle (`runc spec`) for crun/runc;
 *  - a synthetic rootfs tarball for the import scenario (deterministic: seeded PRNG, own ustar writer);
 *  - build contexts (tiny and ten-step Dockerfiles);
 *  - the multi-layer image in the local registry for the pull scenario.
 */
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, writeFileSync, writeSync } from "node:fs";
import { join } from "node:path";
import { firstLine, log, must, runCmd, which } from "./proc.ts";
import { REGISTRY } from "./peers.ts";

export const IMAGE = "busybox:bench";
export const BIG_IMAGE = `${REGISTRY}/anchors/big:local`;
/** --quick pulls this one: busybox plus /usr/lib/python3.11 (~55 MB unpacked) */
export const QUICK_IMAGE = `${REGISTRY}/anchors/big:quick`;

export function buildBusyboxTar(work: string): string {
  const dir = join(work, "busybox");
  const tar = join(dir, "rootfs.tar");
  if (existsSync(tar)) return tar;
  if (!existsSync("/bin/busybox")) throw new Error("/bin/busybox missing: install Debian's busybox-static");
  const rootfs = join(dir, "rootfs");
  rmSync(rootfs, { recursive: true, force: true });
  for (const d of ["bin", "etc", "proc", "sys", "dev", "tmp", "root"]) mkdirSync(join(rootfs, d), { recursive: true });
  must(["cp", "/bin/busybox", join(rootfs, "bin/busybox")]);
  must(["chroot", rootfs, "/bin/busybox", "--install", "-s", "/bin"]);
  writeFileSync(join(rootfs, "etc/passwd"), "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n");
  writeFileSync(join(rootfs, "etc/group"), "root:x:0:\nnogroup:x:65534:\n");
  must(["chmod", "1777", join(rootfs, "tmp")]);
  must(["tar", "--sort=name", "--mtime=@0", "--owner=0", "--group=0", "--numeric-owner", "-C", rootfs, "-cf", `${tar}.tmp`, "."]);
  renameSync(`${tar}.tmp`, tar);
  return tar;
}

/** OCI runtime bundle for crun/runc: `runc spec` (or `crun spec`), rootfs from the same tar, args ["true"]. */
export function buildBundle(work: string, busyboxTar: string): string | null {
  const bundle = join(work, "bundle");
  const cfg = join(bundle, "config.json");
  if (existsSync(cfg)) return bundle;
  const tool = which("runc") ?? which("crun");
  if (!tool) return null;
  rmSync(bundle, { recursive: true, force: true });
  mkdirSync(join(bundle, "rootfs"), { recursive: true });
  must(["tar", "-xf", busyboxTar, "-C", join(bundle, "rootfs")]);
  must([tool, "spec"], { cwd: bundle });
  const spec = JSON.parse(readFileSync(cfg, "utf8"));
  spec.process.terminal = false;
  spec.process.args = ["true"];
  writeFileSync(cfg, JSON.stringify(spec, null, 2));
  return bundle;
}

/** Import busybox:bench into docker/podman unless present. Returns an error line or null. */
export function importInto(cli: string, kind: "docker" | "podman", tar: string): string | null {
  const has = kind === "docker" ? runCmd([cli, "image", "inspect", IMAGE]).ok : runCmd([cli, "image", "exists", IMAGE]).ok;
  if (has) return null;
  log(`${kind} import ${IMAGE}`);
  const r = runCmd([cli, "import", "--change", 'CMD ["/bin/sh"]', tar, IMAGE], { timeoutMs: 120_000 });
  return r.ok ? null : firstLine(r);
}

// ------------------------------------------------------------------ synthetic rootfs tarball

/** xorshift32: deterministic, fast, good enough for sizes and filler bytes. */
function prng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x;
  };
}

const enc = new TextEncoder();

function octal(buf: Uint8Array, off: number, len: number, v: number): void {
  const s = v.toString(8).padStart(len - 1, "0");
  buf.set(enc.encode(s), off);
  buf[off + len - 1] = 0;
}

/** One ustar header block (names here are always < 100 bytes). */
export function ustarHeader(name: string, type: "0" | "1" | "2" | "5", size: number, mode: number, linkname = ""): Uint8Array {
  const h = new Uint8Array(512);
  h.set(enc.encode(name), 0);
  octal(h, 100, 8, mode);
  octal(h, 108, 8, 0);
  octal(h, 116, 8, 0);
  octal(h, 124, 12, size);
  octal(h, 136, 12, 1_700_000_000);
  h.fill(0x20, 148, 156); // checksum counted as spaces
  h[156] = type.charCodeAt(0);
  h.set(enc.encode(linkname), 157);
  h.set(enc.encode("ustar\x0000"), 257);
  h.set(enc.encode("root"), 265);
  h.set(enc.encode("root"), 297);
  let sum = 0;
  for (const b of h) sum += b;
  const cs = sum.toString(8).padStart(6, "0");
  h.set(enc.encode(cs), 148);
  h[154] = 0;
  h[155] = 0x20;
  return h;
}

/**
 * A rootfs-like tarball of about `mb` MB (10^6 bytes of file content): directories of ~25 files each,
 * file sizes mostly small (80 % 0.5–8 KB, 17 % 8–128 KB, 3 % 128 KB–2 MB: mean ≈ 48 KB, as /usr on this
 * Debian image: 117k files, 5.6 GB),
 * 3 % symlinks, 1 % hardlinks. Same bytes on every machine. Cached; written to .tmp then renamed.
 */
export function buildImportTar(work: string, mb: number): string {
  const out = join(work, `import-${mb}MB-v2.tar`);
  if (existsSync(out)) return out;
  log(`generating ${out}`);
  const rnd = prng(0x9e3779b9);
  const pool = new Uint8Array(8 << 20);
  const pv = new Uint32Array(pool.buffer);
  for (let i = 0; i < pv.length; i++) pv[i] = rnd();
  // half of the pool is text-like (repeated words), so a compressor would find some structure
  const words = enc.encode("lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor\n");
  for (let i = 0; i < pool.length / 2; i++) pool[i] = words[i % words.length]!;

  const fd = openSync(`${out}.tmp`, "w");
  const buf = new Uint8Array(4 << 20);
  let used = 0;
  let written = 0;
  const flush = () => {
    let off = 0;
    while (off < used) off += writeSync(fd, buf, off, used - off);
    written += used;
    used = 0;
  };
  const put = (b: Uint8Array) => {
    let off = 0;
    while (off < b.length) {
      const n = Math.min(b.length - off, buf.length - used);
      buf.set(b.subarray(off, off + n), used);
      used += n;
      off += n;
      if (used === buf.length) flush();
    }
  };
  const pad = (n: number) => {
    const r = n % 512;
    if (r) put(new Uint8Array(512 - r));
  };

  const target = mb * 1e6;
  let content = 0;
  let nfile = 0;
  let dir = "";
  const files: string[] = [];
  for (const d of ["usr/", "usr/share/", "usr/share/bench/"]) put(ustarHeader(d, "5", 0, 0o755));
  while (content < target) {
    if (nfile % 25 === 0) {
      const top = `usr/share/bench/d${String(Math.floor(nfile / 500)).padStart(4, "0")}/`;
      if (nfile % 500 === 0) put(ustarHeader(top, "5", 0, 0o755));
      dir = `${top}s${String(Math.floor(nfile / 25) % 20).padStart(2, "0")}/`;
      put(ustarHeader(dir, "5", 0, 0o755));
    }
    const name = `${dir}f${String(nfile).padStart(7, "0")}`;
    nfile++;
    const kind = rnd() % 100;
    if (kind < 3 && files.length > 0) {
      put(ustarHeader(`${name}.lnk`, "2", 0, 0o777, "../../" + files[rnd() % files.length]!.split("/").slice(-3).join("/")));
      continue;
    }
    if (kind < 4 && files.length > 0) {
      put(ustarHeader(`${name}.hard`, "1", 0, 0o644, files[rnd() % files.length]!));
      continue;
    }
    const c = rnd() % 100;
    const size = c < 80 ? 512 + (rnd() % 7680) : c < 97 ? 8192 + (rnd() % 122_880) : 131_072 + (rnd() % 1_966_080);
    put(ustarHeader(`${name}.dat`, "0", size, rnd() % 4 === 0 ? 0o755 : 0o644));
    let left = size;
    while (left > 0) {
      const off = rnd() % (pool.length - 65536);
      const n = Math.min(left, 65536);
      put(pool.subarray(off, off + n));
      left -= n;
    }
    pad(size);
    content += size;
    if (files.length < 4096) files.push(`${name}.dat`);
  }
  put(new Uint8Array(1024)); // end-of-archive: two zero blocks
  const total = written + used;
  if (total % 10240) put(new Uint8Array(10240 - (total % 10240))); // GNU tar's record size
  flush();
  closeSync(fd);
  renameSync(`${out}.tmp`, out);
  log(`generated ${out}: ${nfile} entries, ${(written / 1e6).toFixed(0)} MB`);
  return out;
}

// ------------------------------------------------------------------ build contexts

export function buildContexts(work: string): { tiny: string; ten: string } {
  const tiny = join(work, "build-tiny");
  const ten = join(work, "build-ten");
  mkdirSync(tiny, { recursive: true });
  mkdirSync(ten, { recursive: true });
  writeFileSync(join(tiny, "Dockerfile"), `FROM ${IMAGE}\nRUN echo hi > /x\nCOPY a.txt /a.txt\n`);
  writeFileSync(join(tiny, "a.txt"), "bench file\n");
  writeFileSync(
    join(ten, "Dockerfile"),
    [
      `FROM ${IMAGE}`,
      "ENV A=1",
      "WORKDIR /app",
      "COPY a.txt /app/a.txt",
      "RUN echo one > /app/1",
      "RUN mkdir -p /app/d && echo two > /app/d/2",
      "COPY b.txt /app/b.txt",
      "RUN cat /app/a.txt /app/b.txt > /app/ab",
      "ENV B=2",
      'RUN echo "$A$B" > /app/env',
      "LABEL bench=ten",
      "",
    ].join("\n"),
  );
  writeFileSync(join(ten, "a.txt"), "bench file a\n");
  writeFileSync(join(ten, "b.txt"), "bench file b\n");
  return { tiny, ten };
}

// ------------------------------------------------------------------ registry image for pulls

/**
 * 127.0.0.1:5000/anchors/big:local, as the anchors' setup.sh made it: busybox plus one layer per
 * directory (/usr/lib/llvm-14, /usr/lib/gcc, /usr/lib/python3.11 on this VM image: ~550 MB unpacked),
 * built with docker, pushed with skopeo, and the local docker copy removed so pulls transfer the layers.
 */
export function ensurePullImage(work: string, docker: string | null, quick: boolean): string | null {
  const image = quick ? QUICK_IMAGE : BIG_IMAGE;
  const has = runCmd(["skopeo", "inspect", "--raw", "--tls-verify=false", `docker://${image}`], { timeoutMs: 30_000 });
  if (has.ok) return null;
  if (!docker) return "pull image not in the registry and no docker to build it";
  const env = quick ? (process.env.BENCH_QUICK_DIRS ?? "usr/lib/python3.11") : (process.env.BENCH_BIG_DIRS ?? "usr/lib/llvm-14 usr/lib/gcc usr/lib/python3.11");
  const dirs = env.split(/\s+/).filter((d) => existsSync(`/${d}`));
  if (dirs.length === 0) return "none of BENCH_BIG_DIRS exists on this machine";
  const ctx = join(work, "big-ctx");
  mkdirSync(ctx, { recursive: true });
  const lines = [`FROM ${IMAGE}`];
  for (const d of dirs) {
    const n = `${d.replace(/\//g, "_")}.tar`;
    must(["tar", "--sort=name", "--mtime=@0", "--owner=0", "--group=0", "--numeric-owner", "-C", "/", "-cf", join(ctx, n), d], { timeoutMs: 300_000 });
    lines.push(`ADD ${n} /`);
  }
  writeFileSync(join(ctx, "Dockerfile"), lines.join("\n") + "\n");
  log(`building ${image} from ${dirs.join(", ")} and pushing it`);
  const b = runCmd([docker, "build", "-q", "-t", "big:bench", ctx], { env: { DOCKER_BUILDKIT: "0" }, timeoutMs: 600_000 });
  rmSync(ctx, { recursive: true, force: true });
  if (!b.ok) return `docker build of the big image: ${firstLine(b)}`;
  const p = runCmd(["skopeo", "copy", "-q", "--dest-tls-verify=false", "docker-daemon:big:bench", `docker://${image}`], { timeoutMs: 600_000 });
  runCmd([docker, "rmi", "big:bench"]);
  return p.ok ? null : `skopeo push of the big image: ${firstLine(p)}`;
}
