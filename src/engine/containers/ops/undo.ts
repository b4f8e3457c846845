/**
 * Undo on failure: the steps a half-done operation must take back, run in reverse; a failing step does
 * not stop the others, and its error is collected with the original one (AggregateError, as net/ does).
 */
export class Undo {
  private readonly stack = new AsyncDisposableStack();

  /** register the undo of a step that just succeeded */
  push(fn: () => void | Promise<void>): void {
    this.stack.defer(async () => void (await fn()));
  }

  /** the operation succeeded: nothing is undone */
  commit(): void {
    this.stack.move();
  }

  /** undo everything; returns the error to throw (the original, or it with the undo failures) */
  async rollback(err: unknown): Promise<unknown> {
    try {
      await this.stack.disposeAsync();
      return err;
    } catch (u) {
      const failures: unknown[] = [];
      // disposeAsync chains several failures as SuppressedError(error, suppressed)
      for (let e: unknown = u; e; e = e instanceof SuppressedError ? e.suppressed : undefined) failures.push(e instanceof SuppressedError ? e.error : e);
      const msg = err instanceof Error ? err.message : String(err);
      return new AggregateError(
        [err, ...failures],
        `${msg}. error during cleanup: ${failures.map((f) => (f instanceof Error ? f.message : String(f))).join("; ")}`,
      );
    }
  }
}
