import { describe, expect, test } from "bun:test";
import { planMounts, parseMountOptions, DEFAULT_MASKED_PATHS, DEFAULT_READONLY_PATHS, type PlanInput } from "./mount-plan.ts";
import { OP } from "./shim.ts";
import { MS_BIND, MS_NODEV, MS_NOEXEC, MS_NOSUID, MS_RDONLY, MS_REC } from "../ffi/fs.ts";
import type { ContainerSpec } from "./types.ts";

function spec(patch: Partial<ContainerSpec> = {}): ContainerSpec {
  return {
    id: "x",
    hostname: "h",
    readonlyRootfs: false,
    mounts: [],
    cgroupPath: "berth/x",
    resources: {},
    privileged: false,
    rootfs: [{ type: "overlay", source: "overlay", target: "/", options: ["lowerdir=/l1:/l2", "upperdir=/u", "workdir=/w"] }],
    process: { args: ["sh"], env: [], cwd: "/", uid: 0, gid: 0, additionalGids: [], terminal: false, capabilities: [], noNewPrivileges: false, init: false },
    namespaces: { net: "new", ipc: "new", uts: "new", pid: "new" },
    maskedPaths: DEFAULT_MASKED_PATHS,
    readonlyPaths: DEFAULT_READONLY_PATHS,
    ...patch,
  };
}
const input = (s: ContainerSpec, extra: Partial<PlanInput> = {}): PlanInput => ({
  spec: s,
  staging: "/run/berth/rootfs",
  cgroupMounts: [
    { name: "memory", fstype: "cgroup", data: "memory" },
    { name: "unified", fstype: "cgroup2" },
  ],
  isDirectory: (p) => !p.endsWith(".txt"),
  ...extra,
});
const kinds = (ops: { kind: number }[]) => ops.map((o) => Object.entries(OP).find(([, v]) => v === o.kind)![0]);

describe("planMounts", () => {
  test("order: private, rootfs on staging, proc, dev, …, masks, read-only paths, pivot", () => {
    const ops = planMounts(input(spec()));
    const k = kinds(ops);
    expect(k.slice(0, 4)).toEqual(["PRIVATE", "ROOTFS", "ENTER", "MOUNT"]);
    expect(ops[1]).toMatchObject({
      source: "overlay",
      target: "/run/berth/rootfs",
      fstype: "overlay",
      flags: 0,
      data: "lowerdir=/l1:/l2,upperdir=/u,workdir=/w",
    });
    expect(ops[3]).toMatchObject({ source: "proc", target: "proc", fstype: "proc", flags: MS_NOSUID | MS_NODEV | MS_NOEXEC });
    expect(k.at(-1)).toBe("PIVOT");
    expect(k.indexOf("MASK")).toBeGreaterThan(k.lastIndexOf("MOUNT"));
    expect(k.indexOf("READONLY")).toBeGreaterThan(k.lastIndexOf("MASK"));
    const targets = ops.map((o) => o.target);
    for (const t of [
      "dev",
      "dev/null",
      "dev/pts",
      "dev/shm",
      "dev/mqueue",
      "sys",
      "sys/fs/cgroup",
      "sys/fs/cgroup/memory",
      "sys/fs/cgroup/unified",
      "proc/kcore",
      "proc/sys",
    ])
      expect(targets).toContain(t);
    expect(ops.find((o) => o.target === "sys")!.flags! & MS_RDONLY).toBe(MS_RDONLY);
    expect(ops.find((o) => o.target === "dev/ptmx")).toMatchObject({ kind: OP.SYMLINK, source: "pts/ptmx" });
    expect(ops.find((o) => o.target === "dev/pts")!.data).toBe("newinstance,ptmxmode=0666,mode=0620,gid=5");
    expect(ops.find((o) => o.target === "proc")!.what).toBe(`mount "proc" on "/proc"`);
  });

  test("bind rootfs, ro rootfs, console, working directory", () => {
    const s = spec({ rootfs: [{ type: "bind", source: "/r", target: "/", options: ["rbind"] }], readonlyRootfs: true });
    s.process.cwd = "/app/x";
    const ops = planMounts(input(s, { console: { devptsFd: 7, name: "/dev/pts/0" } }));
    expect(ops[1]).toMatchObject({ kind: OP.ROOTFS, source: "/r", fstype: undefined, flags: MS_BIND | MS_REC });
    // the terminal's devpts instance is attached, not mounted anew, and its pty 0 is bound on /dev/console
    expect(ops.filter((o) => o.target === "dev/pts").map((o) => o.kind)).toEqual([OP.MKDIR, OP.ATTACH]);
    expect(ops.find((o) => o.kind === OP.ATTACH && o.target === "dev/pts")!.flags).toBe(7);
    const staging = ops.find((o) => o.kind === OP.ENTER)!.target;
    expect(ops.find((o) => o.target === "dev/console")).toMatchObject({ kind: OP.MOUNT_FILE, source: `${staging}/dev/pts/0`, flags: MS_BIND });
    const k = kinds(ops);
    expect(k.slice(-5)).toEqual(["READONLY", "MKFILE", "MKDIR", "PIVOT", "REMOUNT"]);
    expect(ops.find((o) => o.kind === OP.MKFILE)!.target).toBe(".dockerenv");
    expect(ops.at(-1)).toMatchObject({ target: "", flags: MS_BIND | MS_RDONLY });
    expect(ops.at(-3)).toMatchObject({ target: "app/x" });
  });

  test("user mounts: shallow first, file binds, ro remount, tmpfs data", () => {
    const s = spec({
      mounts: [
        { type: "bind", source: "/h/deep", target: "/a/b/c", options: ["rbind", "ro"] },
        { type: "bind", source: "/h/hosts.txt", target: "/etc/hosts", options: ["rbind"] },
        { type: "tmpfs", source: "tmpfs", target: "/a", options: ["nosuid", "size=1m", "rprivate"] },
      ],
    });
    const ops = planMounts(input(s));
    const user = ops.filter((o) => ["a", "a/b/c", "etc/hosts"].includes(o.target ?? ""));
    expect(user.map((o) => [o.target, kinds([o])[0]])).toEqual([
      ["a", "MOUNT"],
      ["etc/hosts", "MOUNT_FILE"],
      ["a/b/c", "MOUNT"],
      ["a/b/c", "REMOUNT"],
    ]);
    expect(user[0]).toMatchObject({ fstype: "tmpfs", flags: MS_NOSUID, data: "size=1m" });
    expect(user[3]!.flags).toBe(MS_BIND | MS_RDONLY);
  });

  test("privileged: no masks, rw /sys, host devices", () => {
    const ops = planMounts(input(spec({ privileged: true }), { hostDevices: ["tty", "sda", "kvm"] }));
    expect(kinds(ops)).not.toContain("MASK");
    expect(kinds(ops)).not.toContain("READONLY");
    expect(ops.find((o) => o.target === "sys")!.flags! & MS_RDONLY).toBe(0);
    expect(ops.map((o) => o.target)).toContain("dev/kvm");
  });

  test("--device binds, --shm-size, --sysctl writes under /proc/sys before it turns read-only", () => {
    const ops = planMounts(
      input(
        spec({
          devices: [
            { source: "/dev/loop-control", target: "/dev/loop-control" },
            { source: "/dev/zero", target: "/dev/myzero" },
          ],
          shmSize: 128 * 1024 * 1024,
          sysctls: { "net.ipv4.ip_forward": "1", "kernel.shmmax": "1000000" },
        }),
      ),
    );
    expect(ops.find((o) => o.target === "dev/myzero")).toMatchObject({ kind: OP.MOUNT_FILE, source: "/dev/zero", flags: MS_BIND });
    expect(ops.find((o) => o.target === "dev/loop-control")).toMatchObject({ kind: OP.MOUNT_FILE, source: "/dev/loop-control" });
    expect(ops.find((o) => o.target === "dev/shm")!.data).toBe("mode=1777,size=131072k");
    const w = ops.filter((o) => o.kind === OP.WRITE);
    expect(w.map((o) => [o.target, o.data, o.what])).toEqual([
      ["proc/sys/net/ipv4/ip_forward", "1", "set sysctl net.ipv4.ip_forward=1"],
      ["proc/sys/kernel/shmmax", "1000000", "set sysctl kernel.shmmax=1000000"],
    ]);
    const at = (kind: number, target: string) => ops.findIndex((o) => o.kind === kind && o.target === target);
    expect(at(OP.WRITE, "proc/sys/net/ipv4/ip_forward")).toBeGreaterThan(at(OP.MOUNT, "proc"));
    expect(at(OP.WRITE, "proc/sys/kernel/shmmax")).toBeLessThan(at(OP.READONLY, "proc/sys"));
    expect(planMounts(input(spec())).find((o) => o.target === "dev/shm")!.data).toBe("mode=1777,size=65536k");
  });

  test("--cgroupns host binds the container's own cgroup directories (runc without a cgroup namespace); --oom-score-adj is written before the exec", () => {
    const cgroupMounts = [{ name: "memory", fstype: "cgroup" as const, data: "memory", hostDir: "/sys/fs/cgroup/memory" }];
    const host = planMounts(input(spec({ namespaces: { net: "new", ipc: "new", uts: "new", pid: "new", cgroup: "host" } }), { cgroupMounts }));
    expect(host.find((o) => o.target === "sys/fs/cgroup/memory")).toMatchObject({
      kind: OP.MOUNT,
      source: "/sys/fs/cgroup/memory/berth/x",
      flags: MS_BIND | MS_REC,
    });
    expect(host.find((o) => o.kind === OP.REMOUNT && o.target === "sys/fs/cgroup/memory")!.flags! & MS_RDONLY).toBe(MS_RDONLY);
    const own = planMounts(input(spec(), { cgroupMounts }));
    expect(own.find((o) => o.target === "sys/fs/cgroup/memory")).toMatchObject({ kind: OP.MOUNT, source: "cgroup", fstype: "cgroup", data: "memory" });
    expect(own.some((o) => o.kind === OP.WRITE)).toBe(false);
    const adj = planMounts(input(spec({ process: { ...spec().process, oomScoreAdj: 217 } })));
    const w = adj.find((o) => o.kind === OP.WRITE)!;
    expect(w).toMatchObject({ target: "proc/self/oom_score_adj", data: "217" });
    expect(adj.indexOf(w)).toBeGreaterThan(adj.findIndex((o) => o.kind === OP.MOUNT && o.target === "proc"));
  });

  test("targets with .. are refused", () => {
    expect(() => planMounts(input(spec({ mounts: [{ type: "tmpfs", source: "", target: "/../etc", options: [] }] })))).toThrow(/must not contain/);
  });

  test("parseMountOptions", () => {
    expect(parseMountOptions(["ro", "nosuid", "mode=755", "rprivate", "rw"])).toEqual({ flags: MS_NOSUID, data: ["mode=755"] });
  });
});
