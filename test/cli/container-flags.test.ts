/**
 * `run` flags and lifecycle verbs a docker user relies on, checked from inside the container (what the
 * process sees) through the real CLI: env files, user:group names, entrypoint, resource limits in the
 * container's own cgroup view, network modes, no-new-privileges, --init, /proc masks, start -a/-i,
 * attach, logs --since/-f, ps filters and JSON, stop's SIGKILL after -t, stats. Root only.
 */
import { describe, expect, test } from "bun:test";
import { existsSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { berth, berthArgv, busyboxRoot } from "../helpers/cli.ts";
import { rootEnabled } from "../helpers/root.ts";

const { root, run } = busyboxRoot("flags");
const out = async (args: string[], o: { stdin?: string } = {}) => {
  const r = await run(args, o);
  expect({ args, stderr: r.stderr, exitCode: r.exitCode }).toEqual({ args, stderr: "", exitCode: 0 });
  return r.stdout;
};

describe.skipIf(!rootEnabled)("run flags, seen from inside", () => {
  test("--env-file (comments, bare names taken from the caller), -e wins over the file", async () => {
    const f = join(root, "env.list");
    writeFileSync(f, "# a comment\nA=from-file\nB=file\n\nFROM_CALLER\n");
    const r = await berth(["run", "--rm", "--network", "none", "--env-file", f, "-e", "B=flag", "busybox", "sh", "-c", 'echo "$A $B $FROM_CALLER"'], {
      root,
      env: { FROM_CALLER: "caller" },
    });
    expect(r).toMatchObject({ exitCode: 0, stdout: "from-file flag caller\n" });
    const bad = await run(["run", "--rm", "--env-file", join(root, "missing.list"), "busybox", "true"]);
    expect(bad.exitCode).toBe(125);
    expect(bad.stderr).toContain("missing.list");
  });

  test("-u NAME:GROUP and UID:GID resolve in the image; --entrypoint replaces the image's", async () => {
    expect(await out(["run", "--rm", "--network", "none", "-u", "nobody:nogroup", "busybox", "id"])).toBe(
      "uid=65534(nobody) gid=65534(nogroup) groups=65534(nogroup)\n",
    );
    expect(await out(["run", "--rm", "--network", "none", "-u", "1234:5678", "busybox", "sh", "-c", "id -u; id -g"])).toBe("1234\n5678\n");
    expect(await out(["run", "--rm", "--network", "none", "--entrypoint", "echo", "busybox", "a", "b"])).toBe("a b\n");
  });

  test("-m, --cpus, --pids-limit are the container's own cgroup limits", async () => {
    const script =
      "cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/cpu/cpu.cfs_quota_us /sys/fs/cgroup/cpu/cpu.cfs_period_us /sys/fs/cgroup/pids/pids.max";
    expect(await out(["run", "--rm", "--network", "none", "-m", "64m", "--cpus", "0.5", "--pids-limit", "20", "busybox", "sh", "-c", script])).toBe(
      `${64 << 20}\n50000\n100000\n20\n`,
    );
    // a fork bomb stops at the limit instead of taking the host down
    const r = await run([
      "run",
      "--rm",
      "--network",
      "none",
      "--pids-limit",
      "8",
      "busybox",
      "sh",
      "-c",
      "for i in 1 2 3 4 5 6 7 8 9 10; do sleep 2 & done; wait; echo all-forked",
    ]);
    expect(r.stdout).toBe("");
    expect(r.stderr).toMatch(/can't fork|Resource temporarily unavailable/);
  });

  test("--network none has only lo; --network host sees the host's interfaces", async () => {
    expect(await out(["run", "--rm", "--network", "none", "busybox", "ls", "/sys/class/net"])).toBe("lo\n");
    // (other tests add and remove veths meanwhile: compare the stable ones)
    const host = (await out(["run", "--rm", "--network", "host", "busybox", "ls", "/sys/class/net"])).split("\n").filter(Boolean);
    const mine = readdirSync("/sys/class/net").filter((n) => !n.startsWith("veth"));
    expect(host.filter((n) => !n.startsWith("veth")).sort()).toEqual(mine.sort());
  });

  test("--security-opt no-new-privileges, --init as PID 1", async () => {
    expect(await out(["run", "--rm", "--network", "none", "busybox", "grep", "NoNewPrivs", "/proc/self/status"])).toBe("NoNewPrivs:\t0\n");
    expect(await out(["run", "--rm", "--network", "none", "--security-opt", "no-new-privileges", "busybox", "grep", "NoNewPrivs", "/proc/self/status"])).toBe(
      "NoNewPrivs:\t1\n",
    );
    expect(
      await out(["run", "--rm", "--network", "none", "--security-opt", "no-new-privileges:true", "busybox", "grep", "NoNewPrivs", "/proc/self/status"]),
    ).toBe("NoNewPrivs:\t1\n");
    const r = await run(["run", "--rm", "--network", "none", "--init", "busybox", "sh", "-c", "cat /proc/1/comm; exit 3"]);
    expect(r).toMatchObject({ exitCode: 3, stdout: "berth-init\n" });
  });

  test("docker's masks over /proc (those this kernel has), /proc/sys and /sys read-only; --privileged lifts them", async () => {
    const masked = ["/proc/kcore", "/proc/keys", "/proc/timer_list", "/proc/sched_debug", "/proc/latency_stats"].filter((p) => existsSync(p));
    const script = [
      ...masked.map((p) => `echo "${p} $(wc -c < ${p})"`),
      "echo x 2>/dev/null >/proc/sys/kernel/hostname && echo sys-rw || echo sys-ro",
      "touch /sys/x 2>/dev/null && echo sysfs-rw || echo sysfs-ro",
      "ls /sys/firmware | wc -l",
    ].join("; ");
    const want = [...masked.map((p) => `${p} 0`), "sys-ro", "sysfs-ro", "0"].join("\n") + "\n";
    expect(await out(["run", "--rm", "--network", "none", "busybox", "sh", "-c", script])).toBe(want);
    const priv = await out([
      "run",
      "--rm",
      "--network",
      "none",
      "--privileged",
      "busybox",
      "sh",
      "-c",
      "grep -c -E ' /proc/(keys|sys) ' /proc/self/mountinfo || true",
    ]);
    expect(priv).toBe("0\n");
  });
});

describe.skipIf(!rootEnabled)("lifecycle verbs", () => {
  test("create + start -a prints the output and returns the exit code; start -a -i feeds stdin", async () => {
    await out(["create", "--name", "sa", "--network", "none", "busybox", "sh", "-c", "echo started; exit 6"]);
    expect(await run(["start", "-a", "sa"])).toMatchObject({ stdout: "started\n", exitCode: 6 });
    await out(["create", "-i", "--name", "si", "--network", "none", "busybox", "sh", "-c", "tr a-z A-Z"]);
    expect(await run(["start", "-a", "-i", "si"], { stdin: "shout\n" })).toMatchObject({ stdout: "SHOUT\n", exitCode: 0 });
    await out(["rm", "sa", "si"]);
  });

  test("attach follows a detached container to its end and returns its exit code", async () => {
    await out(["run", "-d", "--name", "att", "--network", "none", "busybox", "sh", "-c", "sleep 2; echo late; exit 9"]);
    expect(await run(["attach", "att"])).toMatchObject({ stdout: "late\n", exitCode: 9 });
    await out(["rm", "att"]);
  });

  test("logs -f until the end, --since; ps -a filters and --format json", async () => {
    await out(["run", "-d", "--name", "lg", "--network", "none", "busybox", "sh", "-c", "echo one; sleep 1; echo two"]);
    expect(await out(["logs", "-f", "lg"])).toBe("one\ntwo\n");
    expect(await out(["logs", "--since", "2000-01-01T00:00:00Z", "lg"])).toBe("one\ntwo\n");
    expect(await out(["logs", "--since", "2999-01-01T00:00:00Z", "lg"])).toBe("");
    expect(await out(["ps", "-a", "-q", "-f", "ancestor=busybox", "-f", "name=lg"])).toMatch(/^[0-9a-f]{12}\n$/);
    expect(await out(["ps", "-a", "-q", "-f", "ancestor=nosuch"])).toBe("");
    const row = JSON.parse((await out(["ps", "-a", "-f", "name=lg", "--format", "json"])).trim());
    expect(row).toMatchObject({ Names: "lg", Image: "busybox", State: "exited" });
    expect(row.Status).toMatch(/^Exited \(0\) /);
    await out(["rm", "lg"]);
  });

  test("stop -t: SIGTERM first, SIGKILL when it is ignored (137)", async () => {
    await out(["run", "-d", "--name", "stubborn", "--network", "none", "busybox", "sh", "-c", "trap '' TERM; while :; do sleep 0.1; done"]);
    await out(["stop", "-t", "1", "stubborn"]);
    expect(await out(["inspect", "-f", "{{.State.ExitCode}}", "stubborn"])).toBe("137\n");
    await out(["rm", "stubborn"]);
  });

  test("stats --no-stream: one table row with the memory limit", async () => {
    await out(["run", "-d", "--name", "st", "--network", "none", "-m", "32m", "busybox", "sleep", "100"]);
    const s = await out(["stats", "--no-stream", "st"]);
    const [head, row] = s.split("\n");
    expect(head).toMatch(/^CONTAINER ID\s+NAME\s+CPU %\s+MEM USAGE \/ LIMIT\s+MEM %\s+NET I\/O\s+BLOCK I\/O\s+PIDS$/);
    expect(row).toMatch(/\bst\b.*\/ 32MiB/);
    // streaming redraws each second, through a pipe too (docker's escape codes); a reader that goes away
    // ends it with 141 and nothing on stderr, as docker's SIGPIPE death
    const stream = Bun.spawn(berthArgv(["--root", root, "stats", "st"]), { stdout: "pipe", stderr: "pipe" });
    const reader = stream.stdout.getReader();
    let seen = "";
    while ((seen.match(/CONTAINER ID/g) ?? []).length < 2) {
      const { value, done } = await reader.read();
      if (done) break;
      seen += new TextDecoder().decode(value);
    }
    reader.releaseLock();
    await stream.stdout.cancel();
    expect(seen.startsWith("\x1b[2J\x1b[H")).toBe(true);
    expect((seen.match(/CONTAINER ID/g) ?? []).length).toBe(2);
    expect(await stream.exited).toBe(141);
    expect(await new Response(stream.stderr).text()).toBe("");
    await out(["rm", "-f", "st"]);
  });
});
