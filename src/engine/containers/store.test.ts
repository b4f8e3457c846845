import { afterAll, describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { ContainerStore } from "./store.ts";
import { JsonLogWriter, readLogFrom, parseTimeArg } from "./logs.ts";
import { readRootfsFile } from "./rootfs-files.ts";
import { initialState } from "./types.ts";
import { randomName, validateName } from "./names.ts";

const tmp = mkdtempSync("/tmp/berth-test-containers-unit-");
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe("store", () => {
  const store = new ContainerStore(join(tmp, "containers"));
  const mk = (id: string, name: string) => {
    mkdirSync(store.dir(id));
    store.reserveName(name, id);
    store.writeState(id, initialState());
    writeFileSync(join(store.dir(id), "config.json"), JSON.stringify({ Id: id, Name: `/${name}` }));
  };
  const a = "ab" + "0".repeat(62),
    b = "ac" + "1".repeat(62);
  mk(a, "one");
  mk(b, "two");
  test("resolve by full id, name, unique prefix", () => {
    expect(store.resolve(a)).toBe(a);
    expect(store.resolve("two")).toBe(b);
    expect(store.resolve("/one")).toBe(a);
    expect(store.resolve("ab")).toBe(a);
    expect(() => store.resolve("a")).toThrow("multiple IDs found with provided prefix: a");
    expect(() => store.resolve("nosuch")).toThrow("No such container: nosuch");
  });
  test("a taken name is docker's conflict", () => {
    expect(() => store.reserveName("one", b)).toThrow(
      `Conflict. The container name "/one" is already in use by container "${a}". You have to remove (or rename) that container to be able to reuse that name.`,
    );
  });
  test("state updates under the lock", () => {
    store.updateState(a, (s) => ({ ...s, ExitCode: 3 }));
    expect(store.readState(a).ExitCode).toBe(3);
  });
  test("names", () => {
    expect(randomName()).toMatch(/^[a-z]+_[a-z]+$/);
    expect(() => validateName("-bad")).toThrow("Invalid container name (-bad)");
    expect(validateName("/ok.name_1")).toBe("ok.name_1");
  });
});

describe("json-file log", () => {
  test("lines split at newlines, partial lines kept until flushed", () => {
    const p = join(tmp, "x-json.log");
    const w = new JsonLogWriter(p);
    w.write("stdout", Buffer.from("hel"));
    w.write("stdout", Buffer.from("lo\nwor"));
    w.write("stderr", Buffer.from("oops\n"));
    w.close();
    const { entries } = readLogFrom(p, 0);
    expect(entries.map((e) => [e.stream, e.log])).toEqual([
      ["stdout", "hello\n"],
      ["stderr", "oops\n"],
      ["stdout", "wor"],
    ]);
    expect(entries[0]!.time).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z$/);
    expect(readFileSync(p, "utf8").split("\n")[0]).toMatch(/^\{"log":"hello\\n","stream":"stdout","time":"/);
  });
  test("since/until arguments", () => {
    expect(parseTimeArg("10m", 1_000_000)).toBe(400_000);
    expect(parseTimeArg("1700000000")).toBe(1_700_000_000_000);
    expect(parseTimeArg("2024-01-01T00:00:00Z")).toBe(Date.UTC(2024, 0, 1));
  });
});

describe("rootfs files never follow symlinks", () => {
  test("upper over lower, symlinks and whiteouts hide", () => {
    const up = join(tmp, "up"),
      lo = join(tmp, "lo"),
      evil = join(tmp, "evil");
    mkdirSync(join(up, "etc"), { recursive: true });
    mkdirSync(join(lo, "etc"), { recursive: true });
    mkdirSync(join(evil, "etc"), { recursive: true });
    writeFileSync(join(lo, "etc/passwd"), "lower");
    writeFileSync(join(lo, "etc/group"), "lowergroup");
    writeFileSync(join(up, "etc/group"), "uppergroup");
    writeFileSync(join(tmp, "hostsecret"), "secret");
    symlinkSync(join(tmp, "hostsecret"), join(up, "etc/shadow"));
    symlinkSync(tmp, join(evil, "etc2"));
    const mounts = [{ type: "overlay", source: "overlay", target: "/", options: [`lowerdir=${lo}`, `upperdir=${up}`, "workdir=/w"] }];
    expect(readRootfsFile(mounts, "/etc/passwd")).toBe("lower");
    expect(readRootfsFile(mounts, "/etc/group")).toBe("uppergroup");
    expect(readRootfsFile(mounts, "/etc/shadow")).toBeNull();
    const bind = [{ type: "bind", source: evil, target: "/", options: [] }];
    expect(readRootfsFile(bind, "/etc2/hostsecret")).toBeNull();
  });
});
