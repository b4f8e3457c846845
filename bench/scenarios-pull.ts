/**
 * Pull scenarios (issue 4), kept apart from scenarios.ts:
 *
 *   p1. `berth pull` of a ~530 MB image (busybox + one layer per directory of real files: by default
 *       /usr/lib/llvm-14, /usr/lib/gcc, /usr/lib/python3.11), gzip, from the local registry into a fresh
 *       root (download + verify + unpack), against `skopeo copy … dir:` (transfer + verify only).
 *   p2. the same for a one-layer image of ~10 MB (a directory of real files)          } peak RSS must
 *   p3. the same for a one-layer image of ≥ 1 GB (/usr/lib/x86_64-linux-gnu + jvm)     } stay ≤ 64 MB
 * Rows carry wall time and peak RSS (the harness); the note adds MB/s over the compressed bytes (what
 * crossed the socket) and over the unpacked bytes.
 *
 * The images need no docker: layers are GNU tar streams of real directories (sorted, fixed mtimes and
 * owners), hashed on the way (diffID) and gzip'ed by gzip(1), written into an OCI layout, and copied
 * into the registry by skopeo. The layout is cached under <work>/pull-images/ (a fixture version in
 * the name), the registry is asked first, so the one-time cost (~1–2 min for p3's gzip) is paid once.
 *
 * Register in run.ts's table, e.g.
 *   ["p", "p. pull: ~530 MB, 10 MB and 1 GB layers vs skopeo", () => scenarioPull(c)],
 * with `import { scenarioPull } from "./scenarios-pull.ts";`. Standalone (own registry, no peers):
 *   bun bench/scenarios-pull.ts --registry 127.0.0.1:PORT --berth dist/berth [--runs 3] [--only p1,p3]
 */
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { berthOnly, rounds, safeRm, Scenario, type Budget, type Side } from "./harness.ts";
import { REGISTRY } from "./peers.ts";
import { log, runCmd } from "./proc.ts";
import type { Ctx } from "./scenarios.ts";

const T = 900_000;
const FIXTURE_VERSION = 2;
const RSS_TARGET_KB = 64 * 1024;

export interface PullImageSpec {
  id: string;
  title: string;
  /** layers, each a list of absolute directories tarred together */
  layers: string[][];
}

function specs(): PullImageSpec[] {
  const big = (process.env.BENCH_PULL_DIRS ?? "/usr/lib/llvm-14 /usr/lib/gcc /usr/lib/python3.11").split(/\s+/).filter((d) => d && existsSync(d));
  const small = (
    process.env.BENCH_PULL_SMALL ?? "/usr/lib/python3.11/encodings /usr/lib/python3.11/lib-dynload /usr/lib/python3.11/__pycache__ /usr/lib/python3.11/asyncio"
  )
    .split(/\s+/)
    .filter((d) => d && existsSync(d));
  const huge = (process.env.BENCH_PULL_HUGE ?? "/usr/lib/x86_64-linux-gnu /usr/lib/jvm").split(/\s+/).filter((d) => d && existsSync(d));
  return [
    { id: "p1", title: `p1. pull of a ${big.length}-layer gzip image of real files (~530 MB unpacked)`, layers: big.map((d) => [d]) },
    { id: "p2", title: "p2. pull of a one-layer ~10 MB gzip image", layers: [small] },
    { id: "p3", title: "p3. pull of a one-layer ≥ 1 GB gzip image", layers: [huge] },
  ];
}

interface BuiltImage {
  ref: string;
  /** bytes over the wire (compressed layers + config + manifest) and unpacked tar bytes */
  compressed: number;
  unpacked: number;
  layers: number;
}

const sha = (b: Uint8Array | string) => `sha256:${new Bun.CryptoHasher("sha256").update(b).digest("hex")}`;

/** one layer: GNU tar of `dirs` (paths relative to /) → diffID hash + gzip(1) into `out` */
async function buildLayer(dirs: string[], out: string): Promise<{ diffId: string; digest: string; size: number; tarSize: number }> {
  const tar = Bun.spawn(
    [
      "tar",
      "--sort=name",
      "--mtime=@1700000000",
      "--owner=0",
      "--group=0",
      "--numeric-owner",
      "-C",
      "/",
      "-cf",
      "-",
      ...dirs.map((d) => d.replace(/^\/+/, "")),
    ],
    { stdout: "pipe", stderr: "pipe" },
  );
  const tmp = `${out}.tmp`;
  const gz = Bun.spawn(["gzip", "-6", "-n", "-c"], { stdin: "pipe", stdout: Bun.file(tmp), stderr: "pipe" });
  const h = new Bun.CryptoHasher("sha256");
  let tarSize = 0;
  for await (const c of tar.stdout as unknown as AsyncIterable<Uint8Array>) {
    h.update(c);
    tarSize += c.length;
    gz.stdin.write(c);
    await gz.stdin.flush();
  }
  await gz.stdin.end();
  const [tc, gc] = await Promise.all([tar.exited, gz.exited]);
  // GNU tar exits 1 when a file changed while read; the archive is still whole
  if (tc > 1 || gc !== 0) throw new Error(`layer of ${dirs.join(" ")}: tar ${tc}, gzip ${gc}: ${await new Response(tar.stderr).text()}`);
  const gh = new Bun.CryptoHasher("sha256");
  for await (const c of Bun.file(tmp).stream() as unknown as AsyncIterable<Uint8Array>) gh.update(c);
  const digest = `sha256:${gh.digest("hex")}`;
  renameSync(tmp, join(out, "..", digest.slice(7)));
  return { diffId: `sha256:${h.digest("hex")}`, digest, size: statSync(join(out, "..", digest.slice(7))).size, tarSize };
}

/** make the OCI layout for `spec` (cached) and copy it into `registry` unless the registry has it */
export async function ensurePullFixture(work: string, registry: string, spec: PullImageSpec, busyboxTar?: string): Promise<BuiltImage | string> {
  if (spec.layers.length === 0 || spec.layers.some((l) => l.length === 0)) return "no source directories on this machine";
  const dir = join(work, "pull-images", `${spec.id}-v${FIXTURE_VERSION}`);
  const ref = `${registry}/anchors/pull-${spec.id}:v${FIXTURE_VERSION}`;
  const metaPath = join(dir, "built.json");
  if (!existsSync(metaPath)) {
    rmSync(dir, { recursive: true, force: true });
    const blobs = join(dir, "blobs", "sha256");
    mkdirSync(blobs, { recursive: true });
    log(`pull fixture ${spec.id}: tar + gzip of ${spec.layers.map((l) => l.join("+")).join(", ")}`);
    const layers = [];
    if (busyboxTar && spec.id === "p1") {
      const bb = readFileSync(busyboxTar);
      const gz = Bun.gzipSync(bb);
      const digest = sha(gz);
      writeFileSync(join(blobs, digest.slice(7)), gz);
      layers.push({ diffId: sha(bb), digest, size: gz.length, tarSize: bb.length });
    }
    for (const l of spec.layers) layers.push(await buildLayer(l, join(blobs, "layer")));
    const config = JSON.stringify({
      created: "2024-01-01T00:00:00Z",
      architecture: "amd64",
      os: "linux",
      config: { Cmd: ["sh"], Env: ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"] },
      rootfs: { type: "layers", diff_ids: layers.map((l) => l.diffId) },
      history: layers.map(() => ({ created: "2024-01-01T00:00:00Z", created_by: "bench fixture" })),
    });
    const cfgDigest = sha(config);
    writeFileSync(join(blobs, cfgDigest.slice(7)), config);
    const manifest = JSON.stringify({
      schemaVersion: 2,
      mediaType: "application/vnd.oci.image.manifest.v1+json",
      config: { mediaType: "application/vnd.oci.image.config.v1+json", digest: cfgDigest, size: config.length },
      layers: layers.map((l) => ({ mediaType: "application/vnd.oci.image.layer.v1.tar+gzip", digest: l.digest, size: l.size })),
    });
    const mDigest = sha(manifest);
    writeFileSync(join(blobs, mDigest.slice(7)), manifest);
    writeFileSync(join(dir, "oci-layout"), JSON.stringify({ imageLayoutVersion: "1.0.0" }));
    writeFileSync(
      join(dir, "index.json"),
      JSON.stringify({
        schemaVersion: 2,
        manifests: [
          {
            mediaType: "application/vnd.oci.image.manifest.v1+json",
            digest: mDigest,
            size: manifest.length,
            annotations: { "org.opencontainers.image.ref.name": "v" },
          },
        ],
      }),
    );
    const built = {
      compressed: layers.reduce((a, l) => a + l.size, 0) + config.length + manifest.length,
      unpacked: layers.reduce((a, l) => a + l.tarSize, 0),
      layers: layers.length,
    };
    writeFileSync(metaPath, JSON.stringify(built));
  }
  const built = JSON.parse(readFileSync(metaPath, "utf8")) as Omit<BuiltImage, "ref">;
  const has = runCmd(["skopeo", "inspect", "--raw", "--tls-verify=false", `docker://${ref}`], { timeoutMs: 30_000 });
  if (!has.ok) {
    const p = runCmd(["skopeo", "--insecure-policy", "copy", "-q", "--dest-tls-verify=false", `oci:${dir}:v`, `docker://${ref}`], { timeoutMs: T });
    if (!p.ok) return `skopeo copy of the ${spec.id} fixture: ${p.stderr.trim().split("\n")[0]}`;
  }
  return { ref, ...built };
}

const mb = (b: number) => b / 1e6;

export interface PullBenchOptions {
  work: string;
  berthBin: string;
  registry: string;
  runs: number;
  budget: Budget;
  skopeo?: string;
  busyboxTar?: string;
  only?: string[];
  berthErr?: string;
}

export async function pullScenarios(o: PullBenchOptions): Promise<Scenario[]> {
  const out: Scenario[] = [];
  for (const spec of specs()) {
    if (o.only && !o.only.includes(spec.id)) continue;
    const sc = new Scenario(spec.id, spec.title, o.berthErr);
    out.push(sc);
    const img = await ensurePullFixture(o.work, o.registry, spec, o.busyboxTar);
    if (typeof img === "string") {
      sc.berth.status ??= `not measured: ${img}`;
      sc.absent("skopeo copy → dir:", img);
      continue;
    }
    const root = join(o.work, `pull-root-${spec.id}`);
    // each run starts with nothing dirty (an untimed sync after the removal), as row e's: otherwise
    // the run before's writeback lands in the next one, in berth's syncfs of its layers above all
    const berth: Side = {
      engine: "berth",
      prepare: () => {
        safeRm(root);
        runCmd(["sync"]);
      },
      op: () => runCmd([o.berthBin, "--root", root, "pull", "-q", img.ref], { timeoutMs: T, timeRss: true }),
      cleanup: () => void safeRm(root),
    };
    const dest = join(o.work, `skopeo-dir-${spec.id}`);
    if (o.skopeo) {
      const peer: Side = {
        engine: "skopeo copy → dir:",
        prepare: () => {
          rmSync(dest, { recursive: true, force: true });
          runCmd(["sync"]);
        },
        op: () => runCmd([o.skopeo!, "copy", "-q", "--src-tls-verify=false", `docker://${img.ref}`, `dir:${dest}`], { timeoutMs: T, timeRss: true }),
        cleanup: () => rmSync(dest, { recursive: true, force: true }),
      };
      rounds(sc, berth, [{ side: peer }], o.runs, 0, o.budget);
    } else {
      sc.absent("skopeo copy → dir:", "skopeo not installed");
      berthOnly(sc, berth, o.runs, 0, o.budget);
    }
    const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)];
    for (const r of sc.rows) {
      const t = med(r.samples);
      if (t === undefined) continue;
      const rate = `${(mb(img.compressed) / (t / 1000)).toFixed(0)} MB/s compressed (${mb(img.compressed).toFixed(0)} MB)`;
      if (r.engine === "berth") {
        const peak = Math.max(0, ...r.rssKb);
        r.note = `${rate}, ${(mb(img.unpacked) / (t / 1000)).toFixed(0)} MB/s unpacked (${mb(img.unpacked).toFixed(0)} MB, ${img.layers} layers); peak RSS ${(peak / 1024).toFixed(0)} MB ${peak <= RSS_TARGET_KB ? "≤" : ">"} 64 MB target`;
      } else r.note = `${rate}; no unpacking: blobs stay compressed`;
    }
  }
  return out;
}

/** run.ts entry: the bench's registry and work dir */
export function scenarioPull(ctx: Ctx): Promise<Scenario[]> {
  return pullScenarios({
    work: ctx.work,
    berthBin: ctx.berthBin,
    registry: REGISTRY,
    runs: ctx.heavyRuns,
    budget: ctx.budget,
    skopeo: ctx.skopeo,
    berthErr: ctx.berthErr,
  });
}

if (import.meta.main) {
  const arg = (name: string) => {
    const i = process.argv.indexOf(`--${name}`);
    return i > 0 ? process.argv[i + 1] : undefined;
  };
  const registry = arg("registry");
  if (!registry) throw new Error("usage: bun bench/scenarios-pull.ts --registry HOST:PORT [--berth BIN] [--work DIR] [--runs N] [--only p1,p2,p3]");
  const work = arg("work") ?? "/var/tmp/berth-bench";
  mkdirSync(work, { recursive: true });
  const skopeo = ["/usr/bin/skopeo"].find((p) => existsSync(p));
  const scs = await pullScenarios({
    work,
    berthBin: arg("berth") ?? join(import.meta.dir, "../dist/berth"),
    registry,
    runs: Number(arg("runs") ?? 3),
    budget: { deadline: Date.now() + 3_600_000 },
    skopeo,
    only: arg("only")?.split(","),
  });
  for (const sc of scs) {
    for (const r of sc.rows) {
      const ms = r.samples.map((s) => s.toFixed(0)).join(", ");
      const rss = r.rssKb.map((k) => (k / 1024).toFixed(0)).join(", ");
      console.log(`${sc.title} | ${r.engine} | ${r.status ?? `ms: ${ms} | peak RSS MB: ${rss}`} | ${r.note ?? ""}`);
    }
  }
}
