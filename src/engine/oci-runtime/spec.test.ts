import { describe, expect, test } from "bun:test";
import { planMounts } from "../../runtime/index.ts";
import type { CgroupLayout } from "../../runtime/index.ts";
import { defaultSpec } from "./defaults.ts";
import { parseSpec, resourcesOf, toContainerSpec, type OciSpec } from "./spec.ts";

const V1: CgroupLayout = {
  kind: "hybrid",
  hierarchies: [
    { dir: "/sys/fs/cgroup/memory", type: "cgroup", controllers: ["memory"] },
    { dir: "/sys/fs/cgroup/blkio", type: "cgroup", controllers: ["blkio"] },
    { dir: "/sys/fs/cgroup/unified", type: "cgroup2", controllers: [] },
  ],
};
const V2: CgroupLayout = { kind: "v2", hierarchies: [{ dir: "/sys/fs/cgroup", type: "cgroup2", controllers: ["memory", "io"] }] };

const convert = (s: OciSpec, layout = V1) => toContainerSpec({ id: "c1", bundle: "/b", spec: s, execFifo: "/r/c1/exec.fifo", preserveFds: 0, layout });

describe("config.json → ContainerSpec", () => {
  test("runc's default spec", () => {
    const c = convert(defaultSpec());
    expect(c.rootfs).toEqual([{ type: "bind", source: "/b/rootfs", target: "/", options: ["rbind"] }]);
    expect(c.readonlyRootfs).toBe(true);
    expect(c.namespaces).toEqual({ net: "new", ipc: "new", uts: "new", pid: "new", cgroup: "host", user: "host" });
    expect(c.cgroupPath).toBe("berth-runc/c1");
    expect(c.process).toMatchObject({ args: ["sh"], uid: 0, gid: 0, terminal: true, noNewPrivileges: true, umask: 0o022, seccomp: "unconfined" });
    expect(c.process.capabilities).toEqual(["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]);
    expect(c.process.rlimits).toEqual([{ type: "RLIMIT_NOFILE", soft: 1024, hard: 1024 }]);
    expect(c.mounts.map((m) => m.target)).toEqual(["/proc", "/dev", "/dev/pts", "/dev/shm", "/dev/mqueue", "/sys", "/sys/fs/cgroup"]);
    expect(c.oci?.execFifo).toBe("/r/c1/exec.fifo");
  });

  test("namespaces by path, cgroupsPath, relative bind sources, domainname, huge rlimits", () => {
    const s = defaultSpec();
    s.linux!.namespaces = [{ type: "mount" }, { type: "network", path: "/proc/42/ns/net" }, { type: "uts" }];
    s.linux!.cgroupsPath = "/kubepods/pod1/c1";
    s.domainname = "example.org";
    s.mounts!.push({ destination: "/data", type: "bind", source: "data", options: ["rbind", "ro"] });
    s.process!.rlimits = [{ type: "RLIMIT_NOFILE", soft: 2 ** 64 - 1, hard: 2 ** 64 - 1 }];
    const c = convert(s);
    expect(c.namespaces.net).toEqual({ path: "/proc/42/ns/net" });
    expect(c.namespaces.pid).toBe("host");
    expect(c.cgroupPath).toBe("kubepods/pod1/c1");
    expect(c.mounts.at(-1)).toEqual({ type: "bind", source: "/b/data", target: "/data", options: ["rbind", "ro"] });
    expect(c.sysctls).toEqual({ "kernel.domainname": "example.org" });
    expect(c.process.rlimits).toEqual([{ type: "RLIMIT_NOFILE", soft: -1, hard: -1 }]);
  });

  test("what berth does not implement is refused, naming the field", () => {
    const idmap = defaultSpec();
    idmap.mounts!.push({ destination: "/x", type: "bind", source: "/x", options: ["rbind"], uidMappings: [{}] });
    expect(() => convert(idmap)).toThrow(/idmapped mounts/);
    const userPath = defaultSpec();
    userPath.linux!.namespaces!.push({ type: "user", path: "/proc/1/ns/user" });
    userPath.linux!.uidMappings = [{ containerID: 0, hostID: 1000, size: 1 }];
    userPath.linux!.gidMappings = [{ containerID: 0, hostID: 1000, size: 1 }];
    expect(() => convert(userPath)).toThrow(/user namespace by path/);
    const time = defaultSpec();
    time.linux!.namespaces!.push({ type: "time" });
    expect(() => convert(time)).toThrow(/time namespace/);
    const notify = defaultSpec();
    notify.linux!.seccomp = { defaultAction: "SCMP_ACT_ALLOW", syscalls: [], listenerPath: "/run/x.sock" };
    expect(() => convert(notify)).toThrow(/listenerPath/);
    const noMaps = defaultSpec();
    noMaps.linux!.namespaces!.push({ type: "user" });
    expect(() => convert(noMaps)).toThrow(/no user mapping/);
    expect(() => parseSpec('{"ociVersion":"2.0.0","root":{"path":"r"},"process":{}}', "config.json")).toThrow(/unsupported spec version/);
  });

  test("resources: berth's fields, the rest as cgroup files per layout", () => {
    const r = {
      memory: { limit: 64 << 20, swap: 128 << 20, reservation: 32 << 20, swappiness: 10 },
      cpu: { shares: 512, quota: 50000, period: 100000, cpus: "0", mems: "0" },
      pids: { limit: 50 },
      blockIO: { weight: 300, throttleReadBpsDevice: [{ major: 8, minor: 0, rate: 1048576 }] },
      hugepageLimits: [{ pageSize: "2MB", limit: 4 << 20 }],
      devices: [
        { allow: false, access: "rwm" },
        { allow: true, type: "c", major: 10, minor: 200, access: "rwm" },
      ],
    };
    expect(resourcesOf(r, V1)).toEqual({
      memory: 64 << 20,
      memorySwap: 128 << 20,
      memoryReservation: 32 << 20,
      cpuShares: 512,
      cpuQuota: 50000,
      cpuPeriod: 100000,
      cpusetCpus: "0",
      cpusetMems: "0",
      pidsLimit: 50,
      deviceRules: ["c 10:200 rwm"],
      files: [
        { controller: "memory", file: "memory.swappiness", value: "10" },
        { controller: "blkio", file: "blkio.weight", value: "300" },
        { controller: "blkio", file: "blkio.throttle.read_bps_device", value: "8:0 1048576" },
        { controller: "hugetlb", file: "hugetlb.2MB.limit_in_bytes", value: "4194304" },
      ],
    });
    expect(resourcesOf({ blockIO: { weight: 300 }, unified: { "memory.high": "1000000" } }, V2).files).toEqual([
      { controller: "io", file: "io.weight", value: "default 300" },
      { controller: "", file: "memory.high", value: "1000000" },
    ]);
    expect(() => resourcesOf({ unified: { "memory.high": "1" } }, V1)).toThrow(/needs cgroup v2/);
    expect(resourcesOf({ devices: [{ allow: true, access: "rwm" }] }, V1).allDevices).toBe(true);
  });
});

describe("the mount plan of an OCI bundle", () => {
  const plan = (s: OciSpec, extra: { console?: boolean } = {}) =>
    planMounts({
      spec: convert(s),
      staging: "/b/rootfs",
      cgroupMounts: [
        { name: "memory", fstype: "cgroup", data: "memory", hostDir: "/sys/fs/cgroup/memory" },
        { name: "unified", fstype: "cgroup2", hostDir: "/sys/fs/cgroup/unified" },
      ],
      ...(extra.console ? { console: { devptsFd: 9, name: "/dev/pts/0" } } : {}),
      isDirectory: () => true,
    }).map((o) => o.what);

  test("the spec's mounts in order; without a cgroup namespace the container's own cgroup is bound", () => {
    const ops = plan(defaultSpec());
    const at = (w: string) => ops.indexOf(w);
    expect(at('mount "proc" on "/proc"')).toBeLessThan(at('mount "tmpfs" on "/dev"'));
    expect(at('mount "tmpfs" on "/dev"')).toBeLessThan(at('mount "devpts" on "/dev/pts"'));
    expect(ops).toContain('mount "/sys/fs/cgroup/memory/berth-runc/c1" on "/sys/fs/cgroup/memory"');
    expect(ops).toContain('mknod "/dev/null"');
    expect(ops).not.toContain('create "/.dockerenv"');
    expect(ops.at(-2)).toBe("pivot_root");
    expect(ops.at(-1)).toBe('remount "/" read-only');
  });

  test("a terminal replaces the spec's devpts with the console's instance and binds /dev/console", () => {
    const ops = plan(defaultSpec(), { console: true });
    expect(ops).not.toContain('mount "devpts" on "/dev/pts"');
    expect(ops).toContain('attach devpts on "/dev/pts"');
    expect(ops).toContain('mount "/b/rootfs/dev/pts/0" on "/dev/console"');
  });

  test("linux.devices are made with mknod; rootfsPropagation is applied after pivot_root", () => {
    const s = defaultSpec();
    s.linux!.devices = [{ path: "/dev/fuse", type: "c", major: 10, minor: 229, fileMode: 0o666 }];
    s.linux!.rootfsPropagation = "rslave";
    s.root!.readonly = false;
    const ops = plan(s);
    expect(ops).toContain('mknod "/dev/fuse"');
    expect(ops.at(-1)).toBe('make "/" rslave');
  });
});
