import { describe, expect, test } from "bun:test";
import { parseFlags, type FlagsDef } from "./_parser.ts";
import { UsageError } from "../lib/errors.ts";

const defs: FlagsDef = {
  interactive: { type: "boolean", alias: "i" },
  tty: { type: "boolean", alias: "t" },
  detach: { type: "boolean", alias: "d" },
  env: { type: "string", alias: "e", multiple: true },
  name: { type: "string" },
  publish: { type: "string", alias: "p", multiple: true },
  "log-level": { type: "enum", options: ["debug", "info"] },
};

describe("docker-style flag parsing", () => {
  test("an int flag takes only an integer, in pflag's words", () => {
    const d: FlagsDef = { last: { type: "string", alias: "n", valueHint: "int" }, "stop-timeout": { type: "string", valueHint: "int" } };
    expect(parseFlags(["-n", "-1", "--stop-timeout=3"], d).flags).toMatchObject({ last: "-1", "stop-timeout": "3" });
    expect(() => parseFlags(["-n", "x"], d)).toThrow('invalid argument "x" for "-n, --last" flag: strconv.ParseInt: parsing "x": invalid syntax');
    expect(() => parseFlags(["--stop-timeout", "1.5"], d)).toThrow('invalid argument "1.5" for "--stop-timeout" flag');
  });

  test("clustered short booleans and repeated flags", () => {
    const p = parseFlags(["-it", "-e", "A=1", "-eB=2", "--env=C=3", "--name", "web", "img"], defs);
    expect(p.flags).toMatchObject({ interactive: true, tty: true, env: ["A=1", "B=2", "C=3"], name: "web" });
    expect(p.positionals).toEqual(["img"]);
  });

  test("a short flag with its value attached to a cluster", () => {
    expect(parseFlags(["-dp8080:80", "x"], defs).flags).toMatchObject({ detach: true, publish: ["8080:80"] });
  });

  test("stopAtPositional gives everything after the image to the container", () => {
    const p = parseFlags(["-i", "busybox", "ls", "-la", "--name", "x"], defs, { stopAtPositional: true });
    expect(p.positionals).toEqual(["busybox"]);
    expect(p.rest).toEqual(["ls", "-la", "--name", "x"]);
    expect(p.flags.name).toBeUndefined();
  });

  test("flags may follow positionals when not stopping (docker images busybox -q)", () => {
    const p = parseFlags(["busybox", "-d"], defs);
    expect(p.positionals).toEqual(["busybox"]);
    expect(p.flags.detach).toBe(true);
  });

  test("-- ends flags", () => {
    expect(parseFlags(["--", "-x"], defs).rest).toEqual(["-x"]);
  });

  test("unknown flags are refused with docker's wording", () => {
    expect(() => parseFlags(["--bogus"], defs)).toThrow(new UsageError("unknown flag: --bogus"));
    expect(() => parseFlags(["-z"], defs)).toThrow("unknown shorthand flag: 'z' in -z");
  });

  test("missing values and bad booleans", () => {
    expect(() => parseFlags(["--name"], defs)).toThrow("flag needs an argument: --name");
    expect(() => parseFlags(["-e"], defs)).toThrow("flag needs an argument: 'e' in -e");
    expect(() => parseFlags(["--tty=maybe"], defs)).toThrow('invalid argument "maybe" for "--tty" flag');
    expect(parseFlags(["--tty=false"], defs).flags.tty).toBe(false);
  });

  test("enum values are checked", () => {
    expect(() => parseFlags(["--log-level", "loud"], defs)).toThrow('invalid argument "loud" for "--log-level" flag');
  });
});
