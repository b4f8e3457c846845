import { describe, expect, test } from "bun:test";
import {
  BLOCK,
  F,
  checksums,
  formatHeader,
  formatPax,
  formatPaxTime,
  isZeroBlock,
  parseHeader,
  parsePax,
  parsePaxTime,
  readNumber,
  splitUstarName,
  utf8Bytes,
  verifyChecksum,
} from "./header.ts";

const enc = new TextEncoder();

describe("header layout", () => {
  test("fields tile the 500-byte ustar header", () => {
    const order = [
      "name",
      "mode",
      "uid",
      "gid",
      "size",
      "mtime",
      "chksum",
      "typeflag",
      "linkname",
      "magic",
      "version",
      "uname",
      "gname",
      "devmajor",
      "devminor",
      "prefix",
    ] as const;
    let at = 0;
    for (const k of order) {
      expect([k, F[k][0] as number]).toEqual([k, at]);
      at += F[k][1];
    }
    expect(at).toBe(500);
  });
});

describe("numbers", () => {
  test("octal with spaces and NULs (v7 / old GNU style)", () => {
    const b = enc.encode("  0755 \0");
    expect(readNumber(b, 0, 8)).toBe(0o755);
    expect(readNumber(new Uint8Array(8), 0, 8)).toBe(0);
    expect(readNumber(enc.encode("00000001234\0"), 0, 12)).toBe(0o1234);
    expect(readNumber(enc.encode("0000009\0"), 0, 8)).toBeNaN();
  });
  test("GNU base-256 positive and negative", () => {
    const b = new Uint8Array(12);
    b[0] = 0x80;
    b[7] = 0x02; // 2 << 32
    expect(readNumber(b, 0, 12)).toBe(2 * 2 ** 32);
    const n = new Uint8Array(12).fill(0xff);
    expect(readNumber(n, 0, 12)).toBe(-1);
    n[11] = 0xfe;
    expect(readNumber(n, 0, 12)).toBe(-2);
    const huge = new Uint8Array(12).fill(0x7f);
    huge[0] = 0x80 | 0x7f;
    expect(readNumber(huge, 0, 12)).toBeNaN();
  });
  test("writer base-256 round-trips sizes beyond 8 GiB and negative mtimes", () => {
    const h = formatHeader({ name: "big", mode: 0o644, uid: 0, gid: 0, size: 20 * 2 ** 30, mtime: -86400, typeflag: "0" });
    expect(h[124]).toBe(0x80);
    const p = parseHeader(h);
    expect(p.size).toBe(20 * 2 ** 30);
    expect(p.mtime).toBe(-86400);
  });
});

describe("checksum", () => {
  test("unsigned and signed sums both accepted", () => {
    const h = formatHeader({ name: "é".repeat(10), mode: 0o644, uid: 1, gid: 2, size: 3, mtime: 4, typeflag: "0" });
    expect(verifyChecksum(h)).toBe(true);
    // rewrite the checksum as the signed sum (old Sun tar)
    const { signed } = checksums(h);
    const s = signed.toString(8).padStart(6, "0");
    for (let i = 0; i < 6; i++) h[148 + i] = s.charCodeAt(i);
    expect(verifyChecksum(h)).toBe(true);
    expect(parseHeader(h).name).toBe("é".repeat(10));
    h[0] ^= 1;
    expect(verifyChecksum(h)).toBe(false);
    expect(() => parseHeader(h, " at offset 0")).toThrow(/bad header checksum at offset 0/);
  });
  test("zero block", () => {
    expect(isZeroBlock(new Uint8Array(BLOCK))).toBe(true);
    const b = new Uint8Array(BLOCK);
    b[511] = 1;
    expect(isZeroBlock(b)).toBe(false);
  });
});

describe("ustar round trip", () => {
  test("all fields", () => {
    const h = formatHeader({
      name: "usr/bin/x",
      mode: 0o4755,
      uid: 1000,
      gid: 1001,
      size: 12345,
      mtime: 1700000000,
      typeflag: "0",
      uname: "alice",
      gname: "staff",
    });
    const p = parseHeader(h);
    expect(p).toMatchObject({
      name: "usr/bin/x",
      mode: 0o4755,
      uid: 1000,
      gid: 1001,
      size: 12345,
      mtime: 1700000000,
      typeflag: "0",
      uname: "alice",
      gname: "staff",
      format: "ustar",
    });
  });
  test("devices", () => {
    const p = parseHeader(formatHeader({ name: "dev/null", mode: 0o666, uid: 0, gid: 0, size: 0, mtime: 0, typeflag: "3", devmajor: 1, devminor: 3 }));
    expect([p.typeflag, p.devmajor, p.devminor]).toEqual(["3", 1, 3]);
  });
  test("prefix split for names up to 256 bytes", () => {
    const name = "a".repeat(150) + "/" + "b".repeat(100);
    const split = splitUstarName(utf8Bytes(name))!;
    expect(split).not.toBeNull();
    expect(parseHeader(formatHeader({ name, mode: 0, uid: 0, gid: 0, size: 0, mtime: 0, typeflag: "0" })).name).toBe(name);
    expect(splitUstarName(utf8Bytes("c".repeat(101)))).toBeNull(); // no slash to split at
    expect(splitUstarName(utf8Bytes("d".repeat(156) + "/e"))).toBeNull(); // prefix too long
  });
  test("old GNU magic: the prefix area is not a prefix", () => {
    const h = formatHeader({ name: "file", mode: 0o644, uid: 0, gid: 0, size: 0, mtime: 0, typeflag: "0" });
    h.set(enc.encode("ustar  \0"), 257);
    h.set(enc.encode("00000000001\0"), 345); // atime = 1
    const { unsigned } = checksums(h);
    h.set(enc.encode(unsigned.toString(8).padStart(6, "0") + "\0 "), 148);
    const p = parseHeader(h);
    expect(p.name).toBe("file");
    expect(p.format).toBe("gnu");
    expect(p.atime).toBe(1);
  });
  test("v7 header (no magic) ignores uname/gname/dev fields", () => {
    const h = formatHeader({ name: "old", mode: 0o644, uid: 3, gid: 4, size: 0, mtime: 0, typeflag: "0", uname: "junk" });
    h.fill(0, 257, 500);
    const { unsigned } = checksums(h);
    h.set(enc.encode(unsigned.toString(8).padStart(6, "0") + "\0 "), 148);
    expect(parseHeader(h)).toMatchObject({ name: "old", uid: 3, gid: 4, format: "v7", uname: "" });
  });
});

describe("pax records", () => {
  test("round trip including a length that crosses a digit boundary and binary values", () => {
    const cap = new Uint8Array([1, 0, 0, 2, 0x20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    const records: [string, string | Uint8Array][] = [
      ["path", "x".repeat(91)], // 3 + 1 + 4 + 1 + 91 + 1 = 101: the length prefix grows to 3 digits
      ["SCHILY.xattr.security.capability", cap],
      ["mtime", "1700000000.123456789"],
      ["comment", "with = sign and\nnewline"],
    ];
    const data = formatPax(records);
    const m = parsePax(data);
    expect(new TextDecoder().decode(m.get("path"))).toBe("x".repeat(91));
    expect(m.get("SCHILY.xattr.security.capability")).toEqual(cap);
    expect(new TextDecoder().decode(m.get("comment"))).toBe("with = sign and\nnewline");
    expect(new TextDecoder().decode(data).startsWith("101 path=")).toBe(true);
  });
  test("hostile records are rejected", () => {
    for (const bad of ["5 a=b\n", "99 path=x\n", "12 pathx\n\n\n\n", "x path=y\n", "9999999999999999 a=b\n"]) {
      expect(() => parsePax(enc.encode(bad))).toThrow(/malformed pax header/);
    }
  });
  test("NUL padding after records is tolerated", () => {
    const d = new Uint8Array(64);
    d.set(enc.encode("10 path=a\n"));
    expect(parsePax(d).size).toBe(1);
  });
  test("times with sub-second precision and negatives", () => {
    expect(parsePaxTime("1700000000.123456789")).toEqual([1700000000, 123456789]);
    expect(parsePaxTime("1700000000.5")).toEqual([1700000000, 500000000]);
    expect(parsePaxTime("1700000000")).toEqual([1700000000, 0]);
    expect(parsePaxTime("-1.25")).toEqual([-2, 750000000]);
    expect(parsePaxTime("1.1234567891234")).toEqual([1, 123456789]);
    expect(parsePaxTime("abc")).toBeNull();
    expect(formatPaxTime(-2, 750000000)).toBe("-1.25");
    expect(formatPaxTime(1700000000, 123456789)).toBe("1700000000.123456789");
    expect(formatPaxTime(5, 100000000)).toBe("5.1");
  });
});
