import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import {
  chmodSync,
  chownSync,
  closeSync,
  openSync,
  rmSync,
  writeSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  statSync,
  writeFileSync,
  symlinkSync,
} from "node:fs";
import { applyLayer, cleanLayerPath, type ApplyOptions } from "./apply.ts";
import { removeTree } from "./remove-tree.ts";
import type { TarRecord } from "../tar/types.ts";
import { BodyWriter } from "../ffi/body-writer.ts";
import { records, type EntrySpec } from "./_testutil.ts";
import { EngineError } from "../lib/errors.ts";
import { lgetxattr, lsetxattr } from "../ffi/fs.ts";
import { rootEnabled } from "../../test/helpers/root.ts";

let tmp: string, root: string, sentinel: string;
const secret = "do not touch\n";

beforeEach(() => {
  tmp = mkdtempSync("/tmp/berth-test-cow-apply-");
  root = `${tmp}/root`;
  sentinel = `${tmp}/sentinel`;
  mkdirSync(root);
  mkdirSync(sentinel);
  writeFileSync(`${sentinel}/secret`, secret);
});

afterEach(() => {
  // nothing outside the root may have been written
  expect(readdirSync(tmp).sort()).toEqual(["root", "sentinel"]);
  expect(readdirSync(sentinel)).toEqual(["secret"]);
  expect(readFileSync(`${sentinel}/secret`, "utf8")).toBe(secret);
  expect(statSync(`${sentinel}/secret`).nlink).toBe(1);
  removeTree(tmp);
});

/**
 * the suite runs three times: files written here; through the native body writer (import's way);
 * and through the writer with every body copied from a source file (TarRecord.bodyAt: import of a
 * tarball file)
 */
type Way = "here" | "writer" | "copy";
let way: Way = "here";

/**
 * `recs` with each non-empty body written to the file `fd` and offered by its place there too (as
 * tar/reader.ts does over a file); `n` counts the files that applyLayer should take that way (no
 * xattrs: those are written on its own thread, from `body`) and those it did
 */
async function* copiedBodies(recs: AsyncIterable<TarRecord>, fd: number, n: { expected: number; copied: number }): AsyncIterable<TarRecord> {
  let at = 0;
  for await (const r of recs) {
    if (r.entry.type !== "file" || r.entry.size === 0) {
      yield r;
      continue;
    }
    const parts: Uint8Array[] = [];
    for await (const c of r.body) parts.push(c);
    const data = Buffer.concat(parts);
    writeSync(fd, data, 0, data.length, at);
    const offset = at;
    at += data.length;
    if (!r.entry.xattrs) n.expected++;
    let taken = false;
    yield {
      entry: r.entry,
      body: (async function* () {
        if (!taken) yield data;
      })(),
      bodyAt: () => {
        taken = true;
        n.copied++;
        return { fd, offset };
      },
    };
  }
}

async function applyWith(recs: AsyncIterable<TarRecord>, o: ApplyOptions) {
  const bodies = way !== "here" ? BodyWriter.open(8) : undefined; // a small queue: it fills and wraps around
  if (way !== "here" && !bodies) throw new Error("no native body writer here (cc missing?)");
  // the source file lives outside tmp: afterEach checks tmp holds only root and sentinel
  const srcDir = way === "copy" ? mkdtempSync("/tmp/berth-test-cow-apply-src-") : "";
  const src = srcDir ? openSync(`${srcDir}/bodies`, "w+") : -1;
  const n = { expected: 0, copied: 0 };
  try {
    const stats = await applyLayer(root, src >= 0 ? copiedBodies(recs, src, n) : recs, { ...o, bodies });
    expect(n.copied).toBe(n.expected);
    return stats;
  } finally {
    bodies?.end(true);
    if (src >= 0) closeSync(src);
    if (srcDir) rmSync(srcDir, { recursive: true });
  }
}

const apply = (specs: EntrySpec[], whiteouts: "overlay" | "delete" = "delete") => applyWith(records(specs), { whiteouts, sync: false });

async function rejects(specs: EntrySpec[], message?: string) {
  let err: unknown;
  try {
    await apply(specs);
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(EngineError);
  expect((err as EngineError).kind).toBe("invalid_argument");
  if (message) expect((err as Error).message).toBe(message);
}

describe("cleanLayerPath", () => {
  test("cleans like docker and refuses escapes", () => {
    expect(cleanLayerPath("a/./b//c/")).toBe("a/b/c");
    expect(cleanLayerPath("a/b/../c")).toBe("a/c");
    expect(cleanLayerPath(".")).toBe("");
    expect(() => cleanLayerPath("../etc/passwd")).toThrow('layer entry "../etc/passwd": path escapes the layer root');
    expect(() => cleanLayerPath("a/../../x")).toThrow("path escapes the layer root");
    expect(() => cleanLayerPath("/etc/passwd")).toThrow("path escapes the layer root");
  });
});

for (const w of ["here", "writer", "copy"] as const) {
  const label = w === "writer" ? " (body writer thread)" : w === "copy" ? " (bodies copied from a file)" : "";
  describe(`applyLayer${label}`, () => {
    beforeEach(() => {
      way = w;
    });
    describe(`hostile layers${label}`, () => {
      test("../ is refused", () => rejects([{ name: "../sentinel/x", body: "x" }], 'layer entry "../sentinel/x": path escapes the layer root'));
      test("a/../../x is refused", () => rejects([{ name: "a/../../sentinel/x", body: "x" }]));
      test("absolute names are refused", () => rejects([{ name: `${sentinel}/x`, body: "x" }]));
      test("NUL in a name is refused", () => rejects([{ name: "a\0b", body: "x" }]));

      test("symlink to an absolute host dir, then a file through it, stays inside", async () => {
        await apply([
          { name: "a", type: "symlink", linkname: sentinel },
          { name: "a/secret", body: "owned" },
          { name: "a/new", body: "new" },
        ]);
        expect(readFileSync(`${root}${sentinel}/secret`, "utf8")).toBe("owned");
        expect(readFileSync(`${root}${sentinel}/new`, "utf8")).toBe("new");
        expect(readlinkSync(`${root}/a`)).toBe(sentinel);
      });

      test("symlink climbing out (a -> ../../..) is clamped at the root", async () => {
        await apply([
          { name: "d", type: "dir" },
          { name: "d/a", type: "symlink", linkname: "../../../sentinel" },
          { name: "d/a/x", body: "x" },
        ]);
        expect(readFileSync(`${root}/sentinel/x`, "utf8")).toBe("x");
      });

      test("a/passwd through a -> /etc lands in <root>/etc", async () => {
        const before = readFileSync("/etc/passwd", "utf8");
        await apply([
          { name: "a", type: "symlink", linkname: "/etc" },
          { name: "a/passwd", body: "root::0:0::/:/bin/sh\n" },
        ]);
        expect(readFileSync("/etc/passwd", "utf8")).toBe(before);
        expect(readFileSync(`${root}/etc/passwd`, "utf8")).toContain("root::0");
      });

      test("hardlink escaping with .. is refused", () =>
        rejects([{ name: "h", type: "hardlink", linkname: "../sentinel/secret" }], 'layer entry "h": path escapes the layer root'));

      test("hardlink through a symlink resolves in scope and finds nothing", () =>
        rejects([
          { name: "s", type: "symlink", linkname: sentinel },
          { name: "h", type: "hardlink", linkname: "s/secret" },
        ]));

      test("hardlink to a symlink links the symlink itself", async () => {
        await apply([
          { name: "s", type: "symlink", linkname: `${sentinel}/secret` },
          { name: "h", type: "hardlink", linkname: "s" },
        ]);
        expect(lstatSync(`${root}/h`).isSymbolicLink()).toBe(true);
        expect(lstatSync(`${root}/h`).ino).toBe(lstatSync(`${root}/s`).ino);
      });

      test("hardlink to a file that a later entry replaced with a symlink links the symlink itself", async () => {
        await apply([
          { name: "a", body: "first" },
          { name: "a", type: "symlink", linkname: `${sentinel}/secret` },
          { name: "h", type: "hardlink", linkname: "a" },
        ]);
        expect(lstatSync(`${root}/h`).isSymbolicLink()).toBe(true);
        expect(lstatSync(`${root}/h`).ino).toBe(lstatSync(`${root}/a`).ino);
      });

      test("hardlink to a file whose directory a later entry replaced with a symlink resolves in scope and finds nothing", () =>
        rejects([
          { name: "d", type: "dir" },
          { name: "d/secret", body: "mine" },
          { name: "d", type: "symlink", linkname: sentinel },
          { name: "h", type: "hardlink", linkname: "d/secret" },
        ]));

      test("hardlink to a file that a later entry replaced with a directory is refused", () =>
        rejects([
          { name: "f", body: "x" },
          { name: "f", type: "dir" },
          { name: "h", type: "hardlink", linkname: "f" },
        ]));

      test("hardlinks to a file and to a link of it, many of them, share its inode", async () => {
        const specs: EntrySpec[] = [];
        for (let i = 0; i < 20; i++) {
          specs.push({ name: `d${i % 3}/f${i}`, body: `body ${i}` });
          specs.push({ name: `h${i}`, type: "hardlink", linkname: `d${i % 3}/f${i}` });
          specs.push({ name: `d${i % 3}/g${i}`, type: "hardlink", linkname: `h${i}` });
        }
        await apply(specs);
        for (let i = 0; i < 20; i++) {
          const st = statSync(`${root}/d${i % 3}/f${i}`);
          expect(st.nlink).toBe(3);
          expect(statSync(`${root}/h${i}`).ino).toBe(st.ino);
          expect(statSync(`${root}/d${i % 3}/g${i}`).ino).toBe(st.ino);
          expect(readFileSync(`${root}/h${i}`, "utf8")).toBe(`body ${i}`);
        }
      });

      test("hardlink to a directory is refused", () =>
        rejects([
          { name: "d", type: "dir" },
          { name: "h", type: "hardlink", linkname: "d" },
        ]));

      test("a file over an existing symlink replaces the link, not its target", async () => {
        await apply([
          { name: "f", type: "symlink", linkname: `${sentinel}/secret` },
          { name: "f", body: "mine" },
        ]);
        expect(lstatSync(`${root}/f`).isFile()).toBe(true);
        expect(readFileSync(`${root}/f`, "utf8")).toBe("mine");
      });

      test("a directory over an existing symlink replaces it", async () => {
        await apply([
          { name: "d", type: "symlink", linkname: sentinel },
          { name: "d/x", body: "1" },
          { name: "d", type: "dir" },
          { name: "d/x", body: "2" },
        ]);
        expect(lstatSync(`${root}/d`).isDirectory()).toBe(true);
        expect(readFileSync(`${root}/d/x`, "utf8")).toBe("2");
      });

      test("a symlink pre-existing in the tree is not followed for the final component", async () => {
        symlinkSync(`${sentinel}/secret`, `${root}/pre`);
        await apply([{ name: "pre", body: "x" }]);
        expect(readFileSync(`${root}/pre`, "utf8")).toBe("x");
      });

      test("whiteout names with .. are refused", async () => {
        await rejects([{ name: ".wh..." }]);
        await rejects([{ name: "a/.wh.." }]);
        await rejects([{ name: "../.wh.sentinel" }]);
      });

      test("whiteout through a symlink stays in scope", async () => {
        await apply([{ name: "s", type: "symlink", linkname: `${tmp}` }, { name: "s/.wh.sentinel" }]);
      });

      test("opaque marker through a symlink stays in scope", async () => {
        await apply([{ name: "s", type: "symlink", linkname: `${sentinel}` }, { name: "s/.wh..wh..opq" }]);
        expect(existsSync(`${root}${sentinel}`)).toBe(true);
      });

      test("symlink loops fail cleanly", () =>
        rejects([
          { name: "l1", type: "symlink", linkname: "l2" },
          { name: "l2", type: "symlink", linkname: "l1" },
          { name: "l1/x", body: "x" },
        ]));

      test("a file used as a parent is refused", () =>
        rejects([
          { name: "f", body: "x" },
          { name: "f/x", body: "y" },
        ]));

      test("fifo entries are created inside the root", async () => {
        await apply([{ name: "p", type: "fifo", mode: 0o600 }]);
        expect(lstatSync(`${root}/p`).isFIFO()).toBe(true);
      });

      test.skipIf(!rootEnabled)("device entries are created inside the root only", async () => {
        await apply([
          { name: "dev", type: "dir" },
          { name: "dev/null", type: "char", devmajor: 1, devminor: 3, mode: 0o666 },
          { name: "dev/sda", type: "block", devmajor: 8, devminor: 0, mode: 0o660 },
          { name: "s", type: "symlink", linkname: sentinel },
          { name: "s/dev", type: "char", devmajor: 1, devminor: 3 },
        ]);
        const st = lstatSync(`${root}/dev/null`);
        expect(st.isCharacterDevice()).toBe(true);
        expect(st.rdev).toBe(statSync("/dev/null").rdev);
        expect(lstatSync(`${root}/dev/sda`).isBlockDevice()).toBe(true);
        expect(lstatSync(`${root}${sentinel}/dev`).isCharacterDevice()).toBe(true);
      });
    });

    describe(`attributes${label}`, () => {
      test("modes, mtimes with ns, symlink and dir times after contents, hardlinks, xattrs", async () => {
        const stats = await apply([
          { name: "d", type: "dir", mode: 0o750, mtime: 1_600_000_000, mtimeNsec: 123_456_789 },
          { name: "d/f", body: "hello", mode: 0o640, mtime: 1_600_000_001, mtimeNsec: 5 },
          { name: "d/l", type: "symlink", linkname: "f", mtime: 1_600_000_002, mtimeNsec: 7 },
          { name: "d/h", type: "hardlink", linkname: "d/f" },
          { name: "x", body: "x", xattrs: { "user.berth": new TextEncoder().encode("v"), "trusted.overlay.redirect": new TextEncoder().encode("/etc") } },
          { name: "ro", type: "dir", mode: 0o555 },
          { name: "ro/inside", body: "i" },
          { name: "sticky", type: "dir", mode: 0o1777 },
        ]);
        expect(stats.entries).toBe(8);
        const d = statSync(`${root}/d`, { bigint: true });
        expect(Number(d.mode) & 0o7777).toBe(0o750);
        expect(d.mtimeNs).toBe(1_600_000_000_123_456_789n);
        const f = statSync(`${root}/d/f`, { bigint: true });
        expect(Number(f.mode) & 0o7777).toBe(0o640);
        expect(f.mtimeNs).toBe(1_600_000_001_000_000_005n);
        expect(f.nlink).toBe(2n);
        expect(lstatSync(`${root}/d/l`, { bigint: true }).mtimeNs).toBe(1_600_000_002_000_000_007n);
        expect(statSync(`${root}/ro`).mode & 0o7777).toBe(0o555);
        expect(statSync(`${root}/sticky`).mode & 0o7777).toBe(0o1777);
        expect(Buffer.from(lgetxattr(`${root}/x`, "user.berth")!).toString()).toBe("v");
        expect(lgetxattr(`${root}/x`, "trusted.overlay.redirect")).toBeNull();
      });

      test.skipIf(!rootEnabled)("owners, setuid after chown, security.capability", async () => {
        const cap = new Uint8Array([0, 0, 0, 2, 0, 0x20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]); // v2, cap_net_raw
        await apply([
          { name: "suid", body: "#!", mode: 0o4755, uid: 1000, gid: 1001 },
          { name: "sgid", type: "dir", mode: 0o2775, uid: 5, gid: 6 },
          { name: "ping", body: "elf", mode: 0o755, uid: 0, gid: 0, xattrs: { "security.capability": cap } },
          { name: "lnk", type: "symlink", linkname: "suid", uid: 7, gid: 8 },
        ]);
        const s = statSync(`${root}/suid`);
        expect([s.uid, s.gid, s.mode & 0o7777]).toEqual([1000, 1001, 0o4755]);
        const g = statSync(`${root}/sgid`);
        expect([g.uid, g.gid, g.mode & 0o7777]).toEqual([5, 6, 0o2775]);
        expect(Array.from(lgetxattr(`${root}/ping`, "security.capability")!)).toEqual(Array.from(cap));
        const l = lstatSync(`${root}/lnk`);
        expect([l.uid, l.gid]).toEqual([7, 8]);
      });

      test("a file's mode is exact whatever the umask (open(2)'s mode is only trusted when the umask keeps it)", async () => {
        const old = process.umask(0o077);
        try {
          await apply([
            { name: "a", body: "a", mode: 0o644 },
            { name: "d", type: "dir", mode: 0o755 },
            { name: "d/b", body: "b", mode: 0o755 },
            { name: "c", body: "c", mode: 0o000 },
          ]);
        } finally {
          process.umask(old);
        }
        expect(statSync(`${root}/a`).mode & 0o7777).toBe(0o644);
        expect(statSync(`${root}/d/b`).mode & 0o7777).toBe(0o755);
        expect(statSync(`${root}/c`).mode & 0o7777).toBe(0o000);
      });

      test.skipIf(!rootEnabled)("files owned by the caller are right in a setgid root of another group and under a dir given another group", async () => {
        chownSync(root, 0, 4321);
        chmodSync(root, 0o2755);
        await apply([
          { name: "f", body: "f", mode: 0o644, uid: 0, gid: 0 },
          { name: "sub", type: "dir", mode: 0o755, uid: 0, gid: 0 },
          { name: "sub/g", body: "g", mode: 0o644, uid: 0, gid: 0 },
        ]);
        for (const p of ["f", "sub", "sub/g"]) expect([p, statSync(`${root}/${p}`).gid]).toEqual([p, 0]);
        removeTree(root);
        mkdirSync(root);
        await apply([
          { name: "other", type: "dir", mode: 0o755, uid: 0, gid: 4321 },
          { name: "other/h", body: "h", mode: 0o644, uid: 0, gid: 0 },
          { name: "other/in", type: "dir", mode: 0o755, uid: 0, gid: 0 },
          { name: "other/in/i", body: "i", mode: 0o644, uid: 0, gid: 0 },
        ]);
        expect(statSync(`${root}/other`).gid).toBe(4321);
        expect(statSync(`${root}/other/h`).gid).toBe(0);
        expect(statSync(`${root}/other/in/i`).gid).toBe(0);
      });

      test.skipIf(!rootEnabled)("a default ACL on the root (it replaces the umask) does not change files' modes", async () => {
        // posix_acl_xattr: u32 version 2, then {u16 tag, u16 perm, u32 id}: USER_OBJ rwx, GROUP_OBJ ---, OTHER ---
        const acl = new DataView(new ArrayBuffer(4 + 3 * 8));
        acl.setUint32(0, 2, true);
        for (const [i, tag, perm] of [
          [0, 0x01, 7],
          [1, 0x04, 0],
          [2, 0x20, 0],
        ] as const) {
          acl.setUint16(4 + i * 8, tag, true);
          acl.setUint16(6 + i * 8, perm, true);
          acl.setUint32(8 + i * 8, 0xffffffff, true);
        }
        lsetxattr(root, "system.posix_acl_default", new Uint8Array(acl.buffer));
        await apply([
          { name: "f", body: "f", mode: 0o644 },
          { name: "d", type: "dir", mode: 0o755 },
          { name: "d/g", body: "g", mode: 0o640 },
        ]);
        expect(statSync(`${root}/f`).mode & 0o7777).toBe(0o644);
        expect(statSync(`${root}/d/g`).mode & 0o7777).toBe(0o640);
      });

      test("entry over existing paths: dir on dir merges, others are replaced", async () => {
        await apply([
          { name: "d", type: "dir", mode: 0o700 },
          { name: "d/keep", body: "k" },
          { name: "d", type: "dir", mode: 0o755 },
          { name: "x", type: "dir" },
          { name: "x/y", body: "y" },
          { name: "x", body: "file now" },
        ]);
        expect(readFileSync(`${root}/d/keep`, "utf8")).toBe("k");
        expect(statSync(`${root}/d`).mode & 0o777).toBe(0o755);
        expect(readFileSync(`${root}/x`, "utf8")).toBe("file now");
      });

      test("large bodies are written completely", async () => {
        const big = new Uint8Array(3 * 1024 * 1024 + 17).map((_, i) => i % 251);
        async function* chunks() {
          for (let i = 0; i < big.length; i += 100_000) yield big.subarray(i, i + 100_000);
        }
        await applyWith(
          (async function* () {
            yield { entry: { name: "big", type: "file" as const, mode: 0o644, uid: 0, gid: 0, size: big.length, mtime: 0 }, body: chunks() };
          })(),
          { whiteouts: "delete", sync: true },
        );
        expect(Buffer.compare(readFileSync(`${root}/big`), Buffer.from(big))).toBe(0);
      });
    });

    describe(`whiteouts (delete mode)${label}`, () => {
      test("remove lower paths, opaque dirs keep this layer's entries whatever the order", async () => {
        mkdirSync(`${root}/etc`);
        writeFileSync(`${root}/etc/passwd`, "p");
        writeFileSync(`${root}/etc/group`, "g");
        mkdirSync(`${root}/opt/sub`, { recursive: true });
        writeFileSync(`${root}/opt/old`, "o");
        writeFileSync(`${root}/opt/sub/old`, "o");
        await apply([
          { name: "etc/.wh.passwd" },
          { name: "opt/sub", type: "dir" },
          { name: "opt/sub/new", body: "n" },
          { name: "opt/.wh..wh..opq" },
          { name: "opt/new", body: "n" },
        ]);
        expect(readdirSync(`${root}/etc`)).toEqual(["group"]);
        expect(readdirSync(`${root}/opt`).sort()).toEqual(["new", "sub"]);
        expect(readdirSync(`${root}/opt/sub`)).toEqual(["new"]);
      });

      test.skipIf(!rootEnabled)("overlay mode: 0/0 devices and the opaque xattr", async () => {
        await apply([{ name: "etc", type: "dir" }, { name: "etc/.wh.passwd" }, { name: "opt/.wh..wh..opq" }, { name: "opt", type: "dir" }], "overlay");
        const w = lstatSync(`${root}/etc/passwd`);
        expect(w.isCharacterDevice() && w.rdev === 0).toBe(true);
        expect(Buffer.from(lgetxattr(`${root}/opt`, "trusted.overlay.opaque")!).toString()).toBe("y");
      });
    });
  });
}
