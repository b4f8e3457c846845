/**
 * Issue 16 item 15: berth used by someone who is not root (uid 65534, as `setpriv` makes it) says so in
 * one line, docker's "permission denied while trying to connect to the Docker daemon socket at …" told
 * of berth's root directory, with a hint, and docker's exit code (1; `run` 125) — never a stack trace.
 * Root only (setpriv needs it).
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { chmodSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { berthArgv, importBusybox } from "../helpers/cli.ts";
import { rootEnabled } from "../helpers/root.ts";

const haveSetpriv = Bun.which("setpriv") !== null;
const dir = rootEnabled ? mkdtempSync("/tmp/berth-test-nonroot-") : "/nonexistent";

async function asNobody(root: string, args: string[]) {
  const proc = Bun.spawn(["setpriv", "--reuid", "65534", "--regid", "65534", "--clear-groups", ...berthArgv(["--root", root, ...args])], {
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
    cwd: "/",
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: "/nonexistent", NO_COLOR: "1" },
  });
  const [stdout, stderr, exitCode] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  return { stdout, stderr, exitCode };
}

describe.skipIf(!rootEnabled || !haveSetpriv)("non-root use (issue 16 item 15)", () => {
  const used = `${dir}/used`;
  beforeAll(async () => {
    // a root berth made as root (its subdirectories are 0700), inside a directory anyone may enter
    chmodSync(dir, 0o755);
    mkdirSync(used);
    await importBusybox(used);
    expect(Bun.spawnSync(berthArgv(["--root", used, "create", "--name", "c1", "busybox", "true"])).exitCode).toBe(0);
    chmodSync(used, 0o755);
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const verbs: [string[], number][] = [
    [["ps"], 1],
    [["ps", "-a"], 1],
    [["images"], 1],
    [["volume", "ls"], 1],
    [["network", "ls"], 1],
    [["info"], 1],
    [["inspect", "busybox"], 1],
    [["rmi", "busybox"], 1],
    [["system", "df"], 1],
    [["events", "--since", "0", "--until", "1"], 1],
    [["run", "--rm", "busybox", "true"], 125],
  ];
  for (const [label, root] of [
    ["a fresh root directory", () => `${dir}/fresh/berth`],
    ["a root made by root", () => used],
  ] as const) {
    test(`${label}: one line naming the root, a hint, docker's exit code, no stack`, async () => {
      for (const [args, code] of verbs) {
        const r = await asNobody(root(), args);
        if (label.startsWith("a fresh") && args[0] === "events") {
          // no log yet: nothing to read, nothing denied (docker's stream that ends at --until)
          expect(r).toEqual({ stdout: "", stderr: "", exitCode: 0 });
          continue;
        }
        expect({ args, stderr: r.stderr }).not.toMatchObject({ stderr: expect.stringContaining("    at ") });
        expect({ args, stderr: r.stderr }).not.toMatchObject({ stderr: expect.stringContaining("internal error") });
        const lines = r.stderr.trimEnd().split("\n");
        expect({ args, first: lines[0] }).toMatchObject({
          first: expect.stringMatching(
            new RegExp(`^berth: permission denied while trying to open the berth root directory at ${root()}: [a-z]+ \\S+: permission denied$`),
          ),
        });
        expect(lines.slice(1)).toEqual([expect.stringMatching(/^hint: .*sudo.*--root/)]);
        expect({ args, code: r.exitCode }).toEqual({ args, code });
      }
    });
  }
});
