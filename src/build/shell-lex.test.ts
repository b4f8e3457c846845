import { describe, expect, test } from "bun:test";
import { ShellLex, SubstitutionError } from "./shell-lex.ts";

// inputs the parser fuzzer (test/fuzz) found; each once crashed, hung or broke the one-line rule
describe("ShellLex: fuzz findings", () => {
  const lex = new ShellLex();
  const env = new Map([["A", "a"]]);

  test("deep ${X:-${X:-…}} nesting is refused quickly, not a stack overflow after seconds", () => {
    for (const word of ["${UNSET:-".repeat(20_000) + "x" + "}".repeat(20_000), '${UNSET:-"'.repeat(20_000) + "x" + '"}'.repeat(20_000)]) {
      const t0 = performance.now();
      expect(() => lex.processWord(word, env)).toThrow(new SubstitutionError("bad substitution: nested deeper than 100 levels"));
      expect(performance.now() - t0).toBeLessThan(2000);
    }
  });

  test("100 levels still expand", () => {
    expect(lex.processWord("${U:-".repeat(100) + "x" + "}".repeat(100), env)).toBe("x");
    expect(lex.processWord("${A:+".repeat(100) + "$A" + "}".repeat(100), env)).toBe("a");
  });

  test("a word that spans lines gives a one-line message", () => {
    expect(() => lex.processWord("${\n", env)).toThrow(new SubstitutionError("bad substitution: ${\\n"));
  });
});
