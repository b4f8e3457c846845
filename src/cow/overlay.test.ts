/** overlay specifics; the conformance suite runs over every registered driver in conformance.test.ts */
import { expect, test } from "bun:test";
import { OverlayDriver } from "./overlay.ts";

test("overlay root paths that would break the option string are refused", () => {
  expect(() => new OverlayDriver("/tmp/a:b")).toThrow("must not contain");
  expect(() => new OverlayDriver("relative")).toThrow("absolute");
});
