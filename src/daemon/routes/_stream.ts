/**
 * A producer that writes through a callback (a TarSink, a log's onEntry) turned into the async iterable
 * a streamed response is: bounded (the producer waits while the client is slow) and stopped when the
 * client goes away (the callback then throws `cancelled`, which unwinds the producer).
 */
import { EngineError } from "../../lib/errors.ts";

const MAX_QUEUED = 64;

export function produce(run: (push: (b: Uint8Array | string) => Promise<void>) => Promise<void>, signal: AbortSignal): AsyncIterable<Uint8Array | string> {
  const queue: (Uint8Array | string)[] = [];
  let done = false;
  let failure: unknown;
  let closed = false;
  let wakeConsumer: (() => void) | undefined;
  let wakeProducer: (() => void) | undefined;
  const wake = () => {
    const c = wakeConsumer;
    wakeConsumer = undefined;
    c?.();
  };
  const cancel = () => {
    closed = true;
    const p = wakeProducer;
    wakeProducer = undefined;
    p?.();
    wake();
  };
  signal.addEventListener("abort", cancel, { once: true });
  const push = async (b: Uint8Array | string) => {
    if (closed) throw new EngineError("cancelled", "the client went away");
    // a copy: producers reuse their buffers
    queue.push(typeof b === "string" ? b : Uint8Array.from(b));
    wake();
    while (queue.length > MAX_QUEUED && !closed) await new Promise<void>((r) => (wakeProducer = r));
    if (closed) throw new EngineError("cancelled", "the client went away");
  };
  let started = false;
  return {
    async *[Symbol.asyncIterator]() {
      if (!started) {
        started = true;
        run(push).then(
          () => {
            done = true;
            wake();
          },
          (e) => {
            failure = e;
            done = true;
            wake();
          },
        );
      }
      try {
        for (;;) {
          const v = queue.shift();
          if (v !== undefined) {
            if (queue.length <= MAX_QUEUED) {
              const p = wakeProducer;
              wakeProducer = undefined;
              p?.();
            }
            yield v;
            continue;
          }
          if (done) {
            if (failure && !(failure instanceof EngineError && failure.kind === "cancelled")) throw failure;
            return;
          }
          if (closed) return;
          await new Promise<void>((r) => (wakeConsumer = r));
        }
      } finally {
        cancel();
      }
    },
  };
}

/** the first chunk is awaited before the response starts, so an error before any output is a proper status */
export async function primed(it: AsyncIterable<Uint8Array | string>): Promise<AsyncIterable<Uint8Array | string>> {
  const iter = it[Symbol.asyncIterator]();
  const first = await iter.next();
  return {
    async *[Symbol.asyncIterator]() {
      if (first.done) return;
      yield first.value;
      for (;;) {
        const n = await iter.next();
        if (n.done) return;
        yield n.value;
      }
    },
  };
}
