import { expect, test } from "bun:test";
import { snapshotterSuite } from "./testsuite.ts";
import { OverlayDriver } from "./overlay.ts";
import { rootEnabled } from "../../test/helpers/root.ts";

snapshotterSuite("overlay", (root) => new OverlayDriver(root), { requiresRoot: true, rootEnabled });

test("overlay root paths that would break the option string are refused", () => {
  expect(() => new OverlayDriver("/tmp/a:b")).toThrow("must not contain");
  expect(() => new OverlayDriver("relative")).toThrow("absolute");
});
