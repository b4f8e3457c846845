import { describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { berth, useDist } from "../helpers/cli.ts";

describe("CLI shell", () => {
  test("--version and version", async () => {
    expect(await berth(["--version"])).toMatchObject({ exitCode: 0, stdout: expect.stringMatching(/^berth version \d+\.\d+\.\d+\n$/) });
    const v = await berth(["version", "--format", "json"]);
    expect(v.exitCode).toBe(0);
    // docker's shape: Client and Server (berth's engine is this binary)
    expect(JSON.parse(v.stdout)).toMatchObject({ Client: { Os: "linux" }, Server: { Os: "linux" } });
    const t = await berth(["version", "--format", "{{.Server.Version}} {{.Client.Version}}"]);
    expect(t.stdout).toMatch(/^(\d+\.\d+\.\d+) \1\n$/);
  });

  test("--help lists commands on stdout", async () => {
    const r = await berth(["--help"]);
    expect(r).toMatchObject({ exitCode: 0, stderr: "" });
    expect(r.stdout).toContain("Usage:  berth [OPTIONS] COMMAND");
    expect(r.stdout).toContain("--root string");
  });

  test("COMMAND --help prints docker-style usage", async () => {
    const r = await berth(["version", "--help"]);
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toStartWith("Usage:  berth version [OPTIONS]\n");
  });

  test("unknown command: docker's wording and exit 1", async () => {
    const r = await berth(["frobnicate"]);
    expect(r).toMatchObject({ exitCode: 1, stdout: "" });
    expect(r.stderr).toBe("berth: unknown command: berth frobnicate\n\nRun 'berth --help' for more information\n");
  });

  test("unknown flag: exit 125 with usage", async () => {
    const r = await berth(["version", "--bogus"]);
    expect(r).toMatchObject({ exitCode: 125, stdout: "" });
    expect(r.stderr).toStartWith("unknown flag: --bogus\n\nUsage:  berth version [OPTIONS]\n");
  });

  test("unknown global flag", async () => {
    const r = await berth(["--bogus", "version"]);
    expect(r.exitCode).toBe(125);
    expect(r.stderr).toContain("unknown flag: --bogus");
  });
});

describe.skipIf(!useDist)("compiled binary hardening", () => {
  test("BUN_BE_BUN does not turn berth into the bun CLI", async () => {
    const r = await berth(["--version"], { env: { BUN_BE_BUN: "1" } });
    expect(r).toMatchObject({ exitCode: 0, stdout: expect.stringMatching(/^berth version/) });
  });

  test("BUN_OPTIONS is ignored", async () => {
    const r = await berth(["--version"], { env: { BUN_OPTIONS: "--eval=console.log('injected')" } });
    expect(r.stdout).not.toContain("injected");
    expect(r.exitCode).toBe(0);
  });

  test(".env and bunfig.toml in the caller's directory are not loaded", async () => {
    const dir = mkdtempSync("/tmp/berth-test-hardening-");
    try {
      writeFileSync(`${dir}/evil.ts`, "console.log('EVIL PRELOAD RAN')\n");
      writeFileSync(`${dir}/bunfig.toml`, `preload = ["${dir}/evil.ts"]\n`);
      writeFileSync(`${dir}/.env`, "BERTH_ROOT=/tmp/evil-root\n");
      const r = await berth(["--version"], { cwd: dir });
      expect(r.stdout + r.stderr).not.toContain("EVIL");
      expect(r.exitCode).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
