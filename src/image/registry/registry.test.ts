// Unit tests for the registry client's pure parts, the credential file, and the client against a
// small Bun.serve stand-in on 127.0.0.1 (token flow, retries, resumed blobs). No root needed.
import { afterAll, describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseChallenges, loadCredentials, storeCredentials, removeCredentials } from "./auth.ts";
import { isInsecureRegistry, loadInsecureRegistries, resolveEndpoint } from "./endpoint.ts";
import { MANIFEST_MAX, parseManifest, parsePlatform, selectPlatform } from "./manifest.ts";
import { RegistryClient, RegistryError } from "./client.ts";
import { BlobSources } from "./sources.ts";
import type { Digest, Index } from "../../oci/index.ts";

const tmp = mkdtempSync("/tmp/berth-test-registry-unit-");
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe("challenges", () => {
  test("bearer with quoted params, several challenges", () => {
    const c = parseChallenges('Bearer realm="https://auth.example/token",service="registry.example",scope="repository:a/b:pull,push", Basic realm="x"');
    expect(c).toEqual([
      { scheme: "bearer", params: { realm: "https://auth.example/token", service: "registry.example", scope: "repository:a/b:pull,push" } },
      { scheme: "basic", params: { realm: "x" } },
    ]);
  });
  test("escaped quotes and bare tokens", () => {
    expect(parseChallenges('Basic realm="a \\"b\\"", charset=UTF-8')).toEqual([{ scheme: "basic", params: { realm: 'a "b"', charset: "UTF-8" } }]);
  });
});

describe("endpoints", () => {
  test("docker.io maps to registry-1.docker.io over https", () => {
    expect(resolveEndpoint("docker.io")).toEqual({ domain: "docker.io", base: "https://registry-1.docker.io", insecure: false });
  });
  test("loopback is insecure like docker; others only when listed", () => {
    for (const d of ["localhost:5000", "localhost", "127.0.0.1:5000", "127.1.2.3", "[::1]:5000"]) expect(isInsecureRegistry(d)).toBe(true);
    expect(isInsecureRegistry("registry.example:5000")).toBe(false);
    expect(isInsecureRegistry("registry.example:5000", ["registry.example:5000"])).toBe(true);
    expect(isInsecureRegistry("10.1.2.3:5000", ["10.0.0.0/8"])).toBe(true);
    expect(isInsecureRegistry("11.1.2.3:5000", ["10.0.0.0/8"])).toBe(false);
    expect(resolveEndpoint("127.0.0.1:5000").base).toBe("http://127.0.0.1:5000");
  });
  test("env and daemon.json lists", () => {
    writeFileSync(join(tmp, "daemon.json"), JSON.stringify({ "insecure-registries": ["a.example:1"] }));
    expect(loadInsecureRegistries(tmp, { BERTH_INSECURE_REGISTRIES: "b.example, c.example" })).toEqual(["b.example", "c.example", "a.example:1"]);
  });

  test("no daemon.json is the env alone; an unreadable one is an error, like an invalid one", () => {
    const none = mkdtempSync(join(tmp, "none-"));
    expect(loadInsecureRegistries(none, { BERTH_INSECURE_REGISTRIES: "b.example" })).toEqual(["b.example"]);
    const bad = mkdtempSync(join(tmp, "dir-"));
    mkdirSync(join(bad, "daemon.json"));
    expect(() => loadInsecureRegistries(bad, {})).toThrow(/daemon\.json: .*EISDIR/);
  });
});

describe("manifests and platforms", () => {
  const d = (n: string) => `sha256:${n.repeat(64)}` as Digest;
  const index: Index = {
    schemaVersion: 2,
    manifests: [
      { mediaType: "application/vnd.oci.image.manifest.v1+json", digest: d("a"), size: 1, platform: { os: "linux", architecture: "amd64" } },
      { mediaType: "application/vnd.oci.image.manifest.v1+json", digest: d("b"), size: 1, platform: { os: "linux", architecture: "arm64", variant: "v8" } },
      { mediaType: "application/vnd.oci.image.manifest.v1+json", digest: d("c"), size: 1, platform: { os: "linux", architecture: "arm", variant: "v6" } },
      {
        mediaType: "application/vnd.oci.image.manifest.v1+json",
        digest: d("e"),
        size: 1,
        platform: { os: "unknown", architecture: "unknown" },
        annotations: { "vnd.docker.reference.type": "attestation-manifest" },
      },
      { mediaType: "application/vnd.example.unknown", digest: d("f"), size: 1, platform: { os: "linux", architecture: "s390x" } },
    ],
  };
  test("select by platform, variant normalisation, attestations and unknown types skipped", () => {
    expect(selectPlatform(index, parsePlatform("linux/amd64")).digest).toBe(d("a"));
    expect(selectPlatform(index, parsePlatform("linux/arm64")).digest).toBe(d("b"));
    expect(selectPlatform(index, parsePlatform("linux/aarch64/v8")).digest).toBe(d("b"));
    expect(selectPlatform(index, parsePlatform("linux/arm/v6")).digest).toBe(d("c"));
    expect(() => selectPlatform(index, parsePlatform("linux/arm/v7"))).toThrow("no matching manifest for linux/arm/v7");
    expect(() => selectPlatform(index, parsePlatform("linux/s390x"))).toThrow("no matching manifest");
    expect(() => parsePlatform("linux")).toThrow("invalid platform");
  });
  test("parse: kinds, schema1 refused, oversized refused, unknown type refused", () => {
    const man = {
      schemaVersion: 2,
      mediaType: "application/vnd.docker.distribution.manifest.v2+json",
      config: { mediaType: "x", digest: d("a"), size: 1 },
      layers: [],
    };
    expect(parseManifest(Buffer.from(JSON.stringify(man))).kind).toBe("manifest");
    expect(parseManifest(Buffer.from(JSON.stringify({ schemaVersion: 2, manifests: [] })), "application/vnd.oci.image.index.v1+json").kind).toBe("index");
    expect(() => parseManifest(Buffer.from(JSON.stringify({ schemaVersion: 1, fsLayers: [] })))).toThrow("schema 1");
    expect(() => parseManifest(Buffer.from("{}"), "application/vnd.docker.distribution.manifest.v1+prettyjws")).toThrow("schema 1");
    // OCI's manifest type also contains "manifest.v1": it is not schema 1
    const oci = { ...man, mediaType: "application/vnd.oci.image.manifest.v1+json" };
    expect(parseManifest(Buffer.from(JSON.stringify(oci)), "application/vnd.oci.image.manifest.v1+json")).toMatchObject({
      kind: "manifest",
      mediaType: oci.mediaType,
    });
    expect(() => parseManifest(new Uint8Array(MANIFEST_MAX + 1))).toThrow("manifest too large");
    expect(() => parseManifest(Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: "application/x-nope" })))).toThrow("unsupported media type");
  });
});

describe("credentials file", () => {
  test("store, load, remove; docker's shape and mode 0600", () => {
    const path = join(tmp, "docker", "config.json");
    writeFileSync(join(tmp, "keep"), "");
    storeCredentials("127.0.0.1:5000", { username: "u", password: "p:w" }, path);
    storeCredentials("docker.io", { username: "hub", password: "x" }, path);
    const doc = JSON.parse(readFileSync(path, "utf8"));
    expect(doc.auths["127.0.0.1:5000"].auth).toBe(Buffer.from("u:p:w").toString("base64"));
    expect(Object.keys(doc.auths)).toContain("https://index.docker.io/v1/");
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(loadCredentials("127.0.0.1:5000", path)).toEqual({ username: "u", password: "p:w" });
    expect(loadCredentials("index.docker.io", path)).toEqual({ username: "hub", password: "x" });
    expect(removeCredentials("127.0.0.1:5000", path)).toBe(true);
    expect(removeCredentials("127.0.0.1:5000", path)).toBe(false);
    expect(loadCredentials("127.0.0.1:5000", path)).toBeUndefined();
  });
});

test("blob sources pick another repository on the same registry", () => {
  const s = new BlobSources(join(tmp, "sources"));
  const dg = `sha256:${"1".repeat(64)}` as Digest;
  s.add(dg, "r.example/a/b");
  s.add(dg, "other.example/c");
  expect(s.mountSource(dg, "r.example", "x/y")).toBe("a/b");
  expect(s.mountSource(dg, "r.example", "a/b")).toBeUndefined();
});

describe("client against a stand-in registry", () => {
  // token endpoint + registry written here: 401 with a Bearer challenge until a token is presented
  const blob = new Uint8Array(300_000).map((_, i) => (i * 7) & 0xff);
  const blobDigest = `sha256:${new Bun.CryptoHasher("sha256").update(blob).digest("hex")}` as Digest;
  const seen: { tokenScopes: string[]; blobRanges: (string | null)[]; fails: number } = { tokenScopes: [], blobRanges: [], fails: 0 };
  let cut = true;
  let flaky = 2;
  const server: ReturnType<typeof Bun.serve> = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    fetch(req): Response | Promise<Response> {
      const u = new URL(req.url);
      if (u.pathname === "/token") {
        seen.tokenScopes.push(...u.searchParams.getAll("scope"));
        if (req.headers.get("authorization") !== `Basic ${Buffer.from("u:p").toString("base64")}`) return new Response("{}", { status: 401 });
        return Response.json({ token: "t0k", expires_in: 300 });
      }
      if (req.headers.get("authorization") !== "Bearer t0k") {
        return new Response(JSON.stringify({ errors: [{ code: "UNAUTHORIZED", message: "authentication required" }] }), {
          status: 401,
          headers: { "www-authenticate": `Bearer realm="http://127.0.0.1:${server.port}/token",service="test",scope="repository:a/b:pull"` },
        });
      }
      if (u.pathname === "/v2/a/b/manifests/flaky") {
        if (flaky-- > 0) return new Response("busy", { status: 503 });
        return new Response('{"schemaVersion":2,"manifests":[]}', { headers: { "content-type": "application/vnd.oci.image.index.v1+json" } });
      }
      if (u.pathname === "/v2/a/b/manifests/nope") {
        return new Response(JSON.stringify({ errors: [{ code: "MANIFEST_UNKNOWN", message: "manifest unknown" }] }), { status: 404 });
      }
      if (u.pathname === `/v2/a/b/blobs/${blobDigest}`) {
        const range = req.headers.get("range");
        seen.blobRanges.push(range);
        if (cut) {
          cut = false;
          // half the body, then the stream ends early: a truncated transfer
          return new Response(blob.subarray(0, 100_000));
        }
        const m = range && /^bytes=(\d+)-$/.exec(range);
        if (m) return new Response(blob.subarray(Number(m[1])), { status: 206 });
        return new Response(blob);
      }
      return new Response("not found", { status: 404 });
    },
  });
  afterAll(() => server.stop(true));
  const client = (creds = true) =>
    new RegistryClient({ domain: `127.0.0.1:${server.port}`, base: `http://127.0.0.1:${server.port}`, insecure: true }, "a/b", {
      ...(creds ? { credentials: { username: "u", password: "p" } } : {}),
      backoffMs: 1,
    });

  test("bearer token flow with basic credentials at the realm; 5xx retried", async () => {
    const m = await client().getManifest("flaky");
    expect(new TextDecoder().decode(m.bytes)).toContain("manifests");
    expect(seen.tokenScopes).toContain("repository:a/b:pull");
  });
  test("401 without credentials reads like docker", async () => {
    const e = await client(false)
      .getManifest("x")
      .catch((e) => e);
    expect(e).toBeInstanceOf(RegistryError);
    expect(e.message).toBe("unauthorized: authentication required");
    expect(e.kind).toBe("permission_denied");
  });
  test("404 keeps the registry's code and message", async () => {
    const e = await client()
      .getManifest("nope")
      .catch((e) => e);
    expect(e.message).toBe("manifest for a/b:nope: manifest unknown: manifest unknown");
    expect(e.status).toBe(404);
  });
  test("a short blob body is resumed with Range and the bytes come out whole", async () => {
    const parts: Uint8Array[] = [];
    const resumes: number[] = [];
    for await (const c of client().blobStream(blobDigest, blob.length, 0, (at) => resumes.push(at))) parts.push(c);
    const got = Buffer.concat(parts);
    expect(got.length).toBe(blob.length);
    expect(Buffer.compare(got, Buffer.from(blob))).toBe(0);
    expect(resumes).toEqual([100_000]);
    expect(seen.blobRanges).toContain("bytes=100000-");
  });
});
