/**
 * src/tar — streaming tar: the entry model (types.ts), the 512-byte header and pax codec (header.ts,
 * pure), the reader (bytes → TarRecord), the writer (TarRecord → bytes), compression detection and
 * (de)compression streams (openLayerChunks: gzip inflated by zlib into a reused ring, for the layer
 * unpacks of pull, import and load), and a directory tree as records (fs-source.ts).
 *
 * May import: lib (errors), ffi (xattrs for fs-source only), node:fs. Used by image (pull/load/save),
 * cow (applyLayer/diff), engine and commands (export, cp, commit, import).
 *
 * Invariants:
 *  - Nothing holds a whole archive or a whole file: the reader keeps one source chunk plus one entry's
 *    metadata (≤ maxMetaSize); bodies are subarrays of source chunks; the writer gathers ≤ 64 KiB.
 *  - A record's body yields exactly entry.size bytes; the reader skips what the consumer leaves, and the
 *    writer refuses a body whose length differs from entry.size.
 *  - Corrupt or truncated input is EngineError("invalid_argument") with a message starting "tar: " and
 *    naming the entry; the reader never hangs on hostile input and never buffers more than maxMetaSize.
 *  - The reader decodes, it does not sanitise: names keep `..` and leading `/` (only a leading "./" is
 *    stripped); appliers in src/cow must refuse escapes. Symlink targets are passed through verbatim.
 */
export type { EntryType, TarEntry, TarRecord } from "./types.ts";
export { readTar, normalizeName, type ReadTarOptions, type TarSource, type TarFile } from "./reader.ts";
export { TarSplitRecorder, rebuildTar, checkSplit, readSplitTrailer, type SplitSink, type SplitTrailer } from "./split.ts";
export { TarWriter, tarStream, planHeader, type TarSink } from "./writer.ts";
export {
  detectCompression,
  decompressStream,
  compressStream,
  openMaybeCompressed,
  openLayerChunks,
  inflateGzip,
  readFileRing,
  FileRing,
  toReadableStream,
  type Compression,
  type RingOptions,
} from "./compress.ts";
export { readDirectoryRecords, splitDev, type DirectorySourceOptions } from "./fs-source.ts";
export { BLOCK, parseHeader, formatHeader, parsePax, formatPax, verifyChecksum, type RawHeader, type HeaderFields } from "./header.ts";
