import { describe, expect, test } from "bun:test";
import { applyUpdate, createConfig, isNoCopy, mergeEnv, mergeHealthcheck, mountOf, parseBind } from "./create-config.ts";
import type { ImageConfig } from "../../oci/index.ts";
import type { ContainerCreateRequest, HostConfig } from "../api/containers.ts";

const image = (config: ImageConfig["config"] = {}) => ({
  config: { architecture: "amd64", os: "linux", rootfs: { type: "layers" as const, diff_ids: [] }, config },
});
const build = (
  req: ContainerCreateRequest,
  ic: ImageConfig["config"] = {},
  o: { ephemeral?: boolean; cgroups?: { oomKillDisable: boolean; blkioWeightFile?: string } } = {},
) => createConfig({ Image: "x", ...req }, image(ic), { hostCpus: 2, ...o });
const withSh = (hc: HostConfig, ic: ImageConfig["config"] = {}) => build({ Cmd: ["sh"], HostConfig: hc }, ic);

describe("entrypoint and cmd (dockerd's merge)", () => {
  test("image Cmd when nothing is given", () => {
    const b = build({}, { Cmd: ["sh"] });
    expect([b.Path, ...b.Args]).toEqual(["sh"]);
  });
  test("Cmd replaces the image's, keeps its Entrypoint", () => {
    const b = build({ Cmd: ["-c", "echo"] }, { Entrypoint: ["/bin/sh"], Cmd: ["-l"] });
    expect([b.Path, ...b.Args]).toEqual(["/bin/sh", "-c", "echo"]);
  });
  test("an Entrypoint replaces the image's and keeps its Cmd out", () => {
    const b = build({ Entrypoint: ["/bin/echo"] }, { Entrypoint: ["/init"], Cmd: ["serve"] });
    expect([b.Path, ...b.Args]).toEqual(["/bin/echo"]);
  });
  test('Entrypoint [""] resets it', () => {
    const b = build({ Entrypoint: [""], Cmd: ["ls"] }, { Entrypoint: ["/init"], Cmd: ["serve"] });
    expect([b.Path, ...b.Args]).toEqual(["ls"]);
    expect(b.Config.Entrypoint).toBeNull();
  });
  test("no command at all is an error", () => {
    expect(() => build({}, {})).toThrow("no command specified");
  });
});

describe("dockerd's defaults for an empty request", () => {
  const b = build({ Cmd: ["sh"] }, { User: "nobody", WorkingDir: "/srv", Env: ["PATH=/bin"], Labels: { a: "1" }, StopSignal: "SIGQUIT" });
  test("Config from the image", () => {
    expect(b.Config).toMatchObject({
      Hostname: "",
      User: "nobody",
      WorkingDir: "/srv",
      Env: ["PATH=/bin"],
      Labels: { a: "1" },
      StopSignal: "SIGQUIT",
      Tty: false,
      OpenStdin: false,
      AttachStdout: false,
      Volumes: null,
      Image: "x",
    });
  });
  test("HostConfig", () => {
    expect(b.HostConfig).toMatchObject({
      NetworkMode: "bridge",
      RestartPolicy: { Name: "no", MaximumRetryCount: 0 },
      IpcMode: "private",
      PidMode: "",
      UTSMode: "",
      ShmSize: 64 * 1024 * 1024,
      LogConfig: { Type: "json-file", Config: {} },
      Runtime: "berth",
      Binds: null,
      CapAdd: null,
      PidsLimit: null,
      Init: null,
      Memory: 0,
      NanoCpus: 0,
      Dns: [],
      Links: null,
      PortBindings: {},
      PublishAllPorts: false,
    });
    expect(b.HostConfig.MaskedPaths).toContain("/proc/kcore");
    expect(b.Endpoints).toEqual({ bridge: { Aliases: null, IPAddress: "", MacAddress: "" } });
  });
  test('an empty string is "not given", as in dockerd: the image\'s user and directory stay', () => {
    expect(build({ Cmd: ["sh"], User: "", WorkingDir: "" }, { User: "nobody", WorkingDir: "/srv" }).Config).toMatchObject({
      User: "nobody",
      WorkingDir: "/srv",
    });
  });
});

describe("env, labels, health", () => {
  test("user env first, image env not overridden after", () => {
    expect(mergeEnv(["PATH=/bin", "A=1"], ["A=2", "B=3"])).toEqual(["A=2", "B=3", "PATH=/bin"]);
    expect(build({ Cmd: ["sh"], Env: ["A=2"] }, { Env: ["PATH=/bin", "A=1"] }).Config.Env).toEqual(["A=2", "PATH=/bin"]);
  });
  test("labels: the request's over the image's", () => {
    expect(build({ Cmd: ["sh"], Labels: { a: "2", b: "3" } }, { Labels: { a: "1", c: "4" } }).Config.Labels).toEqual({ a: "2", c: "4", b: "3" });
  });
  test("healthcheck: zero fields inherit, NONE turns it off, no test is no check", () => {
    const img = { Test: ["CMD", "true"], Interval: 10e9 };
    expect(mergeHealthcheck(img, undefined)).toEqual(img);
    expect(mergeHealthcheck(img, { Test: ["CMD-SHELL", "x"], Retries: 1 })).toEqual({ Test: ["CMD-SHELL", "x"], Interval: 10e9, Retries: 1 });
    expect(mergeHealthcheck(img, { Test: ["NONE"] })).toEqual({ Test: ["NONE"] });
    expect(mergeHealthcheck(undefined, { Interval: 1e9 })).toBeUndefined();
    expect(() => mergeHealthcheck(undefined, { Interval: 5 })).toThrow("Interval in Healthcheck cannot be less than 1ms");
  });
});

describe("resources: dockerd's checks", () => {
  test("memory", () => {
    expect(() => withSh({ Memory: 1024 * 1024 })).toThrow("Minimum memory limit allowed is 6MB");
    expect(() => withSh({ MemorySwap: 64 * 1024 * 1024 })).toThrow("You should always set the Memory limit when using Memoryswap limit");
    expect(() => withSh({ Memory: 10 * 1024 * 1024, MemoryReservation: 20 * 1024 * 1024 })).toThrow(
      "Minimum memory limit can not be less than memory reservation limit",
    );
  });
  test("CPUs within the host; the CFS quota/period recorded as given, as dockerd does", () => {
    expect(() => withSh({ NanoCpus: 3e9 })).toThrow("range of CPUs is from 0.01 to 2.00");
    expect(withSh({ NanoCpus: 1.5e9 }).HostConfig.NanoCpus).toBe(1.5e9);
    expect(withSh({ CpuQuota: 50000 }).HostConfig).toMatchObject({ NanoCpus: 0, CpuQuota: 50000 });
    expect(withSh({ CpuQuota: 50000, CpuPeriod: 200000 }).HostConfig).toMatchObject({ NanoCpus: 0, CpuQuota: 50000, CpuPeriod: 200000 });
    expect(() => withSh({ NanoCpus: 1e9, CpuQuota: 50000 })).toThrow("Conflicting options: Nano CPUs and CPU Quota cannot both be set");
    expect(() => withSh({ CpuPeriod: 10 })).toThrow("CPU cfs period can not be less than 1ms");
  });
  test("cpusets, modes, sysctls", () => {
    expect(withSh({ CpusetCpus: "0,1" }).HostConfig.CpusetCpus).toBe("0,1");
    expect(() => withSh({ CpusetCpus: "0-2" })).toThrow("Requested CPUs are not available - requested 0-2, available: 0-1");
    expect(() => withSh({ IpcMode: "bogus" })).toThrow("invalid IPC mode: bogus");
    expect(() => withSh({ PidMode: "bogus" })).toThrow("invalid PID mode: bogus");
    expect(withSh({ Sysctls: { "net/ipv4/ip_forward": "1", "kernel.shmmax": "1" } }).HostConfig.Sysctls).toEqual({
      "net.ipv4.ip_forward": "1",
      "kernel.shmmax": "1",
    });
    expect(() => withSh({ Sysctls: { "kernel.pid_max": "1" } })).toThrow('sysctl "kernel.pid_max" is not in a separate kernel namespace');
    expect(() => withSh({ IpcMode: "host", Sysctls: { "kernel.shmmax": "1" } })).toThrow("not allowed in host ipc namespace");
    expect(() => withSh({ NetworkMode: "host", Sysctls: { "net.core.somaxconn": "1" } })).toThrow("not allowed in host network namespace");
    expect(() => withSh({ Sysctls: { "kernel.hostname": "x" } })).toThrow("conflicts with the OCI");
  });
  test("restart policy and AutoRemove, caps, signals, log options, working directory", () => {
    expect(() => withSh({ AutoRemove: true, RestartPolicy: { Name: "always", MaximumRetryCount: 0 } })).toThrow(
      "can't create 'AutoRemove' container with restart policy",
    );
    expect(() => withSh({ RestartPolicy: { Name: "sometimes", MaximumRetryCount: 0 } })).toThrow("unknown policy 'sometimes'");
    expect(() => withSh({ CapAdd: ["FLY"] })).toThrow('unknown capability: "CAP_FLY"');
    expect(() => build({ Cmd: ["sh"], StopSignal: "NOPE" })).toThrow("invalid signal: NOPE");
    expect(() => withSh({ LogConfig: { Type: "syslog", Config: {} } })).toThrow("no log driver named 'syslog'");
    expect(withSh({ LogConfig: { Type: "", Config: { "max-size": "1m", "max-file": "2" } } }).HostConfig.LogConfig).toEqual({
      Type: "json-file",
      Config: { "max-file": "2", "max-size": "1m" },
    });
    expect(() => build({ Cmd: ["sh"], WorkingDir: "rel" })).toThrow("the working directory 'rel' is invalid");
    expect(() => withSh({ SecurityOpt: ["bogus"] })).toThrow('invalid --security-opt 2: "bogus"');
    expect(withSh({ SecurityOpt: ["systempaths=unconfined"] }).HostConfig.MaskedPaths).toEqual([]);
  });
});

describe("Binds, Mounts, Config.Volumes, Tmpfs", () => {
  test("Binds: NAME:CTR is a named volume (Source filled in at create), HOST:CTR a bind", () => {
    expect(parseBind("myvol:/data")).toEqual({
      Type: "volume",
      Name: "myvol",
      Source: "",
      Destination: "/data",
      Driver: "local",
      Mode: "z",
      RW: true,
      Propagation: "",
    });
    const m = parseBind("my.vol_1-x:/data/:ro,nocopy");
    expect(m).toMatchObject({ Type: "volume", Name: "my.vol_1-x", Destination: "/data", Mode: "ro,nocopy", RW: false });
    expect(isNoCopy(m)).toBe(true);
    expect(isNoCopy(parseBind("v1:/d:ro"))).toBe(false);
    expect(parseBind("/srv:/data:rshared")).toEqual({ Type: "bind", Source: "/srv", Destination: "/data", Mode: "rshared", RW: true, Propagation: "rshared" });
    expect(parseBind("/srv/data:/data:ro")).toEqual({
      Type: "bind",
      Source: "/srv/data",
      Destination: "/data",
      Mode: "ro",
      RW: false,
      Propagation: "rprivate",
    });
  });
  test("Binds: docker's name rule and errors", () => {
    expect(() => parseBind("-bad:/d")).toThrow('"-bad" includes invalid characters for a local volume name');
    expect(() => parseBind("a:/d")).toThrow("includes invalid characters"); // one character is too short
    expect(() => parseBind("./rel:/d")).toThrow("If you intended to pass a host directory, use absolute path");
    expect(() => parseBind("v1:rel")).toThrow(`invalid mount config for type "volume"`);
    expect(() => parseBind("v1:/d:shared")).toThrow("invalid mode: shared");
    expect(() => parseBind("/a:/b:xx")).toThrow("invalid mode: xx");
    expect(() => parseBind("/a:rel")).toThrow("must be absolute");
    expect(() => parseBind("/d")).toThrow("invalid volume specification: '/d'");
  });
  test("API Mounts: bind, volume, tmpfs; dockerd's errors", () => {
    expect(mountOf({ Type: "bind", Source: "/srv/data", Target: "/data", ReadOnly: true })).toEqual({
      mount: { Type: "bind", Source: "/srv/data", Destination: "/data", Mode: "", RW: false, Propagation: "rprivate" },
      mustExist: "/srv/data",
    });
    expect(mountOf({ Type: "bind", Source: "/a/", Target: "/b", BindOptions: { Propagation: "rslave" } })).toMatchObject({
      mount: { Source: "/a", Destination: "/b", RW: true, Propagation: "rslave" },
    });
    expect(mountOf({ Type: "volume", Source: "cache", Target: "/cache", VolumeOptions: { NoCopy: true } })).toEqual({
      mount: { Type: "volume", Name: "cache", Source: "", Destination: "/cache", Driver: "local", Mode: "nocopy", RW: true, Propagation: "" },
    });
    expect(mountOf({ Type: "volume", Target: "/anon" })).toMatchObject({ mount: { Type: "volume", Name: "", Destination: "/anon" } });
    expect(mountOf({ Type: "tmpfs", Target: "/run/x", TmpfsOptions: { SizeBytes: 64 * 1024 * 1024, Mode: 0o1770 } })).toEqual({
      tmpfs: ["/run/x", `size=${64 * 1024 * 1024},mode=1770`],
    });
    expect(() => mountOf({ Type: "bind", Source: "/a", Target: "" })).toThrow(`invalid mount config for type "bind": field Target must not be empty`);
    expect(() => mountOf({ Type: "bind", Target: "/a" })).toThrow("field Source must not be empty");
    expect(() => mountOf({ Type: "tmpfs", Source: "x", Target: "/a" })).toThrow("field Source must not be specified");
    expect(() => mountOf({ Type: "volume", Source: "bad/name", Target: "/x" })).toThrow("includes invalid characters for a local volume name");
    expect(() => mountOf({ Type: "volume", Target: "/x", VolumeOptions: { DriverConfig: { Name: "nfs" } } })).toThrow(`volume driver "nfs" is not available`);
  });
  test("Binds keep HOST:CTR and NAME:CTR; Config.Volumes are anonymous volumes", () => {
    const b = build({ Cmd: ["sh"], Volumes: { "/c": {} }, HostConfig: { Binds: ["/srv:/a", "v1:/b"] } });
    expect(b.HostConfig.Binds).toEqual(["/srv:/a", "v1:/b"]);
    expect(b.Config.Volumes).toEqual({ "/c": {} });
    expect(b.Mounts.map((m) => [m.Type, m.Name, m.Destination])).toEqual([
      ["bind", undefined, "/a"],
      ["volume", "v1", "/b"],
      ["volume", "", "/c"],
    ]);
    expect(() => build({ Cmd: ["sh"], Volumes: { rel: {} } })).toThrow("invalid volume specification: 'rel'");
  });
  test("the image's VOLUMEs become anonymous volumes unless a bind, mount or tmpfs covers them", () => {
    const b = build(
      { Cmd: ["sh"], HostConfig: { Binds: ["v1:/data"], Tmpfs: { "/run/x": "size=1m" } } },
      { Volumes: { "/data": {}, "/logs": {}, "/run/x": {} } },
    );
    expect(b.Mounts.map((m) => [m.Name, m.Destination])).toEqual([
      ["v1", "/data"],
      ["", "/logs"],
    ]);
    expect(b.Config.Volumes).toEqual({ "/data": {}, "/logs": {}, "/run/x": {} });
  });
  test("a build step (ephemeral) mounts no image VOLUMEs", () => {
    expect(build({ Cmd: ["sh"] }, { Volumes: { "/logs": {} } }, { ephemeral: true }).Mounts).toEqual([]);
  });
  test("duplicate destinations are refused; tmpfs from both places is recorded", () => {
    expect(() => build({ Cmd: ["sh"], HostConfig: { Binds: ["v1:/d", "v2:/d"] } })).toThrow("Duplicate mount point: /d");
    // a Config.Volumes entry a bind already covers is no anonymous volume (moby; compose sends both)
    expect(build({ Cmd: ["sh"], Volumes: { "/d": {} }, HostConfig: { Binds: ["v1:/d"] } }).Mounts.map((m) => [m.Name, m.Destination])).toEqual([["v1", "/d"]]);
    expect(() => withSh({ Tmpfs: { "/t": "" }, Mounts: [{ Type: "tmpfs", Target: "/t" }] })).toThrow("Duplicate mount point: /t");
    const b = withSh({ Tmpfs: { "/a": "size=1m" }, Mounts: [{ Type: "tmpfs", Target: "/b", ReadOnly: true }] });
    // dockerd records --mount's tmpfs in HostConfig.Mounts only (inspect lists it in Mounts); the runtime gets both
    expect(b.HostConfig.Tmpfs).toEqual({ "/a": "size=1m" });
    expect(b.HostConfig.Mounts).toEqual([{ Type: "tmpfs", Target: "/b", ReadOnly: true }]);
    expect(b.Tmpfs).toEqual({ "/a": "size=1m", "/b": "ro" });
    expect(b.Tmpfs).toEqual({ "/a": "size=1m", "/b": "ro" });
    expect(() => withSh({ Tmpfs: { rel: "" } })).toThrow("invalid mount path: 'rel' mount path must be absolute");
  });
});

describe("network", () => {
  const b = (req: ContainerCreateRequest) => build({ Cmd: ["sh"], ...req }, { ExposedPorts: { "53/udp": {} } });
  test("ports: published ones are exposed, after the image's and the request's", () => {
    const p = b({
      ExposedPorts: { "7000/tcp": {} },
      HostConfig: {
        PortBindings: { "80/tcp": [{ HostIp: "127.0.0.1", HostPort: "8080" }], "443/tcp": [{ HostIp: "", HostPort: "" }] },
        Links: ["db:data", "cache"],
      },
    });
    expect(p.HostConfig.PortBindings).toEqual({ "80/tcp": [{ HostIp: "127.0.0.1", HostPort: "8080" }], "443/tcp": [{ HostIp: "", HostPort: "" }] });
    expect(Object.keys(p.Config.ExposedPorts ?? {})).toEqual(["53/udp", "7000/tcp", "80/tcp", "443/tcp"]);
    expect(p.HostConfig.Links).toEqual(["db:data", "cache:cache"]);
  });
  test("endpoint settings of a user network; none, host, container: modes", () => {
    const u = b({
      HostConfig: { NetworkMode: "mynet" },
      NetworkingConfig: { EndpointsConfig: { mynet: { Aliases: ["web"], IPAMConfig: { IPv4Address: "10.9.0.5" }, MacAddress: "02:AA:00:00:00:01" } } },
    });
    expect(u.Endpoints).toEqual({ mynet: { Aliases: ["web"], IPAddress: "10.9.0.5", MacAddress: "02:aa:00:00:00:01" } });
    expect(b({ HostConfig: { NetworkMode: "default" } }).HostConfig.NetworkMode).toBe("bridge");
    expect(b({ HostConfig: { NetworkMode: "none" } }).Endpoints).toEqual({});
    // dockerd discards published ports with none and host
    const host = b({ HostConfig: { NetworkMode: "host", PortBindings: { "80/tcp": [{ HostIp: "", HostPort: "80" }] }, PublishAllPorts: true } });
    expect(host.HostConfig.PortBindings).toEqual({});
    expect(host.HostConfig.PublishAllPorts).toBe(false);
    expect(Object.keys(host.Config.ExposedPorts ?? {})).toEqual(["53/udp"]);
  });
  test("dockerd's conflicts", () => {
    const ctr = { NetworkMode: "container:x" };
    expect(() => b({ HostConfig: { ...ctr, PortBindings: { "80/tcp": [] } } })).toThrow("port publishing");
    expect(() => b({ HostConfig: { ...ctr, Dns: ["1.1.1.1"] } })).toThrow("conflicting options: dns and the network mode");
    expect(() => b({ HostConfig: { ...ctr, ExtraHosts: ["a:1.2.3.4"] } })).toThrow("custom host-to-IP mapping");
    expect(() => b({ Hostname: "h", HostConfig: { NetworkMode: "host" } })).toThrow("conflicting options: hostname and the network mode");
    expect(() => b({ HostConfig: { NetworkMode: "container:" } })).toThrow("container name missing");
    expect(() => b({ NetworkingConfig: { EndpointsConfig: { default: { Aliases: ["a"] } } } })).toThrow("user defined networks");
    expect(() => b({ NetworkingConfig: { EndpointsConfig: { default: { IPAMConfig: { IPv4Address: "172.17.0.9" } } } } })).toThrow("user defined networks");
    expect(() => b({ HostConfig: { NetworkMode: "n" }, NetworkingConfig: { EndpointsConfig: { n: { MacAddress: "01:00:00:00:00:01" } } } })).toThrow(
      "multicast",
    );
    expect(() => b({ HostConfig: { NetworkMode: "host", Links: ["db"] } })).toThrow("links");
    expect(() => b({ HostConfig: { Links: ["a:b:c"] } })).toThrow('invalid link "a:b:c"');
  });
});

describe("--oom-kill-disable, --blkio-weight, --oom-score-adj, --cgroupns: dockerd's checks", () => {
  const v1 = { oomKillDisable: true, blkioWeightFile: "blkio.weight" };
  const cg = (hc: HostConfig, o: { cgroups?: { oomKillDisable: boolean; blkioWeightFile?: string } } = {}) => build({ Cmd: ["sh"], HostConfig: hc }, {}, o);
  test("kept where the host can honour them, dropped with dockerd's warning where not", () => {
    const b = cg({ OomKillDisable: true, Memory: 64 * 1024 ** 2, BlkioWeight: 300, OomScoreAdj: 217, CgroupnsMode: "host" }, { cgroups: v1 });
    expect(b.HostConfig).toMatchObject({ OomKillDisable: true, BlkioWeight: 300, OomScoreAdj: 217, CgroupnsMode: "host" });
    expect(b.Warnings).toBeUndefined();
    const none = cg({ OomKillDisable: true, BlkioWeight: 5 }, { cgroups: { oomKillDisable: false } });
    expect(none.HostConfig.OomKillDisable).toBeUndefined();
    expect(none.HostConfig.BlkioWeight).toBeUndefined();
    expect(none.Warnings).toEqual([
      "Your kernel does not support OomKillDisable. OomKillDisable discarded.",
      "Your kernel does not support Block I/O weight or the cgroup is not mounted. Weight discarded.",
    ]);
    expect(cg({ OomKillDisable: true }, { cgroups: v1 }).Warnings).toEqual([
      "OOM killer is disabled for the container, but no memory limit is set, this can result in the system running out of resources.",
    ]);
  });
  test("dockerd's errors", () => {
    expect(() => cg({ BlkioWeight: 5 }, { cgroups: { oomKillDisable: true, blkioWeightFile: "blkio.weight" } })).toThrow(
      "Range of blkio weight is from 10 to 1000",
    );
    expect(() => cg({ OomScoreAdj: -1001 })).toThrow("Invalid value -1001, range for oom score adj is [-1000, 1000]");
    expect(() => cg({ CgroupnsMode: "shared" })).toThrow("invalid cgroup namespace mode: shared");
  });
});

describe("update", () => {
  const h = withSh({ Memory: 32 * 1024 * 1024, MemorySwap: 64 * 1024 * 1024 }).HostConfig;
  test("only the fields given change", () => {
    const n = applyUpdate(h, { NanoCpus: 5e8, PidsLimit: 40, RestartPolicy: { Name: "on-failure", MaximumRetryCount: 3 } }, 2);
    expect(n).toMatchObject({ Memory: 32 * 1024 * 1024, NanoCpus: 5e8, PidsLimit: 40, RestartPolicy: { Name: "on-failure", MaximumRetryCount: 3 } });
  });
  test("dockerd's update errors", () => {
    expect(() => applyUpdate(h, { Memory: 1024 }, 2)).toThrow("Minimum memory limit allowed is 6MB");
    expect(() => applyUpdate(h, { Memory: 128 * 1024 * 1024 }, 2)).toThrow("Memory limit should be smaller than already set memoryswap limit");
    expect(() => applyUpdate(h, { NanoCpus: 4e9 }, 2)).toThrow("range of CPUs");
    expect(() => applyUpdate({ ...h, AutoRemove: true }, { RestartPolicy: { Name: "always", MaximumRetryCount: 0 } }, 2)).toThrow(
      "Restart policy cannot be updated because AutoRemove is enabled",
    );
  });
});
