import { describe, expect, test } from "bun:test";
import { buildConfig, buildSpec, computeCapabilities, DEFAULT_CAPS, defaultCreateOptions, hostsFile, mergeEnv, parseBytes, parseEnvFile, parseSignal, resolvConf, resolveUser } from "./spec.ts";
import type { ImageConfig } from "../../oci/index.ts";
import type { ContainerConfigFile } from "./types.ts";

const image = (config: ImageConfig["config"] = {}): { config: ImageConfig; ref: string } => ({
  config: { architecture: "amd64", os: "linux", rootfs: { type: "layers", diff_ids: [] }, config },
  ref: "busybox",
});
const opts = defaultCreateOptions;

describe("entrypoint and cmd", () => {
  test("image Cmd when nothing is given", () => {
    const b = buildConfig(opts("busybox"), image({ Cmd: ["sh"] }), {}, 2);
    expect([b.Path, ...b.Args]).toEqual(["sh"]);
  });
  test("args after the image replace Cmd, keep Entrypoint", () => {
    const b = buildConfig(opts("x", { command: ["-c", "echo"] }), image({ Entrypoint: ["/bin/sh"], Cmd: ["-l"] }), {}, 2);
    expect([b.Path, ...b.Args]).toEqual(["/bin/sh", "-c", "echo"]);
  });
  test("--entrypoint replaces the entrypoint and clears the image Cmd", () => {
    const b = buildConfig(opts("x", { entrypoint: "/bin/echo" }), image({ Entrypoint: ["/init"], Cmd: ["serve"] }), {}, 2);
    expect([b.Path, ...b.Args]).toEqual(["/bin/echo"]);
  });
  test('--entrypoint "" resets it', () => {
    const b = buildConfig(opts("x", { entrypoint: "", command: ["ls"] }), image({ Entrypoint: ["/init"], Cmd: ["serve"] }), {}, 2);
    expect([b.Path, ...b.Args]).toEqual(["ls"]);
    expect(b.Config.Entrypoint).toBeNull();
  });
  test("no command at all is an error", () => {
    expect(() => buildConfig(opts("x"), image({}), {}, 2)).toThrow("no command specified");
  });
});

describe("env", () => {
  test("user env first, image env not overridden after", () => {
    expect(mergeEnv(["PATH=/bin", "A=1"], ["A=2", "B=3"])).toEqual(["A=2", "B=3", "PATH=/bin"]);
  });
  test("-e VAR takes the host value and is dropped when unset", () => {
    const b = buildConfig(opts("x", { command: ["sh"], env: ["HOSTV", "UNSET", "X=1"] }), image({ Env: ["PATH=/bin"] }), { HOSTV: "h" }, 2);
    expect(b.Config.Env).toEqual(["HOSTV=h", "X=1", "PATH=/bin"]);
  });
  test("env files: comments, blanks, host lookups", () => {
    expect(parseEnvFile("# c\n\nA=1\nB\n  C=x y\n", { B: "b" })).toEqual(["A=1", "B=b", "C=x y"]);
  });
});

describe("units and signals", () => {
  test("docker's RAMInBytes", () => {
    expect(parseBytes("512", "-m")).toBe(512);
    expect(parseBytes("64m", "-m")).toBe(64 * 1024 * 1024);
    expect(parseBytes("1g", "-m")).toBe(1024 ** 3);
    expect(parseBytes("1.5GB", "-m")).toBe(1.5 * 1024 ** 3);
    expect(() => parseBytes("lots", "-m, --memory")).toThrow(`invalid argument "lots" for "-m, --memory" flag: invalid size: 'lots'`);
  });
  test("minimum memory", () => {
    expect(() => buildConfig(opts("x", { command: ["sh"], memory: "1m" }), image(), {}, 2)).toThrow("Minimum memory limit allowed is 6MB");
  });
  test("signals", () => {
    expect(parseSignal("SIGTERM")).toBe(15);
    expect(parseSignal("kill")).toBe(9);
    expect(parseSignal("10")).toBe(10);
    expect(() => parseSignal("NOPE")).toThrow("invalid signal: NOPE");
  });
  test("cpus beyond the host", () => {
    expect(() => buildConfig(opts("x", { command: ["sh"], cpus: "3" }), image(), {}, 2)).toThrow("range of CPUs is from 0.01 to 2.00");
    expect(buildConfig(opts("x", { command: ["sh"], cpus: "1.5" }), image(), {}, 2).HostConfig.NanoCpus).toBe(1.5e9);
  });
});

describe("capabilities", () => {
  test("default set", () => expect(computeCapabilities([], [], false)).toEqual(DEFAULT_CAPS));
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
  const db = { passwd: "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\nalice:x:1000:1000::/home/alice:/bin/sh\n", group: "root:x:0:\nwheel:x:10:alice\nnogroup:x:65534:\nalice:x:1000:\n" };
  test("default root with home", () => expect(resolveUser("", db)).toEqual({ uid: 0, gid: 0, additionalGids: [0], home: "/root" }));
  test("name → ids and supplementary groups", () => expect(resolveUser("alice", db)).toEqual({ uid: 1000, gid: 1000, additionalGids: [1000, 10], home: "/home/alice" }));
  test("name:group", () => expect(resolveUser("nobody:wheel", db)).toMatchObject({ uid: 65534, gid: 10 }));
  test("numeric ids pass through", () => expect(resolveUser("4242:4343", db)).toMatchObject({ uid: 4242, gid: 4343, home: "/" }));
  test("unknown name is docker's error", () => expect(() => resolveUser("nosuch", db)).toThrow("unable to find user nosuch: no matching entries in passwd file"));
  test("unknown group", () => expect(() => resolveUser("alice:nosuch", db)).toThrow("unable to find group nosuch: no matching entries in group file"));
});

describe("volumes, tmpfs, flags", () => {
  test("-v host:ctr:ro", () => {
    const b = buildConfig(opts("x", { command: ["sh"], volumes: ["/srv/data:/data:ro"] }), image(), {}, 2);
    expect(b.Mounts).toEqual([{ Type: "bind", Source: "/srv/data", Destination: "/data", Mode: "ro", RW: false, Propagation: "rprivate" }]);
  });
  test("bad volume specs", () => {
    expect(() => buildConfig(opts("x", { command: ["sh"], volumes: ["/a:/b:xx"] }), image(), {}, 2)).toThrow("invalid mode: xx");
    expect(() => buildConfig(opts("x", { command: ["sh"], volumes: ["/a:rel"] }), image(), {}, 2)).toThrow("must be absolute");
  });
  test("--rm and --restart conflict", () => {
    expect(() => buildConfig(opts("x", { command: ["sh"], rm: true, restart: "always" }), image(), {}, 2)).toThrow("conflicting options: cannot specify both --restart and --rm");
  });
  test("network: default bridge, ports, links, endpoint settings, docker's conflicts", () => {
    const b = (o: Parameters<typeof opts>[1]) => buildConfig(opts("x", { command: ["sh"], ...o }), image({ ExposedPorts: { "53/udp": {} } }), {}, 2);
    const d = b({});
    expect(d.HostConfig.NetworkMode).toBe("bridge");
    expect(d.Endpoints).toEqual({ bridge: { Aliases: null, IPAddress: "", MacAddress: "" } });
    const p = b({ publish: ["127.0.0.1:8080:80", "9000-9001:90-91/udp", "443"], expose: ["7000"], links: ["db:data", "cache"] });
    expect(p.HostConfig.PortBindings).toEqual({
      "80/tcp": [{ HostIp: "127.0.0.1", HostPort: "8080" }],
      "90/udp": [{ HostIp: "", HostPort: "9000" }],
      "91/udp": [{ HostIp: "", HostPort: "9001" }],
      "443/tcp": [{ HostIp: "", HostPort: "" }],
    });
    expect(Object.keys(p.Config.ExposedPorts ?? {}).sort()).toEqual(["443/tcp", "53/udp", "7000/tcp", "80/tcp", "90/udp", "91/udp"]);
    expect(p.HostConfig.Links).toEqual(["db:data", "cache:cache"]);
    const u = b({ network: "mynet", networkAlias: ["web"], ip: "10.9.0.5", macAddress: "02:AA:00:00:00:01" });
    expect(u.Endpoints).toEqual({ mynet: { Aliases: ["web"], IPAddress: "10.9.0.5", MacAddress: "02:aa:00:00:00:01" } });
    expect(b({ network: "none" }).Endpoints).toEqual({});
    expect(b({ network: "host", publish: ["80:80"] }).HostConfig.PortBindings).toEqual({});
    // docker accepts -p with none and host and discards the ports (a bad port is still refused)
    expect(b({ network: "none", publish: ["80"] }).HostConfig.PortBindings).toEqual({});
    expect(() => b({ network: "none", publish: ["99999:80"] })).toThrow();
    expect(() => b({ network: "container:x", publish: ["80"] })).toThrow("port publishing");
    expect(() => b({ network: "container:x", dns: ["1.1.1.1"] })).toThrow("conflicting options");
    expect(() => b({ networkAlias: ["a"] })).toThrow("user defined networks");
    expect(() => b({ ip: "172.17.0.9" })).toThrow("user defined networks");
    expect(() => b({ network: "mynet", macAddress: "01:00:00:00:00:01" })).toThrow("multicast");
    expect(() => b({ publish: ["99999:80"] })).toThrow("invalid port specification");
    expect(() => b({ network: "host", links: ["db"] })).toThrow("links");
  });
});

describe("spec", () => {
  test("record → ContainerSpec", () => {
    const b = buildConfig(opts("x", { command: ["sh"], tty: true, tmpfs: ["/run:size=1m"], workdir: "/tmp", readOnly: true, init: true, securityOpt: ["no-new-privileges"], memory: "64m", pidsLimit: "20" }), image({ Env: ["PATH=/bin:/usr/bin"] }), {}, 2);
    b.Config.Hostname = "abc";
    const rec: ContainerConfigFile = {
      Id: "a".repeat(64), Created: "", Path: b.Path, Args: b.Args, Name: "/x", Image: "sha256:0", Driver: "overlay", Platform: "linux",
      Config: b.Config, HostConfig: b.HostConfig, Mounts: b.Mounts, HostnamePath: "/c/hostname", HostsPath: "/c/hosts", ResolvConfPath: "/c/resolv.conf", LogPath: "",
      Berth: { SnapshotKey: "k", Snapshotter: "overlay", CgroupPath: "berth/x", Tmpfs: b.Tmpfs },
    };
    const s = buildSpec(rec, [], { uid: 0, gid: 0, additionalGids: [], home: "/root" }, { hostnamePath: "/c/hostname", hostsPath: "/c/hosts", resolvConfPath: "/c/resolv.conf" });
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
});

describe("etc files", () => {
  test("resolv.conf drops loopback nameservers", () => {
    expect(resolvConf("nameserver 127.0.0.53\nnameserver 10.0.0.2\nsearch lan\n", { dns: [], search: [], options: [], hostNetwork: false })).toBe("search lan\nnameserver 10.0.0.2\n");
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
