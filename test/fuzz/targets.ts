/**
 * The fuzz targets: every parser of user or network input (issue 15), each with blind inputs (random
 * strings or bytes) and grammar-aware ones (mutations of valid documents, fields of the right shape
 * with wrong values, deep nesting) so the fuzzer gets past the first check of each parser.
 */
import fc from "fast-check";
import { readTar } from "../../src/tar/reader.ts";
import { openLayerChunks } from "../../src/tar/compress.ts";
import { BLOCK, checksums, formatHeader, formatPax } from "../../src/tar/header.ts";
import { cleanLayerPath } from "../../src/cow/apply.ts";
import { parseDockerfile } from "../../src/build/parser.ts";
import { ShellLex } from "../../src/build/shell-lex.ts";
import { sub } from "../../src/build/state.ts";
import type { Instruction } from "../../src/build/parser.ts";
import { IgnoreMatcher, parseDockerignore } from "../../src/build/dockerignore.ts";
import { globMatch } from "../../src/build/context.ts";
import {
  familiarizeKey,
  familiarString,
  parseDigest,
  parseDockerRef,
  parseReference,
  parseStrict,
  parseTag,
  referenceString,
} from "../../src/image/references.ts";
import { layerCompression, parseImageConfig, parseManifest, parsePlatform, selectPlatform } from "../../src/image/registry/manifest.ts";
import { isDigest } from "../../src/oci/index.ts";
import { compileTemplate, strictFields } from "./_template.ts";
import { Finding, type Target } from "./harness.ts";
import { EngineError } from "../../src/lib/errors.ts";
import { SubstitutionError } from "../../src/build/shell-lex.ts";

const enc = new TextEncoder();

/** a string made of the given pieces (the grammar-aware half of most targets) */
function pieces(alphabet: string[], maxLength = 40): fc.Arbitrary<string> {
  return fc.array(fc.constantFrom(...alphabet), { maxLength }).map((a) => a.join(""));
}

/** `open` repeated n times, then `middle`, then `close` n times: stack depth tests */
function nested(open: string, middle: string, close: string, max = 20_000): fc.Arbitrary<string> {
  return fc.tuple(fc.integer({ min: 1, max }), fc.boolean()).map(([n, closed]) => open.repeat(n) + middle + (closed ? close.repeat(n) : ""));
}

/** character-level mutations of a valid text: insert, delete, replace, duplicate a span */
function mutate(base: fc.Arbitrary<string>, alphabet: string[]): fc.Arbitrary<string> {
  const op = fc.tuple(fc.constantFrom("ins", "del", "rep", "dup"), fc.nat(), fc.nat({ max: 16 }), fc.constantFrom(...alphabet));
  return fc.tuple(base, fc.array(op, { maxLength: 6 })).map(([s, ops]) => {
    for (const [kind, at, len, piece] of ops) {
      const i = s.length ? at % (s.length + 1) : 0;
      if (kind === "ins") s = s.slice(0, i) + piece + s.slice(i);
      else if (kind === "del") s = s.slice(0, i) + s.slice(i + len);
      else if (kind === "rep") s = s.slice(0, i) + piece + s.slice(i + piece.length);
      else s = s.slice(0, i) + s.slice(i, i + len) + s.slice(i);
    }
    return s;
  });
}

const anyString = fc.oneof(fc.string({ maxLength: 200 }), fc.string({ unit: "binary", maxLength: 200 }), fc.string({ unit: "grapheme-ascii", maxLength: 200 }));

// ------------------------------------------------------------------------------------------ tar

type TarMut = { block: number; field: number; kind: number; bytes: number[]; fix: boolean };
interface TarSpec {
  entries: {
    name: string;
    flag: string;
    size: number;
    link: string;
    long: "none" | "pax" | "gnu";
    pax: [string, string][];
    global: [string, string][];
    prefix: boolean;
  }[];
  end: number;
  muts: TarMut[];
  cut: number | null;
  chunks: number[];
  consume: boolean[];
}

const FIELDS: [number, number][] = [
  [0, 100],
  [100, 8],
  [108, 8],
  [116, 8],
  [124, 12],
  [136, 12],
  [148, 8],
  [156, 1],
  [157, 100],
  [257, 8],
  [265, 32],
  [329, 8],
  [337, 8],
  [345, 155],
  [345, 12],
  [482, 1],
  [483, 12],
];

const nameArb = fc.oneof(
  {
    weight: 5,
    arbitrary: fc
      .array(fc.constantFrom("..", ".", "a", "b", "", "dir", "x".repeat(60), "é", "\0", "\\", ".wh.a", ".wh..wh..opq"), { minLength: 1, maxLength: 6 })
      .chain((parts) => fc.constantFrom("", "/", "./", "../", "//").map((lead) => lead + parts.join("/"))),
  },
  { weight: 1, arbitrary: fc.string({ maxLength: 300 }) },
);
const digits = fc.oneof(
  fc.stringMatching(/^-?[0-9]{0,25}(\.[0-9]{0,12})?$/),
  fc.constantFrom("", " ", "1e9", "0x10", "NaN", "-0", "9007199254740993", "18446744073709551616"),
);
const paxKeys = [
  "path",
  "linkpath",
  "size",
  "uid",
  "gid",
  "uname",
  "gname",
  "mtime",
  "atime",
  "ctime",
  "SCHILY.devmajor",
  "SCHILY.devminor",
  "SCHILY.xattr.user.a",
  "SCHILY.xattr.trusted.overlay.opaque",
  "LIBARCHIVE.xattr.user%2Eb",
  "LIBARCHIVE.xattr.%zz",
  "LIBARCHIVE.xattr.%",
  "GNU.sparse.size",
  "GNU.sparse.major",
  "comment",
  "hdrcharset",
  "",
];
const paxRec = fc.tuple(
  fc.constantFrom(...paxKeys),
  fc.oneof(
    { weight: 3, arbitrary: fc.nat().map(String) },
    { weight: 1, arbitrary: digits },
    { weight: 2, arbitrary: nameArb },
    { weight: 1, arbitrary: fc.string({ unit: "binary", maxLength: 40 }) },
  ),
);

const tarSpecArb: fc.Arbitrary<TarSpec> = fc.record({
  entries: fc.array(
    fc.record({
      name: nameArb,
      flag: fc.oneof(
        { weight: 6, arbitrary: fc.constantFrom("0", "5", "2", "1", "\0", "7", "3", "4", "6") },
        { weight: 1, arbitrary: fc.constantFrom("D", "V", "S", "x", "g", "L", "K", "X", "M", "N", "Z", "\xff") },
      ),
      size: fc.oneof({ weight: 4, arbitrary: fc.nat({ max: 1500 }) }, { weight: 1, arbitrary: fc.constantFrom(0, 511, 512, 513, 8 ** 11 - 1) }),
      link: nameArb,
      long: fc.constantFrom("none", "pax", "gnu"),
      pax: fc.array(paxRec, { maxLength: 3 }),
      global: fc.array(paxRec, { maxLength: 1 }),
      prefix: fc.boolean(),
    }),
    { maxLength: 4 },
  ),
  end: fc.constantFrom(0, 1, 2, 3),
  muts: fc.array(
    fc.record({
      block: fc.nat({ max: 12 }),
      field: fc.nat({ max: FIELDS.length - 1 }),
      kind: fc.nat({ max: 5 }),
      bytes: fc.array(fc.nat({ max: 255 }), { minLength: 1, maxLength: 12 }),
      fix: fc.oneof({ weight: 3, arbitrary: fc.constant(true) }, { weight: 1, arbitrary: fc.constant(false) }),
    }),
    { maxLength: 3 },
  ),
  // most archives whole (so the reader gets deep), one in five cut short
  cut: fc.oneof({ weight: 4, arbitrary: fc.constant(null) }, { weight: 1, arbitrary: fc.nat({ max: 20_000 }) }),
  chunks: fc.array(fc.integer({ min: 1, max: 2048 }), { minLength: 1, maxLength: 5 }),
  consume: fc.array(fc.boolean(), { maxLength: 6 }),
});

function setChecksum(b: Uint8Array): void {
  b.fill(0x20, 148, 156);
  const s = checksums(b).unsigned.toString(8).padStart(6, "0");
  for (let i = 0; i < 6; i++) b[148 + i] = s.charCodeAt(i);
  b[154] = 0;
  b[155] = 0x20;
}

function header(name: string, flag: string, size: number, link = "", prefix = false): Uint8Array {
  const b = formatHeader({ name: name.slice(0, 100), mode: 0o644, uid: 0, gid: 0, size, mtime: 1_700_000_000, typeflag: flag, linkname: link.slice(0, 100) });
  if (prefix) {
    b.set(enc.encode(name.slice(0, 155)).subarray(0, 155), 345);
    setChecksum(b);
  }
  return b;
}

/** an archive from the spec: valid at first, then fields corrupted (checksum fixed or not), cut short */
export function buildTar(spec: TarSpec): Uint8Array {
  const blocks: Uint8Array[] = [];
  const headers: number[] = [];
  const meta = (flag: string, data: Uint8Array) => {
    headers.push(blocks.length);
    blocks.push(header(flag === "g" ? "pax_global_header" : "././@LongLink", flag, data.length));
    for (let o = 0; o < data.length; o += BLOCK) {
      const b = new Uint8Array(BLOCK);
      b.set(data.subarray(o, o + BLOCK));
      blocks.push(b);
    }
  };
  for (const e of spec.entries) {
    if (e.global.length) meta("g", formatPax(e.global));
    const pax = [...e.pax];
    if (e.long === "pax") pax.push(["path", e.name], ["linkpath", e.link]);
    if (pax.length) meta("x", formatPax(pax));
    if (e.long === "gnu") {
      meta("L", enc.encode(e.name + "\0"));
      if (e.link) meta("K", enc.encode(e.link));
    }
    headers.push(blocks.length);
    blocks.push(header(e.name, e.flag, e.size, e.link, e.prefix));
    const body = e.size > 4096 ? 0 : e.size;
    for (let o = 0; o < body; o += BLOCK) blocks.push(new Uint8Array(BLOCK).fill(0x61));
  }
  for (let i = 0; i < spec.end; i++) blocks.push(new Uint8Array(BLOCK));
  for (const m of spec.muts) {
    if (blocks.length === 0) break;
    const target = headers.length && m.block % 3 !== 0 ? headers[m.block % headers.length]! : m.block % blocks.length;
    const b = blocks[target]!;
    const [off, len] = FIELDS[m.field]!;
    let v: number[];
    switch (m.kind) {
      case 0: // octal digits, maybe without a terminator
        v = m.bytes.map((x) => 0x30 + (x % 8));
        break;
      case 1: // base-256, positive or negative
        v = [m.bytes[0]! & 1 ? 0xff : 0x80, ...m.bytes.slice(1)];
        break;
      case 2: // spaces and NULs
        v = m.bytes.map((x) => (x & 1 ? 0x20 : 0));
        break;
      case 3: // a typeflag or magic byte
        v = [m.bytes[0]!];
        break;
      default:
        v = m.bytes;
    }
    for (let i = 0; i < Math.min(len, v.length); i++) b[off + i] = v[i]!;
    if (m.fix) setChecksum(b);
  }
  const out = new Uint8Array(blocks.length * BLOCK);
  for (const [i, b] of blocks.entries()) out.set(b, i * BLOCK);
  return spec.cut === null ? out : out.subarray(0, Math.min(out.length, spec.cut));
}

function* chunked(bytes: Uint8Array, sizes: number[]): Generator<Uint8Array> {
  let o = 0;
  let k = 0;
  while (o < bytes.length) {
    const n = sizes[k++ % sizes.length]!;
    yield bytes.subarray(o, o + n);
    o += n;
  }
}

/** the archive through the real streaming reader, entry paths through the extractor's path check */
async function readAll(bytes: Uint8Array, chunks: number[], consume: boolean[], layer = false): Promise<void> {
  let source: AsyncIterable<Uint8Array> = (async function* () {
    yield* chunked(bytes, chunks);
  })();
  // a layer as pull and load read it: compression detected, gzip through zlib, zstd through the web stream
  if (layer) source = (await openLayerChunks(source, { ring: 64 << 10, chunk: 16 << 10 })).chunks;
  let i = 0;
  for await (const { entry, body } of readTar(source)) {
    for (const [what, p] of [
      ["name", entry.name],
      ["hardlink target", entry.type === "hardlink" ? entry.linkname : undefined],
    ] as const) {
      if (p === undefined) continue;
      let clean: string;
      try {
        clean = cleanLayerPath(p);
      } catch (e) {
        if (e instanceof EngineError) continue;
        throw e;
      }
      if (clean.startsWith("/") || clean.split("/").includes("..") || clean.includes("\0")) {
        throw new Finding(`${what} ${JSON.stringify(p)} passes the path check as ${JSON.stringify(clean)}`);
      }
    }
    if (!Number.isSafeInteger(entry.size) || entry.size < 0) throw new Finding(`entry size ${entry.size}`);
    if (consume[i++ % Math.max(1, consume.length)]) {
      let n = 0;
      for await (const c of body) n += c.length;
      if (n !== entry.size) throw new Finding(`body of ${JSON.stringify(entry.name)} gave ${n} bytes, size says ${entry.size}`);
    }
  }
}

const tar: Target<{ bytes: Uint8Array; chunks: number[]; consume: boolean[] }> = {
  name: "tar",
  parser: "src/tar readTar (+ cow/apply cleanLayerPath)",
  async: true,
  limitMs: 2000,
  arb: fc.oneof(
    { weight: 8, arbitrary: tarSpecArb.map((s) => ({ bytes: buildTar(s), chunks: s.chunks, consume: s.consume })) },
    {
      weight: 1,
      arbitrary: fc.record({
        bytes: fc.oneof(
          fc.uint8Array({ maxLength: 1600 }),
          fc.uint8Array({ minLength: 512, maxLength: 512 }).map((b) => {
            setChecksum(b);
            return b;
          }),
        ),
        chunks: fc.array(fc.integer({ min: 1, max: 1024 }), { minLength: 1, maxLength: 3 }),
        consume: fc.array(fc.boolean(), { maxLength: 3 }),
      }),
    },
  ),
  run: (x) => readAll(x.bytes, x.chunks, x.consume),
};

/** a compressed layer: a tar from the spec, gzip or zstd, then bytes of the compressed stream flipped or cut */
const layer: Target<{ bytes: Uint8Array; chunks: number[]; consume: boolean[] }> = {
  name: "layer",
  parser: "src/tar openLayerChunks (gzip ring, zstd) + readTar",
  async: true,
  limitMs: 2000,
  arb: fc
    .record({
      spec: tarSpecArb,
      zstd: fc.boolean(),
      flips: fc.array(fc.tuple(fc.nat(), fc.nat({ max: 255 })), { maxLength: 3 }),
      cut: fc.oneof({ weight: 3, arbitrary: fc.constant(null) }, { weight: 1, arbitrary: fc.nat() }),
      tail: fc.oneof({ weight: 3, arbitrary: fc.constant(new Uint8Array(0)) }, { weight: 1, arbitrary: fc.uint8Array({ maxLength: 40 }) }),
    })
    .map(({ spec, zstd, flips, cut, tail }) => {
      const plain = new Uint8Array(buildTar(spec));
      let z: Uint8Array = zstd ? Bun.zstdCompressSync(plain) : Bun.gzipSync(plain);
      z = Uint8Array.from([...z, ...tail]);
      for (const [at, v] of flips) if (z.length) z[at % z.length] = v;
      if (cut !== null && z.length) z = z.subarray(0, cut % (z.length + 1));
      return { bytes: z, chunks: spec.chunks, consume: spec.consume };
    }),
  run: (x) => readAll(x.bytes, x.chunks, x.consume, true),
};

// ------------------------------------------------------------------------------------ Dockerfile

const DOCKERFILES = [
  'FROM busybox\nRUN echo hi\nCMD ["sh"]\n',
  '# syntax=docker/dockerfile:1\n# escape=`\nFROM alpine:3.19 AS base\nARG A=1\nENV B="x y" C=${A:-2}\nWORKDIR /app\nCOPY --chown=1:1 --chmod=755 . /app/\nRUN `\n  echo a && `\n  # comment\n  echo b\n',
  'ARG BASE=busybox\nFROM ${BASE} as one\nLABEL a=b "c d"=e\nEXPOSE 80/tcp 443\nVOLUME ["/data"]\nUSER 1000:1000\nSTOPSIGNAL SIGTERM\nHEALTHCHECK --interval=5s --timeout=3s --retries=3 CMD curl -f http://localhost/ || exit 1\nONBUILD RUN echo onbuild\nSHELL ["/bin/bash", "-c"]\nENTRYPOINT ["/bin/sh", "-c"]\nFROM one\nCOPY --from=one /a /b\nADD --checksum=sha256:abc http://x/y /z\n',
  'FROM scratch\nRUN <<EOF\necho heredoc\nEOF\nCOPY <<-"END" /file\n\tcontent\nEND\nRUN --mount=type=cache,target=/root/.cache --network=none echo\nMAINTAINER me\nENV legacy value with spaces\nHEALTHCHECK NONE\n',
];
const DF_PIECES = [
  "FROM",
  "RUN",
  "CMD",
  "ENTRYPOINT",
  "SHELL",
  "ENV",
  "LABEL",
  "ARG",
  "EXPOSE",
  "VOLUME",
  "USER",
  "WORKDIR",
  "STOPSIGNAL",
  "MAINTAINER",
  "COPY",
  "ADD",
  "ONBUILD",
  "HEALTHCHECK",
  "BOGUS",
  " ",
  "\t",
  "\n",
  "\r\n",
  "\\",
  "\\\n",
  "`",
  "`\n",
  "#",
  "# escape=`\n",
  "# syntax=x\n",
  "=",
  '"',
  "'",
  "[",
  "]",
  '["a"]',
  ",",
  "$",
  "${A}",
  "${A:-b}",
  "--from=x ",
  "--platform=linux/amd64 ",
  "--interval=1ms ",
  "--interval=0.5ns ",
  "--retries=-1 ",
  "--",
  "<<EOF",
  "<<-EOF",
  "<<'E'",
  "\nEOF\n",
  "EOF",
  "AS",
  "as",
  "x",
  "a b",
  "NONE",
  "CMD",
  "1e400",
  "\uFEFF",
  "\0",
];

const dockerfile: Target<string> = {
  name: "dockerfile",
  parser: "src/build/parser.ts parseDockerfile",
  limitMs: 1000,
  arb: fc.oneof(
    { weight: 20, arbitrary: anyString },
    { weight: 30, arbitrary: pieces(DF_PIECES, 60) },
    { weight: 40, arbitrary: mutate(fc.constantFrom(...DOCKERFILES), DF_PIECES) },
    {
      weight: 1,
      arbitrary: fc.oneof(
        nested("ONBUILD ", "RUN x", ""),
        nested("RUN a \\\n", "b", ""),
        nested("#\n", "FROM a", ""),
        nested("FROM a\n", "", ""),
        nested("RUN <<A ", "\n", "\nA", 2000),
      ),
    },
  ),
  run: (text) => parseDockerfile(text),
};

// ------------------------------------------------------------------------------ shell expansion

const SH_PIECES = [
  "$",
  "{",
  "}",
  "${",
  ":-",
  ":+",
  ":?",
  "-",
  "+",
  "?",
  ":",
  '"',
  "'",
  "\\",
  "`",
  " ",
  "\t",
  "\n",
  "A",
  "B",
  "EMPTY",
  "UNSET",
  "_",
  "1",
  "x",
  "${A}",
  "$A",
  "${EMPTY:-d}",
  "${UNSET?boom}",
  "${A:+${B}}",
  "é",
];
const ENV = new Map([
  ["A", "alpha"],
  ["B", "b e t a"],
  ["EMPTY", ""],
  ["_", "u"],
]);
const INS = { node: { line: 1 } } as unknown as Instruction;

const shellLex: Target<{ word: string; escape: string; words: boolean }> = {
  name: "shell-lex",
  parser: "src/build/shell-lex.ts ShellLex (through state.ts sub)",
  limitMs: 1000,
  arb: fc.record({
    word: fc.oneof(
      { weight: 10, arbitrary: anyString },
      { weight: 40, arbitrary: pieces(SH_PIECES, 50) },
      { weight: 1, arbitrary: fc.oneof(nested("${A:-", "x", "}"), nested('${UNSET:-"', "x", '"}'), nested('"${A:+', "$B", '}"')) },
    ),
    escape: fc.constantFrom("\\", "`"),
    words: fc.boolean(),
  }),
  run: ({ word, escape: esc, words }) => {
    const lex = new ShellLex(esc);
    const out = words ? lex.processWords(word, ENV) : [sub(lex, word, ENV, INS, "Dockerfile")];
    const total = out.reduce((n, w) => n + w.length, 0);
    // no value is longer than 9 characters: the result can't grow faster than the input does
    if (total > 16 * (word.length + 1)) throw new Finding(`expansion of ${word.length} chars gave ${total}`);
  },
  // processWords is called bare (the split form's errors are wrapped by state.ts's subWords, same rule)
  allowed: (e) => e instanceof SubstitutionError,
};

// -------------------------------------------------------------------------------- .dockerignore

const IG_PIECES = [
  "*",
  "**",
  "?",
  "[",
  "]",
  "[a-z]",
  "[^a]",
  "[!a]",
  "[]",
  "[z-a]",
  "[\\]",
  "!",
  "\\",
  "/",
  ".",
  "..",
  "a",
  "b",
  "-",
  "^",
  "$",
  "(",
  ")",
  "+",
  "{",
  "}",
  "|",
  "#",
  " ",
  "\n",
  "\r\n",
  "é",
  "\0",
];
const PATH_PIECES = ["a", "b", "aa", "/", ".", "..", "x.go", "-", "[", "]", "*", "é"];

const dockerignore: Target<{ text: string; paths: string[] }> = {
  name: "dockerignore",
  parser: "src/build/dockerignore.ts parseDockerignore + IgnoreMatcher",
  limitMs: 1000,
  arb: fc.record({
    text: fc.oneof(
      { weight: 1, arbitrary: anyString },
      { weight: 4, arbitrary: pieces(IG_PIECES, 40) },
      { weight: 1, arbitrary: fc.array(pieces(["**", "*", "a", "/", "?"], 30), { maxLength: 5 }).map((l) => l.join("\n")) },
    ),
    paths: fc.array(fc.oneof(pieces(PATH_PIECES, 30), fc.string({ maxLength: 60 }), fc.constant("a".repeat(200)), fc.constant("a/".repeat(100) + "b")), {
      maxLength: 4,
    }),
  }),
  run: ({ text, paths }) => {
    const m = new IgnoreMatcher(parseDockerignore(text));
    for (const p of paths) {
      m.ignores(p);
      m.canSkipDir(p);
    }
  },
};

// --------------------------------------------------------------------------- COPY/ADD source globs

const copyGlob: Target<{ pattern: string; names: string[] }> = {
  name: "copy-glob",
  parser: "src/build/context.ts globMatch (COPY/ADD source patterns)",
  limitMs: 1000,
  arb: fc.record({
    pattern: fc.oneof(
      { weight: 1, arbitrary: anyString },
      { weight: 4, arbitrary: pieces(IG_PIECES, 30) },
      { weight: 1, arbitrary: pieces(["*", "a", "?", "b"], 30) },
    ),
    names: fc.array(fc.oneof(pieces(PATH_PIECES, 30), fc.string({ maxLength: 60 }), fc.constant("a".repeat(255))), { maxLength: 4 }),
  }),
  run: ({ pattern, names }) => {
    for (const n of names) globMatch(pattern, n);
  },
};

// ----------------------------------------------------------------------------- image references

const HEX = "0123456789abcdef";
const REF_PIECES = [
  "docker.io",
  "index.docker.io",
  "localhost",
  "localhost:5000",
  "[::1]:5000",
  "[",
  "]",
  "example.com",
  "a",
  "B",
  "library",
  "/",
  ":",
  "@",
  "sha256:",
  HEX.repeat(4),
  "abc",
  ".",
  "_",
  "__",
  "-",
  "--",
  "latest",
  "v1.0",
  "0",
  "5000",
  "é",
  " ",
  "sha512:",
];

const reference: Target<string> = {
  name: "reference",
  parser: "src/image/references.ts parse{Reference,Strict,DockerRef,Digest,Tag}",
  limitMs: 1000,
  arb: fc.oneof(
    { weight: 20, arbitrary: anyString },
    { weight: 50, arbitrary: pieces(REF_PIECES, 14) },
    {
      weight: 1,
      arbitrary: fc
        .tuple(
          fc.constantFrom("a", "a.", "a-", "a_", "a.b/", "a/", "1.", "[::"),
          fc.integer({ min: 1, max: 3000 }),
          fc.constantFrom("", "!", ":", "@", "A", ":x@sha256:1"),
        )
        .map(([p, n, t]) => p.repeat(n) + t),
    },
  ),
  run: (s) => {
    const tries: (() => unknown)[] = [() => parseStrict(s), () => parseDigest(s), () => parseTag(s), () => familiarizeKey(s)];
    for (const f of tries) {
      try {
        f();
      } catch (e) {
        if (!(e instanceof EngineError)) throw e;
      }
    }
    let ref: ReturnType<typeof parseDockerRef>;
    try {
      ref = parseDockerRef(s);
      parseReference(s);
    } catch (e) {
      if (e instanceof EngineError) return;
      throw e;
    }
    // what parses prints back to a string that parses to the same reference
    const again = parseStrict(referenceString(ref));
    if (referenceString(again) !== referenceString(ref)) throw new Finding(`${JSON.stringify(s)} round-trips to ${referenceString(again)}`);
    familiarString(ref);
  },
};

// ------------------------------------------------------------------------- manifests and configs

const D = (c: string) => `sha256:${c.repeat(64)}`;
const MANIFEST = {
  schemaVersion: 2,
  mediaType: "application/vnd.oci.image.manifest.v1+json",
  config: { mediaType: "application/vnd.oci.image.config.v1+json", digest: D("a"), size: 100 },
  layers: [
    { mediaType: "application/vnd.oci.image.layer.v1.tar+gzip", digest: D("b"), size: 1000 },
    { mediaType: "application/vnd.docker.image.rootfs.diff.tar.gzip", digest: D("c"), size: 2000, urls: ["http://x"] },
  ],
  annotations: { a: "b" },
};
const INDEX = {
  schemaVersion: 2,
  mediaType: "application/vnd.oci.image.index.v1+json",
  manifests: [
    { mediaType: "application/vnd.oci.image.manifest.v1+json", digest: D("d"), size: 500, platform: { os: "linux", architecture: "amd64" } },
    {
      mediaType: "application/vnd.docker.distribution.manifest.v2+json",
      digest: D("e"),
      size: 500,
      platform: { os: "linux", architecture: "arm", variant: "v7" },
    },
    {
      mediaType: "application/vnd.oci.image.manifest.v1+json",
      digest: D("f"),
      size: 500,
      platform: { os: "unknown", architecture: "unknown" },
      annotations: { "vnd.docker.reference.type": "attestation-manifest" },
    },
  ],
};
const CONFIG = {
  architecture: "amd64",
  os: "linux",
  created: "2024-01-01T00:00:00Z",
  config: { Env: ["PATH=/bin"], Cmd: ["sh"], Labels: { a: "b" }, ExposedPorts: { "80/tcp": {} } },
  rootfs: { type: "layers", diff_ids: [D("1"), D("2")] },
  history: [{ created_by: "x" }, { created_by: "y", empty_layer: true }],
};

/** replace the value at a random path of a JSON document by another JSON value (or delete it) */
function mutateJson(doc: unknown): fc.Arbitrary<unknown> {
  const weird = fc.oneof(
    fc.jsonValue({ maxDepth: 2 }),
    fc.constantFrom(null, 0, -1, 1e308, "", "sha256:", D("0"), [], {}, [null], [{}], { digest: 1 }, "x".repeat(300)),
  );
  return fc.tuple(fc.array(fc.tuple(fc.array(fc.nat(), { maxLength: 4 }), weird, fc.boolean()), { minLength: 1, maxLength: 3 })).map(([edits]) => {
    const root = structuredClone(doc) as Record<string, unknown>;
    for (const [path, value, del] of edits) {
      let cur: unknown = root;
      for (let d = 0; d < path.length; d++) {
        if (cur === null || typeof cur !== "object") break;
        const keys = Object.keys(cur as object);
        if (keys.length === 0) break;
        const k = keys[path[d]! % keys.length]!;
        const last = d === path.length - 1 || typeof (cur as Record<string, unknown>)[k] !== "object";
        if (last) {
          if (del) delete (cur as Record<string, unknown>)[k];
          else (cur as Record<string, unknown>)[k] = structuredClone(value);
          break;
        }
        cur = (cur as Record<string, unknown>)[k];
      }
    }
    return root;
  });
}

const MEDIA = [
  undefined,
  null,
  "",
  "application/vnd.oci.image.index.v1+json",
  "application/vnd.docker.distribution.manifest.list.v2+json",
  "application/vnd.oci.image.manifest.v1+json",
  "application/vnd.docker.distribution.manifest.v2+json; charset=utf-8",
  "application/vnd.docker.distribution.manifest.v1+prettyjws",
  "text/plain",
];
const PLATFORMS = ["linux/amd64", "linux/arm/v7", "linux/arm64", "linux/arm64/v8", "windows/amd64", "linux", "//", "LINUX/X86_64", "a/b/c/d"];

function checkDescriptor(d: unknown, what: string): void {
  const x = d as Record<string, unknown> | null;
  if (x === null || typeof x !== "object" || Array.isArray(x)) throw new Finding(`${what} is ${JSON.stringify(d)?.slice(0, 80)}`);
  if (x.mediaType !== undefined && typeof x.mediaType !== "string") throw new Finding(`${what}.mediaType is ${JSON.stringify(x.mediaType)}`);
  if (!isDigest(x.digest)) throw new Finding(`${what}.digest is ${JSON.stringify(x.digest)?.slice(0, 80)}`);
  if (!Number.isSafeInteger(x.size) || (x.size as number) < 0) throw new Finding(`${what}.size is ${JSON.stringify(x.size)}`);
}

const manifest: Target<{ bytes: Uint8Array; contentType: string | null | undefined; platform: string }> = {
  name: "manifest",
  parser: "src/image/registry/manifest.ts parseManifest/selectPlatform/layerCompression/parseImageConfig",
  limitMs: 1000,
  arb: fc.record({
    bytes: fc.oneof(
      { weight: 10, arbitrary: fc.uint8Array({ maxLength: 300 }) },
      { weight: 10, arbitrary: fc.jsonValue({ maxDepth: 3 }).map((v) => enc.encode(JSON.stringify(v) ?? "null")) },
      { weight: 60, arbitrary: fc.oneof(mutateJson(MANIFEST), mutateJson(INDEX), mutateJson(CONFIG)).map((v) => enc.encode(JSON.stringify(v))) },
      {
        weight: 10,
        arbitrary: mutate(fc.constantFrom(JSON.stringify(MANIFEST), JSON.stringify(INDEX), JSON.stringify(CONFIG)), [
          "{",
          "}",
          "[",
          "]",
          ",",
          ":",
          '"',
          "null",
          "1",
          "-",
          "e",
          "\\u0000",
        ]).map((s) => enc.encode(s)),
      },
      { weight: 1, arbitrary: nested("[", "1", "]").map((s) => enc.encode(`{"schemaVersion":2,"manifests":${s}}`)) },
    ),
    contentType: fc.constantFrom(...MEDIA),
    platform: fc.constantFrom(...PLATFORMS),
  }),
  run: ({ bytes, contentType, platform }) => {
    // the config path of pull: any blob may come back as "the config"
    try {
      const c = parseImageConfig(bytes, 2, "config");
      if (c.diffIds.length !== 2 || !c.diffIds.every(isDigest)) throw new Finding(`config diff IDs ${JSON.stringify(c.diffIds).slice(0, 80)}`);
    } catch (e) {
      if (!(e instanceof EngineError)) throw e;
    }
    let want: ReturnType<typeof parsePlatform> | undefined;
    try {
      want = parsePlatform(platform);
    } catch (e) {
      if (!(e instanceof EngineError)) throw e;
    }
    const p = parseManifest(bytes, contentType);
    // what pull does with it next
    if (p.kind === "manifest") {
      checkDescriptor(p.manifest.config, "config");
      for (const [i, l] of p.manifest.layers.entries()) checkDescriptor(l, `layers[${i}]`);
      for (const l of p.manifest.layers) layerCompression(l.mediaType);
    } else {
      p.index.manifests.forEach((m, i) => {
        if (m === null || typeof m !== "object" || Array.isArray(m)) throw new Finding(`manifests[${i}] is ${JSON.stringify(m)?.slice(0, 80)}`);
      });
      const chosen = selectPlatform(p.index, want);
      checkDescriptor(chosen, "chosen manifest");
    }
  },
};

// ---------------------------------------------------------------------------------- Go templates

const TPL_DATA: unknown[] = [
  {
    Id: "abc123",
    Name: "/web",
    Config: { Env: ["A=1", "B=2"], Labels: { a: "1", "com.x": "y" }, Cmd: null, ExposedPorts: { "80/tcp": {} } },
    State: { Running: true, Pid: 42, ExitCode: 0, Health: null },
    Mounts: [],
    NetworkSettings: { Networks: { bridge: { IPAddress: "172.17.0.2" } } },
    Size: 1.5,
    Count: 3,
    Nil: null,
  },
  ["a", "b", "c"],
  null,
  "text",
  42,
  strictFields({ ID: "abc", Names: "web", Labels: "a=1,b=2", Label: (k: string) => (k === "a" ? "1" : ""), Size: "0B" }, "ContainerContext"),
];
const TPL_TOKENS = [
  ".",
  ".Name",
  ".Id",
  ".Config",
  ".Config.Env",
  ".Config.Labels",
  ".Config.Cmd",
  ".State.Pid",
  ".State.Health.Status",
  ".Nil.X",
  ".Mounts",
  ".Size",
  ".Count",
  ".Label",
  ".ID",
  ".Names",
  ".Nmae",
  "$",
  "$.Name",
  "$x",
  "$x :=",
  "$k, $v :=",
  "$x =",
  "range",
  "if",
  "else",
  "else if",
  "end",
  "with",
  "(",
  ")",
  "|",
  ",",
  "json",
  "join",
  "split",
  "printf",
  '"%s"',
  '"%5.2f"',
  '"%*d"',
  '"%-10v|%q|%x|%T|%d|%%"',
  '"%.1000f"',
  '"%99999999d"',
  '"%.99999999s"',
  "len",
  "index",
  "slice",
  "eq",
  "ne",
  "lt",
  "le",
  "gt",
  "ge",
  "and",
  "or",
  "not",
  "pad",
  "truncate",
  "title",
  "lower",
  "upper",
  "html",
  "urlquery",
  "print",
  "println",
  "1",
  "-1",
  "0",
  "2.5",
  "1e9",
  "1e400",
  "99999999999",
  "0x10",
  "true",
  "false",
  "nil",
  '"a,b"',
  '"="',
  '"\\q"',
  '"\\ud800"',
  '"\\x41"',
  "`raw`",
  "'c'",
  "'\\n'",
  "'",
  '"',
  "`",
  "/* c */",
  "/*",
  "define",
  "template",
  "block",
  "break",
  "=",
  ".constructor",
  ".constructor.constructor",
  ".toString",
  ".__proto__",
  ".__defineGetter__",
  '"constructor"',
  '"Name"',
  '.Label "a"',
  '"%!"',
  '"%c%U%e%g%b%o"',
];
const tplAction = fc
  .tuple(fc.constantFrom("{{", "{{- "), fc.array(fc.constantFrom(...TPL_TOKENS), { maxLength: 7 }), fc.constantFrom("}}", " -}}", "}"))
  .map(([o, t, c]) => o + t.join(" ") + c);
const tplArb = fc
  .array(fc.oneof({ weight: 4, arbitrary: tplAction }, { weight: 1, arbitrary: fc.constantFrom("text", " ", "\n", "\\t", "\\n", "{", "}", "{{", "}}", "-") }), {
    maxLength: 10,
  })
  .map((a) => a.join(""));

const template: Target<{ tmpl: string; raw: boolean }> = {
  name: "template",
  parser: "src/commands/_format/template.ts compileTemplate + execution",
  limitMs: 1000,
  arb: fc.record({
    tmpl: fc.oneof(
      { weight: 10, arbitrary: anyString },
      { weight: 60, arbitrary: tplArb },
      {
        weight: 1,
        arbitrary: fc.oneof(
          nested("{{if 1}}", "x", "{{end}}"),
          nested("{{range .Config.Env}}", ".", "{{end}}", 2000),
          nested("{{(", "1", ")}}"),
          nested("{{print (", "1", ")}}"),
          nested("{{with .}}", "{{.Name}}", "{{end}}"),
          nested("{{$x := 1}}", "{{$x}}", ""),
        ),
      },
    ),
    raw: fc.boolean(),
  }),
  run: ({ tmpl, raw }) => {
    const f = compileTemplate(tmpl, { raw });
    for (const d of TPL_DATA) {
      let out: string;
      try {
        out = f(d);
      } catch (e) {
        if (e instanceof EngineError) continue;
        throw e;
      }
      // Go's fmt refuses widths and precisions above 1e6 (%!(BADWIDTH)); nothing here needs more
      if (out.length > 4 << 20) throw new Finding(`output of ${out.length} chars from a ${tmpl.length}-char template`);
    }
  },
};

/** FUZZ_SELFTEST=1 adds a target that hangs on one input in 1000 and crashes on another: the runner's own check */
const selftest: Target<number> = {
  name: "selftest",
  parser: "the runner's watchdog (hangs on 777, TypeError on 13)",
  limitMs: 1000,
  arb: fc.nat({ max: 1000 }),
  run: (n) => {
    if (n === 13) (null as unknown as { x: number }).x;
    while (n === 777);
  },
};

export const TARGETS: Target<never>[] = [
  tar,
  layer,
  dockerfile,
  shellLex,
  dockerignore,
  copyGlob,
  reference,
  manifest,
  template,
  ...(process.env.FUZZ_SELFTEST ? [selftest] : []),
] as unknown as Target<never>[];
