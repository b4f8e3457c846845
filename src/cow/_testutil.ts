/** test helpers for src/cow and test/integration/cow-*: TarRecord streams built in memory */
import type { TarEntry, TarRecord } from "../tar/types.ts";

export type EntrySpec = Partial<TarEntry> & { name: string; body?: string | Uint8Array };

export function record(spec: EntrySpec): TarRecord {
  const { body, ...rest } = spec;
  const data = typeof body === "string" ? new TextEncoder().encode(body) : (body ?? new Uint8Array(0));
  const type = rest.type ?? "file";
  const entry: TarEntry = {
    type,
    mode: type === "dir" ? 0o755 : 0o644,
    uid: process.getuid?.() ?? 0,
    gid: process.getgid?.() ?? 0,
    mtime: 1_700_000_000,
    ...rest,
    size: type === "file" ? data.length : 0,
  };
  return {
    entry,
    body: (async function* () {
      if (data.length) yield data;
    })(),
  };
}

export async function* records(specs: EntrySpec[]): AsyncIterable<TarRecord> {
  for (const s of specs) yield record(s);
}

/** buffer every record's body so the stream can be replayed after the source changed */
export async function collect(src: AsyncIterable<TarRecord>): Promise<{ entry: TarEntry; data: Uint8Array }[]> {
  const out: { entry: TarEntry; data: Uint8Array }[] = [];
  for await (const r of src) {
    const parts: Uint8Array[] = [];
    for await (const c of r.body) parts.push(c);
    out.push({ entry: r.entry, data: Buffer.concat(parts) });
  }
  return out;
}

export async function* replay(items: { entry: TarEntry; data: Uint8Array }[]): AsyncIterable<TarRecord> {
  for (const i of items)
    yield {
      entry: i.entry,
      body: (async function* () {
        if (i.data.length) yield i.data;
      })(),
    };
}
