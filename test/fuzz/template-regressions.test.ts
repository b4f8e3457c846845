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
    for (const t of [
      "{{if 1}}".repeat(n) + "x" + "{{end}}".repeat(n),
      "{{with .}}".repeat(n) + "{{end}}".repeat(n),
      "{{" + "(".repeat(n) + "1" + ")".repeat(n) + "}}",
    ]) {
      expect(error(t).message).toBe("template parsing error: template: :1: max expression depth exceeded");
    }
  });

  test("1000 levels still run", () => {
    expect(compileTemplate("{{if 1}}".repeat(1000) + "x" + "{{end}}".repeat(1000))({})).toBe("x");
    expect(compileTemplate("{{print " + "(".repeat(999) + "1" + ")".repeat(999) + "}}")({})).toBe("1");
  });

  test("builtins with arguments they cannot take: errors, not TypeError/RangeError/out of memory", () => {
    expect(error("{{slice 1}}").message).toBe("template: :1: error calling slice: can't slice item of type number");
    expect(error('{{pad "a" -1 1}}').message).toBe("template: :1: error calling pad: strings: negative Repeat count");
    expect(error('{{pad "a" 1e9 1}}').message).toBe("template: :1: error calling pad: padding above 1000000");
    // Go's fmt: widths and precisions above 1e6 are refused, the value still prints
    expect(compileTemplate('{{printf "%99999999d|%.9999999s" 5 "ab"}}')({})).toBe("%!(BADWIDTH)5|%!(BADPREC)ab");
    expect(compileTemplate('{{printf "%.102f" 1.5}}')({})).toBe("1.5" + "0".repeat(101));
    expect(compileTemplate('{{urlquery "\\ud800"}}')({})).toBe("%EF%BF%BD");
    expect(compileTemplate('{{json (index . "constructor")}}')({})).toBe("null");
  });

  test("Object.prototype's members are not fields (Go sees only the data)", () => {
    const d = { Name: "x" };
    expect(compileTemplate("{{.constructor}}|{{.toString}}|{{.__proto__}}")(d)).toBe("<no value>|<no value>|<no value>");
    expect(error('{{.__defineGetter__ "Name" .toString}}', d).message).toBe("template: :1: can't give argument to non-function .__defineGetter__");
    expect(compileTemplate("{{.Name}}")(d)).toBe("x");
  });

  test("many actions parse in linear time (the line count was recomputed from the start each time)", () => {
    const t0 = performance.now();
    compileTemplate("{{$x := 1}}\n".repeat(20_000) + "{{$x}}")({});
    expect(performance.now() - t0).toBeLessThan(3000);
  });
});
