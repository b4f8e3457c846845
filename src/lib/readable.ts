/**
 * An async iterable as a pull-driven ReadableStream: one chunk per pull, `highWaterMark` chunks read
 * ahead (none by default), the iterator closed when the reader cancels.
 */
export function readableOf(body: AsyncIterable<Uint8Array>, highWaterMark = 0): ReadableStream<Uint8Array> {
  const it = body[Symbol.asyncIterator]();
  return new ReadableStream<Uint8Array>(
    {
      async pull(c) {
        const r = await it.next();
        if (r.done) c.close();
        else c.enqueue(r.value);
      },
      async cancel() {
        await it.return?.();
      },
    },
    { highWaterMark },
  );
}
