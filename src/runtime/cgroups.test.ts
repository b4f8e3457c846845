import { afterEach, describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from "node:fs";
import {
  parseLayout,
  parseBlkio,
  createCgroup,
  joinCgroup,
  stats,
  oomKilled,
  cgroupPids,
  freeze,
  removeCgroup,
  cgroupMountsFor,
  DEFAULT_DEVICE_RULES,
  type CgroupLayout,
} from "./cgroups.ts";
import { capabilityMask, DEFAULT_CAPABILITIES } from "./capabilities.ts";
import { parseNetDev } from "./net-stats.ts";

const HYBRID = `31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,xattr,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
`;

describe("parseLayout", () => {
  test("hybrid: v1 controllers + a cgroup2 mount", () => {
    const l = parseLayout(HYBRID);
    expect(l.kind).toBe("hybrid");
    // cgroup2 controllers come from the mount's cgroup.controllers, so only the v1 ones are fixed here
    expect(l.hierarchies.map((h) => [h.dir, h.type === "cgroup" ? h.controllers.join() : h.type])).toEqual([
      ["/sys/fs/cgroup/cpu", "cpu"],
      ["/sys/fs/cgroup/memory", "memory"],
      ["/sys/fs/cgroup/systemd", "name=systemd"],
      ["/sys/fs/cgroup/unified", "cgroup2"],
    ]);
    expect(cgroupMountsFor(l)).toEqual([
      { name: "cpu", fstype: "cgroup", data: "cpu", hostDir: "/sys/fs/cgroup/cpu" },
      { name: "memory", fstype: "cgroup", data: "memory", hostDir: "/sys/fs/cgroup/memory" },
      { name: "systemd", fstype: "cgroup", data: "none,name=systemd", hostDir: "/sys/fs/cgroup/systemd" },
      { name: "unified", fstype: "cgroup2", hostDir: "/sys/fs/cgroup/unified" },
    ]);
  });
  test("pure v1 and pure v2", () => {
    expect(
      parseLayout(
        HYBRID.split("\n")
          .filter((l) => !l.includes("cgroup2"))
          .join("\n"),
      ).kind,
    ).toBe("v1");
    expect(parseLayout("30 23 0:26 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw,nsdelegate\n").kind).toBe("v2");
  });
});

let tmp = "";
afterEach(() => tmp && rmSync(tmp, { recursive: true, force: true }));

/** a fake cgroupfs: directories with the files the kernel would create */
function fakeV1(): CgroupLayout {
  tmp = mkdtempSync("/tmp/berth-test-runtime-cg-");
  const h = (name: string, controllers: string[]) => {
    mkdirSync(`${tmp}/${name}`);
    return { dir: `${tmp}/${name}`, type: "cgroup" as const, controllers };
  };
  return {
    kind: "v1",
    hierarchies: [
      h("memory", ["memory"]),
      h("cpu", ["cpu", "cpuacct"]),
      h("pids", ["pids"]),
      h("devices", ["devices"]),
      h("freezer", ["freezer"]),
      h("blkio", ["blkio"]),
    ],
  };
}

describe("cgroup writers (fake root)", () => {
  test("v1 limits and docker's device list", () => {
    const l = fakeV1();
    createCgroup("berth/c1", { memory: 1 << 20, cpus: 1.5, cpuShares: 512, pidsLimit: 9 }, { layout: l });
    const rd = (f: string) => readFileSync(`${tmp}/${f}`, "utf8");
    expect(rd("memory/berth/c1/memory.limit_in_bytes")).toBe(String(1 << 20));
    expect(rd("cpu/berth/c1/cpu.cfs_quota_us")).toBe("150000");
    expect(rd("cpu/berth/c1/cpu.cfs_period_us")).toBe("100000");
    expect(rd("cpu/berth/c1/cpu.shares")).toBe("512");
    expect(rd("pids/berth/c1/pids.max")).toBe("9");
    expect(rd("devices/berth/c1/devices.deny")).toBe("a");
    // one write(2) per rule through one open file: a plain file shows them end to end
    expect(rd("devices/berth/c1/devices.allow")).toBe(DEFAULT_DEVICE_RULES.join(""));
    joinCgroup("berth/c1", 42, l);
    expect(rd("pids/berth/c1/cgroup.procs")).toBe("42");
    expect(cgroupPids("berth/c1", l)).toEqual([42]);
    writeFileSync(`${tmp}/memory/berth/c1/memory.oom_control`, "oom_kill_disable 0\nunder_oom 0\noom_kill 1\n");
    expect(oomKilled("berth/c1", l)).toBe(true);
    writeFileSync(`${tmp}/memory/berth/c1/memory.usage_in_bytes`, "1000\n");
    writeFileSync(`${tmp}/pids/berth/c1/pids.current`, "3\n");
    expect(stats("berth/c1", l)).toMatchObject({ memoryUsage: 1000, memoryLimit: 1 << 20, cpuNs: 0, pids: 3, blkioRead: 0, blkioWrite: 0 });
    // user/system time (USER_HZ ticks), per-CPU usage, CFS throttling and memory.stat come from the kernel's files
    writeFileSync(`${tmp}/cpu/berth/c1/cpuacct.stat`, "user 12\nsystem 3\n");
    writeFileSync(`${tmp}/cpu/berth/c1/cpuacct.usage_percpu`, "100 200 \n");
    writeFileSync(`${tmp}/cpu/berth/c1/cpu.stat`, "nr_periods 10\nnr_throttled 4\nthrottled_time 5000\n");
    writeFileSync(`${tmp}/memory/berth/c1/memory.stat`, "cache 4096\ntotal_inactive_file 2048\n");
    expect(stats("berth/c1", l)).toMatchObject({
      cpuUserNs: 120_000_000,
      cpuSystemNs: 30_000_000,
      percpuNs: [100, 200],
      throttling: { periods: 10, throttledPeriods: 4, throttledNs: 5000 },
      memoryStat: { cache: 4096, total_inactive_file: 2048 },
    });
    // a kernel without CFQ keeps the scheduler file with only a total: blk-throttle's rows are read then
    writeFileSync(`${tmp}/blkio/berth/c1/blkio.io_service_bytes_recursive`, "Total 0\n");
    writeFileSync(
      `${tmp}/blkio/berth/c1/blkio.throttle.io_service_bytes_recursive`,
      "254:0 Read 16384\n254:0 Write 4194304\n254:0 Sync 4210688\n254:0 Async 0\n254:0 Discard 0\n254:0 Total 4210688\n8:0 Read 1\n8:0 Write 2\nTotal 4210691\n",
    );
    expect(stats("berth/c1", l)).toMatchObject({ blkioRead: 16385, blkioWrite: 4194306 });
    expect(() => createCgroup("../x", {}, { layout: l })).toThrow(/must be relative/);
  });

  test("v2: subtree_control down the path, memory.max/swap.max/cpu.max/pids.max, freeze", () => {
    tmp = mkdtempSync("/tmp/berth-test-runtime-cg-");
    writeFileSync(`${tmp}/cgroup.controllers`, "cpu memory pids");
    writeFileSync(`${tmp}/cgroup.subtree_control`, "");
    const l: CgroupLayout = { kind: "v2", hierarchies: [{ dir: tmp, type: "cgroup2", controllers: ["cpu", "memory", "pids"] }] };
    // the kernel creates the interface files; a fake needs them in place first
    mkdirSync(`${tmp}/berth/c2`, { recursive: true });
    for (const f of ["memory.max", "memory.swap.max", "cpu.max", "pids.max", "cpu.weight", "cgroup.freeze"]) writeFileSync(`${tmp}/berth/c2/${f}`, "");
    writeFileSync(`${tmp}/berth/c2/cgroup.events`, "populated 0\nfrozen 1\n");
    const filters: [string, number][] = [];
    const installDeviceFilter = (dir: string, prog: Uint8Array) => void filters.push([dir, prog.length]);
    createCgroup("berth/c2", { memory: 1 << 24, memorySwap: 1 << 25, cpus: 0.5, pidsLimit: 7, cpuShares: 1024 }, { layout: l, installDeviceFilter });
    expect(filters).toEqual([[`${tmp}/berth/c2`, expect.any(Number)]]); // devices through BPF on v2
    createCgroup("berth/c5", {}, { layout: l, installDeviceFilter, privileged: true });
    expect(filters.length).toBe(1); // --privileged: no filter
    const rd = (f: string) => readFileSync(`${tmp}/${f}`, "utf8");
    expect(rd("cgroup.subtree_control")).toBe("+cpu +memory +pids");
    expect(rd("berth/c2/memory.max")).toBe(String(1 << 24));
    expect(rd("berth/c2/memory.swap.max")).toBe(String(1 << 24));
    expect(rd("berth/c2/cpu.max")).toBe("50000 100000");
    expect(rd("berth/c2/cpu.weight")).toBe("39");
    expect(rd("berth/c2/pids.max")).toBe("7");
    freeze("berth/c2", l);
    expect(rd("berth/c2/cgroup.freeze")).toBe("1");
    writeFileSync(`${tmp}/berth/c2/memory.events`, "low 0\nhigh 0\nmax 3\noom 1\noom_kill 1\n");
    expect(oomKilled("berth/c2", l)).toBe(true);
    writeFileSync(
      `${tmp}/berth/c2/io.stat`,
      "254:0 rbytes=4096 wbytes=8192 rios=1 wios=2 dbytes=0 dios=0\n8:0 rbytes=1 wbytes=2 rios=1 wios=1 dbytes=0 dios=0\n",
    );
    expect(stats("berth/c2", l)).toMatchObject({ blkioRead: 4097, blkioWrite: 8194 });
  });

  test("removeCgroup removes the leaf in every hierarchy and tolerates missing ones", () => {
    const l = fakeV1();
    createCgroup("berth/c3", {}, { layout: l });
    createCgroup("berth/c4", {}, { layout: l });
    rmSync(`${tmp}/cpu/berth/c3`, { recursive: true });
    // a fake cgroupfs directory holds regular files, which rmdir refuses; the real one does not
    const scrub = (c: string) => {
      for (const h of l.hierarchies)
        if (existsSync(`${h.dir}/berth/${c}`))
          for (const f of ["devices.deny", "devices.allow", "cgroup.procs"]) rmSync(`${h.dir}/berth/${c}/${f}`, { force: true });
    };
    scrub("c3");
    removeCgroup("berth/c3", l);
    for (const h of l.hierarchies) expect(existsSync(`${h.dir}/berth/c3`)).toBe(false);
    // the shared parent stays, with its last container gone too (docker's "docker" does the same)
    expect(existsSync(`${tmp}/memory/berth`)).toBe(true);
    scrub("c4");
    removeCgroup("berth/c4", l);
    for (const h of l.hierarchies) expect(existsSync(`${h.dir}/berth/c4`)).toBe(false);
    expect(existsSync(`${tmp}/memory/berth`)).toBe(true);
  });
});

describe("NET I/O and BLOCK I/O parsers", () => {
  test("/proc/net/dev: every interface but lo, rx and tx bytes", () => {
    const dev = `Inter-|   Receive                                                |  Transmit
 face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed
    lo:     500       5    0    0    0     0          0         0      500       5    0    0    0     0       0          0
  eth0:   31337      40    0    0    0     0          0         0     2048      20    0    0    0     0       0          0
  eth1:      13       1    0    0    0     0          0         0        7       1    0    0    0     0       0          0
`;
    expect(parseNetDev(dev)).toMatchObject({ netRx: 31350, netTx: 2055 });
    expect(Object.keys(parseNetDev(dev).interfaces!)).toEqual(["eth0", "eth1"]);
    expect(parseNetDev(dev).interfaces!.eth0).toEqual({
      rxBytes: 31337,
      rxPackets: 40,
      rxErrors: 0,
      rxDropped: 0,
      txBytes: 2048,
      txPackets: 20,
      txErrors: 0,
      txDropped: 0,
    });
  });
  test("blkio v1 rows and v2 io.stat", () => {
    expect(parseBlkio("8:0 Read 10\n8:0 Write 20\n8:0 Total 30\nTotal 30\n", "v1")).toEqual({
      read: 10,
      write: 20,
      devices: [
        { major: 8, minor: 0, op: "Read", value: 10 },
        { major: 8, minor: 0, op: "Write", value: 20 },
        { major: 8, minor: 0, op: "Total", value: 30 },
      ],
    });
    expect(parseBlkio("", "v2")).toEqual({ read: 0, write: 0, devices: [] });
    expect(parseBlkio("253:0 rbytes=4096 wbytes=8192 rios=1 wios=2 dbytes=0 dios=0\n", "v2")).toEqual({
      read: 4096,
      write: 8192,
      devices: [
        { major: 253, minor: 0, op: "read", value: 4096 },
        { major: 253, minor: 0, op: "write", value: 8192 },
      ],
    });
  });
});

describe("capabilities", () => {
  test("docker's default set is a80425fb", () => {
    expect(capabilityMask(DEFAULT_CAPABILITIES).toString(16)).toBe("a80425fb");
    expect(capabilityMask(["net_admin", "CAP_SYS_ADMIN"])).toBe((1n << 12n) | (1n << 21n));
    expect(() => capabilityMask(["CAP_NOPE"])).toThrow(/unknown capability/);
    expect(capabilityMask(["ALL"])).toBe((1n << 64n) - 1n);
  });
});
