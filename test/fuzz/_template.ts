/**
 * The one import of the Go template interpreter by the fuzzers: helper "present" moves it to
 * src/commands/_format/template.ts; after that merge only this line changes.
 */
export { compileTemplate, strictFields } from "../../src/engine/containers/format.ts";
