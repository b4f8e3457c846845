/**
 * IDs are full 64-hex internally; the 12-character form is for human output only (STYLE §2).
 * Randomness comes from the Web Crypto global, not node:crypto: loading that module costs ~2.5 ms, on
 * the start path of every command that creates something (issue 13).
 */

/** `n` random bytes */
export function randomBytes(n: number): Buffer {
  return Buffer.from(crypto.getRandomValues(new Uint8Array(n)));
}

/** a uniform integer in [0, n), n ≤ 2^32 (rejection sampling: no modulo bias) */
export function randomBelow(n: number): number {
  const limit = Math.floor(0x1_0000_0000 / n) * n;
  const word = new Uint32Array(1);
  for (;;) {
    crypto.getRandomValues(word);
    if (word[0]! < limit) return word[0]! % n;
  }
}

export function newId(): string {
  return randomBytes(32).toString("hex");
}

export function shortId(id: string): string {
  return id.replace(/^sha256:/, "").slice(0, 12);
}
