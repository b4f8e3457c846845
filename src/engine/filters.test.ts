import { describe, expect, test } from "bun:test";
import { FilterError, Filters, matchLabel } from "./filters.ts";

describe("filters (docker's filters.Args)", () => {
  test("--filter flags: split at the first '=', values of a key kept in order", () => {
    const f = Filters.fromFlags(["status=running", "label=a=b", "status=paused", "name="]);
    expect(f.keys()).toEqual(["status", "label", "name"]);
    expect(f.get("status")).toEqual(["running", "paused"]);
    expect(f.get("label")).toEqual(["a=b"]);
    expect(f.get("name")).toEqual([""]);
    expect(f.get("nope")).toEqual([]);
    expect(Filters.fromFlags(["dangling"]).get("dangling")).toEqual([""]);
  });

  test("strict parsing is docker's ParseFlag: a value needs a key", () => {
    for (const bad of ["label", "=x"]) expect(() => Filters.fromFlags([bad], { strict: true })).toThrow("bad format of filter (expected name=value)");
  });

  test("the API's JSON forms, both ways", () => {
    const f = Filters.fromJSON('{"label":{"a=b":true,"c":true},"status":["running"],"x":{"off":false}}');
    expect(f.get("label")).toEqual(["a=b", "c"]);
    expect(f.get("status")).toEqual(["running"]);
    expect(f.get("x")).toEqual([]);
    expect(new Filters({ name: ["web"] }).toJSON()).toEqual({ name: { web: true } });
    expect(Filters.fromJSON("").size).toBe(0);
    expect(() => Filters.fromJSON("[1]")).toThrow(FilterError);
    expect(() => Filters.fromJSON('{"a":[1]}')).toThrow("invalid filter 'a'");
  });

  test("validate: an unknown key is docker's invalid filter, in each listing's spelling", () => {
    const f = new Filters({ colour: ["red"] });
    expect(() => f.validate(["name"])).toThrow("invalid filter 'colour'");
    expect(() => f.validate(["name"], "Invalid")).toThrow("Invalid filter 'colour'");
    try {
      f.validate([]);
    } catch (e) {
      expect(e).toBeInstanceOf(FilterError);
      expect((e as FilterError).kind).toBe("invalid_argument");
    }
    expect(new Filters({ name: ["x"] }).validate(["name"]).get("name")).toEqual(["x"]);
  });

  test("one key's values OR, a missing key passes; labels", () => {
    const f = new Filters({ status: ["running", "paused"] });
    expect(f.any("status", (v) => v === "paused")).toBe(true);
    expect(f.any("status", (v) => v === "exited")).toBe(false);
    expect(f.any("name", () => false)).toBe(true);
    expect(f.every("status", (v) => v.length > 0)).toBe(true);
    expect(matchLabel({ a: "b" }, "a")).toBe(true);
    expect(matchLabel({ a: "b" }, "a=b")).toBe(true);
    expect(matchLabel({ a: "b" }, "a=c")).toBe(false);
    expect(matchLabel({ a: "b=c" }, "a=b=c")).toBe(true);
  });
});
