import { describe, expect, test } from "bun:test";
import { EngineError } from "../lib/errors.ts";
import { IgnoreMatcher, parseDockerignore } from "./dockerignore.ts";

// inputs the parser fuzzer (test/fuzz) found
describe(".dockerignore: fuzz findings", () => {
  test("bad patterns are an EngineError naming the pattern, not a SyntaxError or a plain Error", () => {
    for (const p of ["[z-a]", "a[", "x/[b-a]*"]) {
      let e: unknown;
      try {
        parseDockerignore(p);
      } catch (x) {
        e = x;
      }
      expect(e).toBeInstanceOf(EngineError);
      expect((e as EngineError).kind).toBe("invalid_argument");
      expect((e as EngineError).message).toStartWith("syntax error in pattern ");
    }
  });

  test("several stars against a long path: linear, not regexp backtracking (took 7+ s)", () => {
    const long = "a/".repeat(100) + "b";
    for (const text of ["********a?", "**********a", "**a**a**a**a**a**b", "*a*a*a*a*a*c"]) {
      const m = new IgnoreMatcher(parseDockerignore(text));
      const t0 = performance.now();
      m.ignores(long);
      m.ignores("a".repeat(300));
      expect(performance.now() - t0).toBeLessThan(500);
    }
  });

  test("the star matcher agrees with the regexp semantics", () => {
    const cases: [string, string, boolean][] = [
      ["**/*.go", "x.go", true],
      ["**/*.go", "a/b/x.go", true],
      ["**/*.go", "a/b/x.gox", false],
      ["a/**/b*", "a/b", true],
      ["a/**/b*", "a/x/y/bz", true],
      ["a/**/b*", "ab", false],
      ["*/*", "a/b", true],
      ["*/*", "a", false],
      ["**a**", "xxaxx/y", true],
      ["**a**", "xxbxx", false],
      ["*a*b", "cacb", true],
      ["*a*b", "ca/cb", false],
    ];
    for (const [pattern, path, want] of cases) {
      const [p] = parseDockerignore(pattern);
      expect([pattern, path, p!.re.test(path)]).toEqual([pattern, path, want]);
    }
  });
});
