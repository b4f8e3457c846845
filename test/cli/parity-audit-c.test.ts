/**
 * Session 10's audit, each against docker 28.2.2's own code (moby v28.2.2, docker/cli v28.2.2): `--mount
 * type=tmpfs` in inspect's Mounts; `--oom-score-adj`, `--oom-kill-disable`, `--blkio-weight` and
 * `--cgroupns` honoured and shown as dockerd does (including its warnings where the host's cgroups lack
 * the file); rmi's layer lines; Created's nanoseconds; ps's Platform and volume ls's cluster fields in
 * --format json; the default bridge's driver options; info's OomKillDisable. Root only; everything lives
 * in the file's own root, on --network none.
 */
import { describe, expect, test } from "bun:test";
import { existsSync, readFileSync, readlinkSync } from "node:fs";
import { type CliResult, busyboxRoot } from "../helpers/cli.ts";
import { rootEnabled } from "../helpers/root.ts";

const { root, run } = busyboxRoot("parity-audit-c");
const ok = (r: CliResult) => {
  expect(r).toMatchObject({ exitCode: 0 });
  return r.stdout;
};
const sfx = Math.random().toString(36).slice(2, 8);
const runD = (name: string, args: string[], cmd = ["sleep", "60"]) =>
  run(["run", "-d", "--network", "none", "--name", `${name}-${sfx}`, ...args, "busybox", ...cmd]);
const inspect = async (name: string, f: string) => ok(await run(["inspect", "-f", f, `${name}-${sfx}`])).trim();
const execOut = async (name: string, cmd: string[]) => ok(await run(["exec", `${name}-${sfx}`, ...cmd]));
const rm = (name: string) => run(["rm", "-f", `${name}-${sfx}`]);

/** the host's cgroup v1 mount of a controller, if the host is v1 (dockerd's sysinfo reads the same files) */
const v1Dir = (controller: string): string | undefined => {
  for (const line of readFileSync("/proc/self/mountinfo", "utf8").split("\n")) {
    const [pre, post] = line.split(" - ");
    if (!post?.startsWith("cgroup ")) continue;
    if (post.split(" ")[2]!.split(",").includes(controller)) return pre!.split(" ")[4];
  }
  return undefined;
};

describe.skipIf(!rootEnabled)("--mount type=tmpfs", () => {
  test("is in inspect's Mounts as dockerd lists it, HostConfig.Mounts keeps the request and HostConfig.Tmpfs has only --tmpfs", async () => {
    ok(await runD("tmpfs", ["--mount", "type=tmpfs,destination=/cache/,tmpfs-size=1m", "--tmpfs", "/scratch"]));
    // moby's parseMountSpec: a tmpfs MountPoint with no source; --tmpfs is not a mount point
    expect(JSON.parse(await inspect("tmpfs", "{{json .Mounts}}"))).toEqual([
      { Type: "tmpfs", Source: "", Destination: "/cache", Mode: "", RW: true, Propagation: "" },
    ]);
    expect(JSON.parse(await inspect("tmpfs", "{{json .HostConfig.Mounts}}"))).toEqual([
      { Type: "tmpfs", Target: "/cache/", TmpfsOptions: { SizeBytes: 1048576 } },
    ]);
    expect(JSON.parse(await inspect("tmpfs", "{{json .HostConfig.Tmpfs}}"))).toEqual({ "/scratch": "" });
    // and both are mounted
    const mounts = await execOut("tmpfs", ["cat", "/proc/mounts"]);
    expect(mounts).toMatch(/^tmpfs \/cache tmpfs .*size=1024k/m);
    expect(mounts).toMatch(/^tmpfs \/scratch tmpfs /m);
    ok(await rm("tmpfs"));
  });
});

describe.skipIf(!rootEnabled)("run/create resource flags docker 28 takes", () => {
  test("--oom-score-adj is the container's process's (and its children's), shown in HostConfig; out of range is dockerd's error", async () => {
    // raising needs no CAP_SYS_RESOURCE (lowering below the parent's does, for runc as here)
    ok(await runD("oom-adj", ["--oom-score-adj", "217"]));
    expect(await inspect("oom-adj", "{{.HostConfig.OomScoreAdj}}")).toBe("217");
    expect(await execOut("oom-adj", ["cat", "/proc/1/oom_score_adj"])).toBe("217\n");
    // an exec's process too, as runc's exec (the container's value is in its bootstrap data)
    expect(await execOut("oom-adj", ["cat", "/proc/self/oom_score_adj"])).toBe("217\n");
    ok(await rm("oom-adj"));
    expect(ok(await run(["run", "--rm", "--network", "none", "--oom-score-adj", "300", "busybox", "sh", "-c", "cat /proc/self/oom_score_adj"]))).toBe("300\n");
    const bad = await run(["create", "--network", "none", "--oom-score-adj", "1001", "busybox"]);
    expect(bad.exitCode).toBe(125);
    expect(bad.stderr).toContain("Invalid value 1001, range for oom score adj is [-1000, 1000]");
  });

  test("--oom-kill-disable: memory.oom_control where cgroup v1 has it, else dockerd's warning and false", async () => {
    const memory = v1Dir("memory");
    const supported = !!memory && existsSync(`${memory}/memory.oom_control`);
    const r = await runD("oom-off", ["--oom-kill-disable"]);
    ok(r);
    if (supported) {
      expect(r.stderr).toContain(
        "WARNING: OOM killer is disabled for the container, but no memory limit is set, this can result in the system running out of resources.",
      );
      expect(await inspect("oom-off", "{{.HostConfig.OomKillDisable}}")).toBe("true");
      // the container's own memory cgroup, seen from inside (its cgroup namespace)
      expect(await execOut("oom-off", ["cat", "/sys/fs/cgroup/memory/memory.oom_control"])).toMatch(/^oom_kill_disable 1$/m);
      expect(ok(await run(["info", "--format", "{{.OomKillDisable}}"])).trim()).toBe("true");
    } else {
      expect(r.stderr).toContain("WARNING: Your kernel does not support OomKillDisable. OomKillDisable discarded.");
      expect(await inspect("oom-off", "{{.HostConfig.OomKillDisable}}")).toBe("false");
      expect(ok(await run(["info", "--format", "{{.OomKillDisable}}"])).trim()).toBe("false");
    }
    ok(await rm("oom-off"));
    // with a memory limit, no warning about one
    const limited = await runD("oom-off2", ["--oom-kill-disable", "-m", "64m"]);
    expect(limited.stderr).not.toContain("no memory limit is set");
    ok(await rm("oom-off2"));
  });

  test("--blkio-weight: written where the blkio controller has blkio.weight, else dropped with dockerd's warning; dockerd's range", async () => {
    const blkio = v1Dir("blkio");
    const supported = blkio ? existsSync(`${blkio}/blkio.weight`) : readFileSync("/sys/fs/cgroup/cgroup.controllers", "utf8").split(/\s+/).includes("io");
    const r = await runD("blkio", ["--blkio-weight", "300"]);
    ok(r);
    if (supported) {
      expect(await inspect("blkio", "{{.HostConfig.BlkioWeight}}")).toBe("300");
      const id = await inspect("blkio", "{{.Id}}");
      const file = blkio ? (existsSync(`${blkio}/blkio.bfq.weight`) ? "blkio.bfq.weight" : "blkio.weight") : "io.weight";
      const dir = blkio ? `${blkio}/berth/${id}` : `/sys/fs/cgroup/berth/${id}`;
      // v2's io.weight is runc's conversion of 300: 1 + (300-10)*9999/990
      expect(readFileSync(`${dir}/${file}`, "utf8")).toContain(blkio ? "300" : "2930");
      const bad = await run(["create", "--network", "none", "--blkio-weight", "5", "busybox"]);
      expect(bad.exitCode).toBe(125);
      expect(bad.stderr).toContain("Range of blkio weight is from 10 to 1000");
    } else {
      // dockerd's verifyPlatformContainerResources: the weight is discarded before its range is checked
      expect(r.stderr).toContain("WARNING: Your kernel does not support Block I/O weight or the cgroup is not mounted. Weight discarded.");
      expect(await inspect("blkio", "{{.HostConfig.BlkioWeight}}")).toBe("0");
    }
    ok(await rm("blkio"));
    const notInt = await run(["create", "--network", "none", "--blkio-weight", "abc", "busybox"]);
    expect(notInt.exitCode).toBe(125);
    expect(notInt.stderr).toContain('invalid argument "abc" for "--blkio-weight" flag: strconv.ParseUint: parsing "abc": invalid syntax');
  });

  test("--cgroupns host: the host's cgroup namespace and full paths in /proc/1/cgroup; private (berth's default) its own", async () => {
    const hostNs = readlinkSync("/proc/self/ns/cgroup");
    ok(await runD("cgns-host", ["--cgroupns", "host"]));
    ok(await runD("cgns-private", ["--cgroupns", "private"]));
    expect(await inspect("cgns-host", "{{.HostConfig.CgroupnsMode}}")).toBe("host");
    expect(await inspect("cgns-private", "{{.HostConfig.CgroupnsMode}}")).toBe("private");
    const pid = (n: string) => inspect(n, "{{.State.Pid}}");
    expect(readlinkSync(`/proc/${await pid("cgns-host")}/ns/cgroup`)).toBe(hostNs);
    expect(readlinkSync(`/proc/${await pid("cgns-private")}/ns/cgroup`)).not.toBe(hostNs);
    const id = await inspect("cgns-host", "{{.Id}}");
    expect(await execOut("cgns-host", ["cat", "/proc/1/cgroup"])).toContain(`/berth/${id}`);
    expect(await execOut("cgns-private", ["cat", "/proc/1/cgroup"])).not.toContain("/berth/");
    // its /sys/fs/cgroup is its own cgroup bound, as runc does without a cgroup namespace: its processes
    // (the exec's cat too), not the host's root
    const memory = v1Dir("memory");
    if (memory) expect(await execOut("cgns-host", ["cat", "/sys/fs/cgroup/memory/cgroup.procs"])).toMatch(/^1\n(\d+\n)?$/);
    ok(await rm("cgns-host"));
    ok(await rm("cgns-private"));
    const bad = await run(["create", "--network", "none", "--cgroupns", "shared", "busybox"]);
    expect(bad.exitCode).toBe(125);
    expect(bad.stderr).toContain("--cgroupns: invalid CGROUP mode");
  });
});

describe.skipIf(!rootEnabled)("outputs", () => {
  test("commit's Created has nanoseconds; rmi lists the image and then the layers its deletion released, top first, as dockerd does", async () => {
    ok(await run(["run", "--network", "none", "--name", `layer-${sfx}`, "busybox", "sh", "-c", "echo hi > /f"]));
    const image = `layered-${sfx}:x`;
    const id = ok(await run(["commit", `layer-${sfx}`, image])).trim();
    ok(await run(["rm", `layer-${sfx}`]));
    // the commit's time is dockerd's time.Now() in RFC3339Nano, not milliseconds
    expect(ok(await run(["image", "inspect", "-f", "{{.Created}}", image])).trim()).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{4,9}Z$/);
    const lines = ok(await run(["rmi", image]))
      .trim()
      .split("\n");
    expect(lines[0]).toBe(`Untagged: ${image}`);
    expect(lines[1]).toBe(`Deleted: ${id}`);
    // the commit's own layer (busybox's is still used by busybox)
    expect(lines.length).toBe(3);
    expect(lines[2]).toMatch(/^Deleted: sha256:[0-9a-f]{64}$/);
    expect(lines[2]).not.toBe(`Deleted: ${id}`);
  });

  test("inspect's Created has nanoseconds (Go's RFC3339Nano: trailing zeros dropped), not milliseconds and 000000", async () => {
    ok(await run(["create", "--network", "none", "--name", `created-${sfx}`, "busybox"]));
    const created = await inspect("created", "{{.Created}}");
    expect(created).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d*[1-9])?Z$/);
    expect(created).not.toMatch(/\.\d{3}0{6}Z$/);
    expect(created.split(".")[1]!.length).toBeGreaterThan(4);
    expect(await inspect("created", "{{.State.StartedAt}}")).toBe("0001-01-01T00:00:00Z");
    ok(await rm("created"));
  });

  test("ps --format json has docker 28's Platform (null without the containerd image store); volume ls its cluster fields", async () => {
    ok(await run(["create", "--network", "none", "--name", `plat-${sfx}`, "busybox"]));
    const row = JSON.parse(ok(await run(["ps", "-a", "--filter", `name=plat-${sfx}`, "--format", "json"])));
    expect(Object.keys(row)).toEqual([
      "Command",
      "CreatedAt",
      "ID",
      "Image",
      "Labels",
      "LocalVolumes",
      "Mounts",
      "Names",
      "Networks",
      "Platform",
      "Ports",
      "RunningFor",
      "Size",
      "State",
      "Status",
    ]);
    expect(row.Platform).toBeNull();
    ok(await rm("plat"));
    ok(await run(["volume", "create", `vol-${sfx}`]));
    const vol = JSON.parse(ok(await run(["volume", "ls", "--filter", `name=vol-${sfx}`, "--format", "json"])));
    expect(vol).toMatchObject({ Availability: "N/A", Group: "N/A", Status: "N/A", Name: `vol-${sfx}` });
    expect(Object.keys(vol)).toEqual(["Availability", "Driver", "Group", "Labels", "Links", "Mountpoint", "Name", "Scope", "Size", "Status"]);
    ok(await run(["volume", "rm", `vol-${sfx}`]));
  });

  test("info's ID is the root's engine ID as dockerd makes it (a UUID kept in the root), not the host's machine id", async () => {
    const id = ok(await run(["info", "--format", "{{.ID}}"])).trim();
    expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(ok(await run(["info", "--format", "{{.ID}}"])).trim()).toBe(id);
    expect(readFileSync(`${root}/engine-id`, "utf8")).toBe(id);
  });

  test("the default bridge's driver options are dockerd's set (initBridgeDriver)", async () => {
    const opts = JSON.parse(ok(await run(["network", "inspect", "bridge", "-f", "{{json .Options}}"])));
    expect(Object.keys(opts)).toEqual([
      "com.docker.network.bridge.default_bridge",
      "com.docker.network.bridge.enable_icc",
      "com.docker.network.bridge.enable_ip_masquerade",
      "com.docker.network.bridge.host_binding_ipv4",
      "com.docker.network.bridge.name",
      "com.docker.network.driver.mtu",
    ]);
    expect(opts).toMatchObject({
      "com.docker.network.bridge.default_bridge": "true",
      "com.docker.network.bridge.enable_icc": "true",
      "com.docker.network.bridge.enable_ip_masquerade": "true",
      "com.docker.network.bridge.host_binding_ipv4": "0.0.0.0",
    });
  });
});
