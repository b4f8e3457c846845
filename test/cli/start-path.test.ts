/**
 * The start path of `run` (issue 13): the compiled binary loads the shim that `bun run build` compiled
 * and embedded (no TinyCC compile at run time, nothing written to disk); the sources fall back to TinyCC.
 * The phase trace (BERTH_TRACE=1) says which one was used.
 */
import { describe, expect, test } from "bun:test";
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { busyboxRoot, repo, useDist } from "../helpers/cli.ts";
import { rootEnabled } from "../helpers/root.ts";
import { prebuiltShimName } from "../../src/runtime/shim.ts";

const { run } = busyboxRoot("start");

describe.skipIf(!useDist)("prebuilt shim", () => {
  test("the build compiled shim.c into an object named after the source's hash", () => {
    const dir = join(repo, "dist/native");
    expect(existsSync(join(dir, `${prebuiltShimName()}.so`))).toBe(true);
  });
});

describe.skipIf(!rootEnabled)("run's start path", () => {
  test(`the shim comes from ${useDist ? "the embedded object" : "TinyCC"} and nothing is left in TMPDIR`, async () => {
    const tmp = readdirSync("/tmp").filter((n) => n.startsWith("berth-shim-") || n.startsWith(".bun-"));
    const r = await run(["run", "--rm", "--network", "none", "busybox", "echo", "hi"], { env: { BERTH_TRACE: "1" } });
    expect(r).toMatchObject({ exitCode: 0, stdout: "hi\n" });
    expect(r.stderr).toContain(`runtime: shim loaded (${useDist ? "embedded" : "tinycc"})`);
    expect(readdirSync("/tmp").filter((n) => n.startsWith("berth-shim-") || n.startsWith(".bun-"))).toEqual(tmp);
  });
});
