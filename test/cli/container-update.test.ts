/** `update`: limits reach a running container's cgroup at once and stay in the record; docker's errors. Root only. */
import { describe, expect, test } from "bun:test";
import { type CliResult, busyboxRoot } from "../helpers/cli.ts";
import { rootEnabled } from "../helpers/root.ts";

const { run } = busyboxRoot("update");
const ok = (r: CliResult) => expect(r).toMatchObject({ exitCode: 0 });
const sfx = Math.random().toString(36).slice(2, 8);

describe.skipIf(!rootEnabled)("update", () => {
  test("memory, cpus, pids and restart policy of a running container, seen from inside and in inspect", async () => {
    const name = `u-${sfx}`;
    ok(await run(["run", "-d", "--network", "none", "--name", name, "-m", "32m", "busybox", "sleep", "60"]));
    const r = await run(["update", "-m", "64m", "--cpus", "0.5", "--pids-limit", "40", "--cpu-shares", "512", "--restart", "on-failure:3", name]);
    expect(r).toMatchObject({ exitCode: 0, stdout: `${name}\n` });
    const inside = await run([
      "exec",
      name,
      "cat",
      "/sys/fs/cgroup/memory/memory.limit_in_bytes",
      "/sys/fs/cgroup/cpu/cpu.cfs_quota_us",
      "/sys/fs/cgroup/pids/pids.max",
      "/sys/fs/cgroup/cpu/cpu.shares",
    ]);
    expect(inside).toMatchObject({ exitCode: 0, stdout: `${64 * 1024 * 1024}\n50000\n40\n512\n` });
    expect(
      (
        await run([
          "inspect",
          "-f",
          "{{.HostConfig.Memory}} {{.HostConfig.NanoCpus}} {{.HostConfig.PidsLimit}} {{.HostConfig.RestartPolicy.Name}}:{{.HostConfig.RestartPolicy.MaximumRetryCount}}",
          name,
        ])
      ).stdout,
    ).toBe(`${64 * 1024 * 1024} 500000000 40 on-failure:3\n`);
    // the record keeps them: a restart gets the new limits
    ok(await run(["restart", "-t", "0", name]));
    expect((await run(["exec", name, "cat", "/sys/fs/cgroup/pids/pids.max"])).stdout).toBe("40\n");

    const small = await run(["update", "-m", "1k", name]);
    expect(small.exitCode).toBe(1);
    expect(small.stderr).toContain(`Cannot update container ${name}: Minimum memory limit allowed is 6MB`);
    const none = await run(["update", name]);
    expect(none.exitCode).toBe(1);
    expect(none.stderr).toContain("you must provide one or more flags when using this command");
    const missing = await run(["update", "-m", "64m", `nope-${sfx}`]);
    expect(missing.exitCode).toBe(1);
    expect(missing.stderr).toContain(`No such container: nope-${sfx}`);
    ok(await run(["rm", "-f", name]));
    ok(await run(["run", "-d", "--rm", "--network", "none", "--name", `${name}r`, "busybox", "sleep", "60"]));
    const auto = await run(["update", "--restart", "always", `${name}r`]);
    expect(auto.exitCode).toBe(1);
    expect(auto.stderr).toContain("Restart policy cannot be updated because AutoRemove is enabled for the container");
    ok(await run(["rm", "-f", `${name}r`]));
  });

  test("wait of a run -d --rm container reports its exit code though the record is gone", async () => {
    const r = await run(["run", "-d", "--rm", "--network", "none", "busybox", "sh", "-c", "sleep 0.5; exit 3"]);
    ok(r);
    const w = await run(["wait", r.stdout.trim()]);
    expect(w).toMatchObject({ exitCode: 0, stdout: "3\n" });
    expect((await run(["ps", "-aq"])).stdout).toBe("");
  });
});
