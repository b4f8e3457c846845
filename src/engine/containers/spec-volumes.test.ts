import { describe, expect, test } from "bun:test";
import { buildConfig, buildSpec, defaultCreateOptions, isNoCopy, parseVolume } from "./spec.ts";
import type { ImageConfig } from "../../oci/index.ts";
import type { ContainerConfigFile } from "./types.ts";

const image = (config: ImageConfig["config"] = {}): { config: ImageConfig; ref: string } => ({
  config: { architecture: "amd64", os: "linux", rootfs: { type: "layers", diff_ids: [] }, config },
  ref: "busybox",
});
const build = (volumes: string[], ic: ImageConfig["config"] = {}, over: Parameters<typeof defaultCreateOptions>[1] = {}) =>
  buildConfig(defaultCreateOptions("x", { command: ["sh"], volumes, ...over }), image(ic), {}, 2);

describe("-v forms", () => {
  test("NAME:CTR is a named volume (Source filled in at create)", () => {
    expect(parseVolume("myvol:/data")).toEqual({ Type: "volume", Name: "myvol", Source: "", Destination: "/data", Driver: "local", Mode: "z", RW: true, Propagation: "" });
  });
  test("NAME:CTR:ro,nocopy", () => {
    const m = parseVolume("my.vol_1-x:/data/:ro,nocopy");
    expect(m).toMatchObject({ Type: "volume", Name: "my.vol_1-x", Destination: "/data", Mode: "ro,nocopy", RW: false });
    expect(isNoCopy(m)).toBe(true);
    expect(isNoCopy(parseVolume("v1:/d:ro"))).toBe(false);
  });
  test("a bare CTR is an anonymous volume", () => {
    expect(parseVolume("/cache/")).toEqual({ Type: "volume", Name: "", Source: "", Destination: "/cache", Driver: "local", Mode: "", RW: true, Propagation: "" });
  });
  test("HOST:CTR stays a bind", () => {
    expect(parseVolume("/srv:/data:rshared")).toEqual({ Type: "bind", Source: "/srv", Destination: "/data", Mode: "rshared", RW: true, Propagation: "rshared" });
  });
  test("docker's name rule and errors", () => {
    expect(() => parseVolume("-bad:/d")).toThrow('"-bad" includes invalid characters for a local volume name');
    expect(() => parseVolume("a:/d")).toThrow("includes invalid characters"); // one character is too short
    expect(() => parseVolume("./rel:/d")).toThrow("If you intended to pass a host directory, use absolute path");
    expect(() => parseVolume("v1:rel")).toThrow(`invalid mount config for type "volume"`);
    expect(() => parseVolume("v1:/d:shared")).toThrow("invalid mode: shared");
    expect(() => parseVolume("rel")).toThrow("invalid volume specification: 'rel'");
  });
});

describe("volumes in the built config", () => {
  test("Binds keep HOST:CTR and NAME:CTR; a bare CTR goes to Config.Volumes", () => {
    const b = build(["/srv:/a", "v1:/b", "/c"]);
    expect(b.HostConfig.Binds).toEqual(["/srv:/a", "v1:/b"]);
    expect(b.Config.Volumes).toEqual({ "/c": {} });
    expect(b.Mounts.map((m) => [m.Type, m.Name, m.Destination])).toEqual([["bind", undefined, "/a"], ["volume", "v1", "/b"], ["volume", "", "/c"]]);
  });
  test("the image's VOLUMEs become anonymous volumes unless -v or --tmpfs covers them", () => {
    const b = build(["v1:/data"], { Volumes: { "/data": {}, "/logs": {}, "/run/x": {} } }, { tmpfs: ["/run/x:size=1m"] });
    expect(b.Mounts.map((m) => [m.Name, m.Destination])).toEqual([["v1", "/data"], ["", "/logs"]]);
  });
  test("a build step (ephemeral) mounts no image VOLUMEs", () => {
    expect(build([], { Volumes: { "/logs": {} } }, { ephemeral: true }).Mounts).toEqual([]);
  });
  test("duplicate destinations across -v forms are refused", () => {
    expect(() => build(["v1:/d", "/d"])).toThrow("Duplicate mount point: /d");
  });
  test("a volume reaches the runtime as a bind of its mountpoint", () => {
    const b = build(["v1:/d:ro"]);
    b.Mounts[0]!.Source = "/root/volumes/v1/_data";
    const rec = { Id: "x".repeat(64), Path: b.Path, Args: b.Args, Config: b.Config, HostConfig: b.HostConfig, Mounts: b.Mounts, Berth: { Tmpfs: {}, CgroupPath: "berth/x" } } as unknown as ContainerConfigFile;
    const spec = buildSpec(rec, [], { uid: 0, gid: 0, additionalGids: [], home: "/" }, { hostnamePath: "/h", hostsPath: "/hs", resolvConfPath: "/r" });
    expect(spec.mounts.find((m) => m.target === "/d")).toEqual({ type: "bind", source: "/root/volumes/v1/_data", target: "/d", options: ["rbind", "rprivate", "ro"] });
  });
});

test("--mount: bind, volume, tmpfs in docker's CSV; docker's errors", () => {
  const { parseMountFlag } = require("./spec.ts") as typeof import("./spec.ts");
  expect(parseMountFlag("type=bind,source=/srv/data,target=/data,readonly")).toEqual({
    mount: { Type: "bind", Source: "/srv/data", Destination: "/data", Mode: "", RW: false, Propagation: "rprivate" }, mustExist: "/srv/data",
  });
  expect(parseMountFlag("type=bind,src=/a/,dst=/b,bind-propagation=rslave")).toMatchObject({ mount: { Source: "/a", Destination: "/b", RW: true, Propagation: "rslave" } });
  expect(parseMountFlag("source=cache,target=/cache,volume-nocopy")).toEqual({
    mount: { Type: "volume", Name: "cache", Source: "", Destination: "/cache", Driver: "local", Mode: "nocopy", RW: true, Propagation: "" },
  });
  expect(parseMountFlag("type=volume,target=/anon")).toMatchObject({ mount: { Type: "volume", Name: "", Destination: "/anon" } });
  expect(parseMountFlag("type=tmpfs,destination=/run/x,tmpfs-size=64m,tmpfs-mode=1770")).toEqual({ tmpfs: ["/run/x", `size=${64 * 1024 * 1024},mode=1770`] });
  expect(() => parseMountFlag("type=bind,source=/a")).toThrow(`invalid mount config for type "bind": field Target must not be empty`);
  expect(() => parseMountFlag("type=bind,target=/a")).toThrow("field Source must not be empty");
  expect(() => parseMountFlag("type=nfs,target=/a")).toThrow(`invalid mount type "nfs"`);
  expect(() => parseMountFlag("type=tmpfs,source=x,target=/a")).toThrow("field Source must not be specified");
  expect(() => parseMountFlag("type=bind,source=/a,target=/b,bogus=1")).toThrow("unexpected key 'bogus'");
  expect(() => parseMountFlag("type=bind,source=/a,target=/b,readonly=maybe")).toThrow("invalid value for readonly: maybe");
  expect(() => parseMountFlag("target=/x,source=bad/name")).toThrow("includes invalid characters for a local volume name");
});
