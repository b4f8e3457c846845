/**
 * The container lifecycle over a recording fake runtime (test/helpers/fake-runtime.ts): state rules per
 * verb with docker's messages, create → start → stop → rm, rm -f of running and paused containers, the
 * restart policy, a start race, and cleanup when a step fails. No root, namespaces or cgroups.
 */
import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { existsSync } from "node:fs";
import { EngineError, ExecError } from "../../../lib/errors.ts";
import { fakeEngine, type FakeEngine } from "../../../../test/helpers/fake-runtime.ts";

let f: FakeEngine;
beforeEach(() => {
  f = fakeEngine();
});
afterEach(() => f.dispose());

const err = async (p: Promise<unknown> | (() => unknown)): Promise<EngineError> => {
  try {
    await (typeof p === "function" ? p() : p);
  } catch (e) {
    if (e instanceof EngineError) return e;
    throw e;
  }
  throw new Error("expected an error");
};

/** until the container runs with a pid (supervised in this process) */
async function running(id: string): Promise<number> {
  for (let i = 0; i < 200; i++) {
    const st = f.svc.refreshState(id);
    if (st.Status === "running" && st.Pid) return st.Pid;
    await Bun.sleep(5);
  }
  throw new Error("container did not start");
}

/** create and start under this process; returns the id, the pid and the supervision's promise */
async function started(over = {}) {
  const id = await f.create(over);
  const done = f.svc.supervise(id);
  const pid = await running(id);
  return { id, pid, done };
}

describe("state rules per verb, docker's messages", () => {
  test("created: nothing to kill, pause, unpause, exec, attach or top; stop is a no-op; rm works", async () => {
    const id = await f.create();
    expect((await err(f.svc.kill(id))).message).toBe(`cannot kill container: ${id}: container ${id} is not running`);
    expect((await err(() => f.svc.pause(id))).message).toBe(`container ${id} is not running`);
    expect((await err(() => f.svc.unpause(id))).message).toBe(`container ${id} is not paused`);
    const ex = await err(f.svc.exec(id, { cmd: ["true"], env: [], tty: false, interactive: false, detach: false }, { stdout() {}, stderr() {} }));
    expect([ex.kind, ex.message]).toEqual(["conflict", `container ${id} is not running`]);
    expect((await err(f.svc.attach(id, { stdout() {}, stderr() {}, want: { stdin: false, stdout: true, stderr: true } }))).message).toBe(
      "You cannot attach to a stopped container, start it first",
    );
    expect((await err(() => f.svc.top(id))).message).toBe(`container ${id} is not running`);
    expect(await f.svc.stop(id, 1)).toBe(id);
    expect(f.runtime.ops().filter((o) => o === "kill")).toEqual([]);
    await f.svc.rm(id, false);
    expect(existsSync(f.svc.store.dir(id))).toBe(false);
  });

  test("running: no second start, no unpause, rm wants force; paused: no pause, exec or attach, rm wants force", async () => {
    const { id, done } = await started({ name: "web" });
    const again = await err(f.svc.supervise(id));
    expect([again.kind, again.message]).toEqual(["conflict", `container ${id} is already running`]);
    expect((await err(() => f.svc.unpause(id))).message).toBe(`container ${id} is not paused`);
    expect((await err(f.svc.rm(id, false))).message).toBe(
      `cannot remove container "/web": container is running: stop the container before removing or force remove`,
    );

    f.svc.pause(id);
    expect(f.svc.refreshState(id).Status).toBe("paused");
    expect(f.runtime.frozen.size).toBe(1);
    expect((await err(() => f.svc.pause(id))).message).toBe(`container ${id} is already paused`);
    const ex = await err(f.svc.exec(id, { cmd: ["true"], env: [], tty: false, interactive: false, detach: false }, { stdout() {}, stderr() {} }));
    expect(ex.message).toBe(`container ${id} is paused, unpause the container before exec`);
    expect((await err(f.svc.attach(id, { stdout() {}, stderr() {}, want: { stdin: false, stdout: true, stderr: true } }))).message).toBe(
      "You cannot attach to a paused container, unpause it first",
    );
    expect((await err(f.svc.rm(id, false))).message).toBe(
      `cannot remove container "/web": container is paused: unpause the container before removing or force remove`,
    );
    expect(f.svc.top(id).titles[0]).toBe("UID");

    f.svc.unpause(id);
    expect(f.svc.refreshState(id).Status).toBe("running");
    expect(f.runtime.frozen.size).toBe(0);
    await f.svc.kill(id);
    expect((await done).exitCode).toBe(137);
  });

  test("exec in a running container goes through the runtime; a failing exec is an ExecError with docker's words", async () => {
    const { id, done } = await started();
    f.runtime.failExec = new ExecError("not_found", `exec: "nosuch": executable file not found in $PATH`);
    const e = await err(f.svc.exec(id, { cmd: ["nosuch"], env: [], tty: false, interactive: false, detach: false }, { stdout() {}, stderr() {} }));
    expect(e).toBeInstanceOf(ExecError);
    expect(e.message).toBe(`OCI runtime exec failed: exec: "nosuch": executable file not found in $PATH`);
    const code = f.svc.exec(
      id,
      { cmd: ["sh", "-c", "exit 3"], env: ["A=1", "HOME=/root"], tty: false, interactive: false, detach: false },
      { stdout() {}, stderr() {}, onStarted: (pid) => queueMicrotask(() => f.runtime.exit(pid, 3)) },
    );
    expect(await code).toBe(3);
    const execs = f.runtime.calls.filter((c) => c.op === "exec");
    expect(execs.map((c) => c.args[1])).toEqual([["nosuch"], ["sh", "-c", "exit 3"]]);
    expect(execs[1]!.args[2]).toEqual(expect.arrayContaining(["A=1", "HOME=/root"]));
    await f.svc.kill(id);
    await done;
  });
});

describe("create → start → stop → rm", () => {
  test("each step's runtime and snapshot calls, in order, and the recorded states", async () => {
    const id = await f.create({ name: "seq" });
    expect(f.svc.refreshState(id).Status).toBe("created");
    const cg = `berth/${id}`;
    const { pid, done } = await (async () => {
      const done = f.svc.supervise(id);
      return { pid: await running(id), done };
    })();
    expect(f.svc.list(false).map((i) => i.cfg.Id)).toEqual([id]);
    await f.svc.stop(id, 5);
    const info = await done;
    expect(info.exitCode).toBe(143);
    const st = f.svc.refreshState(id);
    expect([st.Status, st.Pid, st.ExitCode, st.MonitorPid]).toEqual(["stopped", 0, 143, 0]);
    expect(f.svc.list(false)).toEqual([]);
    await f.svc.rm(id, false);
    expect(f.runtime.calls).toEqual([
      { op: "snapshot.prepare", args: [`container-${id}`] },
      { op: "create", args: [cg] },
      { op: "kill", args: [pid, 15] },
      // its processes gone: no thaw, the cgroup's removal alone
      { op: "removeCgroup", args: [cg] },
      { op: "snapshot.remove", args: [`container-${id}`] },
    ]);
    expect(existsSync(f.svc.store.dir(id))).toBe(false);
    expect(f.svc.store.nameOwner("seq")).toBeUndefined();
    expect(await err(() => f.svc.resolve(id))).toMatchObject({ kind: "not_found", message: `No such container: ${id}` });
  });
});

describe("rm -f", () => {
  test("of a running container: SIGKILL, cgroup, snapshot, name and directory gone", async () => {
    const { id, pid, done } = await started({ name: "victim" });
    await f.svc.rm(id, true);
    expect((await done).exitCode).toBe(137);
    expect(f.runtime.calls).toContainEqual({ op: "kill", args: [pid, 9] });
    expect(f.runtime.cgroups.size).toBe(0);
    expect(f.snapshots.live.size).toBe(0);
    expect(existsSync(f.svc.store.dir(id))).toBe(false);
    expect(f.svc.store.nameOwner("victim")).toBeUndefined();
  });

  test("of a paused container: killed and thawed, nothing left frozen", async () => {
    const { id, done } = await started();
    f.svc.pause(id);
    await f.svc.rm(id, true);
    await done;
    expect(f.runtime.ops()).toContain("thaw");
    expect(f.runtime.frozen.size).toBe(0);
    expect(f.runtime.cgroups.size).toBe(0);
    expect(f.snapshots.live.size).toBe(0);
  });
});

describe("restart policy", () => {
  /** run the monitor loop in this process, and end each run of the container with `code` */
  async function monitored(restart: string, codes: number[]) {
    const id = await f.create({ restart });
    const lines: string[] = [];
    const mon = f.svc.monitorMain(id, (l) => lines.push(l));
    const pids: number[] = [];
    for (const code of codes) {
      let pid = 0;
      for (let i = 0; i < 400 && !pid; i++) {
        const st = f.svc.store.readState(id);
        if (st.Status === "running" && st.Pid && !pids.includes(st.Pid)) pid = st.Pid;
        else await Bun.sleep(5);
      }
      expect(pid).toBeGreaterThan(0);
      pids.push(pid);
      f.runtime.exit(pid, code);
    }
    return { id, mon, lines, pids };
  }

  test("on-failure:2 starts a failing container twice more, then leaves it stopped", async () => {
    const { id, mon, lines } = await monitored("on-failure:2", [1, 1, 1]);
    expect(await mon).toBe(1);
    expect(lines).toEqual(["ok"]);
    const st = f.svc.refreshState(id);
    expect([st.Status, st.RestartCount, !!st.Restarting, st.ExitCode]).toEqual(["stopped", 2, false, 1]);
  });

  test("on-failure: a clean exit is final", async () => {
    const { id, mon } = await monitored("on-failure", [0]);
    expect(await mon).toBe(0);
    expect(f.svc.refreshState(id).RestartCount).toBe(0);
  });

  test("always: restarted after exit 0; a stop during the back-off cancels it", async () => {
    const { id, mon } = await monitored("always", [0, 0]);
    // the second exit is waiting out its back-off now (200 ms): stop it there
    for (let i = 0; i < 100 && !f.svc.store.readState(id).Restarting; i++) await Bun.sleep(2);
    expect(f.svc.store.readState(id).Restarting).toBe(true);
    const stopping = f.svc.stop(id, 1);
    expect(await mon).toBe(0);
    await stopping;
    const st = f.svc.refreshState(id);
    expect([st.Status, !!st.Restarting, !!st.ManuallyStopped, st.RestartCount]).toEqual(["stopped", false, true, 1]);
  });

  test("a start that cannot run is reported to the spawner as JSON, with its kind and reason", async () => {
    const id = await f.create({ restart: "always" });
    f.runtime.failCreate = new ExecError("not_found", `exec: "nosuch": executable file not found in $PATH`);
    const lines: string[] = [];
    expect(await f.svc.monitorMain(id, (l) => lines.push(l))).toBe(127);
    expect(lines).toHaveLength(1);
    expect(lines[0]!.startsWith("err ")).toBe(true);
    expect(JSON.parse(lines[0]!.slice(4))).toEqual({
      kind: "not_found",
      reason: "not_found",
      message: `failed to create task for container: exec: "nosuch": executable file not found in $PATH`,
    });
  });
});

describe("races", () => {
  test("two starts at once: one runs the container, the other gets docker's error", async () => {
    const id = await f.create();
    const gate = Promise.withResolvers<void>();
    f.runtime.createGate = gate.promise;
    const a = f.svc.supervise(id);
    const b = f.svc.supervise(id);
    const [ra, rb] = await Promise.allSettled(
      [a.then((x) => x), b.then((x) => x)].map((p, i) => (i === 0 ? Promise.race([p, Bun.sleep(50).then(() => "pending")]) : p)),
    );
    // the first claimed the start; the second failed at once, before any runtime call of its own
    expect(ra).toEqual({ status: "fulfilled", value: "pending" });
    expect(rb.status).toBe("rejected");
    const e = (rb as PromiseRejectedResult).reason as EngineError;
    expect([e.kind, e.message]).toEqual(["conflict", `container ${id} is already running`]);
    expect(f.runtime.ops().filter((o) => o === "create")).toHaveLength(1);
    gate.resolve();
    const pid = await running(id);
    f.runtime.exit(pid, 0);
    expect((await a).exitCode).toBe(0);
  });
});

describe("cleanup on failure", () => {
  test("a failing runtime create of an --rm container leaves no record, snapshot or cgroup", async () => {
    const id = await f.create({ rm: true, name: "once" });
    f.runtime.failCreate = new ExecError("not_found", `exec: "nosuch": executable file not found in $PATH`);
    const e = await err(f.svc.supervise(id));
    expect(e).toBeInstanceOf(ExecError);
    expect(e.message).toBe(`failed to create task for container: exec: "nosuch": executable file not found in $PATH`);
    expect(f.runtime.ops()).toEqual(["snapshot.prepare", "create", "create failed", "snapshot.remove"]);
    expect(f.snapshots.live.size).toBe(0);
    expect(f.runtime.cgroups.size).toBe(0);
    expect(existsSync(f.svc.store.dir(id))).toBe(false);
    expect(f.svc.store.nameOwner("once")).toBeUndefined();
  });

  test("without --rm the record stays created, with docker's exit code and error", async () => {
    const id = await f.create();
    f.runtime.failCreate = new ExecError("not_executable", `exec: "/etc": permission denied`);
    await err(f.svc.supervise(id));
    const st = f.svc.refreshState(id);
    expect([st.Status, st.ExitCode, st.Error, st.MonitorPid]).toEqual([
      "created",
      126,
      `failed to create task for container: exec: "/etc": permission denied`,
      0,
    ]);
    expect(f.snapshots.live.size).toBe(1);
  });

  test("create failing after its snapshot: the snapshot, the name and the directory are undone", async () => {
    const e = await err(f.create({ name: "half", network: "nosuchnet" }));
    expect(e.kind).toBe("not_found");
    expect(f.runtime.ops()).toEqual(["snapshot.prepare", "snapshot.remove"]);
    expect(f.snapshots.live.size).toBe(0);
    expect(f.svc.store.nameOwner("half")).toBeUndefined();
    expect(f.svc.store.ids()).toEqual([]);
  });

  test("a failing undo step is reported with the original error, and the other steps still run", async () => {
    const remove = f.snapshots.remove.bind(f.snapshots);
    f.snapshots.remove = async (k: string) => {
      await remove(k);
      throw new Error("disk on fire");
    };
    const e = await f.create({ name: "half", network: "nosuchnet" }).catch((x) => x);
    expect(e).toBeInstanceOf(AggregateError);
    expect((e as AggregateError).errors.map((x: Error) => x.message)[1]).toBe("disk on fire");
    expect((e as AggregateError).errors[0]).toBeInstanceOf(EngineError);
    expect(f.svc.store.nameOwner("half")).toBeUndefined();
    expect(f.svc.store.ids()).toEqual([]);
  });

  test('a missing image: dockerd\'s not_found (the client says "Unable to find image"), nothing created', async () => {
    const e = await err(f.svc.create({ Image: "nosuch", HostConfig: { NetworkMode: "none" } }));
    expect([e.kind, e.message]).toEqual(["not_found", "No such image: nosuch:latest"]);
    expect(f.runtime.calls).toEqual([]);
  });
});

describe("a create killed half-way (issue 15)", () => {
  const proc = (pid: number) => {
    f.runtime.adopt(pid);
    return { Pid: pid, StartTime: `t${pid}`, die: () => f.runtime.exit(pid, 137) };
  };

  test("a create killed half-way (no config.json) is swept by the next create once its creator is dead; one in flight is not", async () => {
    const { mkdirSync, writeFileSync, utimesSync } = await import("node:fs");
    const { join } = await import("node:path");
    const markOf = (id: string) => join(f.svc.store.root, `.creating-${id}`);
    // the creator's mark sits beside the records, written before the name and the directory
    const half = (id: string, mark?: string, dir = true) => {
      if (mark !== undefined) writeFileSync(markOf(id), mark);
      if (dir) mkdirSync(f.svc.store.dir(id));
      return id;
    };
    const killed = half("a".repeat(64), "7007 t7007\n");
    await f.snapshots.prepare(`container-${killed}`);
    f.svc.store.reserveName("halfway", killed);
    const live = proc(7008);
    const inFlight = half("b".repeat(64), `${live.Pid} ${live.StartTime}\n`);
    const emptyMark = half("f".repeat(64), "");
    const beforeMkdir = half("9".repeat(64), "7009 t7009\n", false);
    // a directory of an earlier version (its mark inside, or none): only the full sweep looks into directories
    const oldUnmarked = half("d".repeat(64));
    utimesSync(f.svc.store.dir(oldUnmarked), new Date(Date.now() - 120_000), new Date(Date.now() - 120_000));

    const id = await f.create({ name: "halfway" });
    expect(existsSync(f.svc.store.dir(killed))).toBe(false);
    expect(existsSync(markOf(killed))).toBe(false);
    expect(existsSync(markOf(beforeMkdir))).toBe(false);
    expect(f.snapshots.live.has(`container-${killed}`)).toBe(false);
    expect(f.svc.store.nameOwner("halfway")).toBe(id);
    expect(existsSync(f.svc.store.dir(inFlight))).toBe(true);
    expect(existsSync(f.svc.store.dir(emptyMark))).toBe(true);
    expect(existsSync(f.svc.store.dir(oldUnmarked))).toBe(true);
    // a finished create leaves no mark
    expect(existsSync(markOf(id))).toBe(false);
    // a mark a kill left after config.json was written: the record stays, the mark goes
    writeFileSync(markOf(id), "7010 t7010\n");
    live.die();
    expect((await f.svc.sweepHalfCreated()).sort()).toEqual([inFlight, oldUnmarked].sort());
    expect(existsSync(markOf(id))).toBe(false);
    expect(f.svc.store.ids()).toEqual([id]);
  });
});

test("rm renames the record away before deleting it; a tombstone left by a kill goes with the next create", async () => {
  const { mkdirSync, readdirSync, writeFileSync } = await import("node:fs");
  const { join } = await import("node:path");
  const id = await f.create();
  await f.svc.rm(id, false);
  expect(readdirSync(f.svc.store.root).filter((n) => n !== "names")).toEqual([]);
  // a removal killed during its recursive delete: the tombstone holds what was left, ps never lists it
  const tomb = join(f.svc.store.root, `.gone-${"e".repeat(64)}-12345678`);
  mkdirSync(tomb);
  writeFileSync(join(tomb, "config.json"), "{}");
  expect(f.svc.store.ids()).toEqual([]);
  const next = await f.create();
  expect(readdirSync(f.svc.store.root).filter((n) => n !== "names")).toEqual([next]);
});

test("a removal killed after its record became debris: rm of its name says no such container and sweeps it, as the next create does", async () => {
  const { existsSync, writeFileSync } = await import("node:fs");
  const { join } = await import("node:path");
  // what removeNow leaves when killed between dropping config.json and deleting the directory: the
  // remover's mark (a dead process), no config.json, the snapshot and the name still there
  const killedRemoval = async (name: string) => {
    const id = await f.create({ name });
    writeFileSync(join(f.svc.store.root, `.creating-${id}`), "7011 t7011\n");
    f.svc.store.dropConfig(id);
    return id;
  };
  const a = await killedRemoval("going");
  expect(f.svc.store.ids()).toEqual([]); // ps -a no longer lists it
  await expect(f.svc.rm("going", true)).rejects.toThrow(/No such container: going/);
  expect(existsSync(f.svc.store.dir(a))).toBe(false);
  expect(f.snapshots.live.has(`container-${a}`)).toBe(false);
  expect(f.svc.store.nameOwner("going")).toBeUndefined();
  // a --rm run killed there: the next create (another container) sweeps it
  const b = await killedRemoval("going2");
  const before = f.runtime.ops().filter((o) => o === "snapshot.cleanup").length;
  const next = await f.create();
  expect(existsSync(f.svc.store.dir(b))).toBe(false);
  // and the driver's leftovers (the trash its files were deleted from) are looked for
  expect(f.runtime.ops().filter((o) => o === "snapshot.cleanup").length).toBe(before + 1);
  expect(f.snapshots.live.has(`container-${b}`)).toBe(false);
  expect(f.svc.store.ids()).toEqual([next]);
});

describe("a pause taken by an operation (issue 15)", () => {
  const proc = (pid: number) => {
    f.runtime.adopt(pid);
    return { Pid: pid, StartTime: `t${pid}`, die: () => f.runtime.exit(pid, 137) };
  };
  const setState = (id: string, over: Record<string, unknown>) => f.svc.store.updateState(id, (s) => ({ ...s, ...over }));

  test("a pause taken for an operation dies with its pauser: the next reader thaws it; a user's pause stays", async () => {
    const { id, done } = await started();
    f.svc.pause(id, { transient: true });
    expect(f.svc.store.readState(id).PausedBy).toEqual({ Pid: process.pid, StartTime: `t${process.pid}` });
    // the pauser (commit) is another process, killed with -9 before its unpause
    const commit = proc(7001);
    setState(id, { PausedBy: { Pid: commit.Pid, StartTime: commit.StartTime } });
    expect(f.svc.refreshState(id).Status).toBe("paused"); // alive: its pause holds
    commit.die();
    const st = f.svc.refreshState(id);
    expect([st.Status, st.PausedBy]).toEqual(["running", undefined]);
    expect(f.runtime.frozen.size).toBe(0);
    expect(f.runtime.ops().slice(-2)).toEqual(["freeze", "thaw"]);

    // with no command reading the state, the supervisor undoes it within a second
    f.svc.pause(id, { transient: true });
    const commit2 = proc(7009);
    setState(id, { PausedBy: { Pid: commit2.Pid, StartTime: commit2.StartTime } });
    commit2.die();
    for (let i = 0; i < 300 && f.svc.store.readState(id).Status === "paused"; i++) await Bun.sleep(10);
    expect(f.svc.store.readState(id)).toMatchObject({ Status: "running" });
    expect(f.runtime.frozen.size).toBe(0);

    // `berth pause` records no pauser: it outlives the command that took it
    f.svc.pause(id);
    expect(f.svc.store.readState(id).PausedBy).toBeUndefined();
    expect(f.svc.refreshState(id).Status).toBe("paused");
    f.svc.unpause(id);
    await f.svc.kill(id);
    await done;
  });
});

describe("a monitor found dead (issue 15)", () => {
  /** a process of the fake host that can die: a monitor, a container */
  const proc = (pid: number) => {
    f.runtime.adopt(pid);
    return { Pid: pid, StartTime: `t${pid}`, die: () => f.runtime.exit(pid, 137) };
  };
  const setState = (id: string, over: Record<string, unknown>) => f.svc.store.updateState(id, (s) => ({ ...s, ...over }));

  test("a dead monitor and a dead container: exited 255, and --restart always starts it again under a new monitor", async () => {
    const id = await f.create({ restart: "always" });
    const monitor = proc(7002);
    const ctr = proc(7003);
    setState(id, {
      Status: "running",
      Pid: ctr.Pid,
      StartTime: ctr.StartTime,
      MonitorPid: monitor.Pid,
      MonitorStartTime: monitor.StartTime,
      StartedAt: new Date().toISOString(),
    });
    monitor.die();
    ctr.die();
    const st = f.svc.refreshState(id);
    expect([st.Status, st.ExitCode, st.Restarting, st.MonitorPid]).toEqual(["stopped", 255, true, process.pid]);
    expect(f.launched.map((l) => l.args)).toEqual([["--root", f.root, "__monitor", "--resume", id]]);
    // the new monitor waits out the first back-off, then runs it again
    const pid = await running(id);
    expect(f.svc.refreshState(id).RestartCount).toBe(1);
    // a second reader sees a live monitor: no second launch
    expect(f.launched).toHaveLength(1);
    await f.svc.stop(id, 1);
    expect(await f.launched[0]!.done).toBe(143);
    expect(f.runtime.calls).toContainEqual({ op: "kill", args: [pid, 15] });
    expect(f.svc.refreshState(id)).toMatchObject({ Status: "stopped", Restarting: false, ManuallyStopped: true });
  });

  test("a monitor that died waiting out the back-off: the restart it owed happens; after a stop it does not", async () => {
    const id = await f.create({ restart: "on-failure" });
    const monitor = proc(7004);
    setState(id, {
      Status: "stopped",
      ExitCode: 1,
      Restarting: true,
      MonitorPid: monitor.Pid,
      MonitorStartTime: monitor.StartTime,
      StartedAt: new Date().toISOString(),
    });
    monitor.die();
    expect(f.svc.refreshState(id)).toMatchObject({ Status: "stopped", Restarting: true, MonitorPid: process.pid });
    await running(id);
    await f.svc.stop(id, 1);
    await f.launched[0]!.done;

    const other = await f.create({ restart: "always" });
    const m2 = proc(7005);
    setState(other, { Status: "stopped", Restarting: true, ManuallyStopped: true, MonitorPid: m2.Pid, MonitorStartTime: m2.StartTime });
    m2.die();
    expect(f.svc.refreshState(other)).toMatchObject({ Status: "stopped", Restarting: false, MonitorPid: 0 });
    expect(f.launched).toHaveLength(1);
  });

  test("no policy, on-failure past its count, or rm -f: reconciled to exited without a new monitor", async () => {
    const dead = () => {
      const m = proc(7100 + f.launched.length * 10 + Math.floor(Math.random() * 9));
      m.die();
      return { Status: "running", Pid: m.Pid, StartTime: m.StartTime, MonitorPid: m.Pid, MonitorStartTime: m.StartTime, StartedAt: new Date().toISOString() };
    };
    const plain = await f.create();
    setState(plain, dead());
    expect(f.svc.refreshState(plain)).toMatchObject({ Status: "stopped", ExitCode: 255, Error: "container supervisor exited unexpectedly", Restarting: false });
    const spent = await f.create({ restart: "on-failure:1" });
    setState(spent, { ...dead(), RestartCount: 1 });
    expect(f.svc.refreshState(spent)).toMatchObject({ Status: "stopped", Restarting: false });
    const gone = await f.create({ restart: "always" });
    setState(gone, dead());
    await f.svc.rm(gone, true);
    expect(existsSync(f.svc.store.dir(gone))).toBe(false);
    expect(f.launched).toEqual([]);
  });

  test("a running container whose monitor died is adopted by a new one: its exit is recorded and the policy applies", async () => {
    const id = await f.create({ restart: "on-failure:1" });
    const monitor = proc(7010);
    const ctr = proc(7011);
    f.runtime.cgroups.set(`berth/${id}`, new Set([ctr.Pid]));
    setState(id, {
      Status: "running",
      Pid: ctr.Pid,
      StartTime: ctr.StartTime,
      MonitorPid: monitor.Pid,
      MonitorStartTime: monitor.StartTime,
      StartedAt: new Date().toISOString(),
    });
    monitor.die();
    expect(f.svc.refreshState(id)).toMatchObject({ Status: "running", Pid: ctr.Pid, MonitorPid: process.pid });
    expect(f.launched.map((l) => l.args)).toEqual([["--root", f.root, "__monitor", "--adopt", id]]);
    await Bun.sleep(30);
    expect(f.svc.refreshState(id).Status).toBe("running"); // watched, not reconciled
    expect(f.launched).toHaveLength(1);
    ctr.die();
    // the exit nobody saw is 255, a failure: on-failure:1 starts it once more under the same monitor
    let pid = ctr.Pid;
    for (let i = 0; i < 200 && pid === ctr.Pid; i++) {
      await Bun.sleep(5);
      pid = await running(id);
    }
    expect(pid).not.toBe(ctr.Pid);
    expect(f.svc.refreshState(id)).toMatchObject({ RestartCount: 1, MonitorPid: process.pid });
    f.runtime.exit(pid, 0);
    expect(await f.launched[0]!.done).toBe(0);
    expect(f.svc.refreshState(id)).toMatchObject({ Status: "stopped", ExitCode: 0, Restarting: false, MonitorPid: 0 });
    expect(f.runtime.cgroups.size).toBe(0);
  });

  test("an adopter that finds the container exited already records the exit and applies the policy", async () => {
    const id = await f.create({ restart: "always" });
    const monitor = proc(7012);
    const ctr = proc(7013);
    setState(id, {
      Status: "running",
      Pid: ctr.Pid,
      StartTime: ctr.StartTime,
      MonitorPid: monitor.Pid,
      MonitorStartTime: monitor.StartTime,
      StartedAt: new Date().toISOString(),
    });
    monitor.die();
    f.svc.refreshState(id); // launches the adopter (it runs on the next tick)
    ctr.die();
    let pid = ctr.Pid;
    for (let i = 0; i < 200 && pid === ctr.Pid; i++) {
      await Bun.sleep(5);
      const st = f.svc.store.readState(id);
      if (st.Status === "running" && st.Pid) pid = st.Pid;
    }
    expect(pid).not.toBe(ctr.Pid);
    expect(f.svc.store.readState(id)).toMatchObject({ RestartCount: 1, MonitorPid: process.pid });
    await f.svc.stop(id, 1);
    await f.launched[0]!.done;
  });

  test("a beginRestart of a monitor that lost the container to another process changes nothing", async () => {
    const id = await f.create({ restart: "always" });
    const { beginRestart } = await import("./restart-policy.ts");
    const other = proc(7006);
    setState(id, { Status: "running", Restarting: false, MonitorPid: other.Pid, MonitorStartTime: other.StartTime });
    expect(beginRestart(f.svc.deps, id)).toBe(false);
    expect(f.svc.store.readState(id)).toMatchObject({ MonitorPid: other.Pid, MonitorStartTime: other.StartTime });
  });
});

describe("system restore: docker's restart at daemon start", () => {
  test("which stopped containers run again", async () => {
    const { shouldRunAtRestore } = await import("./restore.ts");
    const { initialState } = await import("../types.ts");
    const ran = { ...initialState(), Status: "stopped" as const, StartedAt: "2026-01-01T00:00:00Z" };
    const p = (Name: string) => ({ Name, MaximumRetryCount: 0 });
    expect(shouldRunAtRestore(p("always"), { ...ran, ManuallyStopped: true })).toBe(true);
    expect(shouldRunAtRestore(p("always"), { ...ran, StartedAt: "0001-01-01T00:00:00Z" })).toBe(false);
    expect(shouldRunAtRestore(p("unless-stopped"), ran)).toBe(true);
    expect(shouldRunAtRestore(p("unless-stopped"), { ...ran, ManuallyStopped: true })).toBe(false);
    expect(shouldRunAtRestore(p("on-failure"), { ...ran, ExitCode: 255 })).toBe(true);
    expect(shouldRunAtRestore(p("on-failure"), { ...ran, ExitCode: 0 })).toBe(false);
    expect(shouldRunAtRestore(p("on-failure"), { ...ran, ExitCode: 137, ManuallyStopped: true })).toBe(false);
    expect(shouldRunAtRestore(p("no"), { ...ran, ExitCode: 1 })).toBe(false);
    expect(shouldRunAtRestore(undefined, ran)).toBe(false);
  });
});
