/**
 * kill -9 against supervision (issue 15 items 2, 4, 12), through the real CLI: a `run -d` killed at fixed
 * instants leaves no container or a supervised one (its output kept), never a record `ps -a` hides; a
 * killed `commit` does not leave the container paused; a container whose monitor died gets a new one
 * from the next command (and is restarted under its restart policy); `system restore` starts what docker's daemon would at boot.
 * Root only.
 */
import { describe, expect, test } from "bun:test";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { type CliResult, berthArgv, busyboxRoot, repo, waitUntil } from "../helpers/cli.ts";
import { rootEnabled } from "../helpers/root.ts";

const { root, run } = busyboxRoot("killsup");
const ok = (r: CliResult) => expect(r).toMatchObject({ exitCode: 0 });
const net = ["--network", "none"];
const sfx = Math.random().toString(36).slice(2, 8);
const containersDir = join(root, "containers");

/** start the CLI, SIGKILL it `ms` later; whether the kill found it still running */
async function killAt(args: string[], ms: number): Promise<boolean> {
  const p = Bun.spawn(berthArgv(["--root", root, ...args]), { stdin: "ignore", stdout: "ignore", stderr: "ignore", env: { ...process.env, NO_COLOR: "1" } });
  const done = await Promise.race([p.exited.then(() => true), Bun.sleep(ms).then(() => false)]);
  if (!done) p.kill("SIGKILL");
  await p.exited;
  return !done;
}

const alive = (pid: number) => pid > 0 && existsSync(`/proc/${pid}/status`) && !/^State:\s+Z/m.test(readFileSync(`/proc/${pid}/status`, "utf8"));
// a record without state.json is a created container (store.readState): killed between the two writes
const state = (id: string) => {
  const f = join(containersDir, id, "state.json");
  return existsSync(f) ? JSON.parse(readFileSync(f, "utf8")) : { Pid: 0, MonitorPid: 0 };
};
const dirs = () => readdirSync(containersDir).filter((d) => /^[0-9a-f]{64}$/.test(d));
const ids = async (all = true) => (await run(["ps", ...(all ? ["-a"] : []), "-q", "--no-trunc"])).stdout.split("\n").filter(Boolean);
const monitors = () =>
  Bun.spawnSync(["ps", "-eo", "args"])
    .stdout.toString()
    .split("\n")
    .filter((l) => l.includes(`--root ${root} __monitor`));

describe.skipIf(!rootEnabled)("kill -9 and supervision", () => {
  test("run -d killed at fixed instants: no container process, or one supervised with its output logged; rm -f removes all", async () => {
    for (const ms of [5, 25, 50, 75, 100, 130, 170, 220, 300]) {
      await killAt(["run", "-d", ...net, "--label", "killsup=1", "busybox", "sh", "-c", "echo hi; exec sleep 1000"], ms);
      const listed = new Set(await ids());
      for (const id of dirs()) {
        if (!existsSync(join(containersDir, id, "config.json"))) continue; // debris of a create: the next create sweeps it
        expect(listed.has(id)).toBe(true);
        const st = state(id);
        if (alive(st.Pid)) {
          expect({ id, ms, monitor: alive(st.MonitorPid) }).toEqual({ id, ms, monitor: true });
          await waitUntil(`the output of ${id.slice(0, 12)}`, async () => (await run(["logs", id])).stdout === "hi\n", 5000);
        }
      }
    }
    // the next create sweeps half-created records; after rm -f of everything ps shows, nothing remains
    ok(await run(["create", ...net, "busybox", "true"]));
    const all = await ids();
    ok(await run(["rm", "-f", ...all]));
    expect(dirs()).toEqual([]);
    await waitUntil("the monitors to go", async () => monitors().length === 0, 5000);
    const check = await run(["system", "check"]);
    expect({ exitCode: check.exitCode, stdout: check.stdout }).toMatchObject({ exitCode: 0, stdout: expect.stringMatching(/: ok\n$/) });
  });

  test("commit killed while the container is paused: its monitor or the next command thaws it; a user's pause is kept", async () => {
    const name = `cm-${sfx}`;
    ok(await run(["run", "-d", ...net, "--name", name, "busybox", "sh", "-c", "head -c 30000000 /dev/urandom > /data; exec sleep 1000"]));
    await waitUntil("the data", async () => (await run(["exec", name, "sh", "-c", "test $(wc -c < /data) = 30000000"])).exitCode === 0);
    const id = (await run(["inspect", "-f", "{{.Id}}", name])).stdout.trim();
    let pausedSeen = 0;
    for (const ms of [60, 120, 200, 300]) {
      await killAt(["commit", name, `killsup/c:${ms}`], ms);
      if (state(id).Status === "paused" && pausedSeen++ % 2 === 0) {
        // with no command at all, its monitor undoes the pause within a second
        await waitUntil("the monitor to thaw it", async () => state(id).Status === "running", 3000);
      }
      // any reader thaws it: inspect says running, and exec works (it would hang in a frozen cgroup)
      expect((await run(["inspect", "-f", "{{.State.Status}} {{.State.Paused}}", name])).stdout.trim()).toBe("running false");
      expect(state(id).Status).toBe("running");
      ok(await run(["exec", name, "true"], { timeoutMs: 5000 }));
    }
    // a later commit pauses and unpauses as usual
    ok(await run(["commit", name, "killsup/c:last"]));
    expect((await run(["inspect", "-f", "{{.State.Status}}", name])).stdout.trim()).toBe("running");
    ok(await run(["pause", name]));
    expect((await run(["inspect", "-f", "{{.State.Status}}", name])).stdout.trim()).toBe("paused");
    ok(await run(["unpause", name]));
    ok(await run(["rm", "-f", name]));
    // the kills are not a timing assertion, but at least one of them must have caught the pause
    expect(pausedSeen).toBeGreaterThan(0);
  });

  test("a monitor killed with its container: the next command records the exit and --restart always runs it again", async () => {
    const name = `mon-${sfx}`;
    ok(await run(["run", "-d", ...net, "--name", name, "--restart", "always", "busybox", "sleep", "1000"]));
    const id = (await run(["inspect", "-f", "{{.Id}}", name])).stdout.trim();
    const before = state(id);
    process.kill(before.MonitorPid, "SIGKILL");
    process.kill(before.Pid, "SIGKILL");
    await waitUntil("both gone", async () => !alive(before.MonitorPid) && !alive(before.Pid), 5000);
    // ps reconciles it and hands the restart to a new monitor
    await waitUntil("a restart", async () => {
      await run(["ps"]);
      const st = state(id);
      return st.Status === "running" && alive(st.Pid) && st.Pid !== before.Pid;
    });
    const after = state(id);
    expect(alive(after.MonitorPid)).toBe(true);
    expect(after.MonitorPid).not.toBe(before.MonitorPid);
    expect(after.RestartCount).toBe(1);
    ok(await run(["stop", "-t", "1", name]));
    ok(await run(["rm", name]));
  });

  test("a monitor killed alone: the next command gives the running container a new monitor, which applies the policy at its exit", async () => {
    const name = `ad-${sfx}`;
    ok(await run(["run", "-d", ...net, "--name", name, "--restart", "always", "busybox", "sleep", "1000"]));
    const id = (await run(["inspect", "-f", "{{.Id}}", name])).stdout.trim();
    const before = state(id);
    process.kill(before.MonitorPid, "SIGKILL");
    await waitUntil("the monitor gone", async () => !alive(before.MonitorPid), 5000);
    expect((await run(["ps", "--format", "{{.Names}} {{.State}}"])).stdout).toContain(`${name} running`);
    const adopted = state(id);
    expect([adopted.Pid, alive(adopted.MonitorPid), adopted.MonitorPid !== before.MonitorPid]).toEqual([before.Pid, true, true]);
    // its exit (nobody can see the code: 255) under --restart always: started again by that monitor
    process.kill(before.Pid, "SIGKILL");
    await waitUntil("a restart", async () => {
      const st = state(id);
      return st.Status === "running" && alive(st.Pid) && st.Pid !== before.Pid;
    });
    expect(state(id)).toMatchObject({ MonitorPid: adopted.MonitorPid, RestartCount: 1 });
    ok(await run(["stop", "-t", "1", name]));
    ok(await run(["rm", name]));
  });

  test("system restore starts what docker's daemon would after a reboot, and the boot units call it", async () => {
    const names = { always: `ra-${sfx}`, stoppedAlways: `rsa-${sfx}`, unless: `ru-${sfx}`, failed: `rf-${sfx}`, plain: `rp-${sfx}`, never: `rn-${sfx}` };
    ok(await run(["run", "-d", ...net, "--name", names.always, "--restart", "always", "busybox", "sleep", "1000"]));
    ok(await run(["run", "-d", ...net, "--name", names.stoppedAlways, "--restart", "always", "busybox", "sleep", "1000"]));
    ok(await run(["stop", "-t", "0", names.stoppedAlways]));
    ok(await run(["run", "-d", ...net, "--name", names.unless, "--restart", "unless-stopped", "busybox", "sleep", "1000"]));
    ok(await run(["stop", "-t", "0", names.unless]));
    ok(await run(["run", "-d", ...net, "--name", names.failed, "--restart", "on-failure:1", "busybox", "sh", "-c", "exit 3"]));
    ok(await run(["run", "-d", ...net, "--name", names.plain, "busybox", "sleep", "1000"]));
    ok(await run(["create", ...net, "--name", names.never, "--restart", "always", "busybox", "sleep", "1000"]));
    await waitUntil(
      "on-failure to give up",
      async () => (await run(["inspect", "-f", "{{.State.Status}} {{.RestartCount}}", names.failed])).stdout.trim() === "exited 1",
    );
    // a reboot: every monitor and container process gone, state.json as they left it
    for (const n of [names.always, names.plain]) {
      const st = state((await run(["inspect", "-f", "{{.Id}}", n])).stdout.trim());
      process.kill(st.MonitorPid, "SIGKILL");
      process.kill(st.Pid, "SIGKILL");
    }
    await waitUntil("the monitors to go", async () => monitors().length === 0, 5000);
    const r = await run(["system", "restore"]);
    ok(r);
    expect(r.stdout.split("\n").filter(Boolean).sort()).toEqual([names.always, names.stoppedAlways, names.failed].sort());
    const status = async (n: string) => (await run(["inspect", "-f", "{{.State.Status}}", n])).stdout.trim();
    expect(await status(names.always)).toBe("running");
    expect(await status(names.stoppedAlways)).toBe("running");
    expect(await status(names.unless)).toBe("exited");
    expect(await status(names.plain)).toBe("exited");
    expect(await status(names.never)).toBe("created");
    // the second time the running ones are left alone; the failing on-failure one runs again (as at every
    // start of docker's daemon: its retry count is the daemon's, not the container's)
    const pid = (await run(["inspect", "-f", "{{.State.Pid}}", names.always])).stdout;
    await waitUntil("the failing one to exit again", async () => (await status(names.failed)) === "exited");
    expect(await run(["system", "restore"])).toMatchObject({ exitCode: 0, stdout: `${names.failed}\n` });
    expect((await run(["inspect", "-f", "{{.State.Pid}}", names.always])).stdout).toBe(pid);
    ok(await run(["rm", "-f", ...Object.values(names)]));

    for (const f of ["contrib/berth-restore.service", "contrib/berth-restore.openrc", "contrib/berth-restore.init"])
      expect(readFileSync(join(repo, f), "utf8")).toContain("system restore");
  });
});
