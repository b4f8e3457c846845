import { describe, expect, test } from "bun:test";
import { buildSpec, computeCapabilities, hostsFile, rdevNumbers, resolvConf, resolveDevices, resolveUser, runtimeRlimits } from "./oci-spec.ts";
import { createConfig } from "./create-config.ts";
import { parseSignal } from "./signals.ts";
import { DEFAULT_CAPABILITIES } from "../../oci/defaults.ts";
import type { ImageConfig } from "../../oci/index.ts";
import type { ContainerCreateRequest } from "../api/containers.ts";
import type { ContainerConfigFile } from "./types.ts";

const image = (config: ImageConfig["config"] = {}) => ({
  config: { architecture: "amd64", os: "linux", rootfs: { type: "layers" as const, diff_ids: [] }, config },
});

/** a record as create writes it, from a request */
function record(req: ContainerCreateRequest, ic: ImageConfig["config"] = {}): ContainerConfigFile {
  const b = createConfig({ Image: "x", Cmd: ["sh"], ...req }, image(ic), { hostCpus: 2 });
  b.Config.Hostname ||= "abc";
  return {
    Id: "a".repeat(64),
    Created: "",
    Path: b.Path,
    Args: b.Args,
    Name: "/x",
    Image: "sha256:0",
    Driver: "overlay",
    Platform: "linux",
    Config: b.Config,
    HostConfig: b.HostConfig,
    Mounts: b.Mounts,
    HostnamePath: "/c/hostname",
    HostsPath: "/c/hosts",
    ResolvConfPath: "/c/resolv.conf",
    LogPath: "",
    Berth: { SnapshotKey: "k", Snapshotter: "overlay", CgroupPath: "berth/x", Tmpfs: b.Tmpfs },
  };
}
const paths = { hostnamePath: "/c/hostname", hostsPath: "/c/hosts", resolvConfPath: "/c/resolv.conf" };

test("signals", () => {
  expect(parseSignal("SIGTERM")).toBe(15);
  expect(parseSignal("kill")).toBe(9);
  expect(parseSignal("10")).toBe(10);
  expect(parseSignal("SIGRTMIN+3")).toBe(37);
  expect(() => parseSignal("NOPE")).toThrow("invalid signal: NOPE");
});

describe("capabilities", () => {
  test("default set", () => expect(computeCapabilities([], [], false)).toEqual([...DEFAULT_CAPABILITIES]));
  test("add and drop", () => {
    const c = computeCapabilities(["NET_ADMIN"], ["chown"], false);
    expect(c).toContain("CAP_NET_ADMIN");
    expect(c).not.toContain("CAP_CHOWN");
  });
  test("drop ALL keeps only the added", () => expect(computeCapabilities(["CAP_KILL"], ["ALL"], false)).toEqual(["CAP_KILL"]));
  test("add ALL", () => expect(computeCapabilities(["ALL"], ["SYS_ADMIN"], false)).not.toContain("CAP_SYS_ADMIN"));
  test("privileged has all 41", () => expect(computeCapabilities([], [], true).length).toBe(41));
  test("unknown capability", () => expect(() => computeCapabilities(["FLY"], [], false)).toThrow('unknown capability: "CAP_FLY"'));
});

describe("users", () => {
  const db = {
    passwd: "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\nalice:x:1000:1000::/home/alice:/bin/sh\n",
    group: "root:x:0:\nwheel:x:10:alice\nnogroup:x:65534:\nalice:x:1000:\n",
  };
  test("default root with home", () => expect(resolveUser("", db)).toEqual({ uid: 0, gid: 0, additionalGids: [0], home: "/root" }));
  test("name → ids and supplementary groups", () =>
    expect(resolveUser("alice", db)).toEqual({ uid: 1000, gid: 1000, additionalGids: [1000, 10], home: "/home/alice" }));
  test("name:group", () => expect(resolveUser("nobody:wheel", db)).toMatchObject({ uid: 65534, gid: 10 }));
  test("numeric ids pass through", () => expect(resolveUser("4242:4343", db)).toMatchObject({ uid: 4242, gid: 4343, home: "/" }));
  test("unknown name is docker's error", () =>
    expect(() => resolveUser("nosuch", db)).toThrow("unable to find user nosuch: no matching entries in passwd file"));
  test("unknown group", () => expect(() => resolveUser("alice:nosuch", db)).toThrow("unable to find group nosuch: no matching entries in group file"));
});

describe("record → ContainerSpec", () => {
  test("env, cwd, init, no-new-privileges, limits, tmpfs, masked paths", () => {
    const rec = record(
      {
        Tty: true,
        WorkingDir: "/tmp",
        HostConfig: {
          Tmpfs: { "/run": "size=1m" },
          ReadonlyRootfs: true,
          Init: true,
          SecurityOpt: ["no-new-privileges"],
          Memory: 64 * 1024 * 1024,
          PidsLimit: 20,
        },
      },
      { Env: ["PATH=/bin:/usr/bin"] },
    );
    const s = buildSpec(rec, [], { uid: 0, gid: 0, additionalGids: [], home: "/root" }, paths);
    expect(s.process.env).toEqual(["PATH=/bin:/usr/bin", "HOSTNAME=abc", "TERM=xterm", "HOME=/root"]);
    expect(s.process.cwd).toBe("/tmp");
    expect(s.process.init).toBe(true);
    expect(s.process.noNewPrivileges).toBe(true);
    expect(s.readonlyRootfs).toBe(true);
    expect(s.resources).toMatchObject({ memory: 64 * 1024 * 1024, memorySwap: 128 * 1024 * 1024, pidsLimit: 20 });
    expect(s.mounts.map((m) => m.target)).toEqual(["/etc/hostname", "/etc/hosts", "/etc/resolv.conf", "/run"]);
    expect(s.mounts[3]!.options).toContain("size=1m");
    expect(s.maskedPaths).toContain("/proc/kcore");
    expect(s.namespaces.net).toBe("new");
  });
  test("the image's PATH when it has none: docker's default", () => {
    const s = buildSpec(record({}), [], { uid: 0, gid: 0, additionalGids: [], home: "/root" }, paths);
    expect(s.process.env[0]).toBe("PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
  });
  test("a volume reaches the runtime as a bind of its mountpoint", () => {
    const rec = record({ HostConfig: { Binds: ["v1:/d:ro"] } });
    rec.Mounts[0]!.Source = "/root/volumes/v1/_data";
    const spec = buildSpec(rec, [], { uid: 0, gid: 0, additionalGids: [], home: "/" }, paths);
    expect(spec.mounts.find((m) => m.target === "/d")).toEqual({
      type: "bind",
      source: "/root/volumes/v1/_data",
      target: "/d",
      options: ["rbind", "rprivate", "ro"],
    });
  });
  test("privileged: every capability, nothing masked", () => {
    const s = buildSpec(record({ HostConfig: { Privileged: true } }), [], { uid: 0, gid: 0, additionalGids: [], home: "/" }, paths);
    expect(s.process.capabilities.length).toBe(41);
    expect(s.maskedPaths).toEqual([]);
  });
});

test("ulimits for the runtime; device numbers and cgroup rules", () => {
  expect(runtimeRlimits([{ Name: "nofile", Soft: 1, Hard: 2 }])).toEqual([{ type: "RLIMIT_NOFILE", soft: 1, hard: 2 }]);
  expect(rdevNumbers(0x105)).toEqual({ major: 1, minor: 5 }); // /dev/zero
  expect(rdevNumbers(0x10300)).toEqual({ major: 259, minor: 0 }); // a high minor/major split
  const node = (p: string) =>
    p === "/dev/x" ? { type: "c" as const, major: 10, minor: 229 } : p === "/etc" ? ("not-a-device" as const) : ("missing" as const);
  expect(resolveDevices([{ PathOnHost: "/dev/x", PathInContainer: "/dev/y", CgroupPermissions: "rw" }], node)).toEqual({
    binds: [{ source: "/dev/x", target: "/dev/y" }],
    rules: ["c 10:229 rw"],
  });
  expect(() => resolveDevices([{ PathOnHost: "/dev/no", PathInContainer: "/dev/no", CgroupPermissions: "rwm" }], node)).toThrow(
    'adding custom device "/dev/no": no such file or directory',
  );
  expect(() => resolveDevices([{ PathOnHost: "/etc", PathInContainer: "/etc", CgroupPermissions: "rwm" }], node)).toThrow("not a device node");
});

describe("etc files", () => {
  test("resolv.conf drops loopback nameservers", () => {
    expect(resolvConf("nameserver 127.0.0.53\nnameserver 10.0.0.2\nsearch lan\n", { dns: [], search: [], options: [], hostNetwork: false })).toBe(
      "search lan\nnameserver 10.0.0.2\n",
    );
    expect(resolvConf("nameserver 127.0.0.1\n", { dns: [], search: [], options: [], hostNetwork: false })).toContain("nameserver 8.8.8.8");
    expect(resolvConf("nameserver 1.1.1.1\n", { dns: ["9.9.9.9"], search: [], options: [], hostNetwork: false })).toBe("nameserver 9.9.9.9\n");
  });
  test("hosts with --add-host", () => {
    const h = hostsFile("abc", ["db:10.0.0.5", "v6=[::1]"]);
    expect(h).toContain("127.0.0.1\tlocalhost\n");
    expect(h).toContain("10.0.0.5\tdb\n");
    expect(h).toContain("::1\tv6\n");
  });
});
