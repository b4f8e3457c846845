/**
 * Host-resource flags through the CLI, checked from inside the container: --ulimit, --device,
 * --shm-size, --sysctl, --cpuset-cpus, --memory-reservation, --ipc/--pid (host and container:NAME),
 * --uts host; docker's errors for bad values. Root only.
 */
import { describe, expect, test } from "bun:test";
import { readlinkSync, readFileSync } from "node:fs";
import { hostname } from "node:os";
import { type CliResult, busyboxRoot } from "../helpers/cli.ts";
import { rootEnabled } from "../helpers/root.ts";

const { run } = busyboxRoot("hostopts");
const ok = (r: CliResult) => expect(r).toMatchObject({ exitCode: 0 });
const sfx = Math.random().toString(36).slice(2, 8);
const net = ["--network", "none"];

describe.skipIf(!rootEnabled)("host-resource flags", () => {
  test("--ulimit, --device, --shm-size, --sysctl, --cpuset-cpus, --memory-reservation from inside", async () => {
    const r = await run([
      "run",
      "--rm",
      ...net,
      "--ulimit",
      "nofile=1000:2000",
      "--ulimit",
      "nproc=300",
      "--device",
      "/dev/zero:/dev/z2:r",
      "--shm-size",
      "16m",
      "--sysctl",
      "kernel.msgmax=4321",
      "--sysctl",
      "net.ipv4.ip_forward=1",
      "--cpuset-cpus",
      "0",
      "--memory-reservation",
      "20m",
      "busybox",
      "sh",
      "-c",
      "ulimit -n; ulimit -Hn; ulimit -u; head -c2 /dev/z2 | od -An -tx1; df -k /dev/shm | tail -1 | awk '{print $2}'; cat /proc/sys/kernel/msgmax /proc/sys/net/ipv4/ip_forward /sys/fs/cgroup/cpuset/cpuset.cpus /sys/fs/cgroup/memory/memory.soft_limit_in_bytes",
    ]);
    ok(r);
    expect(r.stdout.split("\n").map((l) => l.trim())).toEqual(["1000", "2000", "300", "00 00", "16384", "4321", "1", "0", String(20 * 1024 * 1024), ""]);
    // :r only — the device cgroup lets a read open through and refuses a write open
    const w = await run([
      "run",
      "--rm",
      ...net,
      "--device",
      "/dev/loop-control:/dev/lc:r",
      "busybox",
      "sh",
      "-c",
      "true < /dev/lc && echo read-ok; true > /dev/lc",
    ]);
    expect(w.exitCode).not.toBe(0);
    expect(w.stdout).toBe("read-ok\n");
    expect(w.stderr).toContain("Operation not permitted");
    const insp = await run([
      "create",
      ...net,
      "--name",
      `ho-${sfx}`,
      "--ulimit",
      "nofile=10:20",
      "--device",
      "/dev/zero",
      "--shm-size",
      "1g",
      "--sysctl",
      "kernel.shmmax=1",
      "busybox",
      "true",
    ]);
    ok(insp);
    const hc = JSON.parse((await run(["inspect", "-f", "{{json .HostConfig}}", `ho-${sfx}`])).stdout);
    expect(hc).toMatchObject({
      Ulimits: [{ Name: "nofile", Soft: 10, Hard: 20 }],
      Devices: [{ PathOnHost: "/dev/zero", PathInContainer: "/dev/zero", CgroupPermissions: "rwm" }],
      ShmSize: 1024 ** 3,
      Sysctls: { "kernel.shmmax": "1" },
    });
    ok(await run(["rm", `ho-${sfx}`]));
  });

  test("--ipc/--pid host and container:NAME, --uts host", async () => {
    const hostIpc = readlinkSync("/proc/self/ns/ipc");
    const r = await run(["run", "--rm", ...net, "--ipc", "host", "--uts", "host", "busybox", "sh", "-c", "readlink /proc/self/ns/ipc; hostname"]);
    expect(r).toMatchObject({ exitCode: 0, stdout: `${hostIpc}\n${hostname()}\n` });
    const pidHost = await run(["run", "--rm", ...net, "--pid", "host", "busybox", "sh", "-c", "readlink /proc/self/ns/pid; echo $$"]);
    ok(pidHost);
    expect(pidHost.stdout.split("\n")[0]).toBe(readlinkSync("/proc/self/ns/pid"));
    expect(pidHost.stdout.split("\n")[1]).not.toBe("1");

    const src = `src-${sfx}`;
    ok(await run(["run", "-d", ...net, "--name", src, "busybox", "sleep", "60"]));
    const srcPid = Number((await run(["inspect", "-f", "{{.State.Pid}}", src])).stdout.trim());
    const j = await run([
      "run",
      "--rm",
      ...net,
      "--ipc",
      `container:${src}`,
      "--pid",
      `container:${src}`,
      "busybox",
      "sh",
      "-c",
      "readlink /proc/self/ns/ipc; ps -o comm | grep -c sleep",
    ]);
    expect(j).toMatchObject({ exitCode: 0, stdout: `${readlinkSync(`/proc/${srcPid}/ns/ipc`)}\n1\n` });
    ok(await run(["stop", "-t", "0", src]));
    const dead = await run(["run", "--rm", ...net, "--ipc", `container:${src}`, "busybox", "true"]);
    expect(dead.exitCode).toBe(125);
    expect(dead.stderr).toContain("cannot join IPC of a non running container: ");
    ok(await run(["rm", src]));
  });

  test("--log-opt max-size/max-file rotate the json-file log; logs reads across the files; --log-driver none keeps nothing", async () => {
    const name = `log-${sfx}`;
    ok(
      await run([
        "run",
        ...net,
        "--name",
        name,
        "--log-opt",
        "max-size=2k",
        "--log-opt",
        "max-file=3",
        "busybox",
        "sh",
        "-c",
        "i=0; while [ $i -lt 400 ]; do echo line-$i; i=$((i+1)); done",
      ]),
    );
    const logPath = (await run(["inspect", "-f", "{{.LogPath}}", name])).stdout.trim();
    const { existsSync, statSync } = await import("node:fs");
    for (const f of [logPath, `${logPath}.1`, `${logPath}.2`]) {
      expect(existsSync(f)).toBe(true);
      expect(statSync(f).size).toBeLessThanOrEqual(2048);
    }
    expect(existsSync(`${logPath}.3`)).toBe(false);
    const lines = (await run(["logs", name])).stdout.trim().split("\n");
    expect(lines.at(-1)).toBe("line-399");
    const first = Number(lines[0]!.slice(5));
    expect(lines).toEqual(Array.from({ length: 400 - first }, (_, i) => `line-${first + i}`));
    expect((await run(["logs", "--tail", "2", name])).stdout).toBe("line-398\nline-399\n");
    expect(await run(["inspect", "-f", "{{json .HostConfig.LogConfig}}", name])).toMatchObject({
      stdout: '{"Type":"json-file","Config":{"max-file":"3","max-size":"2k"}}\n',
    });
    ok(await run(["rm", name]));

    ok(await run(["run", ...net, "--name", `${name}n`, "--log-driver", "none", "busybox", "echo", "hi"]));
    const none = await run(["logs", `${name}n`]);
    expect(none.exitCode).toBe(1);
    expect(none.stderr).toContain("configured logging driver does not support reading");
    ok(await run(["rm", `${name}n`]));
    const badOpt = await run(["run", "--rm", ...net, "--log-opt", "max-file=2", "busybox", "true"]);
    expect(badOpt.exitCode).toBe(125);
    expect(badOpt.stderr).toContain("max-file cannot be set without max-size");
  });

  test("--mount: a bind (ro), a named volume, a tmpfs with size and mode, seen from inside; a missing bind source is refused", async () => {
    const { mkdtempSync, writeFileSync, rmSync, existsSync } = await import("node:fs");
    const host = mkdtempSync("/tmp/berth-test-mount-");
    try {
      writeFileSync(`${host}/f`, "from-host\n");
      const vol = `mv-${sfx}`;
      const r = await run([
        "run",
        "--rm",
        ...net,
        "--mount",
        `type=bind,source=${host},target=/h,readonly`,
        "--mount",
        `source=${vol},target=/v`,
        "--mount",
        "type=tmpfs,target=/t,tmpfs-size=8m,tmpfs-mode=1770",
        "busybox",
        "sh",
        "-c",
        "cat /h/f; touch /h/x 2>/dev/null || echo ro-ok; echo kept > /v/k; stat -c %a /t; df -k /t | tail -1 | awk '{print $2}'",
      ]);
      expect(r).toMatchObject({ exitCode: 0, stdout: "from-host\nro-ok\n1770\n8192\n" });
      expect((await run(["run", "--rm", ...net, "--mount", `src=${vol},dst=/v`, "busybox", "cat", "/v/k"])).stdout).toBe("kept\n");
      ok(await run(["volume", "rm", vol]));
      const missing = await run(["run", "--rm", ...net, "--mount", `type=bind,source=${host}/nope,target=/h`, "busybox", "true"]);
      expect(missing.exitCode).toBe(125);
      expect(missing.stderr).toContain(`invalid mount config for type "bind": bind source path does not exist: ${host}/nope`);
      expect(existsSync(`${host}/nope`)).toBe(false);
    } finally {
      rmSync(host, { recursive: true, force: true });
    }
  });

  test("bad values: docker's words, exit 125, nothing created", async () => {
    const cases: [string[], string][] = [
      [["--ulimit", "nofile=5:2"], `invalid argument "nofile=5:2" for "--ulimit" flag: ulimit soft limit must be less than or equal to hard limit: 5 > 2`],
      [["--ulimit", "bogus=1"], "invalid ulimit type: bogus"],
      [["--sysctl", "vm.swappiness=1"], `sysctl "vm.swappiness" is not in a separate kernel namespace`],
      [["--ipc", "host", "--sysctl", "kernel.shmmax=1"], `sysctl "kernel.shmmax" not allowed in host ipc namespace`],
      [["--device", "/dev/nope-berth"], `error gathering device information while adding custom device "/dev/nope-berth": no such file or directory`],
      [["--device", "/etc/passwd"], "not a device node"],
      [["--cpuset-cpus", "0-99"], "Requested CPUs are not available - requested 0-99"],
      [["-m", "10m", "--memory-reservation", "20m"], "Minimum memory limit can not be less than memory reservation limit"],
      [["--ipc", "bogus"], "invalid IPC mode: bogus"],
      [["--pid", "bogus"], "invalid PID mode"],
    ];
    for (const [flags, msg] of cases) {
      const r = await run(["run", "--rm", ...net, ...flags, "busybox", "true"]);
      expect({ flags, exitCode: r.exitCode }).toEqual({ flags, exitCode: 125 });
      expect(r.stderr).toContain(msg);
    }
    expect((await run(["ps", "-aq"])).stdout).toBe("");
    void readFileSync;
  });
});
