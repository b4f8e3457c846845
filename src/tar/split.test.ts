// tar-split: a stream recorded while it is unpacked (cow/apply.ts applyLayer, as `berth import` does)
// is rebuilt byte for byte from the unpacked files; archives the files cannot give back are flagged.
// The archives are GNU tar's own (pax and gnu formats), cut into uneven chunks.
import { afterAll, describe, expect, test } from "bun:test";
import { chmodSync, linkSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, truncateSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { applyLayer } from "../cow/apply.ts";
import { readTar } from "./reader.ts";
import { checkSplit, readSplitTrailer, rebuildTar, TarSplitRecorder } from "./split.ts";
import { closeSync, openSync } from "node:fs";
import { BodyWriter } from "../ffi/body-writer.ts";
import { FileRing } from "./compress.ts";

const base = mkdtempSync("/tmp/berth-tarsplit-");
afterAll(() => rmSync(base, { recursive: true, force: true }));
let seq = 0;

function tar(args: string[]): void {
  const p = Bun.spawnSync(["tar", ...args], { stderr: "pipe" });
  if (p.exitCode !== 0) throw new Error(`tar ${args.join(" ")}: ${p.stderr}`);
}

/** a tree with what rootfs tarballs hold: hard links, symlinks, names > 100 bytes, non-ASCII, empty files, odd modes */
function makeTree(): string {
  const src = join(base, `tree-${seq++}`);
  const long = "d".repeat(120);
  mkdirSync(join(src, "etc"), { recursive: true });
  mkdirSync(join(src, long, "x".repeat(90)), { recursive: true });
  mkdirSync(join(src, "tmp"));
  mkdirSync(join(src, "private"));
  mkdirSync(join(src, "shared"));
  writeFileSync(join(src, "etc/hosts"), "127.0.0.1 localhost\n");
  writeFileSync(join(src, "empty"), "");
  writeFileSync(join(src, "block-exact"), new Uint8Array(4096).fill(7));
  writeFileSync(join(src, "big.bin"), crypto.getRandomValues(new Uint8Array(65536)).subarray(0, 50_001));
  writeFileSync(join(src, long, "x".repeat(90), "y".repeat(110)), "deep and long\n");
  writeFileSync(join(src, "ünïcødé ✓.txt"), "é\n");
  writeFileSync(join(src, "hole.img"), "");
  truncateSync(join(src, "hole.img"), 300_000); // all zeros; archived in full (no --sparse)
  linkSync(join(src, "etc/hosts"), join(src, "hosts.hard"));
  linkSync(join(src, long, "x".repeat(90), "y".repeat(110)), join(src, "long.hard"));
  symlinkSync("etc/hosts", join(src, "hosts.sym"));
  symlinkSync(`/${"t".repeat(150)}`, join(src, "long-target.sym"));
  chmodSync(join(src, "tmp"), 0o1777);
  chmodSync(join(src, "private"), 0o700);
  chmodSync(join(src, "shared"), 0o2775);
  chmodSync(join(src, "etc/hosts"), 0o4755);
  return src;
}

async function* uneven(data: Uint8Array): AsyncGenerator<Uint8Array> {
  const sizes = [1, 511, 512, 513, 7000, 65536, 3];
  for (let i = 0, k = 0; i < data.length; k++) {
    const n = sizes[k % sizes.length]!;
    yield data.subarray(i, i + n);
    i += n;
  }
}

/** record `bytes` while applying them to a fresh directory; returns the split's path and the directory */
async function recordAndApply(bytes: Uint8Array): Promise<{ split: string; root: string; rec: TarSplitRecorder }> {
  const root = join(base, `root-${seq++}`);
  mkdirSync(root);
  const parts: Uint8Array[] = [];
  const rec = new TarSplitRecorder((b) => void parts.push(b.slice()));
  await applyLayer(root, readTar(uneven(bytes), { split: rec }), { whiteouts: "delete", sync: false });
  const digest = `sha256:${new Bun.CryptoHasher("sha256").update(bytes).digest("hex")}`;
  rec.finish({ digest, size: bytes.length, snapshot: "snap" });
  const split = join(base, `split-${seq++}`);
  writeFileSync(split, Buffer.concat(parts));
  return { split, root, rec };
}

/** the same as import does with a tarball file: headers through a FileRing, bodies copied from the file by the writer thread */
async function recordAndApplyFile(path: string, chunk: number) {
  const root = join(base, `root-${seq++}`);
  mkdirSync(root);
  const parts: Uint8Array[] = [];
  const rec = new TarSplitRecorder((b) => void parts.push(b.slice()));
  const bodies = BodyWriter.open(8);
  if (!bodies) throw new Error("no native body writer here (cc missing?)");
  const fd = openSync(path, "r");
  try {
    const source = { fd, ring: new FileRing(fd, { chunk, ring: 4 * chunk, guard: bodies }) };
    await applyLayer(root, readTar(source, { split: rec }), { whiteouts: "delete", sync: false, bodies });
    bodies.end();
  } finally {
    bodies.end(true);
    closeSync(fd);
  }
  const bytes = readFileSync(path);
  rec.finish({ digest: `sha256:${new Bun.CryptoHasher("sha256").update(bytes).digest("hex")}`, size: bytes.length, snapshot: "snap" });
  const split = join(base, `split-${seq++}`);
  writeFileSync(split, Buffer.concat(parts));
  return { split, root, rec, bytes };
}

async function rebuilt(split: string, root: string): Promise<Uint8Array> {
  const out: Uint8Array[] = [];
  for await (const c of rebuildTar(split, root, "layer test")) out.push(c);
  return Buffer.concat(out);
}

describe("tar-split of GNU tar archives", () => {
  for (const format of ["pax", "gnu", "ustar-pax-mtime"]) {
    test(`${format}: rebuilt byte for byte from the unpacked files`, async () => {
      const src = makeTree();
      const file = join(base, `${format}-${seq++}.tar`);
      if (format === "ustar-pax-mtime") tar(["--format=pax", "--pax-option=mtime:=1700000000.123456789", "-cf", file, "-C", src, "."]);
      else tar([`--format=${format}`, "-cf", file, "-C", src, "."]);
      // trailing bytes after the end-of-archive blocks are part of the digest too
      const bytes = new Uint8Array(Buffer.concat([readFileSync(file), new TextEncoder().encode("trailing junk")]));
      const { split, root, rec } = await recordAndApply(bytes);
      expect(rec.unsafe).toBeUndefined();
      expect(rec.size).toBe(bytes.length);
      expect(rec.files).toBeGreaterThanOrEqual(6);
      const again = await rebuilt(split, root);
      expect(again.length).toBe(bytes.length);
      expect(Buffer.compare(again, bytes)).toBe(0);
      expect(checkSplit(split, root, "layer test")).toBeUndefined();
      const fd = openSync(split, "r");
      expect(readSplitTrailer(fd, "t")).toMatchObject({ v: 1, size: bytes.length, snapshot: "snap" });
      closeSync(fd);
      // a few headers and the bodies' names: far smaller than the archive
      expect(readFileSync(split).length).toBeLessThan(bytes.length / 5);
    });
  }

  for (const chunk of [512, 8192]) {
    test(`pax, read as a file (${chunk}-byte header reads, bodies copied by the writer thread): rebuilt byte for byte`, async () => {
      const src = makeTree();
      const file = join(base, `file-${seq++}.tar`);
      tar(["--format=pax", "-cf", file, "-C", src, "."]);
      writeFileSync(file, "trailing junk", { flag: "a" });
      const { split, root, rec, bytes } = await recordAndApplyFile(file, chunk);
      expect(rec.unsafe).toBeUndefined();
      expect(rec.size).toBe(bytes.length);
      expect(Buffer.compare(await rebuilt(split, root), bytes)).toBe(0);
      expect(checkSplit(split, root, "layer test")).toBeUndefined();
    });
  }

  test("a body file changed under the split: a clear error naming the file, never other bytes", async () => {
    const src = makeTree();
    const file = join(base, `chg-${seq++}.tar`);
    tar(["--format=pax", "-cf", file, "-C", src, "."]);
    const { split, root } = await recordAndApply(new Uint8Array(readFileSync(file)));
    writeFileSync(join(root, "big.bin"), "short");
    await expect(rebuilt(split, root)).rejects.toThrow(/layer test: file "big.bin" of its snapshot changed \(5 bytes, the layer has 50001 bytes\)/);
    expect(checkSplit(split, root, "layer test")).toMatch(/big\.bin/);
    rmSync(join(root, "empty"));
    rmSync(join(root, "big.bin"));
    await expect(rebuilt(split, root)).rejects.toThrow(/file "big.bin" of its snapshot cannot be read/);
  });
});

describe("archives the unpacked files cannot give back are flagged", () => {
  test("the same path twice", async () => {
    const d = join(base, `dup-${seq++}`);
    mkdirSync(d);
    const file = join(base, `dup-${seq++}.tar`);
    writeFileSync(join(d, "f"), "one\n");
    tar(["-cf", file, "-C", d, "f"]);
    writeFileSync(join(d, "f"), "two, longer\n");
    tar(["-rf", file, "-C", d, "f"]);
    const { rec } = await recordAndApply(new Uint8Array(readFileSync(file)));
    expect(rec.unsafe).toMatch(/"f": the archive has that path twice/);
  });

  test("a whiteout, an entry under a symlink; a directory given twice is fine", async () => {
    const d = join(base, `wh-${seq++}`);
    mkdirSync(join(d, "a"), { recursive: true });
    writeFileSync(join(d, "a", ".wh.gone"), "");
    const file = join(base, `wh-${seq++}.tar`);
    tar(["-cf", file, "-C", d, "a"]);
    expect((await recordAndApply(new Uint8Array(readFileSync(file)))).rec.unsafe).toMatch(/a whiteout/);

    const e = join(base, `sl-${seq++}`);
    mkdirSync(join(e, "real"), { recursive: true });
    symlinkSync("real", join(e, "link"));
    const f2 = join(base, `sl-${seq++}.tar`);
    tar(["-cf", f2, "-C", e, "real", "link"]);
    writeFileSync(join(e, "x"), "through the link\n");
    tar(["-rf", f2, "-C", e, "--transform=s,^x$,link/x,", "x"]);
    expect((await recordAndApply(new Uint8Array(readFileSync(f2)))).rec.unsafe).toMatch(/under "link", which is not a directory/);

    const f3 = join(base, `dd-${seq++}.tar`);
    tar(["-cf", f3, "-C", e, "real", "real"]);
    const { rec, split, root } = await recordAndApply(new Uint8Array(readFileSync(f3)));
    expect(rec.unsafe).toBeUndefined();
    expect(Buffer.compare(await rebuilt(split, root), readFileSync(f3))).toBe(0);
  });
});
