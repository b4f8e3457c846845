/**
 * src/image/registry — talking to registries: endpoints (docker.io → registry-1.docker.io, insecure
 * loopback/listed registries over plain HTTP), auth (challenges, bearer tokens, docker's config.json),
 * the v2 API client, and manifest parsing with platform selection.
 *
 * May import: oci, lib. Nothing in the stores: the engine (src/engine/pull.ts, push.ts) joins this
 * client with the content store and the snapshots.
 *
 * Invariants: the client never holds a layer in memory (blobStream yields the HTTP body's chunks);
 * manifests and configs are read with a 4 MiB cap; only idempotent requests are retried; the
 * Authorization header is only sent to the registry's own origin.
 */
export { RegistryClient, RegistryError, registryError, type ClientOptions, type FetchFn, type RequestOptions } from "./client.ts";
export {
  parseChallenges,
  loadCredentials,
  storeCredentials,
  removeCredentials,
  dockerConfigPath,
  basicHeader,
  type Challenge,
  type Credentials,
} from "./auth.ts";
export {
  resolveEndpoint,
  isInsecureRegistry,
  loadInsecureRegistries,
  authKey,
  DOCKER_HUB_API,
  DOCKER_HUB_AUTH_KEY,
  type RegistryEndpoint,
} from "./endpoint.ts";
export {
  parseImageConfig,
  parseManifest,
  selectPlatform,
  parsePlatform,
  platformString,
  layerCompression,
  MANIFEST_MAX,
  ACCEPT_MANIFESTS,
  MANIFEST_TYPES,
  INDEX_TYPES,
  type ParsedManifest,
} from "./manifest.ts";
export { clientFor, type SessionOptions } from "./session.ts";
export { BlobSources } from "./sources.ts";
