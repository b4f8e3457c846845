import { describe, expect, test } from "bun:test";
import { canAttach, canExec, canKill, canPause, canRemove, canStart, canStop, canUnpause, isActive, type ContainerStatus } from "./types.ts";

/** every predicate of the transition table for one status (youki's state.rs tests, one per status) */
function rules(s: ContainerStatus) {
  return {
    start: canStart(s),
    stop: canStop(s),
    kill: canKill(s),
    pause: canPause(s),
    unpause: canUnpause(s),
    rm: canRemove(s, false),
    "rm -f": canRemove(s, true),
    exec: canExec(s),
    attach: canAttach(s),
    active: isActive(s),
  };
}

describe("the lifecycle's transition table", () => {
  test("creating", () => {
    expect(rules("creating")).toEqual({
      start: false,
      stop: false,
      kill: false,
      pause: false,
      unpause: false,
      rm: true,
      "rm -f": true,
      exec: false,
      attach: false,
      active: false,
    });
  });
  test("created", () => {
    expect(rules("created")).toEqual({
      start: true,
      stop: false,
      kill: false,
      pause: false,
      unpause: false,
      rm: true,
      "rm -f": true,
      exec: false,
      attach: false,
      active: false,
    });
  });
  test("running", () => {
    expect(rules("running")).toEqual({
      start: false,
      stop: true,
      kill: true,
      pause: true,
      unpause: false,
      rm: false,
      "rm -f": true,
      exec: true,
      attach: true,
      active: true,
    });
  });
  test("paused", () => {
    expect(rules("paused")).toEqual({
      start: false,
      stop: true,
      kill: true,
      pause: false,
      unpause: true,
      rm: false,
      "rm -f": true,
      exec: false,
      attach: false,
      active: true,
    });
  });
  test("stopped", () => {
    expect(rules("stopped")).toEqual({
      start: true,
      stop: false,
      kill: false,
      pause: false,
      unpause: false,
      rm: true,
      "rm -f": true,
      exec: false,
      attach: false,
      active: false,
    });
  });
});
