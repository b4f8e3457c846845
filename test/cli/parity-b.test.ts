/**
 * Issue 16 items 7, 8, 12 and 16 (wording), and the client/daemon config files: what docker 28 prints,
 * with berth's own "berth: " prefix where docker's says "Error response from daemon:" (there is no
 * daemon). Root only; everything lives in the file's own root.
 */
import { describe, expect, test } from "bun:test";
import { type CliResult, busyboxRoot } from "../helpers/cli.ts";
import { rootEnabled } from "../helpers/root.ts";

const { root, run } = busyboxRoot("parity-b");
const ok = (r: CliResult) => expect(r).toMatchObject({ exitCode: 0 });
const sfx = Math.random().toString(36).slice(2, 8);

describe.skipIf(!rootEnabled)("no daemon in the wording (issue 16 item 16)", () => {
  test("volume, network, image and inspect misses say berth:, then docker's text", async () => {
    expect(await run(["volume", "inspect", `nov${sfx}`])).toMatchObject({ exitCode: 1, stderr: `berth: get nov${sfx}: no such volume\n` });
    expect(await run(["volume", "rm", `nov${sfx}`])).toMatchObject({ exitCode: 1, stderr: expect.stringMatching(/^berth: .*nov\w+/) });
    expect(await run(["network", "inspect", `non${sfx}`])).toMatchObject({ exitCode: 1, stderr: `berth: network non${sfx} not found\n` });
    expect(await run(["inspect", "--type", "network", `non${sfx}`])).toMatchObject({ exitCode: 1, stderr: `berth: network non${sfx} not found\n` });
    expect(await run(["rmi", `noi${sfx}`])).toMatchObject({ exitCode: 1, stderr: `berth: No such image: noi${sfx}:latest\n` });
    for (const r of [await run(["rmi", `noi${sfx}`]), await run(["volume", "rm", `nov${sfx}`])]) expect(r.stderr).not.toContain("daemon");
    void root;
  });
});
