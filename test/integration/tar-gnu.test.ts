/**
 * Cross-checks of src/tar against independent implementations: GNU tar (Debian package `tar`, plus
 * `gzip` and `zstd` for the compression checks) and nanotar. Archives GNU tar writes in gnu, pax and
 * ustar formats must read back as the tree they came from; archives berth writes must list, extract
 * and `tar --compare` cleanly with GNU tar. Device nodes, ownership and security.capability need root.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, linkSync, writeFileSync, utimesSync, readFileSync, existsSync } from "node:fs";
import { join } from "node:path";
import { parseTar } from "nanotar";
import { lsetxattr, lgetxattr, mknod, makedev, S_IFCHR, S_IFBLK, S_IFIFO } from "../../src/ffi/fs.ts";
import { rootEnabled } from "../helpers/root.ts";
import {
  compressStream,
  openMaybeCompressed,
  readDirectoryRecords,
  readTar,
  tarStream,
  TarWriter,
  type TarEntry,
  type TarRecord,
} from "../../src/tar/index.ts";

const base = mkdtempSync("/tmp/berth-test-tar-");
const tree = join(base, "tree");
const CAP = new Uint8Array([0x01, 0x00, 0x00, 0x02, 0x00, 0x20, 0x00, 0x00, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]); // cap_net_raw+ep, VFS_CAP_REVISION_2
const LONG100 = "l".repeat(110);
const LONG255 = "d".repeat(120) + "/" + "e".repeat(140) + "/" + "f".repeat(60); // > 255 bytes, no ustar split
let xattrsWork = true;

function sh(argv: string[], opts: { cwd?: string } = {}) {
  const p = Bun.spawnSync(argv, { cwd: opts.cwd, stdout: "pipe", stderr: "pipe" });
  return { exitCode: p.exitCode, stdout: p.stdout.toString(), stderr: p.stderr.toString() };
}

beforeAll(() => {
  mkdirSync(join(tree, "dir/sub"), { recursive: true });
  mkdirSync(join(tree, LONG255.split("/").slice(0, 2).join("/")), { recursive: true });
  writeFileSync(join(tree, "dir/empty"), "");
  writeFileSync(join(tree, "dir/one"), "x");
  writeFileSync(join(tree, "dir/b511"), Buffer.alloc(511, 1));
  writeFileSync(join(tree, "dir/b512"), Buffer.alloc(512, 2));
  writeFileSync(join(tree, "dir/b513"), Buffer.alloc(513, 3));
  const big = Buffer.alloc(300_000);
  for (let i = 0; i < big.length; i++) big[i] = (i * 31 + (i >> 9)) & 0xff;
  writeFileSync(join(tree, "dir/sub/big.bin"), big);
  writeFileSync(join(tree, "dir/" + LONG100), "long name > 100");
  writeFileSync(join(tree, LONG255), "long name > 255");
  writeFileSync(join(tree, "ünïcødé.txt"), "utf-8 name");
  symlinkSync("dir/one", join(tree, "link"));
  symlinkSync("t/".repeat(60) + "target", join(tree, "longlink"));
  symlinkSync("../../outside", join(tree, "dir/escape"));
  linkSync(join(tree, "dir/one"), join(tree, "dir/sub/hard"));
  mknod(join(tree, "fifo"), S_IFIFO | 0o640);
  utimesSync(join(tree, "dir/one"), 1_600_000_000.25, 1_600_000_000.5);
  try {
    lsetxattr(join(tree, "dir/b511"), "user.berth", new TextEncoder().encode("v\0bin\xff"));
  } catch {
    xattrsWork = false;
  }
  if (rootEnabled) {
    mknod(join(tree, "null"), S_IFCHR | 0o666, makedev(1, 3));
    mknod(join(tree, "loop9"), S_IFBLK | 0o660, makedev(7, 9));
    Bun.spawnSync(["chown", "-h", "1234:5678", join(tree, "dir/b512"), join(tree, "link")]);
    Bun.spawnSync(["chown", "3000000:4000000", join(tree, "dir/b513")]); // > 8^7-1: pax or base-256
    lsetxattr(join(tree, "dir/sub/big.bin"), "security.capability", CAP);
  }
});

afterAll(() => rmSync(base, { recursive: true, force: true }));

async function bodyOf(r: TarRecord): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  for await (const c of r.body) parts.push(c.slice());
  return Buffer.concat(parts);
}

type Seen = { entry: TarEntry; sha: string };
async function readAll(records: AsyncIterable<TarRecord>): Promise<Map<string, Seen>> {
  const m = new Map<string, Seen>();
  for await (const r of records) {
    const b = await bodyOf(r);
    m.set(r.entry.name, { entry: r.entry, sha: new Bun.CryptoHasher("sha256").update(b).digest("hex") });
  }
  return m;
}

/** compare what a reader produced with what the filesystem says (fs-source as the reference) */
function compare(got: Map<string, Seen>, want: Map<string, Seen>, opts: { xattrs: boolean; hardlinkEither?: boolean }) {
  expect([...got.keys()].sort()).toEqual([...want.keys()].sort());
  for (const [name, w] of want) {
    const g = got.get(name)!;
    const we = w.entry,
      ge = g.entry;
    // GNU tar picks which name of a hardlinked inode is the "first" by its own walk order
    if (we.type === "hardlink" || ge.type === "hardlink") {
      expect([name, ge.type === "hardlink" || ge.type === "file"]).toEqual([name, true]);
      continue;
    }
    expect({
      name,
      type: ge.type,
      mode: ge.mode,
      uid: ge.uid,
      gid: ge.gid,
      size: ge.size,
      sec: Math.floor(ge.mtime),
      linkname: ge.linkname,
      dev: [ge.devmajor, ge.devminor],
    }).toEqual({
      name,
      type: we.type,
      mode: we.mode,
      uid: we.uid,
      gid: we.gid,
      size: we.size,
      sec: Math.floor(we.mtime),
      linkname: we.linkname,
      dev: [we.devmajor, we.devminor],
    });
    if (ge.mtimeNsec !== undefined) expect([name, ge.mtimeNsec]).toEqual([name, we.mtimeNsec ?? 0]);
    expect([name, g.sha]).toEqual([name, w.sha]);
    if (opts.xattrs) expect([name, ge.xattrs]).toEqual([name, we.xattrs]);
  }
}

const fsView = () => readAll(readDirectoryRecords(tree, { xattrs: (n) => n.startsWith("user.") || n === "security.capability" }));

describe("GNU tar → berth reader", () => {
  for (const format of ["gnu", "oldgnu", "pax", "ustar", "v7"] as const) {
    test(`--format=${format}`, async () => {
      const out = join(base, `gnu-${format}.tar`);
      // ustar and v7 cannot hold unsplittable names, ids ≥ 8^7 or xattrs; v7 has no special files
      const limited = format === "ustar" || format === "v7";
      const v7only = format === "v7" ? ["fifo", "null", "loop9"] : [];
      const exclude = limited
        ? ["--exclude", LONG255.split("/")[0], "--exclude", "longlink", "--exclude", "b513", "--exclude", LONG100, ...v7only.flatMap((x) => ["--exclude", x])]
        : [];
      const xattr = format === "pax" ? ["--xattrs", "--xattrs-include=*"] : [];
      const r = sh(["tar", `--format=${format}`, ...xattr, "--sort=name", ...exclude, "-cf", out, "-C", tree, "."]);
      expect(r).toMatchObject({ exitCode: 0 });
      const got = await readAll(readTar(Bun.file(out).stream()));
      got.delete("."); // GNU tar's "./" root entry
      const want = await fsView();
      if (limited) {
        for (const k of [...want.keys()])
          if (k.startsWith(LONG255.split("/")[0]) || ["longlink", "dir/b513", "dir/" + LONG100, ...v7only].includes(k)) want.delete(k);
      }
      if (format === "v7") {
        // v7 headers have no uname/gname/devices, and GNU tar's v7 writer stores directories as '5' anyway
        for (const g of got.values()) expect(g.entry.uname).toBeUndefined();
      }
      compare(got, want, { xattrs: format === "pax" && xattrsWork });
    });
  }

  test("1-byte chunks over a GNU pax archive give the same records", async () => {
    const out = join(base, "gnu-pax.tar");
    const data = readFileSync(out);
    async function* bytes() {
      for (let i = 0; i < data.length; i++) yield data.subarray(i, i + 1);
    }
    const a = await readAll(readTar(bytes()));
    const b = await readAll(readTar(Bun.file(out).stream()));
    expect([...a.entries()]).toEqual([...b.entries()]);
  });

  test("GNU tar gzip and zstd archives through openMaybeCompressed", async () => {
    for (const [flag, kind] of [
      ["-z", "gzip"],
      ["--zstd", "zstd"],
    ] as const) {
      const out = join(base, `c.tar.${kind}`);
      expect(sh(["tar", "--format=gnu", flag, "-cf", out, "-C", tree, "dir"])).toMatchObject({ exitCode: 0 });
      const { compression, stream } = await openMaybeCompressed(Bun.file(out).stream());
      expect(compression).toBe(kind);
      const got = await readAll(readTar(stream));
      expect(got.get("dir/sub/big.bin")!.sha).toBe((await fsView()).get("dir/sub/big.bin")!.sha);
    }
  });

  test("bzip2 and xz are refused with a clear error", async () => {
    await expect(openMaybeCompressed(new Blob([new Uint8Array([0x42, 0x5a, 0x68, 0x39, 1, 2])]).stream())).rejects.toThrow(
      "tar: bzip2-compressed archives are not supported",
    );
    await expect(openMaybeCompressed(new Blob([new Uint8Array([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0, 1])]).stream())).rejects.toThrow(
      "tar: xz-compressed archives are not supported",
    );
  });
});

async function writeBerth(path: string, records: AsyncIterable<TarRecord>) {
  const sink = Bun.file(path).writer();
  const w = new TarWriter((c) => void sink.write(c));
  for await (const r of records) await w.add(r.entry, r.body);
  await w.finish();
  await sink.end();
}

describe("berth writer → GNU tar", () => {
  test("tar -tvf lists, tar -xf extracts, tar --compare finds no differences", async () => {
    const out = join(base, "berth.tar");
    await writeBerth(out, readDirectoryRecords(tree));
    const list = sh(["tar", "-tvf", out]);
    expect(list).toMatchObject({ exitCode: 0, stderr: "" });
    expect(list.stdout).toContain(LONG255);
    expect(list.stdout).toContain("dir/sub/hard link to dir/one");
    // --compare (-d) checks type, mode, owner, mtime, size, contents and link targets against the tree
    const diff = sh(["tar", "--compare", "--numeric-owner", "-f", out, "-C", tree]);
    expect(diff).toMatchObject({ exitCode: 0, stdout: "", stderr: "" });
    const dest = join(base, "extract");
    mkdirSync(dest);
    const x = sh(["tar", "-xf", out, "--xattrs", "--xattrs-include=*", "--numeric-owner", "-C", dest]);
    expect(x).toMatchObject({ exitCode: 0, stderr: "" });
    compare(await readAll(readDirectoryRecords(dest, { xattrs: (n) => n.startsWith("user.") || n === "security.capability" })), await fsView(), {
      xattrs: xattrsWork && rootEnabled,
    });
    if (rootEnabled) expect(lgetxattr(join(dest, "dir/sub/big.bin"), "security.capability")).toEqual(CAP);
    if (xattrsWork) expect(new TextDecoder().decode(lgetxattr(join(dest, "dir/b511"), "user.berth")!)).toBe("v\0bin\xff");
  });

  test("tarStream output is the same archive GNU tar accepts", async () => {
    const out = join(base, "stream.tar");
    await Bun.write(out, new Response(tarStream(readDirectoryRecords(join(tree, "dir"), { prefix: "dir" }))));
    expect(sh(["tar", "--compare", "--numeric-owner", "-f", out, "-C", tree])).toMatchObject({ exitCode: 0, stdout: "", stderr: "" });
  });

  test("gzip and zstd output of compressStream decompress with the CLI tools", async () => {
    for (const [kind, tool] of [
      ["gzip", "gzip"],
      ["zstd", "zstd"],
    ] as const) {
      const out = join(base, `berth.tar.${kind}`);
      await Bun.write(out, new Response(compressStream(tarStream(readDirectoryRecords(join(tree, "dir"), { prefix: "dir" })), kind)));
      expect(sh([tool, "-t", out])).toMatchObject({ exitCode: 0 });
      expect(sh(["tar", kind === "gzip" ? "-z" : "--zstd", "--compare", "--numeric-owner", "-f", out, "-C", tree])).toMatchObject({ exitCode: 0, stderr: "" });
    }
  });

  test("sub-second mtimes and huge sizes go through pax and GNU tar reads them", async () => {
    const out = join(base, "pax.tar");
    const parts: Uint8Array[] = [];
    const w = new TarWriter((c) => void parts.push(c.slice()));
    await w.add(
      { name: "frac", type: "file", mode: 0o644, uid: 0, gid: 0, size: 2, mtime: 1_700_000_000.123, mtimeNsec: 123456789 },
      new TextEncoder().encode("hi"),
    );
    await w.add({ name: "x".repeat(300), type: "file", mode: 0o600, uid: 9_999_999, gid: 0, size: 0, mtime: 1 });
    await w.finish();
    writeFileSync(out, Buffer.concat(parts));
    const list = sh(["tar", "--full-time", "--numeric-owner", "-tvf", out]);
    expect(list).toMatchObject({ exitCode: 0, stderr: "" });
    expect(list.stdout).toContain("2023-11-14 22:13:20.123456789 frac");
    expect(list.stdout).toContain("9999999/0");
    expect(list.stdout).toContain("x".repeat(300));
  });
});

describe("nanotar reads berth archives", () => {
  test("names, types and contents", async () => {
    const parts: Uint8Array[] = [];
    const w = new TarWriter((c) => void parts.push(c.slice()));
    for await (const r of readDirectoryRecords(join(tree, "dir"), { prefix: "dir", xattrs: false })) await w.add(r.entry, r.body);
    await w.finish();
    const files = parseTar(Buffer.concat(parts));
    const byName = new Map(files.map((f) => [f.name.replace(/\/$/, ""), f]));
    expect(byName.get("dir/sub")?.type).toBe("directory");
    expect(new TextDecoder().decode(byName.get("dir/one")!.data)).toBe("x");
    expect(byName.get("dir/b513")!.data!.length).toBe(513);
    expect(byName.get("dir/" + LONG100)?.type).toBe("file");
    expect(Buffer.from(byName.get("dir/sub/big.bin")!.data!).equals(readFileSync(join(tree, "dir/sub/big.bin")))).toBe(true);
  });
});

test.skipIf(!rootEnabled)("security.capability set by setcap survives GNU tar → berth", async () => {
  if (!existsSync("/usr/sbin/setcap")) return;
  const f = join(base, "capfile");
  writeFileSync(f, "cap");
  expect(sh(["setcap", "cap_net_bind_service+ep", f])).toMatchObject({ exitCode: 0 });
  const want = lgetxattr(f, "security.capability");
  const out = join(base, "cap.tar");
  expect(sh(["tar", "--format=pax", "--xattrs", "--xattrs-include=*", "-cf", out, "-C", base, "capfile"])).toMatchObject({ exitCode: 0 });
  const got = await readAll(readTar(Bun.file(out).stream()));
  expect(got.get("capfile")!.entry.xattrs?.["security.capability"]).toEqual(want!);
});

describe("sizes beyond 8 GiB (headers only: no 8 GiB of data is written or piped)", () => {
  const SIZE = 9 * 2 ** 30 + 7;

  for (const format of ["gnu", "pax"] as const) {
    test(`GNU tar --format=${format} header of a 9 GiB sparse file reads with the right size`, async () => {
      const f = join(base, `sparse-${format}`);
      const fd = Bun.spawnSync(["truncate", "-s", String(SIZE), f]);
      expect(fd.exitCode).toBe(0);
      // GNU tar streams the (hole-filled) file into the pipe; we read the first 64 KiB and hang up
      const p = Bun.spawn(["tar", `--format=${format}`, "-cf", "-", "-C", base, `sparse-${format}`], { stdout: "pipe", stderr: "ignore" });
      const head: Uint8Array[] = [];
      let have = 0;
      for await (const c of p.stdout) {
        head.push(c);
        have += c.length;
        if (have >= 65536) break;
      }
      p.kill();
      await p.exited;
      rmSync(f);
      const it = readTar(
        (async function* () {
          yield Buffer.concat(head);
        })(),
      );
      const r = (await it.next()).value!;
      expect(r.entry).toMatchObject({ name: `sparse-${format}`, type: "file", size: SIZE });
      await expect(it.next()).rejects.toThrow(`truncated entry "sparse-${format}": expected ${SIZE} bytes`);
    });
  }

  test("berth's pax + base-256 header for a 9 GiB entry lists in GNU tar", async () => {
    const parts: Uint8Array[] = [];
    const w = new TarWriter((c) => void parts.push(c.slice()));
    const body = (async function* () {
      yield new Uint8Array(4096);
      throw new Error("stop");
    })();
    await w.add({ name: "huge.img", type: "file", mode: 0o644, uid: 0, gid: 0, size: SIZE, mtime: 1_700_000_000 }, body).catch(() => {});
    await w.flush();
    const out = join(base, "huge-head.tar");
    writeFileSync(out, Buffer.concat(parts));
    const list = sh(["tar", "--numeric-owner", "-tvf", out]);
    expect(list.stdout).toContain(`${SIZE} 2023-11-14 22:13 huge.img`);
    expect(list.exitCode).not.toBe(0); // only the first 4 KiB of the body is there
  });
});
