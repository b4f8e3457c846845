import { describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execEnv, parseCreateFlags, parseUpdateFlags } from "./_container-opts.ts";
import * as v from "./_opts/values.ts";
import { createConfig } from "../engine/index.ts";
import type { ContainerCreateRequest } from "../engine/index.ts";
import type { ImageConfig } from "../oci/index.ts";

const parse = (flags: Record<string, unknown>, rest: string[] = [], o: { detach?: boolean; env?: Record<string, string> } = {}) =>
  parseCreateFlags({ flags, positionals: ["busybox"], rest }, { detach: !!o.detach, clientEnv: o.env ?? {} });

describe("create/run flags → ContainerCreateRequest", () => {
  test("the bare minimum: what docker's CLI always sends", () => {
    expect(parse({ restart: "no" }, ["sh"]).request).toEqual({
      AttachStdin: false,
      AttachStdout: true,
      AttachStderr: true,
      Tty: false,
      OpenStdin: false,
      StdinOnce: false,
      Env: [],
      Cmd: ["sh"],
      Image: "busybox",
      Labels: {},
      HostConfig: { RestartPolicy: { Name: "no", MaximumRetryCount: 0 } },
    });
  });

  const cases: [string, Record<string, unknown>, (r: ContainerCreateRequest) => unknown, unknown][] = [
    ["-m 512m", { memory: "512m" }, (r) => r.HostConfig?.Memory, 512 * 1024 ** 2],
    ["--memory-swap -1", { "memory-swap": "-1" }, (r) => r.HostConfig?.MemorySwap, -1],
    ["--memory-reservation 1g", { "memory-reservation": "1g" }, (r) => r.HostConfig?.MemoryReservation, 1024 ** 3],
    ["--cpus 1.5", { cpus: "1.5" }, (r) => r.HostConfig?.NanoCpus, 1.5e9],
    ["--cpu-quota/--cpu-period", { "cpu-quota": "50000", "cpu-period": "100000" }, (r) => [r.HostConfig?.CpuQuota, r.HostConfig?.CpuPeriod], [50000, 100000]],
    ["-c 512", { "cpu-shares": "512" }, (r) => r.HostConfig?.CpuShares, 512],
    ["--pids-limit -1", { "pids-limit": "-1" }, (r) => r.HostConfig?.PidsLimit, -1],
    ["--shm-size 1m", { "shm-size": "1m" }, (r) => r.HostConfig?.ShmSize, 1024 ** 2],
    [
      "-p",
      { publish: ["127.0.0.1:8080:80", "9000-9001:90-91/udp", "443"] },
      (r) => r.HostConfig?.PortBindings,
      {
        "80/tcp": [{ HostIp: "127.0.0.1", HostPort: "8080" }],
        "90/udp": [{ HostIp: "", HostPort: "9000" }],
        "91/udp": [{ HostIp: "", HostPort: "9001" }],
        "443/tcp": [{ HostIp: "", HostPort: "" }],
      },
    ],
    ["--expose 7000-7001", { expose: ["7000-7001"] }, (r) => r.ExposedPorts, { "7000/tcp": {}, "7001/tcp": {} }],
    ["-P", { "publish-all": true }, (r) => r.HostConfig?.PublishAllPorts, true],
    [
      "-v: Binds and Config.Volumes",
      { volume: ["/srv:/a:ro", "v1:/b", "/c"] },
      (r) => [r.HostConfig?.Binds, r.Volumes],
      [["/srv:/a:ro", "v1:/b"], { "/c": {} }],
    ],
    [
      "--mount",
      { mount: ["type=bind,src=/a,dst=/b,readonly", "type=tmpfs,target=/t,tmpfs-size=1m,tmpfs-mode=1777"] },
      (r) => r.HostConfig?.Mounts,
      [
        { Type: "bind", Source: "/a", Target: "/b", ReadOnly: true },
        { Type: "tmpfs", Target: "/t", TmpfsOptions: { SizeBytes: 1024 ** 2, Mode: 0o1777 } },
      ],
    ],
    ["--tmpfs", { tmpfs: ["/run:size=1m,noexec", "/tmp"] }, (r) => r.HostConfig?.Tmpfs, { "/run": "size=1m,noexec", "/tmp": "" }],
    ["--restart on-failure:3", { restart: "on-failure:3" }, (r) => r.HostConfig?.RestartPolicy, { Name: "on-failure", MaximumRetryCount: 3 }],
    ["--rm", { rm: true, restart: "no" }, (r) => r.HostConfig?.AutoRemove, true],
    ["--link", { link: ["db:data"] }, (r) => r.HostConfig?.Links, ["db:data"]],
    [
      "--network + endpoint flags",
      { network: "mynet", "network-alias": ["web"], ip: "10.9.0.5", "mac-address": "02:aa:00:00:00:01" },
      (r) => [r.HostConfig?.NetworkMode, r.NetworkingConfig],
      ["mynet", { EndpointsConfig: { mynet: { Aliases: ["web"], IPAMConfig: { IPv4Address: "10.9.0.5" }, MacAddress: "02:aa:00:00:00:01" } } }],
    ],
    ["--ulimit", { ulimit: ["nofile=1024:2048"] }, (r) => r.HostConfig?.Ulimits, [{ Name: "nofile", Soft: 1024, Hard: 2048 }]],
    [
      "--device",
      { device: ["/dev/sda:/dev/xvda:r"] },
      (r) => r.HostConfig?.Devices,
      [{ PathOnHost: "/dev/sda", PathInContainer: "/dev/xvda", CgroupPermissions: "r" }],
    ],
    ["--sysctl", { sysctl: ["net.core.somaxconn=1024"] }, (r) => r.HostConfig?.Sysctls, { "net.core.somaxconn": "1024" }],
    ["--log-opt", { "log-opt": ["max-size=1m"] }, (r) => r.HostConfig?.LogConfig, { Type: "", Config: { "max-size": "1m" } }],
    ['--entrypoint ""', { entrypoint: "" }, (r) => r.Entrypoint, [""]],
    ["--entrypoint x", { entrypoint: "/bin/echo" }, (r) => r.Entrypoint, ["/bin/echo"]],
    ["--stop-timeout", { "stop-timeout": "5" }, (r) => r.StopTimeout, 5],
    [
      "--health-*",
      { "health-cmd": "true", "health-interval": "100ms", "health-retries": "2" },
      (r) => r.Healthcheck,
      { Test: ["CMD-SHELL", "true"], Interval: 100e6, Retries: 2 },
    ],
    ["--no-healthcheck", { "no-healthcheck": true }, (r) => r.Healthcheck, { Test: ["NONE"] }],
    ["--label", { label: ["a=1", "b"] }, (r) => r.Labels, { a: "1", b: "" }],
    ["-it", { interactive: true, tty: true }, (r) => [r.AttachStdin, r.OpenStdin, r.StdinOnce, r.Tty], [true, true, true, true]],
    ["-a stdout", { attach: ["STDOUT"] }, (r) => [r.AttachStdin, r.AttachStdout, r.AttachStderr], [false, true, false]],
  ];
  test.each(cases)("%s", (_name, flags, pick, want) => {
    expect(pick(parse(flags).request)).toEqual(want);
  });

  test("-d attaches nothing and keeps stdin open without StdinOnce", () => {
    const r = parse({ interactive: true }, [], { detach: true }).request;
    expect([r.AttachStdin, r.AttachStdout, r.AttachStderr, r.OpenStdin, r.StdinOnce]).toEqual([false, false, false, true, false]);
  });

  test("-e VAR and env files take the CLIENT's environment", () => {
    const dir = mkdtempSync(join(tmpdir(), "berth-opts-"));
    writeFileSync(join(dir, "env"), "# c\n\nA=1\nB\n  C=x y\nGONE\n");
    try {
      const r = parse({ "env-file": [join(dir, "env")], env: ["HOSTV", "UNSET", "X=1"] }, [], { env: { B: "b", HOSTV: "h" } }).request;
      expect(r.Env).toEqual(["A=1", "B=b", "C=x y", "HOSTV=h", "X=1"]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("the client's flag errors, docker's words", () => {
    const bad: [Record<string, unknown>, string][] = [
      [{ memory: "lots" }, `invalid argument "lots" for "-m, --memory" flag: invalid size: 'lots'`],
      [{ cpus: "x" }, `invalid argument "x" for "--cpus" flag: failed to parse x as a rational number`],
      [{ rm: true, restart: "always" }, "conflicting options: cannot specify both --restart and --rm"],
      [{ restart: "sometimes" }, "invalid restart policy format: unknown policy 'sometimes'"],
      [{ "shm-size": "0" }, `invalid argument "0" for "--shm-size" flag: size must be greater than 0`],
      [{ ulimit: ["nofile=5:2"] }, "ulimit soft limit must be less than or equal to hard limit: 5 > 2"],
      [{ ulimit: ["files=1"] }, "invalid ulimit type: files"],
      [{ device: ["dev/sda"] }, "dev/sda is not an absolute path"],
      [{ sysctl: ["novalue"] }, "is not a valid sysctl value"],
      [{ "cpuset-cpus": "a" }, `invalid argument "a" for "--cpuset-cpus" flag: invalid format`],
      [{ pid: "bogus" }, "--pid: invalid PID mode"],
      [{ uts: "bogus" }, "--uts: invalid UTS mode"],
      [{ network: "" }, "invalid network mode: empty"],
      [{ publish: ["99999:80"] }, "invalid port specification"],
      [{ expose: ["x"] }, "invalid range format for --expose: x"],
      [{ "add-host": ["nohost"] }, "bad format for add-host"],
      [{ attach: ["stdwhat"] }, "valid streams are STDIN, STDOUT and STDERR"],
      [{ label: ["=x"] }, "invalid label '=x': empty name"],
      [{ env: ["=x"] }, "invalid environment variable: =x"],
      [{ "no-healthcheck": true, "health-cmd": "x" }, "--no-healthcheck conflicts with --health-* options"],
      [{ "health-interval": "5ns" }, "--health-interval cannot be less than 1ms"],
      [{ "log-opt": ["novalue"] }, "invalid key value pair format"],
      [{ mount: ["type=nfs,target=/a"] }, `invalid mount type "nfs"`],
      [{ mount: ["type=bind,source=/a,target=/b,bogus=1"] }, "unexpected key 'bogus'"],
      [{ mount: ["type=bind,source=/a,target=/b,readonly=maybe"] }, "invalid value for readonly: maybe"],
      [{ "env-file": ["/nonexistent/berth-env"] }, "open /nonexistent/berth-env: no such file or directory"],
    ];
    for (const [flags, msg] of bad) expect(() => parse(flags)).toThrow(msg);
  });
});

describe("the CLI path and the API path make the same record", () => {
  const image = {
    config: {
      architecture: "amd64",
      os: "linux",
      rootfs: { type: "layers" as const, diff_ids: [] },
      config: { Env: ["PATH=/bin"], Cmd: ["sh"], ExposedPorts: { "53/udp": {} }, Volumes: { "/logs": {} } } as ImageConfig["config"],
    },
  };
  const flags = {
    memory: "64m",
    "memory-swap": "128m",
    cpus: "0.5",
    "pids-limit": "20",
    publish: ["8080:80"],
    expose: ["7000"],
    volume: ["v1:/data:ro", "/anon"],
    mount: ["type=tmpfs,target=/t,tmpfs-size=1m"],
    tmpfs: ["/run:size=1m"],
    restart: "on-failure:2",
    env: ["A=1"],
    label: ["team=core"],
    "cap-add": ["NET_ADMIN"],
    ulimit: ["nofile=10:20"],
    sysctl: ["net.core.somaxconn=1024"],
    "health-cmd": "true",
    "log-opt": ["max-size=1m"],
    hostname: "h1",
    user: "nobody",
    workdir: "/srv",
    init: true,
  };
  test("flags → request → record equals the request sent as JSON → record", () => {
    const { request } = parse(flags, ["echo", "hi"]);
    const fromCli = createConfig(request, image, { hostCpus: 2 });
    // what a daemon would decode from POST /containers/create
    const wire = JSON.parse(JSON.stringify(request)) as ContainerCreateRequest;
    expect(createConfig(wire, image, { hostCpus: 2 })).toEqual(fromCli);
    expect(fromCli.HostConfig).toMatchObject({
      Memory: 64 * 1024 ** 2,
      MemorySwap: 128 * 1024 ** 2,
      NanoCpus: 5e8,
      PidsLimit: 20,
      RestartPolicy: { Name: "on-failure", MaximumRetryCount: 2 },
      Binds: ["v1:/data:ro"],
      // --tmpfs in HostConfig.Tmpfs, --mount type=tmpfs in HostConfig.Mounts (dockerd's record); the runtime mounts both
      Tmpfs: { "/run": "size=1m" },
      Mounts: [{ Type: "tmpfs", Target: "/t", TmpfsOptions: { SizeBytes: 1024 ** 2 } }],
    });
    expect(fromCli.Tmpfs).toEqual({ "/run": "size=1m", "/t": `size=${1024 ** 2}` });
    expect(fromCli.Config).toMatchObject({
      Env: ["A=1", "PATH=/bin"],
      Cmd: ["echo", "hi"],
      Hostname: "h1",
      User: "nobody",
      WorkingDir: "/srv",
      Labels: { team: "core" },
      Volumes: { "/logs": {}, "/anon": {} },
    });
    expect(Object.keys(fromCli.Config.ExposedPorts ?? {})).toEqual(["53/udp", "7000/tcp", "80/tcp"]);
    expect(fromCli.Mounts.map((m) => [m.Type, m.Destination])).toEqual([
      ["volume", "/data"],
      ["volume", "/anon"],
      ["volume", "/logs"],
    ]);
  });
  test("a hand-written API request (docker's CLI zero values included) gives the record the flags give", () => {
    const { request } = parse({ memory: "64m", publish: ["8080:80"], volume: ["/srv:/a"], restart: "no" }, ["true"]);
    const api: ContainerCreateRequest = {
      Hostname: "",
      Domainname: "",
      User: "",
      AttachStdin: false,
      AttachStdout: true,
      AttachStderr: true,
      Tty: false,
      OpenStdin: false,
      StdinOnce: false,
      Env: [],
      Cmd: ["true"],
      Image: "busybox",
      Volumes: {},
      WorkingDir: "",
      Entrypoint: null,
      Labels: {},
      HostConfig: {
        Binds: ["/srv:/a"],
        NetworkMode: "default",
        PortBindings: { "80/tcp": [{ HostIp: "", HostPort: "8080" }] },
        RestartPolicy: { Name: "", MaximumRetryCount: 0 },
        Memory: 64 * 1024 ** 2,
        ShmSize: 0,
        IpcMode: "",
        CpuShares: 0,
        NanoCpus: 0,
      },
      NetworkingConfig: { EndpointsConfig: {} },
    };
    expect(createConfig(api, image, { hostCpus: 2 })).toEqual(createConfig(request, image, { hostCpus: 2 }));
  });
});

describe("update and exec", () => {
  test("update flags → ContainerUpdateRequest (only what was given)", () => {
    expect(parseUpdateFlags({ memory: "64m", cpus: "0.5", "pids-limit": "40", "cpu-shares": "512", restart: "on-failure:3" })).toEqual({
      Memory: 64 * 1024 ** 2,
      NanoCpus: 5e8,
      PidsLimit: 40,
      CpuShares: 512,
      RestartPolicy: { Name: "on-failure", MaximumRetryCount: 3 },
    });
    expect(parseUpdateFlags({})).toBeUndefined();
    expect(() => parseUpdateFlags({ memory: "x" })).toThrow("invalid size: 'x'");
  });
  test("exec: env-file lines then -e; VAR from the client, dropped when unset", () => {
    expect(execEnv(["# c\nA=1\nB\n"], ["C", "D=4", "NOPE"], { B: "b", C: "c" })).toEqual(["A=1", "B=b", "C=c", "D=4"]);
  });
});

describe("value parsers", () => {
  test("docker's RAMInBytes", () => {
    expect(v.parseBytes("512", "-m")).toBe(512);
    expect(v.parseBytes("64m", "-m")).toBe(64 * 1024 * 1024);
    expect(v.parseBytes("1.5GB", "-m")).toBe(1.5 * 1024 ** 3);
  });
  test("ulimits, devices, env files, restart", () => {
    expect(v.parseUlimit("nproc=50")).toEqual({ Name: "nproc", Soft: 50, Hard: 50 });
    expect(v.parseUlimit("memlock=-1:-1")).toEqual({ Name: "memlock", Soft: -1, Hard: -1 });
    expect(() => v.parseUlimit("nofile")).toThrow("invalid ulimit argument: nofile");
    expect(v.parseDevice("/dev/fuse")).toEqual({ PathOnHost: "/dev/fuse", PathInContainer: "/dev/fuse", CgroupPermissions: "rwm" });
    expect(v.parseDevice("/dev/sda:rw")).toEqual({ PathOnHost: "/dev/sda", PathInContainer: "/dev/sda", CgroupPermissions: "rw" });
    expect(() => v.parseDevice("/a:/b:/c:r")).toThrow("bad format for path");
    expect(v.parseEnvFile("# c\n\nA=1\nB\n  C=x y\n", { B: "b" })).toEqual(["A=1", "B=b", "C=x y"]);
    expect(v.parseRestart("unless-stopped")).toEqual({ Name: "unless-stopped", MaximumRetryCount: 0 });
    expect(() => v.parseRestart("always:3")).toThrow("maximum retry count can only be used with 'on-failure'");
  });
  test("Go durations", () => {
    expect(v.parseGoDuration("30s", "--health-interval")).toBe(30e9);
    expect(v.parseGoDuration("1m30s", "--health-interval")).toBe(90e9);
    expect(v.parseGoDuration("250ms", "--health-interval")).toBe(250e6);
    expect(v.parseGoDuration("0", "--health-interval")).toBe(0);
    expect(() => v.parseGoDuration("30", "--health-interval")).toThrow('time: invalid duration "30"');
    expect(() => v.parseGoDuration("soon", "--health-timeout")).toThrow('for "--health-timeout" flag');
  });
  test("--mount CSV → API Mount", () => {
    expect(v.parseMountFlag("source=cache,target=/cache,volume-nocopy")).toEqual({
      Type: "volume",
      Source: "cache",
      Target: "/cache",
      VolumeOptions: { NoCopy: true },
    });
    expect(v.parseMountFlag("type=bind,src=/a/,dst=/b,bind-propagation=rslave")).toEqual({
      Type: "bind",
      Source: "/a/",
      Target: "/b",
      BindOptions: { Propagation: "rslave" },
    });
    expect(v.parseMountFlag("type=volume,target=/anon,volume-driver=local")).toEqual({
      Type: "volume",
      Target: "/anon",
      VolumeOptions: { DriverConfig: { Name: "local" } },
    });
  });
});
