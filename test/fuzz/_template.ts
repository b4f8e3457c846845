/**
 * The one import of the Go template interpreter by the fuzzers (helper "present" moved it from
 * src/engine/containers/format.ts to src/commands/_format/template.ts).
 */
export { compileTemplate, strictFields } from "../../src/commands/_format/template.ts";
