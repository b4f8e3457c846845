/**
 * Docker image references, following distribution/reference (regexp.go, reference.go, normalize.go)
 * exactly so that every name docker accepts parses the same way here and every name it rejects is
 * rejected with the same words. Pure: no I/O.
 *
 *   reference      := name [ ":" tag ] [ "@" digest ]
 *   name           := [domain '/'] path-component ['/' path-component]*
 *   domain         := host [':' port]          host := domain-name | IPv4 | '[' IPv6 ']'
 *   path-component := [a-z0-9]+ ( ([._]|__|[-]+) [a-z0-9]+ )*
 *   tag            := [\w][\w.-]{0,127}
 *
 * "Normalized" (containerd and docker's on-disk form) means the domain is explicit and Docker Hub
 * official images carry `library/`: `busybox` → `docker.io/library/busybox`. "Familiar" is the short
 * form users type and `docker images` prints.
 */
import { EngineError } from "../lib/errors.ts";
import type { Digest } from "../oci/index.ts";

export interface Reference {
  /** registry host[:port]; always set after normalization (`docker.io`, `localhost:5000`, `[::1]:5000`) */
  domain: string;
  /** repository path below the domain: `library/busybox`, `user/app` */
  path: string;
  tag?: string;
  digest?: Digest;
}

export const DEFAULT_DOMAIN = "docker.io";
export const LEGACY_DEFAULT_DOMAIN = "index.docker.io";
export const OFFICIAL_REPO_PREFIX = "library/";
export const DEFAULT_TAG = "latest";
/** distribution/reference RepositoryNameTotalLengthMax; applies to the path, not the domain */
export const REPOSITORY_NAME_MAX = 255;
/** no reference docker accepts comes near this; the cap keeps regexp backtracking bounded */
const INPUT_MAX = 4096;

// Grammar pieces, spelled as in distribution/reference regexp.go. Go's RE2 and JS agree on these
// anchored patterns; [[:xdigit:]] is written out.
const alphanumeric = "[a-z0-9]+";
const separator = "(?:[._]|__|[-]+)";
const domainNameComponent = "(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])";
const optionalPort = "(?::[0-9]+)?";
const tagPat = "[\\w][\\w.-]{0,127}";
const digestPat = "[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*[:][0-9a-fA-F]{32,}";
const ipv6address = "\\[(?:[a-fA-F0-9:]+)\\]";
const domainName = `${domainNameComponent}(?:\\.${domainNameComponent})*`;
const host = `(?:${domainName}|${ipv6address})`;
const domainAndPort = host + optionalPort;
const pathComponent = `${alphanumeric}(?:${separator}${alphanumeric})*`;
const remoteName = `${pathComponent}(?:/${pathComponent})*`;
const namePat = `(?:${domainAndPort}/)?${remoteName}`;

const referenceRe = new RegExp(`^(${namePat})(?::(${tagPat}))?(?:@(${digestPat}))?$`);
const anchoredNameRe = new RegExp(`^(?:(${domainAndPort})/)?(${remoteName})$`);
const anchoredTagRe = new RegExp(`^${tagPat}$`);
const anchoredIdentifierRe = /^[a-f0-9]{64}$/;
const digestAlgorithmRe = /^[a-z0-9]+(?:[.+_-][a-z0-9]+)*$/;

function invalid(detail?: string): EngineError {
  return new EngineError("invalid_argument", detail ? `invalid reference format: ${detail}` : "invalid reference format");
}

/**
 * go-digest's Parse for the algorithms berth stores (sha256 only): the same three errors, in the same
 * order, as digest.Digest.Validate.
 */
export function parseDigest(s: string): Digest {
  const i = s.indexOf(":");
  if (i <= 0 || i + 1 === s.length) throw invalid("invalid checksum digest format");
  const alg = s.slice(0, i),
    enc = s.slice(i + 1);
  if (alg !== "sha256") {
    throw invalid(digestAlgorithmRe.test(alg) ? "unsupported digest algorithm" : "invalid checksum digest format");
  }
  if (enc.length !== 64) throw invalid("invalid checksum digest length");
  if (!anchoredIdentifierRe.test(enc)) throw invalid("invalid checksum digest format");
  return s as Digest;
}

/**
 * distribution/reference Parse: the grammar only, no normalization. `domain` is "" when the name has
 * none (`busybox`, `library/busybox`), so `test.com:5000` is the name `test.com` with tag `5000`.
 */
export function parseStrict(s: string): Reference {
  if (s === "") throw invalid("repository name must have at least one component");
  if (s.length > INPUT_MAX) throw invalid();
  const m = referenceRe.exec(s);
  if (!m) {
    const lower = s.toLowerCase();
    if (lower !== s && referenceRe.test(lower)) throw invalid("repository name must be lowercase");
    throw invalid();
  }
  const n = anchoredNameRe.exec(m[1]!);
  const domain = n?.[1] ?? "";
  const path = n ? n[2]! : m[1]!;
  if (path.length > REPOSITORY_NAME_MAX) {
    throw invalid(`repository name must not be more than ${REPOSITORY_NAME_MAX} characters`);
  }
  const ref: Reference = { domain, path };
  if (m[2] !== undefined) ref.tag = m[2];
  if (m[3] !== undefined) ref.digest = parseDigest(m[3]);
  return ref;
}

/**
 * distribution/reference splitDockerDomain: decide whether the first component is a registry.
 * It is when it is `localhost`, contains `.` or `:`, or has upper case (namespaces never do).
 */
function splitDockerDomain(name: string): [domain: string, remainder: string] {
  const slash = name.indexOf("/");
  if (slash < 0) return [DEFAULT_DOMAIN, OFFICIAL_REPO_PREFIX + name];
  const maybeDomain = name.slice(0, slash),
    maybeRemote = name.slice(slash + 1);
  let domain: string, remote: string;
  if (maybeDomain === "localhost") [domain, remote] = [maybeDomain, maybeRemote];
  else if (maybeDomain === LEGACY_DEFAULT_DOMAIN) [domain, remote] = [DEFAULT_DOMAIN, maybeRemote];
  else if (/[.:]/.test(maybeDomain)) [domain, remote] = [maybeDomain, maybeRemote];
  else if (maybeDomain.toLowerCase() !== maybeDomain) [domain, remote] = [maybeDomain, maybeRemote];
  else [domain, remote] = [DEFAULT_DOMAIN, name];
  if (domain === DEFAULT_DOMAIN && !remote.includes("/")) remote = OFFICIAL_REPO_PREFIX + remote;
  return [domain, remote];
}

/**
 * distribution/reference ParseNormalizedNamed: `busybox` → docker.io/library/busybox,
 * `user/app:1` → docker.io/user/app:1, `localhost:5000/x` stays. No default tag is added
 * (see withDefaultTag / parseDockerRef). A bare 64-hex string is refused: it is an image ID.
 */
export function parseReference(s: string): Reference {
  if (anchoredIdentifierRe.test(s)) {
    throw new EngineError("invalid_argument", `invalid repository name (${s}), cannot specify 64-byte hexadecimal strings`);
  }
  if (s.length > INPUT_MAX) throw invalid();
  const [domain, remainder] = splitDockerDomain(s);
  const colon = remainder.indexOf(":");
  const remote = colon >= 0 ? remainder.slice(0, colon) : remainder;
  if (remote.toLowerCase() !== remote) throw invalid(`repository name (${remote}) must be lowercase`);
  return parseStrict(`${domain}/${remainder}`);
}

/** distribution/reference TagNameOnly: a name with neither tag nor digest gets `:latest` */
export function withDefaultTag(ref: Reference): Reference {
  return ref.tag === undefined && ref.digest === undefined ? { ...ref, tag: DEFAULT_TAG } : ref;
}

/**
 * distribution/reference ParseDockerRef, the key docker uses for its tag store: name-only gets
 * `:latest`; tag *and* digest keeps only the digest (the digest is what gets pinned).
 */
export function parseDockerRef(s: string): Reference {
  const ref = parseReference(s);
  if (ref.digest !== undefined) return { domain: ref.domain, path: ref.path, digest: ref.digest };
  return withDefaultTag(ref);
}

/** `domain/path`, the repository without tag or digest */
export function repositoryName(ref: Reference): string {
  return ref.domain ? `${ref.domain}/${ref.path}` : ref.path;
}

/** the full normalized string: docker.io/library/busybox:latest@sha256:… */
export function referenceString(ref: Reference): string {
  let s = repositoryName(ref);
  if (ref.tag !== undefined) s += `:${ref.tag}`;
  if (ref.digest !== undefined) s += `@${ref.digest}`;
  return s;
}

/** distribution/reference FamiliarName: strip docker.io/ and, for official images, library/ */
export function familiarName(ref: Reference): string {
  if (ref.domain !== DEFAULT_DOMAIN) return repositoryName(ref);
  if (ref.path.startsWith(OFFICIAL_REPO_PREFIX)) {
    const rest = ref.path.slice(OFFICIAL_REPO_PREFIX.length);
    // only one level: library/a/b is not an official image (distribution PR #3769)
    if (!rest.includes("/")) return rest;
  }
  return ref.path;
}

/** distribution/reference FamiliarString: the familiar name plus tag and digest, for output */
export function familiarString(ref: Reference): string {
  let s = familiarName(ref);
  if (ref.tag !== undefined) s += `:${ref.tag}`;
  if (ref.digest !== undefined) s += `@${ref.digest}`;
  return s;
}

/** a stored normalized key (`docker.io/library/busybox:latest`) back to its familiar form */
export function familiarizeKey(key: string): string {
  return familiarString(parseStrict(key));
}

export function isValidTag(s: string): boolean {
  return anchoredTagRe.test(s);
}

/** validates a bare tag, as `docker tag` does for the part after ':' */
export function parseTag(s: string): string {
  if (!anchoredTagRe.test(s)) throw new EngineError("invalid_argument", `invalid tag format: ${JSON.stringify(s)}`);
  return s;
}

/**
 * Could `s` name an image by ID? Docker accepts any non-empty hex prefix of the 64-hex ID, with or
 * without `sha256:` (the CLI shows 12). Many such strings (`deadbeef`) are also valid names; the image
 * store tries the name first, as docker's GetImage does.
 */
export function isIdPrefix(s: string): boolean {
  return /^(?:sha256:)?[a-f0-9]{1,64}$/.test(s);
}

/** a complete image ID: 64 hex, optionally with `sha256:` */
export function isFullId(s: string): boolean {
  return /^(?:sha256:)?[a-f0-9]{64}$/.test(s);
}

/** `sha256:<hex>` from a full ID in either spelling */
export function toDigestId(s: string): Digest {
  return (s.startsWith("sha256:") ? s : `sha256:${s}`) as Digest;
}
