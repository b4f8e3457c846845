/**
 * src/image — blobs, image records, tags, leases and garbage collection under the berth root.
 *
 * Owns:   <root>/content (ContentStore: blobs/sha256, ingest/, leases/, lock)
 *         <root>/image   (ImageStore: images/<hex>.json, repositories.json)
 *         docker's reference grammar (references.ts, pure).
 * Imports: oci (types), lib (errors, atomic writes, ids), ffi/fs (flock). Nothing above it; no
 *         runtime, no network. A pull (later) streams an HTTP body into ContentStore.writer(ref) and
 *         resumes from `writer.offset` with a Range request.
 *
 * Invariants
 * - A file in blobs/sha256/<hex> is complete, fsync'd, and hashes to <hex>. Blobs never change.
 * - An image ID is the digest of its config blob; records and tags are written tmp → fsync → rename.
 * - Tags are stored normalized (docker.io/library/busybox:latest, name@sha256:…); output familiarizes.
 *
 * Concurrency protocol (several berth processes share one root; there is no daemon):
 * 1. The store lock, flock(<root>/content/lock). Shared: every step that makes a blob or a reference
 *    appear — ContentWriter.commit's rename, putBytes, ImageStore.put/tag/untag/delete, lease create/
 *    addResource/delete, and opening an ingest. Exclusive: gc() and ContentStore.delete(). Held only
 *    across synchronous code (a blocking flock on the JS thread must never wait on ourselves).
 * 2. Each ingest's data file is flock'd exclusively by its writer for the writer's whole life. A
 *    second writer on the same ref gets `unavailable`; gc skips locked ingests whatever their age and
 *    removes unlocked ones only after a grace period (they may be resumed).
 * 3. Work that spans several steps (pull: blobs, then record, then tag) holds a lease and commits
 *    with `{lease}`: the blob is entered into the lease under the shared lock *before* its rename, so
 *    gc either runs before the blob exists or sees it leased. Delete the lease once the image record
 *    references the blobs. A lease dies with its process (pid + /proc start time) or at expiresAt.
 *    A lease also names the snapshots the work commits (chain IDs), leased before the commit; the
 *    engine's snapshot GC keeps them (src/engine/images.ts collectGarbage).
 * 4. gc marks from image records (manifest, config, index, layers via the manifests), live leases,
 *    and extraRoots from the engine; then sweeps. So gc can never delete what an unfinished operation
 *    uses, provided that operation follows 2 and 3. Leases of dead owners are removed; an unlocked
 *    ingest's writer is dead (its flock died with it): the engine removes it at once unless it is
 *    named by a digest (a pull's layer, which the next pull resumes), kept for the grace period.
 * 5. The image-use lock (<content>/use.lock, acquireAsync: polled, held across awaits): `create`
 *    holds it shared from resolving its image until the container record names it; rmi, image prune
 *    and the engine's GC hold it exclusively.
 * Lock order: store lock → repositories.lock → ingest locks are never waited on (LOCK_NB).
 */
export { ContentStore, ContentWriter, sha256Digest, SMALL_BLOB_MAX } from "./content-store.ts";
export type { BlobInfo, CommitOptions, IngestInfo, ResourceHolder, VerifyResult } from "./content-store.ts";
export { ImageStore, tagKey } from "./image-store.ts";
export type { ImageRecord, PutImage } from "./image-store.ts";
export { Lease, LeaseStore, isLeaseExpired, isOwnerAlive, processStartTime } from "./leases.ts";
export { chainIds, extractKey, isExtractKeyLive } from "./chain.ts";
export type { CreateLeaseOptions, LeaseInfo, LeaseOwner } from "./leases.ts";
// gc (./gc.ts) is imported from its file, on first use: re-exported here it would load with every engine
export type { GcOptions, GcResult, GcStores } from "./gc.ts";
export {
  DEFAULT_DOMAIN,
  DEFAULT_TAG,
  familiarName,
  familiarString,
  familiarizeKey,
  isFullId,
  isIdPrefix,
  isValidTag,
  parseDigest,
  parseDockerRef,
  parseReference,
  parseStrict,
  parseTag,
  referenceString,
  repositoryName,
  toDigestId,
  withDefaultTag,
} from "./references.ts";
export type { Reference } from "./references.ts";
export type { LockMode } from "./_lock.ts";
export { acquireAsync, FileLock } from "./_lock.ts";
