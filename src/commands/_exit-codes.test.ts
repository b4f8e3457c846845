import { describe, expect, test } from "bun:test";
import { EngineError, ExecError, ExitStatus, UsageError, wrap } from "../lib/errors.ts";
import { ArgCountError, CliError, during, exitCodeFor, type ExitPolicy } from "./_exit-codes.ts";
import { TemplateError } from "./_format/template.ts";

const policies: ExitPolicy[] = ["request", "build", "run", "create", "exec"];
const tagged = async (stage: "pull" | "exec", e: unknown) => during(stage, () => Promise.reject(e)).catch((x) => x);

describe("docker's exit codes from errors", () => {
  test("the CLI's own: ExitStatus, CliError, ArgCountError, UsageError, a bug", () => {
    for (const p of policies) {
      expect(exitCodeFor(new ExitStatus(141), p)).toBe(141);
      expect(exitCodeFor(new CliError("the input device is not a TTY", 1), p)).toBe(1);
      expect(exitCodeFor(new ArgCountError("'berth exec' requires at least 2 arguments"), p)).toBe(1);
      expect(exitCodeFor(new UsageError("unknown flag: --bogus"), p)).toBe(125);
      expect(exitCodeFor(new TypeError("x is undefined"), p)).toBe(125);
    }
  });

  test("request: 1 for a failed request; 127/126 for a command that cannot run (start -a)", () => {
    expect(exitCodeFor(new EngineError("not_found", "No such container: x"))).toBe(1);
    expect(exitCodeFor(new EngineError("internal", "boom"))).toBe(1);
    expect(exitCodeFor(new ExecError("not_found", 'exec: "x": executable file not found in $PATH'))).toBe(127);
    expect(exitCodeFor(new ExecError("not_executable", 'exec: "/etc/passwd": permission denied'))).toBe(126);
  });

  test("build: 1 whatever failed", () => {
    expect(exitCodeFor(new ExecError("not_found", "x"), "build")).toBe(1);
    expect(exitCodeFor(new EngineError("internal", "x"), "build")).toBe(1);
  });

  test("run: 125 for the engine (the pull included), 127/126 for the command", async () => {
    expect(exitCodeFor(new EngineError("not_found", "No such image: x"), "run")).toBe(125);
    expect(exitCodeFor(await tagged("pull", new EngineError("unavailable", "pull x: ECONNREFUSED")), "run")).toBe(125);
    expect(exitCodeFor(wrap("start", new ExecError("not_found", "x")), "run")).toBe(127);
    expect(exitCodeFor(new ExecError("not_executable", "x"), "run")).toBe(126);
  });

  test("create: the daemon's answers 1, option values 125", async () => {
    expect(exitCodeFor(new EngineError("not_found", "No such image: x"), "create")).toBe(1);
    expect(exitCodeFor(new EngineError("already_exists", "Conflict. The container name…"), "create")).toBe(1);
    expect(exitCodeFor(new EngineError("invalid_argument", "Invalid container name (bad name), only …"), "create")).toBe(1);
    expect(exitCodeFor(new EngineError("invalid_argument", "invalid publish opts format"), "create")).toBe(125);
    expect(exitCodeFor(await tagged("pull", new EngineError("invalid_argument", "digest mismatch")), "create")).toBe(1);
  });

  test("exec: 1 before the process is set up, 126 for its setup, 1 for a stopped or paused container", async () => {
    expect(exitCodeFor(new EngineError("not_found", "No such container: x"), "exec")).toBe(1);
    expect(exitCodeFor(await tagged("exec", new EngineError("not_found", "unable to find user nosuch")), "exec")).toBe(126);
    expect(exitCodeFor(await tagged("exec", new EngineError("failed_precondition", "container x is not running")), "exec")).toBe(1);
    expect(exitCodeFor(await tagged("exec", new ExecError("not_found", "x")), "exec")).toBe(127);
  });

  test("a --format template: 64 when it does not parse, 1 when it fails on a value", () => {
    expect(exitCodeFor(new TemplateError("parse", "template parsing error"))).toBe(64);
    expect(exitCodeFor(new TemplateError("execute", "template: at <.X>: can't evaluate field X"))).toBe(1);
  });
});
