import { describe, expect, test } from "bun:test";
import { EngineError } from "../../lib/errors.ts";
import { parseImageConfig, parseManifest, selectPlatform } from "./manifest.ts";

const D = (c: string) => `sha256:${c.repeat(64)}` as const;
const json = (v: unknown) => new TextEncoder().encode(JSON.stringify(v));

function thrown(f: () => unknown): EngineError {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(EngineError);
    return e as EngineError;
  }
  throw new Error("did not throw");
}

// inputs the parser fuzzer (test/fuzz) found: each one passed parseManifest and then made pull throw a
// TypeError (selectPlatform on `manifests: [1]`, `l.mediaType` of a null layer, `d.digest.slice`)
describe("manifests: fuzz findings", () => {
  const config = { mediaType: "application/vnd.oci.image.config.v1+json", digest: D("a"), size: 10 };
  const layer = { mediaType: "application/vnd.oci.image.layer.v1.tar+gzip", digest: D("b"), size: 20 };

  test("index entries must be descriptor objects", () => {
    expect(thrown(() => parseManifest(json({ schemaVersion: 2, manifests: [1] }))).message).toBe("manifest: manifests[0]: not a descriptor object");
    expect(thrown(() => parseManifest(json({ schemaVersion: 2, mediaType: "application/vnd.oci.image.index.v1+json", manifests: [""] }))).message).toBe(
      "manifest: manifests[0]: not a descriptor object",
    );
    expect(thrown(() => parseManifest(json({ schemaVersion: 2, manifests: [{ mediaType: "x", digest: D("c"), size: 1, platform: "linux" }] }))).message).toBe(
      "manifest: manifests[0]: platform needs os and architecture strings",
    );
  });

  test("config and layers must be descriptors with a sha256 digest and a size", () => {
    const m = (over: Record<string, unknown>) =>
      json({ schemaVersion: 2, mediaType: "application/vnd.oci.image.manifest.v1+json", config, layers: [layer], ...over });
    expect(thrown(() => parseManifest(m({ config: { ...config, mediaType: {} } }))).message).toBe("manifest: config: mediaType is not a string");
    expect(thrown(() => parseManifest(m({ layers: [null] }))).message).toBe("manifest: layers[0]: not a descriptor object");
    expect(thrown(() => parseManifest(m({ layers: [{ ...layer, digest: 5 }] }))).message).toBe("manifest: layers[0]: invalid digest 5");
    expect(thrown(() => parseManifest(m({ layers: [{ ...layer, size: -1 }] }))).message).toBe("manifest: layers[0]: invalid size -1");
    expect(parseManifest(m({})).kind).toBe("manifest");
  });

  test("a valid index still selects", () => {
    const p = parseManifest(
      json({
        schemaVersion: 2,
        manifests: [{ mediaType: "application/vnd.oci.image.manifest.v1+json", digest: D("d"), size: 5, platform: { os: "linux", architecture: "amd64" } }],
      }),
    );
    if (p.kind !== "index") throw new Error("not an index");
    expect(selectPlatform(p.index, { os: "linux", architecture: "amd64" }).digest).toBe(D("d"));
  });
});

describe("image configs (pull's checks)", () => {
  test("diff IDs: one sha256 digest per layer", () => {
    expect(parseImageConfig(json({ rootfs: { type: "layers", diff_ids: [D("1")] } }), 1).diffIds).toEqual([D("1")]);
    expect(parseImageConfig(json({}), 0).diffIds).toEqual([]);
    expect(thrown(() => parseImageConfig(json({ rootfs: { diff_ids: [D("1")] } }), 2)).message).toBe(
      "image config has 1 diff IDs but the manifest has 2 layers",
    );
  });

  test("fuzz findings: null, a list, a string of diff IDs are errors, not TypeErrors", () => {
    expect(thrown(() => parseImageConfig(json(null), 0, "config x")).message).toBe("config x: not a json object");
    expect(thrown(() => parseImageConfig(json([]), 0)).message).toBe("config: not a json object");
    expect(thrown(() => parseImageConfig(json({ rootfs: { diff_ids: "ab" } }), 2)).message).toBe("config: rootfs.diff_ids is not a list of sha256 digests");
    expect(thrown(() => parseImageConfig(json({ rootfs: { diff_ids: [1] } }), 1)).message).toBe("config: rootfs.diff_ids is not a list of sha256 digests");
    expect(thrown(() => parseImageConfig(new TextEncoder().encode("{"), 0)).message).toStartWith("config: invalid json: ");
  });
});
