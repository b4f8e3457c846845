import { describe, expect, test } from "bun:test";
import { EngineError } from "../../src/lib/errors.ts";
import { compileTemplate } from "./_template.ts";

function error(tmpl: string, data: unknown = {}): EngineError {
  try {
    compileTemplate(tmpl)(data);
  } catch (e) {
    expect(e).toBeInstanceOf(EngineError);
    return e as EngineError;
  }
  throw new Error("did not throw");
}

// inputs the parser fuzzer (test/fuzz) found in the Go template interpreter
describe("Go templates: fuzz findings", () => {
  test("an escape JSON does not know is a template parsing error, not a SyntaxError", () => {
    expect(error('{{"\\q"}}').message).toBe("template parsing error: template: :1: invalid syntax");
    // the listing commands turn \n into a newline first: the char constant then holds a real one
    expect(error("{{'\\n'}}").message).toBe("template parsing error: template: :1: invalid syntax");
  });

  test("deep nesting is a parse error, not a stack overflow", () => {
    const n = 5000;
    for (const t of ["{{if 1}}".repeat(n) + "x" + "{{end}}".repeat(n), "{{with .}}".repeat(n) + "{{end}}".repeat(n), "{{" + "(".repeat(n) + "1" + ")".repeat(n) + "}}"]) {
      expect(error(t).message).toBe("template parsing error: template: :1: max expression depth exceeded");
    }
  });

  test("1000 levels still run", () => {
    expect(compileTemplate("{{if 1}}".repeat(1000) + "x" + "{{end}}".repeat(1000))({})).toBe("x");
    expect(compileTemplate("{{print " + "(".repeat(999) + "1" + ")".repeat(999) + "}}")({})).toBe("1");
  });
});
