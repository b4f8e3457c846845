import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import {
  closeSync,
  constants,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { type BodyFile, BodyWriter, FileHash } from "./body-writer.ts";
import { EngineError } from "../lib/errors.ts";

let dir: string;
const fds = () => readdirSync("/proc/self/fd").length;

beforeEach(() => {
  dir = mkdtempSync("/tmp/berth-test-body-writer-");
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

const attrs = (o: Partial<BodyFile>): BodyFile => ({
  chown: false,
  uid: 0,
  gid: 0,
  chmod: -1,
  writeback: false,
  atime: o.mtime ?? 0,
  atimeNsec: 0,
  mtime: 0,
  mtimeNsec: 0,
  ...o,
});

function open(cap?: number): BodyWriter {
  const w = BodyWriter.open(cap);
  if (!w) throw new Error("no native body writer here (cc missing?)");
  return w;
}

describe("BodyWriter (native thread)", () => {
  test("files created, written, given their mode and times, closed; the queue wraps around", () => {
    const before = fds();
    const w = open(4);
    const body = new Uint8Array(70_000).map((_, i) => i % 253);
    for (let i = 0; i < 50; i++) {
      expect(w.create(`${dir}/f${i}`, 0o600, `f${i}`)).toBe(true);
      w.write(-1, body.subarray(0, 30_000), `f${i}`);
      w.write(-1, body.subarray(30_000, 30_000 + i), `f${i}`);
      w.finish(-1, `f${i}`, attrs({ chmod: 0o4750, mtime: 1_600_000_000 + i, mtimeNsec: 5, atime: -1 }));
    }
    // a descriptor the caller opened itself (a path too long for a slot)
    const fd = openSync(`${dir}/own`, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o644);
    w.write(fd, body, "own");
    w.finish(fd, "own", attrs({ writeback: true, mtime: 2 }));
    w.drain();
    w.end();
    for (let i = 0; i < 50; i++) {
      const st = statSync(`${dir}/f${i}`);
      expect(st.size).toBe(30_000 + i);
      expect(st.mode & 0o7777).toBe(0o4750);
      expect(st.mtimeMs).toBe((1_600_000_000 + i) * 1000 + 5e-6);
      expect(st.atimeMs).toBe(-1000);
      expect(Buffer.compare(readFileSync(`${dir}/f${i}`), Buffer.from(body.subarray(0, 30_000 + i)))).toBe(0);
    }
    expect(Buffer.compare(readFileSync(`${dir}/own`), Buffer.from(body))).toBe(0);
    expect(statSync(`${dir}/own`).mtimeMs).toBe(2000);
    expect(fds()).toBe(before);
  });

  test("an existing path or a symlink at the last component is not opened: the error names the entry", () => {
    mkdirSync(`${dir}/outside`);
    writeFileSync(`${dir}/outside/secret`, "keep");
    symlinkSync(`${dir}/outside/secret`, `${dir}/link`);
    const before = fds();
    const w = open(8);
    w.create(`${dir}/link`, 0o644, "usr/link");
    w.write(-1, new TextEncoder().encode("owned"), "usr/link");
    w.finish(-1, "usr/link", attrs({ mtime: 1 }));
    // ops after the failure only close what they opened
    w.create(`${dir}/after`, 0o644, "usr/after");
    w.finish(-1, "usr/after", null);
    let err: unknown;
    try {
      w.drain();
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(EngineError);
    expect((err as Error).message).toBe('layer entry "usr/link": open: File exists (EEXIST)');
    w.end(true);
    expect(readFileSync(`${dir}/outside/secret`, "utf8")).toBe("keep");
    expect(lstatSync(`${dir}/link`).isSymbolicLink()).toBe(true);
    expect(fds()).toBe(before);
  });

  test("a link queued behind its target's creation; a failed link names its entry and is the one reported", () => {
    const before = fds();
    const w = open(4);
    for (let i = 0; i < 6; i++) {
      w.create(`${dir}/t${i}`, 0o644, `t${i}`);
      w.write(-1, new TextEncoder().encode(`body ${i}`), `t${i}`);
      w.finish(-1, `t${i}`, null);
      // the link may run before this thread looks again: it follows the CREATE in the queue
      expect(w.link(`${dir}/t${i}`, `${dir}/h${i}`, `h${i}`)).toBe(true);
    }
    w.drain();
    for (let i = 0; i < 6; i++) {
      expect(statSync(`${dir}/h${i}`).ino).toBe(statSync(`${dir}/t${i}`).ino);
      expect(readFileSync(`${dir}/h${i}`, "utf8")).toBe(`body ${i}`);
    }
    // link(2) never replaces: an existing new name fails, as a missing target does
    w.link(`${dir}/missing`, `${dir}/h-missing`, "usr/h-missing");
    w.link(`${dir}/t0`, `${dir}/t1`, "usr/t1-again");
    let err: unknown;
    try {
      w.drain();
    } catch (e) {
      err = e;
    }
    expect((err as Error).message).toBe('layer entry "usr/h-missing": link: No such file or directory (ENOENT)');
    w.end(true);
    expect(statSync(`${dir}/t1`).ino).not.toBe(statSync(`${dir}/t0`).ino);
    expect(fds()).toBe(before);
  });

  test("two paths too long for one slot are left to the caller", () => {
    const w = open(4);
    expect(w.link(`${dir}/${"x".repeat(230)}`, `${dir}/${"y".repeat(230)}`, "long")).toBe(false);
    w.end();
  });

  test("behind() reads how far the thread is from the queue's head", () => {
    const w = open(8);
    expect(w.behind()).toBe(false);
    w.drain();
    expect(w.behind()).toBe(false);
    w.end();
  });

  test("end(true) drops queued writes and still closes every descriptor", () => {
    const before = fds();
    const w = open(64);
    for (let i = 0; i < 10; i++) {
      const fd = openSync(`${dir}/g${i}`, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o644);
      w.write(fd, new Uint8Array(10), `g${i}`);
      w.finish(fd, `g${i}`, null);
    }
    w.end(true);
    expect(fds()).toBe(before);
    const sizes = Array.from({ length: 10 }, (_, i) => statSync(`${dir}/g${i}`).size);
    expect(sizes.every((n) => n === 0 || n === 10)).toBe(true);
  });

  test("a path too long for a slot is left to the caller", () => {
    const w = open(4);
    expect(w.create(`${dir}/${"x".repeat(200)}/${"y".repeat(250)}`, 0o644, "long")).toBe(false);
    w.end();
    const fd = openSync(dir, constants.O_RDONLY);
    closeSync(fd);
  });

  test("bodies copied from a source file, in the kernel on one filesystem and by pread/write across two; a source that ends early names the entry", () => {
    const data = new Uint8Array(3_000_000).map((_, i) => (i * 13) & 0xff);
    // /dev/shm (tmpfs) to /tmp: copy_file_range refuses (EXDEV) and the thread reads and writes
    const shm = mkdtempSync("/dev/shm/berth-test-body-writer-");
    try {
      for (const srcPath of [`${dir}/src`, `${shm}/src`]) {
        writeFileSync(srcPath, data);
        const before = fds();
        const src = openSync(srcPath, "r");
        const w = open(4);
        const pieces = [
          [0, 0],
          [1, 1],
          [4095, 2],
          [1_000_000, 1_999_999],
          [0, 3_000_000],
        ] as const;
        pieces.forEach(([len, off], i) => {
          w.create(`${dir}/c${i}`, 0o644, `c${i}`);
          if (len) w.copy(-1, src, off, len, `c${i}`);
          w.finish(-1, `c${i}`, attrs({ mtime: 3 }));
        });
        w.create(`${dir}/short`, 0o644, "usr/short");
        w.copy(-1, src, 2_999_000, 2000, "usr/short");
        w.finish(-1, "usr/short", null);
        let err: unknown;
        try {
          w.drain();
        } catch (e) {
          err = e;
        }
        w.end(true);
        closeSync(src);
        expect((err as Error).message).toBe('layer entry "usr/short": copy_file_range: Input/output error (EIO)');
        pieces.forEach(([len, off], i) => {
          expect(Buffer.compare(readFileSync(`${dir}/c${i}`), Buffer.from(data.subarray(off, off + len)))).toBe(0);
          rmSync(`${dir}/c${i}`);
        });
        rmSync(`${dir}/short`);
        expect(fds()).toBe(before);
      }
    } finally {
      rmSync(shm, { recursive: true, force: true });
    }
  });
});

describe("FileHash (native thread, libcrypto)", () => {
  const hex = (b: Uint8Array) => new Bun.CryptoHasher("sha256").update(b).digest("hex");

  test("known digests, and a file longer than its buffer; the caller's descriptor may close at once", async () => {
    const big = new Uint8Array((1 << 20) + 12345).map((_, i) => (i * 7 + (i >> 11)) & 0xff);
    const cases: [Uint8Array, string][] = [
      [new Uint8Array(0), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"],
      [new TextEncoder().encode("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"],
      [
        new TextEncoder().encode("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
        "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1",
      ],
      [big, hex(big)],
    ];
    const before = fds();
    for (const [bytes, want] of cases) {
      writeFileSync(`${dir}/h`, bytes);
      const fd = openSync(`${dir}/h`, "r");
      const h = FileHash.open(fd, bytes.length);
      closeSync(fd);
      if (!h) throw new Error("no native file hash here (libcrypto.so.3 missing?)");
      expect(await h.digest()).toBe(want);
    }
    expect(fds()).toBe(before);
  });

  test("a file shorter than the size given is an error; cancel joins the thread", async () => {
    writeFileSync(`${dir}/h`, "abc");
    const fd = openSync(`${dir}/h`, "r");
    const h = FileHash.open(fd, 4)!;
    await expect(h.digest()).rejects.toThrow("hash of the input file: pread: Input/output error (EIO)");
    const before = fds();
    const c = FileHash.open(fd, 3)!;
    c.cancel();
    c.cancel();
    closeSync(fd);
    expect(fds()).toBe(before - 1);
  });
});
