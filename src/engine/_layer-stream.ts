/**
 * How a layer streams through the engine (pull, import, load, commit, stored-layer unpacks): the tap
 * that hashes or counts chunks on their way, the inflate ring, and the memory and JIT tuning measured
 * for it.
 */
import { closeSync, openSync, readSync } from "node:fs";
import { APPLY_WRITE_BUF } from "../cow/apply.ts";
import { openLayerChunks, type RingOptions } from "../tar/index.ts";
import { LayerInflate, layerInflateAvailable } from "../ffi/layer-inflate.ts";
import { EngineError } from "../lib/errors.ts";

/** pass chunks through, calling fn on each (a hash, an ingest write, progress) */
export async function* tapChunks(src: AsyncIterable<Uint8Array>, fn: (c: Uint8Array) => void): AsyncGenerator<Uint8Array> {
  for await (const c of src) {
    fn(c);
    yield c;
  }
}

/**
 * Where a gzip layer is inflated on its way into applyLayer: a ring of reused memory (tar/compress.ts
 * inflateGzip), so no output chunk is allocated per layer byte. A piece stays intact for `ring - 2 ×
 * chunk` bytes after it was handed out; the readers of those pieces are the diffID hash (done with a
 * piece at once), the tar reader (the current piece only) and applyLayer, which gathers at most
 * APPLY_WRITE_BUF of one file's body before writing it. 2 × that leaves a margin of 3/4 MiB.
 */
export const LAYER_RING: RingOptions = { ring: 2 * APPLY_WRITE_BUF, chunk: 128 << 10 };

/**
 * When to force a garbage collection while a layer streams through (call with each chunk's length).
 * Every chunk an HTTP body or a file stream hands out is a fresh ArrayBuffer, and JSC lets tens of MB
 * of dead ones pile up between its own collections. A full GC costs a few ms here (more as the heap
 * grows), so it is not run by the byte count but only when RSS, looked at every `checkEvery` bytes, is
 * above `softLimit` and has grown by `growth` since the last collection (freed memory is not always
 * handed back to the kernel, so RSS alone may stay above the limit without growing). Pull, import,
 * load and stored-layer unpacks share it.
 */
export interface RssBound {
  checkEvery: number;
  softLimit: number;
  growth: number;
}
/** measured with the compiled binary on 2 busy cores (idle ~21 MB, ~35 MB once a pull's code is in),
 * 1.3 GB gzip layer: a GC per 8 MiB of bytes 61 MB at 24 s user CPU, this bound 65 MB at 19 s (52–60
 * MB with LAYER_JIT_SCALE); a soft limit of 40 MiB changed little */
export const LAYER_RSS_BOUND: RssBound = { checkEvery: 1 << 20, softLimit: 48 << 20, growth: 4 << 20 };

export function rssBound(o: RssBound = LAYER_RSS_BOUND): (n: number) => void {
  let seen = 0;
  let floor = 0;
  return (n) => {
    seen += n;
    if (seen < o.checkEvery) return;
    seen = 0;
    const rss = process.memoryUsage.rss();
    if (rss < o.softLimit || rss < floor + o.growth) return;
    // Bun.gc, not bun:jsc's fullGC: the chunks' memory is mimalloc's, and only Bun.gc also has
    // mimalloc hand freed pages back (fullGC alone: 74–78 MB on the 1.3 GB layer against 61 MB)
    Bun.gc(true);
    floor = process.memoryUsage.rss();
  };
}

/**
 * A full GC per this many bytes of fresh chunks (an HTTP body's: a new 32–64 KiB buffer each, freed
 * only by a collection), once RSS is above FRESH_GC_FLOOR. rssBound's rule lets them pile up: after
 * each collection mimalloc keeps part of what was freed, so its floor creeps up and the next one
 * comes later. Measured on the 550 MB 4-layer pull (3 bodies at ~230 MB/s from a local registry, 2
 * quiet cores): peak RSS during the downloads 58–65 MB under rssBound, ≤ 54 MB with a GC per 2 MiB,
 * for ~0.1 s more user CPU (1 MiB: ~0.3 s, no lower; 4 MiB: up to 63 MB).
 */
export const FRESH_GC_EVERY = 2 << 20;
/** below this RSS a small pull never pays for a collection */
export const FRESH_GC_FLOOR = 40 << 20;

/** call with each fresh chunk's length: a full GC per `every` bytes while RSS is above `floor` */
export function freshChunkBound(every = FRESH_GC_EVERY, floor = FRESH_GC_FLOOR): (n: number) => void {
  let seen = 0;
  return (n) => {
    seen += n;
    if (seen < every) return;
    seen = 0;
    if (process.memoryUsage.rss() > floor) Bun.gc(true);
  };
}

/**
 * Between two layers: collect what the last one left (its inflate and read rings, 2–4 MiB, are
 * garbage once it is done) before the next allocates its own. Without it the two sets were alive
 * together and set a pull's peak (58–61 MB against ≤ 54 MB in its download phase).
 */
export function settleLayerMemory(floor = FRESH_GC_FLOOR): void {
  if (process.memoryUsage.rss() > floor) Bun.gc(true);
}

/**
 * JSC's tier-up thresholds are scaled by this while a pull streams its layers (Bun.unsafe.setJITPolicy).
 * The per-byte work is native (sha256, inflate, write(2)); what the optimizing tiers would compile is
 * per-chunk and per-entry glue, and compiling it cost ~7 MB of peak RSS (3-layer 155 MB gzip pull:
 * 69 → 54–62 MB; 4 MB pull: 52 → 47 MB) with no CPU difference we could measure.
 */
export const LAYER_JIT_SCALE = 1000;

/** run `fn` under LAYER_JIT_SCALE (or `scale`), then back to the normal policy (the binary bakes in none) */
export async function withLayerJitPolicy<T>(fn: () => Promise<T>, scale = LAYER_JIT_SCALE): Promise<T> {
  Bun.unsafe.setJITPolicy(scale);
  try {
    return await fn();
  } finally {
    Bun.unsafe.setJITPolicy(1);
  }
}

/**
 * A pulled layer's inflated bytes and, once they are all read, its diffID. gzip with `inflater:
 * "thread"` goes through ffi/layer-inflate.ts (inflate and hash on a native thread) where that is
 * available; everything else through openLayerChunks' ring with the hash on this thread.
 */
export interface LayerLane {
  chunks: AsyncIterable<Uint8Array>;
  /** `sha256:…` of the inflated bytes; valid once `chunks` is exhausted */
  diffId(): string;
  /** the inflate and the hash ran on the native thread */
  offThread: boolean;
  /** its place in the options' LaneScheduler (pacedRecords) */
  turn?: LaneTurn;
}

/** `records` with the lane's checkpoint before each one (LaneScheduler) */
export async function* pacedRecords<T>(records: AsyncIterable<T>, turn: LaneTurn | undefined): AsyncGenerator<T> {
  if (!turn) return yield* records;
  for await (const r of records) {
    const wait = turn.checkpoint();
    if (wait) await wait;
    yield r;
  }
}

/** a layer's ring and its gzip inflate: tar/compress.ts's two, or "thread" (ffi/layer-inflate.ts) */
export type LaneOptions = Omit<RingOptions, "inflater"> & {
  inflater?: "libz" | "native" | "thread";
  /** "thread" lanes that run at once: which one the JS thread serves first (LaneScheduler) */
  scheduler?: LaneScheduler;
  /** the lane's rank in `scheduler`: higher goes first */
  priority?: number;
  /** "thread": the compressed input ring's size (default INFLATE_IN_RING) */
  inRing?: number;
  /** "thread": output room beyond `ring - chunk` (default INFLATE_OUT_ROOM) */
  outRoom?: number;
  /**
   * "thread": the source's chunks are fresh buffers nobody else holds (an HTTP body's), so each is
   * freed (freeChunk) once copied into the inflate's input ring
   */
  freeChunks?: boolean;
};

/**
 * Free a fresh chunk's memory now instead of at the next garbage collection: `transfer(0)` detaches
 * its ArrayBuffer and JSC releases the old contents at once. Only for a chunk that is the whole of its
 * own ArrayBuffer (never a view of a pool, a ring or a larger buffer) and that no one reads after
 * this. Measured on the 165 MB of the big pull's three bodies read with no collection: peak RSS 57–64
 * MB as they were, 37–39 MB freed this way; it replaces a full GC (~3 ms) per 2 MiB of them.
 */
export function freeChunk(c: Uint8Array): void {
  if (c.byteOffset === 0 && c.byteLength === c.buffer.byteLength && c.buffer instanceof ArrayBuffer) {
    (c.buffer as ArrayBuffer & { transfer(n: number): ArrayBuffer }).transfer(0);
  }
}

/** how long a preempted lane waits at most for the lane it gave way to (a fallback: that lane hands
 * back as soon as it has nothing to read) */
const PARK_MAX_MS = 4;
/** the longest the lanes keep the JS thread from its event loop (HTTP bodies, feeders, timers) */
const BREATHE_MS = 2;

/** one lane's place in a LaneScheduler */
export class LaneTurn {
  /** set while the lane waits for its thread's output: wakes it early */
  wake: (() => void) | undefined;
  /** set while the lane has given way to another */
  private parked: (() => void) | undefined;
  /** waiting for one turn of the event loop (checkpoint): lanes of lower priority give way meanwhile */
  breathing = false;

  constructor(
    private readonly sched: LaneScheduler,
    readonly priority: number,
    /** output is ready to be read */
    readonly ready: () => boolean,
  ) {}

  /**
   * Before the next piece or tar entry: undefined to go on, or a promise to await first, when a
   * waiting lane of higher priority has output ready (this one gives way until that one has nothing
   * to read) or the lanes have kept the event loop waiting for BREATHE_MS.
   */
  checkpoint(): Promise<void> | undefined {
    for (const l of this.sched.lanes) if (l !== this && l.priority > this.priority && (l.breathing || (l.wake && l.ready()))) return this.giveWay();
    const now = performance.now();
    if (now - this.sched.breathed < BREATHE_MS) return undefined;
    this.sched.breathed = now;
    this.breathing = true;
    return new Promise<void>((r) =>
      setImmediate(() => {
        this.breathing = false;
        r();
      }),
    );
  }

  private async giveWay(): Promise<void> {
    for (const l of this.sched.lanes) {
      if (l !== this && l.priority > this.priority && l.wake && l.ready()) {
        const w = l.wake;
        l.wake = undefined;
        w();
      }
    }
    await Promise.race([new Promise<void>((r) => (this.parked = r)), Bun.sleep(PARK_MAX_MS)]);
    this.parked = undefined;
  }

  /** this lane has nothing to read (or is done) and goes back to the event loop: the lanes that gave
   * way to it go on */
  idle(): void {
    this.sched.breathed = performance.now();
    for (const l of this.sched.lanes) {
      const p = l.parked;
      if (p) {
        l.parked = undefined;
        p();
      }
    }
  }

  leave(): void {
    this.idle();
    this.sched.lanes.delete(this);
  }
}

/**
 * Several layers inflating at once on native threads share the one JS thread that parses their tar
 * and writes their files. Left to the event loop, a lane whose output is always ready (a layer of
 * many small files: more JS work per byte than its thread's inflate) kept the JS thread to itself
 * while the largest layer's thread, the pull's critical path, sat with a full ring (perf: its thread
 * at 10–25 % of a core for the first second), and the HTTP bodies waited for the event loop. A lane
 * checks at each piece and each tar entry whether one of higher priority waits with output ready; if
 * so it wakes that one and waits until it has nothing to read; and every BREATHE_MS it lets the event
 * loop run.
 */
export class LaneScheduler {
  /** @internal */
  readonly lanes = new Set<LaneTurn>();
  /** @internal when the lanes last let the event loop run */
  breathed = performance.now();

  join(priority: number, ready: () => boolean): LaneTurn {
    const t = new LaneTurn(this, priority, ready);
    this.lanes.add(t);
    return t;
  }
}

/** the input ring of the native inflate: ~3 ms of compressed input at its speed */
export const INFLATE_IN_RING = 256 << 10;
/** room the native inflate has beyond what the reader still holds: ~1.7 ms of output at its speed */
export const INFLATE_OUT_ROOM = 512 << 10;

/**
 * Pull's lanes: applyLayer gathers at most LANE_WRITE_BUF per writev(2) (ApplyOptions.writeBuf), so a
 * piece needs to stay intact for less (`ring - 2 × chunk` = 512 KiB), and the native inflate gets
 * LANE_OUT_ROOM beyond that in about the memory LAYER_RING's 1 MiB gather took with 512 KiB of room:
 * at 1.7 ms of room, the largest layer's thread waited 0.75 s of a 2.7 s pull for the JS thread.
 */
export const LANE_WRITE_BUF = 256 << 10;
export const LANE_RING: RingOptions = { ring: 2 * LANE_WRITE_BUF + (256 << 10), chunk: 128 << 10 };
export const LANE_OUT_ROOM = 1536 << 10;
/**
 * The input ring of the pull's first lane (the largest layer's): HTTP chunks come in up to 256 KiB at
 * a time, and with INFLATE_IN_RING its thread waited for input 0.3–0.8 s of a ~2.2 s pull (0.06–0.1
 * s with 1 MiB). Every lane's 1 MiB cost 3 MB of peak RSS, so the others keep INFLATE_IN_RING.
 */
export const LANE_IN_RING_FIRST = 1 << 20;

/** the native inflate thread is there (loads it on first call) */
export function threadInflateAvailable(): boolean {
  return layerInflateAvailable();
}

/**
 * Open `body` (compressed layer bytes) for reading as tar. `tap` sees every inflated piece (the RSS
 * bound). Pieces are views of a reused ring under LAYER_RING's contract: one stays intact until
 * `ring - 2 × chunk` more bytes were handed out.
 */
export async function openLayerLane(body: AsyncIterable<Uint8Array>, tap: (c: Uint8Array) => void, o: LaneOptions = LAYER_RING): Promise<LayerLane> {
  const h = new Bun.CryptoHasher("sha256");
  const here = async (src: AsyncIterable<Uint8Array>): Promise<LayerLane> => {
    const { chunks } = await openLayerChunks(src, { ...o, inflater: o.inflater === "native" ? "native" : undefined });
    return {
      chunks: tapChunks(chunks, (c) => {
        h.update(c);
        tap(c);
      }),
      diffId: () => `sha256:${h.digest("hex")}`,
      offThread: false,
    };
  };
  if (o.inflater !== "thread") return here(body);
  // "thread": look at the first chunk, then replay it
  const it = body[Symbol.asyncIterator]();
  const first = await it.next();
  const head = first.done ? new Uint8Array(0) : first.value;
  async function* replay(): AsyncGenerator<Uint8Array> {
    if (first.done) return;
    yield head;
    for (;;) {
      const r = await it.next();
      if (r.done) return;
      yield r.value;
    }
  }
  const ring = o.ring ?? 2 << 20;
  const chunk = o.chunk ?? 128 << 10;
  // gzip magic; anything else (zstd, plain tar, what openLayerChunks refuses) takes the JS path
  const li =
    head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b
      ? LayerInflate.open(o.inRing ?? INFLATE_IN_RING, ring - chunk + (o.outRoom ?? INFLATE_OUT_ROOM))
      : undefined;
  if (!li) return here(replay());
  let diffId: string | undefined;
  let read = 0;
  const turn = o.scheduler?.join(o.priority ?? 0, () => li.outHead() > read);
  return {
    chunks: inflateOffThread(
      li,
      replay(),
      { keep: ring - 2 * chunk, chunk, turn, freeChunks: o.freeChunks === true },
      tap,
      (n) => (read = n),
      (d) => {
        diffId = d;
      },
    ),
    turn,
    diffId: () => {
      if (!diffId) throw new EngineError("internal", "layer inflate: diffID read before the end of the layer");
      return diffId;
    },
    offThread: true,
  };
}

/**
 * The read ring for a stored layer blob at `path`: a gzip blob's chunks are consumed whole by the
 * inflate (either one) before the next is read, so two chunks of memory do; anything else is handed
 * to the tar reader as it is and needs LAYER_RING's lifetime.
 */
export function storedLayerRing(path: string): RingOptions {
  const head = new Uint8Array(2);
  let n = 0;
  try {
    const fd = openSync(path, "r");
    try {
      n = readSync(fd, head, 0, 2, 0);
    } finally {
      closeSync(fd);
    }
  } catch {} // unreadable: the read itself reports it, with the store's message
  return n === 2 && head[0] === 0x1f && head[1] === 0x8b ? { ring: 256 << 10, chunk: 128 << 10 } : LAYER_RING;
}

/**
 * The chunks of a file this process is still appending to (a layer's ingest while its download goes
 * on), read at the writer's heels through a ring like storedLayerRing's (a piece lives until the
 * next read). When the reader has caught up it waits for `more()`: true once more bytes may be there,
 * false when the writer is done (the rest is then read to the end); a rejection is the writer's
 * failure. Takes `fd` over, opened by the caller while the file was still where it could open it.
 */
export async function* followFile(fd: number, more: () => Promise<boolean>, o = { ring: 256 << 10, chunk: 128 << 10 }): AsyncGenerator<Uint8Array> {
  try {
    const ring = new Uint8Array(o.ring);
    let pos = 0;
    let at = 0;
    let writing = true;
    for (;;) {
      if (pos + o.chunk > ring.length) pos = 0;
      const n = readSync(fd, ring, pos, o.chunk, at);
      if (n > 0) {
        at += n;
        yield ring.subarray(pos, pos + n);
        pos += n;
        continue;
      }
      if (!writing) return;
      writing = await more();
    }
  } finally {
    closeSync(fd);
  }
}

/** how long the JS side sleeps when the native thread has nothing for it (or no room) */
const POLL_MS = 1;

async function* inflateOffThread(
  li: LayerInflate,
  src: AsyncIterable<Uint8Array>,
  o: { keep: number; chunk: number; turn?: LaneTurn; freeChunks: boolean },
  tap: (c: Uint8Array) => void,
  progress: (read: number) => void,
  done: (diffId: string) => void,
): AsyncGenerator<Uint8Array> {
  let stop = false;
  let feedErr: unknown;
  let fed = false;
  // feed the compressed bytes in as they arrive, while the caller reads the output
  const feeder = (async () => {
    try {
      for await (const c of src) {
        let off = 0;
        while (off < c.length) {
          if (stop) return;
          const n = li.push(c, off);
          off += n;
          if (n === 0) {
            li.status(); // a failed thread takes no more: throws its error
            await Bun.sleep(POLL_MS);
          }
        }
        if (o.freeChunks) freeChunk(c);
        if (stop) return;
      }
      li.close();
      fed = true;
    } catch (e) {
      feedErr = e;
    }
  })();
  try {
    yield* drainThread(li, o, tap, progress, done, {
      error: () => feedErr,
      pending: () => (!fed && feedErr === undefined ? feeder : undefined),
      stop: () => {
        stop = true;
      },
    });
  } finally {
    stop = true;
    await feeder;
  }
}

/**
 * Read a native inflate's output as pieces of its ring (LAYER_RING's lifetime rule), under the lane's
 * turn; `input` is how its compressed bytes get in: a failure there to throw, a promise that settles
 * when more may come (the feeder's end), and what stops it, called before the thread is ended.
 */
async function* drainThread(
  li: LayerInflate,
  o: { keep: number; chunk: number; turn?: LaneTurn },
  tap: (c: Uint8Array) => void,
  progress: (read: number) => void,
  done: (diffId: string) => void,
  input: { error(): unknown; pending(): Promise<unknown> | undefined; stop(): void },
): AsyncGenerator<Uint8Array> {
  let read = 0;
  const turn = o.turn;
  const out = li.output;
  const cap = out.length;
  try {
    for (;;) {
      const head = li.outHead();
      if (head > read) {
        const wait = turn?.checkpoint();
        if (wait) {
          await wait;
          continue;
        }
        const at = read % cap;
        const n = Math.min(head - read, cap - at, o.chunk);
        const piece = out.subarray(at, at + n);
        read += n;
        progress(read);
        // a piece handed out at `read` must stay intact until `read + keep`: give back only what
        // lies a whole chunk behind that
        if (read > o.keep + o.chunk) li.release(read - o.keep - o.chunk);
        tap(piece);
        yield piece;
        continue;
      }
      const err = input.error();
      if (err !== undefined) throw err;
      const st = li.status();
      if (st.state === "done") {
        if (li.outHead() > read) continue;
        done(st.diffId);
        return;
      }
      const pending = input.pending();
      const waits: Promise<unknown>[] = [Bun.sleep(POLL_MS)];
      if (pending) waits.push(pending);
      if (turn) {
        turn.idle();
        waits.push(new Promise<void>((r) => (turn.wake = r)));
      }
      await Promise.race(waits);
      if (turn) turn.wake = undefined;
    }
  } finally {
    turn?.leave();
    input.stop();
    li.end();
  }
}

/**
 * A gzip layer whose compressed bytes are a file this process is still appending to (a pull's
 * ingest): the native thread reads the file itself (LayerInflate.openFile), so no JS copies the
 * input or hands it over. `size` is the file's final size and `downloaded` the writer: resolved, the
 * file is complete; rejected, its failure, which the lane throws. The caller calls the returned
 * lane's `grew` when the file grew. Undefined where the native inflate is not there or the file does
 * not start as gzip (the caller then reads it itself, followFile); the caller keeps `fd` open until
 * the lane's chunks are done.
 */
export async function openFileLane(
  fd: number,
  size: number,
  downloaded: Promise<void>,
  more: () => Promise<boolean>,
  tap: (c: Uint8Array) => void,
  o: LaneOptions,
): Promise<(LayerLane & { grew(): void }) | undefined> {
  if (o.inflater !== "thread" || !layerInflateAvailable()) return undefined;
  const head = new Uint8Array(2);
  for (;;) {
    if (readSync(fd, head, 0, 2, 0) === 2) break;
    if (!(await more()) && readSync(fd, head, 0, 2, 0) < 2) return undefined;
  }
  if (head[0] !== 0x1f || head[1] !== 0x8b) return undefined;
  const ring = o.ring ?? 2 << 20;
  const chunk = o.chunk ?? 128 << 10;
  const li = LayerInflate.openFile(fd, o.inRing ?? INFLATE_IN_RING, ring - chunk + (o.outRoom ?? INFLATE_OUT_ROOM));
  if (!li) return undefined;
  let ended = false;
  let failure: unknown;
  downloaded.then(
    () => {
      if (!ended) li.closeAt(size);
    },
    (e: unknown) => {
      failure = e ?? new EngineError("unavailable", "layer download failed");
    },
  );
  let diffId: string | undefined;
  let read = 0;
  const turn = o.scheduler?.join(o.priority ?? 0, () => li.outHead() > read);
  return {
    chunks: drainThread(
      li,
      { keep: ring - 2 * chunk, chunk, turn },
      tap,
      (n) => (read = n),
      (d) => {
        diffId = d;
      },
      {
        error: () => failure,
        pending: () => undefined,
        stop: () => {
          ended = true;
        },
      },
    ),
    diffId: () => {
      if (!diffId) throw new EngineError("internal", "layer inflate: diffID read before the end of the layer");
      return diffId;
    },
    offThread: true,
    turn,
    grew: () => {
      if (!ended) li.poke();
    },
  };
}
