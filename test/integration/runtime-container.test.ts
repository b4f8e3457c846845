/**
 * The runtime against real namespaces, observed from inside a busybox container (STYLE §9: check from
 * the inside). Root only. Each test removes its cgroup; the last one checks nothing is left behind.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync, writeFileSync, readFileSync, existsSync } from "node:fs";
import { rootEnabled } from "../helpers/root.ts";
import { makeRootfs, testSpec, runCollect, leaks, removeRoot } from "./runtime-fixture.ts";
import {
  createContainer,
  execInContainer,
  killContainer,
  processStartTime,
  isAlive,
  removeCgroup,
  cgroupPids,
  freeze,
  thaw,
  stats,
  DEFAULT_CAPABILITIES,
  detectLayout,
} from "../../src/runtime/index.ts";
import { ExecError } from "../../src/lib/errors.ts";
import { pipe2, closeFd } from "../../src/ffi/container-io.ts";

let root = "";
beforeAll(() => {
  if (rootEnabled) root = makeRootfs("runtime");
});
afterAll(() => {
  if (root) removeRoot(root);
});

const capLine = (out: string, name: string) => new RegExp(`^${name}:\\s+([0-9a-f]+)$`, "m").exec(out)?.[1];

describe.skipIf(!rootEnabled)("runtime: createContainer", () => {
  test("pid 1, hostname, exit code propagation", async () => {
    const r = await runCollect(
      testSpec(root, ["sh", "-c", "echo $$; hostname; ps -o pid= | sort -n | head -1; test -f /.dockerenv && echo dockerenv; exit 7"]),
    );
    expect(r).toMatchObject({ exitCode: 7, oomKilled: false, stderr: "" });
    const [pid, host, lowest, marker] = r.stdout.trim().split("\n");
    expect(pid).toBe("1");
    expect(host).toBe("rt-test");
    expect(lowest!.trim()).toBe("1"); // ps sees only the container's pid namespace
    expect(marker).toBe("dockerenv"); // docker's marker, which scripts test for
  });

  test("starts at once in one process: children set up in its memory wait their turn, each sees its own", async () => {
    // a hook (the network's place) makes the child clone from the shim's thread and live in this
    // process's memory until its exec; the starts begun meanwhile must not touch the shim's plan
    const hooked = async (pid: number) => {
      expect(readFileSync(`/proc/${pid}/status`, "utf8")).toContain("State:");
      await Bun.sleep(20);
    };
    const names = ["one", "two", "three", "four"];
    const rs = await Promise.all(
      names.map((n, i) => runCollect(testSpec(root, ["sh", "-c", "hostname; echo $0 $$", n], { hostname: n }), i % 2 ? {} : { beforeStart: hooked })),
    );
    expect(rs.map((r) => [r.exitCode, r.stdout])).toEqual(names.map((n) => [0, `${n}\n${n} 1\n`]));
  });

  test("whileCloning runs before any pid is known, then beforeStart gets the child; a throw there kills the child unexec'd and is the start's error", async () => {
    const order: string[] = [];
    const ok = await runCollect(testSpec(root, ["sh", "-c", "echo ran"]), {
      whileCloning: () => void order.push("cloning"),
      beforeStart: async (pid) => void order.push(`before ${pid > 0}`),
    });
    expect([ok.exitCode, ok.stdout, order]).toEqual([0, "ran\n", ["cloning", "before true"]]);
    const marker = `${root}/rootfs/tmp/while-cloning-${process.pid}`;
    let started = false;
    const e = await runCollect(testSpec(root, ["sh", "-c", `touch ${marker.slice(`${root}/rootfs`.length)}`]), {
      whileCloning: () => {
        throw new Error("no address left");
      },
      beforeStart: async () => void (started = true),
    }).catch((x: Error) => x);
    expect((e as Error).message).toBe("no address left");
    expect([started, existsSync(marker)]).toEqual([false, false]);
  });

  test("mounts: proc, tmpfs /dev, devpts, ro sysfs, masked and read-only paths", async () => {
    const r = await runCollect(
      testSpec(root, [
        "sh",
        "-c",
        "cat /proc/mounts; echo ---; cat /proc/timer_list | wc -c; ls /proc/acpi | wc -l; echo 1 > /proc/sys/kernel/domainname && echo WROTE; ls -l /dev/ptmx; echo x > /dev/null && echo devnull-ok",
      ]),
    );
    expect(r.exitCode).toBe(0);
    const [mounts, rest] = r.stdout.split("---\n");
    const byTarget = new Map(
      mounts!
        .trim()
        .split("\n")
        .map((l) => {
          const f = l.split(" ");
          return [f[1], f] as const;
        }),
    );
    expect(byTarget.get("/proc")![2]).toBe("proc");
    expect(byTarget.get("/dev")!.slice(2, 4)).toEqual(["tmpfs", expect.stringContaining("nosuid")]);
    expect(byTarget.get("/dev/pts")![2]).toBe("devpts");
    expect(byTarget.get("/dev/pts")![3]).toContain("ptmxmode=666");
    expect(byTarget.get("/dev/shm")![2]).toBe("tmpfs");
    expect(byTarget.get("/dev/mqueue")![2]).toBe("mqueue");
    expect(byTarget.get("/sys")![2]).toBe("sysfs");
    expect(byTarget.get("/sys")![3]).toMatch(/^ro,/);
    expect(byTarget.get("/sys/fs/cgroup/memory")![3]).toMatch(/^ro,/);
    expect(byTarget.get("/proc/sys")![3]).toMatch(/^ro,nosuid,nodev,noexec/);
    expect(byTarget.get("/proc/acpi")![2]).toBe("tmpfs"); // masked directory
    const lines = rest!.trim().split("\n");
    expect(lines[0]).toBe("0"); // /proc/timer_list is /dev/null
    expect(lines[1]).toBe("0"); // /proc/acpi is an empty tmpfs
    expect(r.stdout).not.toContain("WROTE");
    expect(r.stderr).toContain("Read-only file system");
    expect(lines.some((l) => /ptmx -> pts\/ptmx/.test(l))).toBe(true);
    expect(r.stdout).toContain("devnull-ok");
  });

  test("default capabilities for root (docker's a80425fb), none left for a non-root user", async () => {
    const r = await runCollect(testSpec(root, ["grep", "Cap", "/proc/self/status"]));
    expect(capLine(r.stdout, "CapEff")).toBe("00000000a80425fb");
    expect(capLine(r.stdout, "CapPrm")).toBe("00000000a80425fb");
    expect(capLine(r.stdout, "CapBnd")).toBe("00000000a80425fb");
    expect(capLine(r.stdout, "CapInh")).toBe("0000000000000000");
    expect(capLine(r.stdout, "CapAmb")).toBe("0000000000000000");

    const u = await runCollect(
      testSpec(
        root,
        ["sh", "-c", "id; grep Cap /proc/self/status; cat /proc/self/status | grep -E '^(Groups|NoNewPrivs)'"],
        {},
        { uid: 65534, gid: 65534, additionalGids: [5], noNewPrivileges: true },
      ),
    );
    expect(u.stdout).toContain("uid=65534(nobody) gid=65534(nobody)");
    expect(u.stdout).toMatch(/Groups:\s+5/);
    expect(u.stdout).toMatch(/NoNewPrivs:\s+1/);
    expect(capLine(u.stdout, "CapEff")).toBe("0000000000000000");
    expect(capLine(u.stdout, "CapPrm")).toBe("0000000000000000");
    expect(capLine(u.stdout, "CapBnd")).toBe("00000000a80425fb");
  });

  test("--cap-add / --cap-drop change the sets; privileged keeps all and mounts /sys rw", async () => {
    const caps = [...DEFAULT_CAPABILITIES.filter((c) => c !== "CAP_NET_RAW"), "CAP_SYS_ADMIN"];
    const r = await runCollect(testSpec(root, ["grep", "Cap", "/proc/self/status"], {}, { capabilities: caps }));
    // + SYS_ADMIN (bit 21 = 0x200000) - NET_RAW (bit 13 = 0x2000)
    expect(capLine(r.stdout, "CapEff")).toBe((0xa80425fbn + 0x200000n - 0x2000n).toString(16).padStart(16, "0"));
    expect(capLine(r.stdout, "CapBnd")).toBe(capLine(r.stdout, "CapEff"));

    // "all" is what this process may hand down: its own bounding set
    const all = capLine(readFileSync("/proc/self/status", "utf8"), "CapBnd");
    const p = await runCollect(
      testSpec(
        root,
        ["sh", "-c", "grep Cap /proc/self/status; grep ' /sys ' /proc/mounts; cat /proc/timer_list | wc -c; ls /dev | wc -l"],
        { privileged: true },
        { capabilities: ["ALL"] },
      ),
    );
    expect(capLine(p.stdout, "CapEff")).toBe(all);
    expect(capLine(p.stdout, "CapBnd")).toBe(all);
    expect(p.stdout).toMatch(/sysfs \/sys sysfs rw,/);
    const lines = p.stdout.trim().split("\n");
    expect(Number(lines.at(-2))).toBeGreaterThan(0); // no masks
    expect(Number(lines.at(-1))).toBeGreaterThan(20); // host devices
  });

  test("read-only rootfs, user binds (ro, file) and tmpfs, working directory created", async () => {
    const host = `${root}/hostdata`;
    mkdirSync(host, { recursive: true });
    writeFileSync(`${host}/f.txt`, "from-host\n");
    writeFileSync(`${root}/hosts`, "127.0.0.1 localhost generated\n");
    const r = await runCollect(
      testSpec(
        root,
        [
          "sh",
          "-c",
          "pwd; cat /data/f.txt; cat /etc/hosts; touch /x 2>&1 || echo rootfs-ro; touch /data/y 2>/dev/null || echo data-ro; touch /scratch/z && echo tmpfs-rw; grep ' /scratch ' /proc/mounts",
        ],
        {
          readonlyRootfs: true,
          mounts: [
            { type: "bind", source: host, target: "/data", options: ["rbind", "ro"] },
            { type: "bind", source: `${root}/hosts`, target: "/etc/hosts", options: ["rbind"] },
            { type: "tmpfs", source: "tmpfs", target: "/scratch", options: ["nosuid", "size=1m", "mode=1777"] },
          ],
        },
        { cwd: "/work/dir" },
      ),
    );
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toContain("/work/dir\nfrom-host\n127.0.0.1 localhost generated\n");
    expect(r.stdout).toContain("rootfs-ro");
    expect(r.stdout).toContain("data-ro");
    expect(r.stdout).toContain("tmpfs-rw");
    expect(r.stdout).toMatch(/tmpfs \/scratch tmpfs rw,nosuid,.*size=1024k/);
  });

  test("overlay rootfs (attached from a detached mount built in the parent): writes land in upperdir", async () => {
    for (const d of ["upper", "work", "lower2"]) mkdirSync(`${root}/ov-${d}`, { recursive: true });
    writeFileSync(`${root}/ov-lower2/from-lower2`, "l2\n");
    const spec = testSpec(root, ["sh", "-c", "cat /from-lower2; echo new > /created; rm /bin/vi; grep ' / ' /proc/mounts"], {
      rootfs: [
        {
          type: "overlay",
          source: "overlay",
          target: "/",
          options: [`lowerdir=${root}/ov-lower2:${root}/rootfs`, `upperdir=${root}/ov-upper`, `workdir=${root}/ov-work`],
        },
      ],
    });
    const r = await runCollect(spec);
    expect(r).toMatchObject({ exitCode: 0, stderr: "" });
    expect(r.stdout).toMatch(/^l2\noverlay \/ overlay rw/);
    expect(readFileSync(`${root}/ov-upper/created`, "utf8")).toBe("new\n");
    expect(existsSync(`${root}/rootfs/bin/vi`)).toBe(true); // the lower layer is untouched (whiteout in upper)
    const bad = await runCollect(
      testSpec(root, ["true"], { rootfs: [{ type: "overlay", source: "overlay", target: "/", options: [`lowerdir=${root}/nope`] }] }),
    ).catch((x) => x);
    expect(bad.message).toStartWith("prepare rootfs: ");
  });

  test("a symlink in the image cannot redirect a mount target to the host", async () => {
    const { symlinkSync, rmSync } = await import("node:fs");
    const outside = `${root}/outside`;
    mkdirSync(outside, { recursive: true });
    mkdirSync(`${root}/rootfs${outside}`, { recursive: true });
    // absolute symlinks resolve inside the rootfs (openat2 RESOLVE_IN_ROOT), relative ones stay in it too
    symlinkSync(outside, `${root}/rootfs/escape`);
    symlinkSync("../../../../../..", `${root}/rootfs/up`);
    try {
      const r = await runCollect(
        testSpec(root, ["sh", "-c", "grep -c ' /tmp/berth-test-runtime-.*/outside/sub\\| /sub ' /proc/mounts"], {
          mounts: [
            { type: "tmpfs", source: "tmpfs", target: "/escape/sub", options: [] },
            { type: "tmpfs", source: "tmpfs", target: "/up/sub", options: [] },
          ],
        }),
      );
      expect(r.stdout.trim()).toBe("2");
      expect(existsSync(`${outside}/sub`)).toBe(false);
      expect(existsSync(`${root}/rootfs${outside}/sub`)).toBe(true);
      expect(existsSync(`${root}/rootfs/sub`)).toBe(true);
      expect(existsSync("/sub")).toBe(false);
      // a dangling symlink is followed inside the rootfs and its target created there (runc does the
      // same: `-v /etc/localtime:/etc/localtime` over an image's link into a zoneinfo it lacks), never
      // on the host, whether the link is absolute or climbs with ../
      symlinkSync(`${root}/dangling-host`, `${root}/rootfs/dangling`);
      const tag = `berth-dangling-${process.pid}-${Date.now()}`;
      symlinkSync(`../../../../../../../../etc/${tag}/localtime`, `${root}/rootfs/etc/localtime`);
      const d = await runCollect(
        testSpec(root, ["sh", "-c", "cat /etc/localtime; grep -c ' /dangling-host/sub \\| /etc/[^ ]*/localtime ' /proc/mounts || true"], {
          mounts: [
            { type: "tmpfs", source: "tmpfs", target: "/dangling/sub", options: [] },
            { type: "bind", source: "/etc/hostname", target: "/etc/localtime", options: ["rbind", "ro"] },
          ],
        }),
      );
      expect(d.exitCode).toBe(0);
      expect(d.stdout).toContain(readFileSync("/etc/hostname", "utf8").trim());
      expect(existsSync(`${root}/dangling-host`)).toBe(false);
      expect(existsSync(`/etc/${tag}`)).toBe(false);
      expect(existsSync(`${root}/rootfs${root}/dangling-host/sub`)).toBe(true);
      expect(existsSync(`${root}/rootfs/etc/${tag}/localtime`)).toBe(true);
      // a symlink loop is an error naming the mount, not a hang
      symlinkSync("loop-b", `${root}/rootfs/loop-a`);
      symlinkSync("loop-a", `${root}/rootfs/loop-b`);
      const e = await runCollect(testSpec(root, ["true"], { mounts: [{ type: "tmpfs", source: "tmpfs", target: "/loop-a/sub", options: [] }] })).catch(
        (x) => x,
      );
      expect(e.message).toContain(`container init: mount "tmpfs" on "/loop-a/sub"`);
    } finally {
      for (const p of ["escape", "up", "dangling", "sub", "tmp", "loop-a", "loop-b", "etc/localtime", root.slice(1).split("/")[0]!]) {
        rmSync(`${root}/rootfs/${p}`, { recursive: true, force: true });
      }
      for (const e of (await import("node:fs")).readdirSync(`${root}/rootfs/etc`))
        if (e.startsWith("berth-dangling-")) rmSync(`${root}/rootfs/etc/${e}`, { recursive: true, force: true });
      mkdirSync(`${root}/rootfs/tmp`, { mode: 0o1777 });
    }
  });

  test("command not found → 127, not executable → 126, with docker's wording", async () => {
    const spec = testSpec(root, ["nosuch"]);
    const e = await runCollect(spec).catch((x) => x);
    expect(e).toBeInstanceOf(ExecError);
    expect(e.message).toBe(`exec: "nosuch": executable file not found in $PATH`);
    expect(e.reason).toBe("not_found");
    const e2 = await runCollect(testSpec(root, ["/etc/passwd"])).catch((x) => x);
    expect(e2.message).toBe(`exec: "/etc/passwd": permission denied`);
    expect(e2.reason).toBe("not_executable");
    const e3 = await runCollect(testSpec(root, ["/nope"])).catch((x) => x);
    expect(e3.reason).toBe("not_found");
    expect(existsSync(`/sys/fs/cgroup/memory/${spec.cgroupPath}`)).toBe(false);
  });

  test("a failing mount names the step: container init: mount … on …", async () => {
    const e = await runCollect(
      testSpec(root, ["true"], { mounts: [{ type: "bind", source: "/proc/self/nonexistent-berth", target: "/x", options: ["rbind"] }] }),
    ).catch((x) => x);
    expect(e.message).toContain("bind source path does not exist");
    const e2 = await runCollect(testSpec(root, ["true"], { mounts: [{ type: "nosuchfs", source: "none", target: "/x", options: [] }] })).catch((x) => x);
    expect(e2.message).toBe(`container init: mount "none" on "/x": No such device (ENODEV)`);
  });

  test("signals: killContainer → 128+signal; start time identifies the process", async () => {
    const [outR, outW] = pipe2();
    const spec = testSpec(root, ["sleep", "30"]);
    const c = await createContainer(spec, { stdin: outR, stdout: outW, stderr: outW });
    closeFd(outR);
    closeFd(outW);
    try {
      expect(c.startTime).toBe(processStartTime(c.pid)!);
      expect(isAlive(c.pid, c.startTime)).toBe(true);
      expect(isAlive(c.pid, "1")).toBe(false);
      expect(cgroupPids(spec.cgroupPath)).toEqual([c.pid]);
      // the child joined every hierarchy itself (v1 `tasks`, v2 by clone3 CLONE_INTO_CGROUP): the host
      // sees it in the container's cgroup on each line of /proc/PID/cgroup
      const lines = readFileSync(`/proc/${c.pid}/cgroup`, "utf8").trim().split("\n");
      // one line per mounted hierarchy (a v1 hierarchy unmounted while it still had cgroups, as crun's
      // hugetlb workaround leaves it once undone, lingers in /proc/PID/cgroup with no mount to join)
      const hierarchies = detectLayout().hierarchies;
      const mounted = new Set(hierarchies.map((h) => (h.type === "cgroup2" ? "" : h.controllers.join(","))));
      const joined = lines.filter((l) => mounted.has(l.split(":")[1]!));
      expect(joined.length).toBe(hierarchies.length);
      for (const l of joined) expect(l).toEndWith(`:/${spec.cgroupPath}`);
      freeze(spec.cgroupPath);
      expect(readFileSync(`/sys/fs/cgroup/freezer/${spec.cgroupPath}/freezer.state`, "utf8").trim()).toBe("FROZEN");
      thaw(spec.cgroupPath);
      const s = stats(spec.cgroupPath);
      expect(s.pids).toBe(1);
      expect(s.memoryUsage).toBeGreaterThan(0);
      expect(killContainer(c.pid, 15)).toBe(true); // PID 1 without a handler ignores SIGTERM
      expect(killContainer(c.pid, 9)).toBe(true);
      expect(await c.wait()).toEqual({ exitCode: 137, signal: 9, oomKilled: false, oomRead: true });
      expect(processStartTime(c.pid)).toBeUndefined();
      expect(killContainer(c.pid, 9)).toBe(false);
    } finally {
      removeCgroup(spec.cgroupPath);
    }
  });

  test("cgroup limits are written and visible from inside", async () => {
    const r = await runCollect(
      testSpec(
        root,
        [
          "sh",
          "-c",
          "cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/pids/pids.max /sys/fs/cgroup/cpu/cpu.cfs_quota_us /sys/fs/cgroup/cpu/cpu.shares; grep memory /proc/self/cgroup; head -c1 /dev/zero >/dev/null && echo zero-ok",
        ],
        { resources: { memory: 64 * 1024 * 1024, pidsLimit: 50, cpus: 0.5, cpuShares: 512 } },
      ),
    );
    expect(r.stdout.split("\n").slice(0, 5)).toEqual([String(64 * 1024 * 1024), "50", "50000", "512", expect.stringMatching(/^\d+:memory:\/$/)]);
    expect(r.stdout).toContain("zero-ok");
  });

  test("--device, --shm-size, --sysctl, --cpuset-cpus, --memory-reservation as seen from inside", async () => {
    const script = [
      "true < /dev/loop-control && echo loop-ok",
      "head -c3 /dev/myzero | od -An -tx1",
      "df -k /dev/shm | tail -1 | awk '{print $2}'",
      "cat /proc/sys/net/ipv4/ip_forward /proc/sys/kernel/msgmax",
      "cat /sys/fs/cgroup/cpuset/cpuset.cpus /sys/fs/cgroup/memory/memory.soft_limit_in_bytes",
    ].join("; ");
    const r = await runCollect(
      testSpec(root, ["sh", "-c", script], {
        devices: [
          { source: "/dev/loop-control", target: "/dev/loop-control" },
          { source: "/dev/zero", target: "/dev/myzero" },
        ],
        shmSize: 32 * 1024 * 1024,
        sysctls: { "net.ipv4.ip_forward": "1", "kernel.msgmax": "12345" },
        resources: { deviceRules: ["c 10:237 rwm"], cpusetCpus: "0", memoryReservation: 32 * 1024 * 1024 },
      }),
    );
    expect(r.stderr).toBe("");
    expect(r.stdout.split("\n").map((l) => l.trim())).toEqual(["loop-ok", "00 00 00", "32768", "1", "12345", "0", String(32 * 1024 * 1024), ""]);
    // without the rule the device cgroup refuses the node even when it is bound in
    const denied = await runCollect(
      testSpec(root, ["sh", "-c", "true < /dev/loop-control && echo opened"], { devices: [{ source: "/dev/loop-control", target: "/dev/loop-control" }] }),
    );
    expect(denied.stdout).toBe("");
    expect(denied.stderr).toContain("Operation not permitted");
    // the host's own values are untouched
    expect(readFileSync("/proc/sys/kernel/msgmax", "utf8").trim()).not.toBe("12345");
    // a key that does not exist is an error naming it
    const bad = await runCollect(testSpec(root, ["true"], { sysctls: { "net.ipv4.no_such_key": "1" } })).catch((x) => x);
    expect(bad.message).toContain("set sysctl net.ipv4.no_such_key=1");
  });

  test("OOM: a memory hog under a 24 MiB limit exits 137 with oomKilled", async () => {
    const r = await runCollect(
      testSpec(root, ["sh", "-c", "x=aaaaaaaaaaaaaaaa; while true; do x=$x$x; done"], {
        resources: { memory: 24 * 1024 * 1024, memorySwap: 24 * 1024 * 1024 },
      }),
    );
    expect(r).toMatchObject({ exitCode: 137, oomKilled: true });
  }, 30000);

  test("--init: PID 1 is the reaper, the exit code passes through, signals are forwarded", async () => {
    const r = await runCollect(testSpec(root, ["sh", "-c", "cat /proc/1/comm; echo $$; (sleep 0.1 &) ; exit 5"], {}, { init: true }));
    expect(r.stdout.trim().split("\n")).toEqual(["berth-init", expect.stringMatching(/^\d+$/)]);
    expect(r.stdout).not.toContain("\n1\n");
    expect(r.exitCode).toBe(5);

    const [a, b] = pipe2();
    const spec = testSpec(root, ["sleep", "30"], {}, { init: true });
    const c = await createContainer(spec, { stdin: a, stdout: b, stderr: b });
    closeFd(a);
    closeFd(b);
    try {
      await Bun.sleep(100);
      killContainer(c.pid, 15); // forwarded to sleep, which dies of it
      expect(await c.wait()).toMatchObject({ exitCode: 128 + 15 });
    } finally {
      removeCgroup(spec.cgroupPath);
    }
    const e = await runCollect(testSpec(root, ["nosuch"], {}, { init: true })).catch((x) => x);
    expect(e.reason).toBe("not_found");
  });

  test("execInContainer joins the namespaces and cgroup with the given user", async () => {
    const [a, b] = pipe2();
    const spec = testSpec(root, ["sh", "-c", "echo marker > /tmp/m; sleep 30"]);
    const c = await createContainer(spec, { stdin: a, stdout: b, stderr: b });
    closeFd(a);
    closeFd(b);
    try {
      await Bun.sleep(100);
      const [outR, outW] = pipe2();
      const [inR, inW] = pipe2();
      closeFd(inW);
      const ex = await execInContainer(
        c.pid,
        {
          args: [
            "sh",
            "-c",
            "echo $$ $(hostname) $(cat /tmp/m) $(id -u) $(pwd); ps -o pid,comm | grep -c sleep; grep memory /proc/self/cgroup; grep CapEff /proc/self/status",
          ],
          env: ["PATH=/bin"],
          cwd: "/tmp",
          uid: 65534,
          gid: 65534,
          additionalGids: [],
          terminal: false,
          capabilities: DEFAULT_CAPABILITIES,
          noNewPrivileges: false,
          init: false,
        },
        { stdin: inR, stdout: outW, stderr: outW },
        spec.cgroupPath,
      );
      closeFd(outW);
      closeFd(inR);
      const out = await Bun.file(outR).text();
      closeFd(outR);
      expect(await ex.wait()).toEqual({ exitCode: 0, oomKilled: false });
      const [first, sleeps, cg, capEff] = out.trim().split("\n");
      expect(first).toMatch(/^\d+ rt-test marker 65534 \/tmp$/);
      expect(Number(first!.split(" ")[0])).toBeGreaterThan(1);
      expect(sleeps).toBe("1");
      expect(cg).toMatch(/:memory:\/$/);
      expect(capEff).toMatch(/0000000000000000$/);
      const e = await execInContainer(
        c.pid,
        { args: ["nosuch"], env: [], cwd: "/", uid: 0, gid: 0, additionalGids: [], terminal: false, capabilities: [], noNewPrivileges: false, init: false },
        { stdin: 0, stdout: 1, stderr: 2 },
        spec.cgroupPath,
      ).catch((x) => x);
      expect(e.reason).toBe("not_found");
    } finally {
      killContainer(c.pid, 9);
      await c.wait();
      removeCgroup(spec.cgroupPath);
    }
  });

  test("leaves no cgroups, mounts or processes behind", () => {
    expect(leaks(root)).toEqual([]);
  });
});
