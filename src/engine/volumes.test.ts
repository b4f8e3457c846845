import { afterEach, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { ANONYMOUS_LABEL, matchLabel, validateVolumeName, VolumeService } from "./volumes.ts";

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
function service(users: Map<string, string[]> = new Map()) {
  const root = mkdtempSync("/tmp/berth-volumes-unit-");
  dirs.push(root);
  return { root, svc: new VolumeService(root, () => users) };
}

describe("volume names", () => {
  test("docker's rule [a-zA-Z0-9][a-zA-Z0-9_.-]+", () => {
    for (const ok of ["ab", "my-vol", "v.1_x", "0abc"]) expect(validateVolumeName(ok)).toBe(ok);
    for (const bad of ["a", "-ab", ".ab", "a/b", "a b", "a:b", ""])
      expect(() => validateVolumeName(bad)).toThrow("includes invalid characters for a local volume name");
  });
});

describe("VolumeService", () => {
  test("create: docker's layout, a random 64-hex name when none is given, idempotent by name", () => {
    const { root, svc } = service();
    const a = svc.create("data1", { labels: { k: "v" } });
    expect(a.created).toBe(true);
    expect(a.volume).toMatchObject({
      Name: "data1",
      Driver: "local",
      Scope: "local",
      Labels: { k: "v" },
      Options: {},
      Mountpoint: join(root, "volumes/data1/_data"),
    });
    expect(a.volume.CreatedAt).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    expect(existsSync(join(root, "volumes/data1/_data"))).toBe(true);
    expect(svc.create("data1").created).toBe(false);
    expect(svc.create(undefined).volume.Name).toMatch(/^[0-9a-f]{64}$/);
    expect(readdirSync(join(root, "volumes")).filter((n) => n.startsWith(".tmp"))).toEqual([]);
  });
  test("only the local driver; -o refused clearly", () => {
    const { svc } = service();
    expect(() => svc.create("x1", { driver: "nfs" })).toThrow('plugin "nfs" not found');
    expect(() => svc.create("x1", { options: { type: "tmpfs" } })).toThrow("not supported by berth yet");
  });
  test("get of a missing volume: docker's wording", () => {
    expect(() => service().svc.get("nope")).toThrow("get nope: no such volume");
  });
  test("a directory without meta.json is no volume, and create says so rather than adopt it", () => {
    const { root, svc } = service();
    svc.create("v1");
    rmSync(join(root, "volumes/v1/meta.json"));
    expect(svc.list()).toEqual([]);
    expect(() => svc.create("v1")).toThrow("exists but holds no volume");
  });
  test("rm and prune wait for a create that holds volumes in use", async () => {
    const { root, svc } = service();
    svc.create("held");
    const p = svc.whileInUse(async () => {
      // another process's rm would block here; in this process a second open file description conflicts too
      const child = Bun.spawnSync(["flock", "-n", "-x", join(root, "volumes/.lock"), "true"]);
      expect(child.exitCode).not.toBe(0);
      const shared = Bun.spawnSync(["flock", "-n", "-s", join(root, "volumes/.lock"), "true"]);
      expect(shared.exitCode).toBe(0);
      return 7;
    });
    expect(await p).toBe(7);
    expect(Bun.spawnSync(["flock", "-n", "-x", join(root, "volumes/.lock"), "true"]).exitCode).toBe(0);
  });
  test("rm refuses a volume in use, with docker's wording", () => {
    const { svc } = service(new Map([["busy", ["c".repeat(64)]]]));
    svc.create("busy");
    expect(() => svc.remove("busy")).toThrow(`remove busy: volume is in use - [${"c".repeat(64)}]`);
    svc.create("free");
    svc.remove("free");
    expect(svc.list().map((v) => v.Name)).toEqual(["busy"]);
    expect(() => svc.remove("free")).toThrow("no such volume");
  });
  test("prune: unused anonymous volumes, all unused ones with all; label filters; reclaimed bytes", () => {
    const { svc } = service(new Map([["used1", ["c".repeat(64)]]]));
    svc.create("named1");
    svc.create("used1", { labels: { [ANONYMOUS_LABEL]: "" } });
    const anon = svc.create(undefined, { labels: { [ANONYMOUS_LABEL]: "" } }).volume;
    writeFileSync(join(anon.Mountpoint, "f"), "12345");
    expect(svc.prune({ all: false })).toEqual({ removed: [anon.Name], reclaimed: 5 });
    expect(svc.prune({ all: true, labels: ["nope"] }).removed).toEqual([]);
    expect(svc.prune({ all: true }).removed).toEqual(["named1"]);
    expect(svc.list().map((v) => v.Name)).toEqual(["used1"]);
  });
  test("label filter: key or key=value", () => {
    expect(matchLabel({ a: "1" }, "a")).toBe(true);
    expect(matchLabel({ a: "1" }, "a=1")).toBe(true);
    expect(matchLabel({ a: "1" }, "a=2")).toBe(false);
    expect(matchLabel({}, "a")).toBe(false);
  });
});
