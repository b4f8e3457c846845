import { expect, test } from "bun:test";
import { parseCpuset, parseDevice, parseSysctls, parseUlimit, rdevNumbers, resolveDevices, runtimeRlimits } from "./host-options.ts";

test("--ulimit: one value or soft:hard, docker's names, -1 unlimited", () => {
  expect(parseUlimit("nofile=1024:2048")).toEqual({ Name: "nofile", Soft: 1024, Hard: 2048 });
  expect(parseUlimit("nproc=50")).toEqual({ Name: "nproc", Soft: 50, Hard: 50 });
  expect(parseUlimit("memlock=-1:-1")).toEqual({ Name: "memlock", Soft: -1, Hard: -1 });
  expect(() => parseUlimit("nofile")).toThrow("invalid ulimit argument: nofile");
  expect(() => parseUlimit("files=1")).toThrow("invalid ulimit type: files");
  expect(runtimeRlimits([{ Name: "nofile", Soft: 1, Hard: 2 }])).toEqual([{ type: "RLIMIT_NOFILE", soft: 1, hard: 2 }]);
});

test("--device: host, host:ctr, host:perms, host:ctr:perms; relative paths refused", () => {
  expect(parseDevice("/dev/fuse")).toEqual({ PathOnHost: "/dev/fuse", PathInContainer: "/dev/fuse", CgroupPermissions: "rwm" });
  expect(parseDevice("/dev/sda:/dev/xvda:r")).toEqual({ PathOnHost: "/dev/sda", PathInContainer: "/dev/xvda", CgroupPermissions: "r" });
  expect(parseDevice("/dev/sda:rw")).toEqual({ PathOnHost: "/dev/sda", PathInContainer: "/dev/sda", CgroupPermissions: "rw" });
  expect(() => parseDevice("dev/sda")).toThrow("dev/sda is not an absolute path");
  expect(() => parseDevice("/a:/b:/c:r")).toThrow("bad format for path");
});

test("device numbers from st_rdev and the cgroup rules", () => {
  expect(rdevNumbers(0x105)).toEqual({ major: 1, minor: 5 }); // /dev/zero
  expect(rdevNumbers(0x10300)).toEqual({ major: 259, minor: 0 }); // a high minor/major split
  const node = (p: string) => (p === "/dev/x" ? { type: "c" as const, major: 10, minor: 229 } : p === "/etc" ? "not-a-device" as const : "missing" as const);
  expect(resolveDevices([{ PathOnHost: "/dev/x", PathInContainer: "/dev/y", CgroupPermissions: "rw" }], node)).toEqual({ binds: [{ source: "/dev/x", target: "/dev/y" }], rules: ["c 10:229 rw"] });
  expect(() => resolveDevices([{ PathOnHost: "/dev/no", PathInContainer: "/dev/no", CgroupPermissions: "rwm" }], node)).toThrow('adding custom device "/dev/no": no such file or directory');
});

test("--sysctl: namespaced keys only, not in a shared namespace", () => {
  const own = { ipcHost: false, netHost: false, utsHost: false };
  expect(parseSysctls([], own)).toBeUndefined();
  expect(parseSysctls(["net.core.somaxconn=1024", "kernel.shmmax=1", "fs.mqueue.msg_max=20", "net/ipv4/ip_forward=1"], own)).toEqual({
    "net.core.somaxconn": "1024", "kernel.shmmax": "1", "fs.mqueue.msg_max": "20", "net.ipv4.ip_forward": "1",
  });
  expect(() => parseSysctls(["kernel.pid_max=1"], own)).toThrow('sysctl "kernel.pid_max" is not in a separate kernel namespace');
  expect(() => parseSysctls(["net.core.somaxconn=1"], { ...own, netHost: true })).toThrow("not allowed in host network namespace");
  expect(() => parseSysctls(["kernel.hostname=x"], own)).toThrow("conflicts with the OCI");
  expect(() => parseSysctls(["novalue"], own)).toThrow("is not a valid sysctl value");
});

test("--cpuset-cpus: list syntax and the host's CPUs", () => {
  expect(parseCpuset("0-1,3", "--cpuset-mems", 2)).toBe("0-1,3");
  expect(parseCpuset("0,1", "--cpuset-cpus", 2)).toBe("0,1");
  expect(() => parseCpuset("0-2", "--cpuset-cpus", 2)).toThrow("Requested CPUs are not available - requested 0-2, available: 0-1");
  expect(() => parseCpuset("a", "--cpuset-cpus", 2)).toThrow("invalid format");
});
