/**
 * Pure tar header codec: one 512-byte block ⇄ fields, pax extended-header records ⇄ key/value pairs.
 * No I/O, no state across blocks; the reader (reader.ts) and writer (writer.ts) combine these into entries.
 *
 * Formats (POSIX.1-2001 pax, https://pubs.opengroup.org/onlinepubs/9699919799/utilities/pax.html#tag_20_92_13;
 * GNU tar manual "Basic Tar Format" https://www.gnu.org/software/tar/manual/html_node/Standard.html):
 *  - v7: no magic, names ≤ 100 bytes, directories recognised by a trailing '/'.
 *  - ustar ("ustar\0" "00"): adds uname/gname/devmajor/devminor and a 155-byte name prefix.
 *  - old GNU ("ustar  \0"): the prefix area holds atime/ctime/sparse data instead, so it is NOT a prefix.
 *  - GNU extensions: 'L'/'K' long name/link entries, base-256 numbers (first byte 0x80 or 0xff).
 *  - pax 'x' (next entry) and 'g' (all following entries) records `"%d %s=%s\n"`.
 */
import { EngineError } from "../lib/errors.ts";

export const BLOCK = 512;

/** a message that quotes archive names stays one line: control characters as JSON escapes (\n, \u0000) */
export function oneLine(msg: string): string {
  return msg.replace(/[\x00-\x1f\x7f]/g, (c) => JSON.stringify(c).slice(1, -1));
}

/** Field layout of a ustar header block; offsets as in POSIX <tar.h> and nanotar's comments */
export const F = {
  name: [0, 100], //       File name (offset: 0 - length: 100)
  mode: [100, 8], //       File mode, octal (offset: 100 - length: 8)
  uid: [108, 8], //        Owner user ID (offset: 108 - length: 8)
  gid: [116, 8], //        Owner group ID (offset: 116 - length: 8)
  size: [124, 12], //      File size in bytes (offset: 124 - length: 12)
  mtime: [136, 12], //     Modification time, seconds since epoch (offset: 136 - length: 12)
  chksum: [148, 8], //     Header checksum (offset: 148 - length: 8)
  typeflag: [156, 1], //   Entry type (offset: 156 - length: 1)
  linkname: [157, 100], // Link target (offset: 157 - length: 100)
  magic: [257, 6], //      "ustar\0" (POSIX) or "ustar " (old GNU) (offset: 257 - length: 6)
  version: [263, 2], //    "00" (POSIX) or " \0" (old GNU) (offset: 263 - length: 2)
  uname: [265, 32], //     Owner user name (offset: 265 - length: 32)
  gname: [297, 32], //     Owner group name (offset: 297 - length: 32)
  devmajor: [329, 8], //   Device major number (offset: 329 - length: 8)
  devminor: [337, 8], //   Device minor number (offset: 337 - length: 8)
  prefix: [345, 155], //   Name prefix, POSIX ustar only (offset: 345 - length: 155)
  // old GNU reuses 345..500: atime (345, 12), ctime (357, 12), offset (369, 12), longnames (381, 4),
  // unused (385, 1), sparse[4] (386, 96), isextended (482, 1), realsize (483, 12); 500..512 is padding.
  gnuAtime: [345, 12], //  old GNU access time (offset: 345 - length: 12)
} as const satisfies Record<string, readonly [number, number]>;

export type HeaderFormat = "ustar" | "gnu" | "v7";

/** The decoded fields of one header block, before pax/GNU long-name overrides are applied */
export interface RawHeader {
  name: string;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  mtime: number;
  /** the type byte as a one-character string; "\0" for v7 regular files */
  typeflag: string;
  linkname: string;
  uname: string;
  gname: string;
  devmajor: number;
  devminor: number;
  format: HeaderFormat;
  /** old-GNU atime when present (non-zero) */
  atime?: number;
}

const utf8 = new TextDecoder("utf-8");
const utf8enc = new TextEncoder();

/** a NUL-terminated (or field-filling) string; ASCII fast path because almost every name is ASCII */
export function readString(b: Uint8Array, off: number, len: number): string {
  let end = off;
  const max = off + len;
  let ascii = true;
  while (end < max) {
    const c = b[end];
    if (c === 0) break;
    if (c >= 0x80) ascii = false;
    end++;
  }
  if (end === off) return "";
  if (ascii && end - off <= 128) return String.fromCharCode.apply(null, b.subarray(off, end) as unknown as number[]);
  return utf8.decode(b.subarray(off, end));
}

/**
 * A numeric field: octal digits (leading spaces/NULs tolerated, terminated by space or NUL, as v7 and
 * old GNU tars write them) or GNU base-256 (first byte 0x80 positive, 0xff negative two's complement).
 * Returns NaN on garbage so the caller can name the entry in its error.
 */
export function readNumber(b: Uint8Array, off: number, len: number): number {
  const first = b[off];
  if (first & 0x80) {
    // base-256 (rare: only for values octal cannot hold), so BigInt is fine here
    let x = BigInt(first === 0xff ? 0xff : first & 0x7f);
    for (let i = 1; i < len; i++) x = (x << 8n) | BigInt(b[off + i]);
    if (first === 0xff) x -= 1n << BigInt(len * 8); // two's complement over the whole field
    if (x > BigInt(Number.MAX_SAFE_INTEGER) || x < -BigInt(Number.MAX_SAFE_INTEGER)) return NaN;
    return Number(x);
  }
  let i = off;
  const end = off + len;
  while (i < end && (b[i] === 0x20 || b[i] === 0)) i++;
  let v = 0;
  for (; i < end; i++) {
    const c = b[i];
    if (c === 0x20 || c === 0) break;
    if (c < 0x30 || c > 0x37) return NaN;
    v = v * 8 + (c - 0x30);
  }
  return v;
}

/** unsigned and signed byte sums with the checksum field counted as eight spaces */
export function checksums(b: Uint8Array): { unsigned: number; signed: number } {
  // one branch-free pass over the block, then swap the stored checksum bytes for spaces
  let u = 0;
  let hi = 0;
  for (let i = 0; i < BLOCK; i++) {
    const c = b[i];
    u += c;
    hi += c >> 7;
  }
  for (let i = 148; i < 156; i++) {
    const c = b[i];
    u += 0x20 - c;
    hi -= c >> 7;
  }
  return { unsigned: u, signed: u - 256 * hi };
}

export function isZeroBlock(b: Uint8Array): boolean {
  // 64 × 8-byte reads instead of 512 single-byte ones
  const dv = new DataView(b.buffer, b.byteOffset, BLOCK);
  for (let i = 0; i < BLOCK; i += 8) if (dv.getUint32(i, true) !== 0 || dv.getUint32(i + 4, true) !== 0) return false;
  return true;
}

/** true when the stored checksum matches either the unsigned (POSIX) or signed (old Sun/BSD) sum */
export function verifyChecksum(b: Uint8Array): boolean {
  const stored = readNumber(b, 148, 8);
  if (!Number.isFinite(stored)) return false;
  const { unsigned, signed } = checksums(b);
  return stored === unsigned || stored === signed;
}

function magicOf(b: Uint8Array): HeaderFormat {
  // "ustar\0" + "00" = POSIX; "ustar " + " \0" = old GNU
  if (b[257] === 0x75 && b[258] === 0x73 && b[259] === 0x74 && b[260] === 0x61 && b[261] === 0x72) {
    if (b[262] === 0) return "ustar";
    if (b[262] === 0x20) return "gnu";
  }
  return "v7";
}

/**
 * Decode one non-zero header block. Throws EngineError("invalid_argument") on a bad checksum or an
 * unparsable numeric field; `whereArg` names the position for the message (e.g. ` at offset 1024`).
 */
export function parseHeader(b: Uint8Array, whereArg: string | (() => string) = ""): RawHeader {
  // lazily built: the reader's position text costs a string per entry otherwise
  const at = () => (typeof whereArg === "function" ? whereArg() : whereArg);
  if (!verifyChecksum(b)) throw new EngineError("invalid_argument", oneLine(`tar: bad header checksum${at()}`));
  const format = magicOf(b);
  let name = readString(b, 0, 100);
  if (format === "ustar" && b[345] !== 0) {
    const prefix = readString(b, 345, 155);
    if (prefix) name = prefix + "/" + name;
  }
  const h: RawHeader = {
    name,
    mode: readNumber(b, 100, 8),
    uid: readNumber(b, 108, 8),
    gid: readNumber(b, 116, 8),
    size: readNumber(b, 124, 12),
    mtime: readNumber(b, 136, 12),
    typeflag: String.fromCharCode(b[156]),
    linkname: readString(b, 157, 100),
    uname: format === "v7" ? "" : readString(b, 265, 32),
    gname: format === "v7" ? "" : readString(b, 297, 32),
    devmajor: format === "v7" ? 0 : readNumber(b, 329, 8),
    devminor: format === "v7" ? 0 : readNumber(b, 337, 8),
    format,
  };
  if (format === "gnu" && b[345] !== 0) {
    const at = readNumber(b, 345, 12);
    if (at > 0) h.atime = at;
  }
  for (const k of ["mode", "uid", "gid", "size", "mtime", "devmajor", "devminor"] as const) {
    if (!Number.isFinite(h[k])) throw new EngineError("invalid_argument", oneLine(`tar: invalid ${k} field in header of "${name}"${at()}`));
  }
  if (h.size < 0) throw new EngineError("invalid_argument", oneLine(`tar: negative size in header of "${name}"${at()}`));
  return h;
}

// ---------------------------------------------------------------------------------------------------
// pax records

/**
 * Parse pax extended-header data: records `"<len> <key>=<value>\n"` where len counts the whole record.
 * Values stay raw bytes (SCHILY.xattr.* values are binary, e.g. security.capability); keys are UTF-8.
 */
export function parsePax(data: Uint8Array, entryName = ""): Map<string, Uint8Array> {
  const out = new Map<string, Uint8Array>();
  let i = 0;
  const bad = (what: string): never => {
    throw new EngineError("invalid_argument", oneLine(`tar: malformed pax header${entryName ? ` before "${entryName}"` : ""}: ${what}`));
  };
  while (i < data.length) {
    // GNU and others may pad the data area with NULs
    if (data[i] === 0) break;
    let len = 0;
    let j = i;
    while (j < data.length && data[j] >= 0x30 && data[j] <= 0x39) {
      len = len * 10 + (data[j] - 0x30);
      j++;
      if (len > data.length) bad("record length exceeds header size");
    }
    if (j === i || data[j] !== 0x20) bad(`bad record length at byte ${i}`);
    const end = i + len;
    if (len < 5 || end > data.length || data[end - 1] !== 0x0a) bad(`bad record at byte ${i}`);
    const eq = data.indexOf(0x3d, j + 1);
    if (eq < 0 || eq >= end) bad(`record at byte ${i} has no '='`);
    const key = utf8.decode(data.subarray(j + 1, eq));
    out.set(key, data.subarray(eq + 1, end - 1));
    i = end;
  }
  return out;
}

export function paxString(v: Uint8Array): string {
  return utf8.decode(v);
}

/** encode records in the canonical `"%d %s=%s\n"` form; the length prefix counts itself */
export function formatPax(records: Iterable<[string, string | Uint8Array]>): Uint8Array {
  const parts: Uint8Array[] = [];
  let total = 0;
  for (const [key, value] of records) {
    const v = typeof value === "string" ? utf8enc.encode(value) : value;
    const k = utf8enc.encode(key);
    const rest = k.length + v.length + 3; // ' ' + '=' + '\n'
    let len = rest + String(rest).length;
    if (String(len).length !== String(rest).length) len = rest + String(len).length;
    const rec = new Uint8Array(len);
    let p = 0;
    const lenBytes = utf8enc.encode(`${len} `);
    rec.set(lenBytes, p);
    p += lenBytes.length;
    rec.set(k, p);
    p += k.length;
    rec[p++] = 0x3d;
    rec.set(v, p);
    p += v.length;
    rec[p] = 0x0a;
    parts.push(rec);
    total += len;
  }
  const out = new Uint8Array(total);
  let o = 0;
  for (const r of parts) {
    out.set(r, o);
    o += r.length;
  }
  return out;
}

/**
 * Pax time "sec[.frac]" (may be negative) → [whole seconds (floor), nanoseconds 0..999999999].
 * Kept apart from the float so nanosecond mtimes survive a round trip (a double holds ~0.2 µs at 2^31 s).
 */
export function parsePaxTime(s: string): [number, number] | null {
  const m = /^(-?)(\d+)(?:\.(\d*))?$/.exec(s.trim());
  if (!m) return null;
  const sec = Number(m[2]);
  const frac = m[3] ? Number((m[3] + "000000000").slice(0, 9)) : 0;
  if (m[1] === "-") return frac ? [-sec - 1, 1e9 - frac] : [-sec, 0];
  return [sec, frac];
}

export function formatPaxTime(sec: number, nsec: number): string {
  if (!nsec) return String(sec);
  if (sec < 0) {
    // floor-seconds form back to the signed decimal form: -2 s + 0.75 s = -1.25
    const neg = 1e9 - nsec;
    return `-${-sec - 1}.${String(neg).padStart(9, "0").replace(/0+$/, "")}`;
  }
  return `${sec}.${String(nsec).padStart(9, "0").replace(/0+$/, "")}`;
}

/** split a fractional seconds value into [floor seconds, ns] */
export function splitTime(t: number): [number, number] {
  const sec = Math.floor(t);
  let ns = Math.round((t - sec) * 1e9);
  if (ns >= 1e9) return [sec + 1, 0];
  if (ns < 0) ns = 0;
  return [sec, ns];
}

// ---------------------------------------------------------------------------------------------------
// writing

export interface HeaderFields {
  name: string; // ≤ 100 bytes, or ≤ 256 with a prefix split
  mode: number;
  uid: number;
  gid: number;
  size: number;
  mtime: number; // integer seconds; negative or huge values are written base-256
  typeflag: string;
  linkname?: string;
  uname?: string;
  gname?: string;
  devmajor?: number;
  devminor?: number;
}

export function utf8Bytes(s: string): Uint8Array {
  return utf8enc.encode(s);
}

/** largest value an octal field of `len` bytes holds with its NUL terminator */
export function octalMax(len: number): number {
  return 8 ** (len - 1) - 1;
}

function writeOctal(b: Uint8Array, off: number, len: number, v: number): void {
  if (Number.isInteger(v) && v >= 0 && v <= octalMax(len)) {
    const s = v.toString(8).padStart(len - 1, "0");
    for (let i = 0; i < len - 1; i++) b[off + i] = s.charCodeAt(i);
    b[off + len - 1] = 0;
    return;
  }
  // GNU base-256 for values octal cannot hold; a pax record carries the value for pax-only readers
  let x = BigInt(Math.trunc(v));
  const neg = x < 0n;
  for (let i = len - 1; i >= 1; i--) {
    b[off + i] = Number(x & 0xffn);
    x >>= 8n;
  }
  b[off] = neg ? 0xff : 0x80;
}

function writeBytes(b: Uint8Array, off: number, len: number, s: Uint8Array): void {
  b.set(s.length > len ? s.subarray(0, len) : s, off);
}

/**
 * Split a name for the ustar prefix/name fields: name ≤ 100 bytes, prefix ≤ 155 bytes, split at '/'.
 * Returns null when the name needs a pax `path` record.
 */
export function splitUstarName(name: Uint8Array): [prefix: Uint8Array, name: Uint8Array] | null {
  if (name.length <= 100) return [new Uint8Array(0), name];
  if (name.length > 256) return null;
  // the last '/' such that the rest fits in 100 bytes and the head in 155
  for (let i = Math.max(0, name.length - 101); i < name.length && i <= 155; i++) {
    if (name[i] === 0x2f && name.length - i - 1 <= 100 && i > 0) return [name.subarray(0, i), name.subarray(i + 1)];
  }
  return null;
}

/** Format one ustar header block (truncating what does not fit: callers add pax records first) */
export function formatHeader(h: HeaderFields): Uint8Array {
  const b = new Uint8Array(BLOCK);
  const nameBytes = utf8enc.encode(h.name);
  const split = splitUstarName(nameBytes);
  if (split) {
    writeBytes(b, 0, 100, split[1]);
    writeBytes(b, 345, 155, split[0]);
  } else {
    writeBytes(b, 0, 100, nameBytes);
  }
  writeOctal(b, 100, 8, h.mode & 0o7777);
  writeOctal(b, 108, 8, h.uid);
  writeOctal(b, 116, 8, h.gid);
  writeOctal(b, 124, 12, h.size);
  writeOctal(b, 136, 12, h.mtime);
  b[156] = h.typeflag.charCodeAt(0);
  if (h.linkname) writeBytes(b, 157, 100, utf8enc.encode(h.linkname));
  b.set([0x75, 0x73, 0x74, 0x61, 0x72, 0x00, 0x30, 0x30], 257); // "ustar\0" "00"
  if (h.uname) writeBytes(b, 265, 32, utf8enc.encode(h.uname));
  if (h.gname) writeBytes(b, 297, 32, utf8enc.encode(h.gname));
  if (h.typeflag === "3" || h.typeflag === "4") {
    writeOctal(b, 329, 8, h.devmajor ?? 0);
    writeOctal(b, 337, 8, h.devminor ?? 0);
  }
  // checksum: six octal digits, NUL, space (what GNU tar and Go's archive/tar write)
  const { unsigned } = checksums(b);
  const s = unsigned.toString(8).padStart(6, "0");
  for (let i = 0; i < 6; i++) b[148 + i] = s.charCodeAt(i);
  b[154] = 0;
  b[155] = 0x20;
  return b;
}
