// Issue 13 row d: `berth import FILE` of a plain tarball keeps a tar-split over the unpacked snapshot
// instead of a second copy of the tarball. Every reader must still get the very bytes: `save` writes
// the layer blob with the input's sha256 (checked with GNU tar and sha256 of the input, and skopeo
// reads the archive), `system check` stays clean, GC drops the split with the image, a file changed
// under the split makes save fail naming the layer, and an archive the files cannot give back (a
// path twice) is stored as a blob as before.
import { afterAll, describe, expect, test } from "bun:test";
import {
  chmodSync,
  closeSync,
  existsSync,
  openSync,
  readSync,
  writeSync,
  linkSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  truncateSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { rootEnabled } from "../helpers/root.ts";
import { berth, berthArgv, tempRoot } from "../helpers/cli.ts";

const base = mkdtempSync("/tmp/berth-test-import-split-");
afterAll(() => rmSync(base, { recursive: true, force: true }));
const haveSkopeo = existsSync("/usr/bin/skopeo");

const ok = (r: { exitCode: number; stdout: string; stderr: string }) => expect(r, `${r.stdout}\n${r.stderr}`).toMatchObject({ exitCode: 0 });

function run(argv: string[]): string {
  const p = Bun.spawnSync(argv, { stdout: "pipe", stderr: "pipe" });
  if (p.exitCode !== 0) throw new Error(`${argv.join(" ")}: ${p.stderr}`);
  return p.stdout.toString();
}

const sha256 = (b: Uint8Array) => new Bun.CryptoHasher("sha256").update(b).digest("hex");

/** a rootfs-like tarball made by GNU tar: hard links, symlinks, names > 100 bytes, pax headers, empty and all-zero files, odd directory modes */
function rootfsTar(format: "pax" | "gnu"): string {
  const file = join(base, `rootfs-${format}.tar`);
  if (existsSync(file)) return file;
  const src = join(base, `src-${format}`);
  const long = "l".repeat(130);
  mkdirSync(join(src, "usr/bin"), { recursive: true });
  mkdirSync(join(src, long), { recursive: true });
  mkdirSync(join(src, "tmp"));
  mkdirSync(join(src, "root"));
  writeFileSync(join(src, "usr/bin/tool"), crypto.getRandomValues(new Uint8Array(40_000)));
  chmodSync(join(src, "usr/bin/tool"), 0o4755);
  writeFileSync(join(src, "empty"), "");
  writeFileSync(join(src, "zeros"), "");
  truncateSync(join(src, "zeros"), 200_000);
  writeFileSync(join(src, long, "m".repeat(120)), "a long name\n");
  writeFileSync(join(src, "naïve ✓"), "pax path\n");
  linkSync(join(src, "usr/bin/tool"), join(src, "usr/bin/tool-again"));
  symlinkSync("usr/bin/tool", join(src, "tool"));
  symlinkSync(`/${"s".repeat(140)}`, join(src, "far"));
  chmodSync(join(src, "tmp"), 0o1777);
  chmodSync(join(src, "root"), 0o700);
  run(["tar", `--format=${format}`, "--pax-option=mtime:=1700000000.5", "-cf", file, "-C", src, "."].filter((a) => format === "pax" || !a.startsWith("--pax")));
  return file;
}

/** a GNU tarball of `dirs` directories of 50 small files each (takes a moment to import) */
function manyFilesTar(name: string, dirs: number): string {
  const src = join(base, name);
  for (let i = 0; i < dirs; i++) {
    mkdirSync(join(src, `d${i}`), { recursive: true });
    for (let j = 0; j < 50; j++) writeFileSync(join(src, `d${i}`, `f${j}`), `${i}/${j}\n`.repeat(200));
  }
  const file = join(base, `${name}.tar`);
  run(["tar", "-cf", file, "-C", src, "."]);
  return file;
}

/** `berth save` → the layer blob as it sits in the archive, and the archive's path */
async function savedLayer(root: string, ref: string, hex: string): Promise<{ layer: Uint8Array; archive: string }> {
  const archive = join(base, `saved-${ref.replace(/[^a-z0-9]/g, "_")}.tar`);
  ok(await berth(["save", "-o", archive, ref], { root }));
  const out = join(base, `x-${ref.replace(/[^a-z0-9]/g, "_")}`);
  mkdirSync(out, { recursive: true });
  run(["tar", "-xf", archive, "-C", out, `blobs/sha256/${hex}`]);
  return { layer: new Uint8Array(readFileSync(join(out, "blobs/sha256", hex))), archive };
}

describe.skipIf(!rootEnabled)("import keeps a tar-split; save gives back the same layer", () => {
  for (const format of ["pax", "gnu"] as const) {
    test(`${format} tarball: no second copy stored; save's layer blob is the input, byte for byte`, async () => {
      using tr = tempRoot(`split-${format}`);
      const root = tr.path;
      const file = rootfsTar(format);
      const input = new Uint8Array(readFileSync(file));
      const hex = sha256(input);
      ok(await berth(["import", file, `split/${format}:1`], { root }));
      // the layer is a tar-split, not a blob
      expect(readdirSync(join(root, "content/splits/sha256"))).toEqual([hex]);
      expect(readdirSync(join(root, "content/blobs/sha256"))).not.toContain(hex);
      const inspect = JSON.parse((await berth(["image", "inspect", `split/${format}:1`], { root })).stdout);
      expect(inspect[0].RootFS.Layers).toEqual([`sha256:${hex}`]);
      const { layer, archive } = await savedLayer(root, `split/${format}:1`, hex);
      expect(layer.length).toBe(input.length);
      expect(sha256(layer)).toBe(hex);
      // GNU tar lists the same entries from the rebuilt layer
      const listing = (f: string) => run(["tar", "-tvf", f]);
      const rebuilt = join(base, `rebuilt-${format}.tar`);
      writeFileSync(rebuilt, layer);
      expect(listing(rebuilt)).toBe(listing(file));
      if (haveSkopeo) {
        const raw = JSON.parse(run(["skopeo", "--insecure-policy", "inspect", "--raw", `docker-archive:${archive}`]));
        expect(raw.layers.map((l: { digest: string }) => l.digest)).toEqual([`sha256:${hex}`]);
        const oci = join(base, `oci-${format}`);
        // skopeo re-verifies every blob's digest while copying
        run(["skopeo", "--insecure-policy", "copy", `docker-archive:${archive}`, `oci:${oci}:x`]);
      }
      const chk = await berth(["system", "check"], { root });
      ok(chk);
      expect(chk.stdout).toContain(": ok");
      // the image gone, GC takes the split and its snapshot
      ok(await berth(["rmi", `split/${format}:1`], { root }));
      expect(readdirSync(join(root, "content/splits/sha256"))).toEqual([]);
      const after = await berth(["system", "check"], { root });
      ok(after);
      expect(after.stdout).toMatch(/checked 0 blobs, 0 images, 0 tags, 0 snapshots/);
    }, 60_000);
  }

  test("a file changed under the split: save fails naming the layer, system check names the file", async () => {
    using tr = tempRoot("split-changed");
    const root = tr.path;
    const file = rootfsTar("pax");
    const hex = sha256(new Uint8Array(readFileSync(file)));
    ok(await berth(["import", file, "split/changed:1"], { root }));
    const found = run(["find", root, "-path", "*/fs/usr/bin/tool"]).trim().split("\n")[0]!;
    // same size, other bytes: only the digest can tell
    const bytes = new Uint8Array(readFileSync(found));
    bytes[100] = bytes[100]! ^ 0xff;
    writeFileSync(found, bytes);
    const bad = await berth(["save", "-o", join(base, "changed.tar"), "split/changed:1"], { root });
    expect(bad.exitCode).toBe(1);
    expect(bad.stderr).toContain(`layer sha256:${hex} (a tar-split over its snapshot): the rebuilt`);
    expect(bad.stderr).toContain("the snapshot's files changed");
    // another size: system check sees it without reading the layer
    writeFileSync(found, "shorter");
    const chk = await berth(["system", "check"], { root });
    expect(chk.exitCode).toBe(1);
    // tool and tool-again are one inode: whichever tar archived first holds the body
    expect(chk.stdout).toMatch(
      new RegExp(
        `blob sha256:${hex}: tar-split over snapshot sha256:${hex}: file "usr/bin/tool(-again)?" of its snapshot changed \\(7 bytes, the layer has 40000 bytes\\)`,
      ),
    );
  }, 60_000);

  test("a deleted snapshot directory: the tar-split layer is lost with it; check and --repair say so, rmi cleans up", async () => {
    using tr = tempRoot("split-snapdir");
    const root = tr.path;
    const file = rootfsTar("gnu");
    const hex = sha256(new Uint8Array(readFileSync(file)));
    ok(await berth(["import", file, "split/lost:1"], { root }));
    const snaps = readdirSync(join(root, "overlay", "snapshots"));
    rmSync(join(root, "overlay", "snapshots", snaps[0]!), { recursive: true, force: true });
    const lost = `layer sha256:${hex} is kept as a tar-split over snapshot sha256:${hex}, which is gone: the layer is lost (rmi the image and import it again)`;
    const rep = await berth(["system", "check", "--repair"], { root });
    expect(rep.exitCode).toBe(1);
    expect(rep.stdout).toContain("repaired: removed snapshot sha256:");
    expect(rep.stdout).toContain(lost);
    expect(rep.stdout).not.toContain("unpacked image");
    const save = await berth(["save", "-o", join(base, "lost.tar"), "split/lost:1"], { root });
    expect(save.exitCode).toBe(1);
    expect(save.stderr).toContain(`layer sha256:${hex}`);
    ok(await berth(["rmi", "split/lost:1"], { root }));
    expect(readdirSync(join(root, "content/splits/sha256"))).toEqual([]);
    ok(await berth(["system", "check"], { root }));
  }, 60_000);

  test("an archive with a path twice is stored as a blob, as before; stdin too", async () => {
    using tr = tempRoot("split-dup");
    const root = tr.path;
    const d = join(base, "dup");
    mkdirSync(d, { recursive: true });
    const file = join(base, "dup.tar");
    writeFileSync(join(d, "f"), "first\n");
    run(["tar", "-cf", file, "-C", d, "f"]);
    writeFileSync(join(d, "f"), "second, longer\n");
    run(["tar", "-rf", file, "-C", d, "f"]);
    const input = new Uint8Array(readFileSync(file));
    const hex = sha256(input);
    ok(await berth(["import", file, "dup:1"], { root }));
    expect(readdirSync(join(root, "content/splits/sha256"))).toEqual([]);
    expect(readdirSync(join(root, "content/blobs/sha256"))).toContain(hex);
    expect(sha256((await savedLayer(root, "dup:1", hex)).layer)).toBe(hex);
    // from stdin the input is not a file: stored as a blob
    ok(await berth(["import", "-", "stdin:1"], { root, stdin: readFileSync(rootfsTar("gnu")) }));
    expect(readdirSync(join(root, "content/splits/sha256"))).toEqual([]);
    ok(await berth(["system", "check"], { root }));
  }, 60_000);

  test("killed mid-import: the next command reclaims the split's ingest and the unpack area", async () => {
    using tr = tempRoot("split-killed");
    const root = tr.path;
    // big enough to be mid-unpack after a moment: many files
    const file = manyFilesTar("many", 200);
    const proc = Bun.spawn(berthArgv(["--root", root, "import", file, "many:1"]), { stdout: "ignore", stderr: "ignore" });
    for (let i = 0; i < 200 && !existsSync(join(root, "content/ingest")); i++) await Bun.sleep(10);
    await Bun.sleep(150);
    proc.kill(9);
    await proc.exited;
    // the next writing command's GC reclaims whatever the dead import left
    ok(await berth(["import", rootfsTar("gnu"), "other:1"], { root }));
    expect(readdirSync(join(root, "content/ingest"))).toEqual([]);
    const chk = await berth(["system", "check"], { root });
    ok(chk);
    expect(chk.stdout).toContain(": ok");
  }, 60_000);

  test("a file written to while it is imported: the import fails and leaves nothing (hash and unpack read it apart)", async () => {
    using tr = tempRoot("split-changed");
    const root = tr.path;
    const file = manyFilesTar("changing", 100);
    // a writer that keeps touching the file in place (its ctime moves) for as long as the import runs
    let writing = true;
    const fd = openSync(file, "r+");
    const toucher = (async () => {
      const one = new Uint8Array(1);
      while (writing) {
        readSync(fd, one, 0, 1, 0);
        writeSync(fd, one, 0, 1, 0);
        await Bun.sleep(2);
      }
    })();
    const r = await berth(["import", file, "changing:1"], { root });
    writing = false;
    await toucher;
    closeSync(fd);
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toContain("changed while it was imported");
    expect((await berth(["images", "-q"], { root })).stdout).toBe("");
    const chk = await berth(["system", "check"], { root });
    ok(chk);
    expect(readdirSync(join(root, "content/ingest"))).toEqual([]);
  }, 60_000);
});
