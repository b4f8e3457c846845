/**
 * The entry model shared by the streaming tar reader and writer (src/tar), the layer appliers in
 * src/cow and the exporters (export, cp, save). Names are archive paths: relative, '/'-separated, no
 * leading "./" after normalisation by the reader (the reader does NOT sanitise `..` or absolute names;
 * appliers must refuse them — see src/cow).
 */
export type EntryType = "file" | "dir" | "symlink" | "hardlink" | "char" | "block" | "fifo";

export interface TarEntry {
  name: string;
  type: EntryType;
  /** permission bits and setuid/setgid/sticky (07777) */
  mode: number;
  uid: number;
  gid: number;
  uname?: string;
  gname?: string;
  /** size of the body in bytes (0 for everything but regular files); may exceed 2^33 via pax */
  size: number;
  /** seconds since the epoch, fractional part from pax mtime */
  mtime: number;
  /** nanoseconds within the second (0..999999999) when known exactly; then Math.floor(mtime) is the
   * whole seconds and this is authoritative for the fraction (a double cannot hold ns at 2^31 s) */
  mtimeNsec?: number;
  atime?: number;
  /** like mtimeNsec, for atime */
  atimeNsec?: number;
  /** target of a symlink, or the archive path a hardlink points at */
  linkname?: string;
  devmajor?: number;
  devminor?: number;
  /** extended attributes (pax SCHILY.xattr.* / LIBARCHIVE.xattr.*), e.g. security.capability */
  xattrs?: Record<string, Uint8Array>;
}

/** one entry as it streams out of the reader; `body` yields exactly `entry.size` bytes and must be
 * consumed (or simply skipped: the reader drains an unconsumed body before the next entry) */
export interface TarRecord {
  entry: TarEntry;
  body: AsyncIterable<Uint8Array>;
  /**
   * The whole body at once, without a turn of the event loop, when the reader already holds all of it
   * (a subarray of the source's chunk, as `body`'s pieces are); undefined otherwise, and then `body`
   * is read as usual. Either this or `body`, once: a body taken here is consumed.
   */
  bodyNow?: () => Uint8Array | undefined;
  /**
   * A reader over a file (tar/reader.ts TarFile): where the whole body lies in that file, for a
   * consumer that copies it in the kernel (copy_file_range); the reader passes over it unread.
   * undefined otherwise (then `bodyNow` or `body`). Like `bodyNow`, it consumes the body.
   */
  bodyAt?: () => { fd: number; offset: number } | undefined;
}
