/**
 * `bun bench/sha256-file.ts FILE`: the SHA-256 of a file as one stream (256 KiB reads, Bun's BoringSSL:
 * SHA-NI where the CPU has it and OPENSSL_ia32cap does not mask it). Row d runs it beside the import: an
 * import must hash the whole tarball in order (the layer's digest is its diffID), so this is its floor
 * on a CPU where hashing is slower than unpacking.
 */
import { closeSync, openSync, readSync } from "node:fs";

const fd = openSync(process.argv[2]!, "r");
const buf = new Uint8Array(256 << 10);
const h = new Bun.CryptoHasher("sha256");
for (let n: number; (n = readSync(fd, buf, 0, buf.length, null)) > 0; ) h.update(buf.subarray(0, n));
closeSync(fd);
console.log(h.digest("hex"));
