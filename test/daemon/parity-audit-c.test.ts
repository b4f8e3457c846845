/**
 * The docker CLI (28.2.2) on berth's daemon for session 10's audit: `--mount type=tmpfs` in inspect's
 * Mounts, --oom-score-adj / --cgroupns / --oom-kill-disable / --blkio-weight honoured with dockerd's
 * warnings, rmi's layer lines, Created's nanoseconds, the default bridge's options, info's
 * OomKillDisable. Root only; containers on --network none.
 */
import { describe, expect, test } from "bun:test";
import { existsSync, readFileSync, readlinkSync } from "node:fs";
import { rootEnabled } from "../helpers/root.ts";
import { apiDaemon, dockerBin } from "./_api-daemon.ts";
import { rawRequest } from "./_daemon.ts";

const d = apiDaemon("daemon-parity-audit-c");
const ok = (r: { exitCode: number; stderr: string; stdout: string }) => {
  if (r.exitCode !== 0) throw new Error(`exit ${r.exitCode}: ${r.stderr}${r.stdout}`);
  return r.stdout;
};
const tag = Math.random().toString(36).slice(2, 7);
const run = (args: string[]) => d.docker(["run", "--pull=never", "--network", "none", ...args]);

/** the host's cgroup v1 mount of a controller, if the host is v1 */
const v1Dir = (controller: string): string | undefined => {
  for (const line of readFileSync("/proc/self/mountinfo", "utf8").split("\n")) {
    const [pre, post] = line.split(" - ");
    if (post?.startsWith("cgroup ") && post.split(" ")[2]!.split(",").includes(controller)) return pre!.split(" ")[4];
  }
  return undefined;
};

describe.skipIf(!rootEnabled || !existsSync(dockerBin))("docker CLI → berth daemon: session 10 audit", () => {
  test("run with --mount type=tmpfs, --oom-score-adj, --cgroupns host, --oom-kill-disable and --blkio-weight: what inspect and the container see", async () => {
    const name = `res${tag}`;
    const memory = v1Dir("memory");
    const oomControl = !!memory && existsSync(`${memory}/memory.oom_control`);
    const blkio = v1Dir("blkio");
    const weight = blkio ? existsSync(`${blkio}/blkio.weight`) : readFileSync("/sys/fs/cgroup/cgroup.controllers", "utf8").split(/\s+/).includes("io");
    const r = await run([
      "-d",
      "--name",
      name,
      "--mount",
      "type=tmpfs,dst=/cache",
      "--oom-score-adj",
      "217",
      "--cgroupns",
      "host",
      "--oom-kill-disable",
      "-m",
      "64m",
      "--blkio-weight",
      "300",
      "busybox",
      "sleep",
      "60",
    ]);
    ok(r);
    // docker's CLI prints the daemon's create warnings
    if (!weight) expect(r.stderr).toContain("WARNING: Your kernel does not support Block I/O weight or the cgroup is not mounted. Weight discarded.");
    if (!oomControl) expect(r.stderr).toContain("WARNING: Your kernel does not support OomKillDisable. OomKillDisable discarded.");
    const f = "{{json .Mounts}} {{.HostConfig.OomScoreAdj}} {{.HostConfig.CgroupnsMode}} {{.HostConfig.OomKillDisable}} {{.HostConfig.BlkioWeight}}";
    expect(ok(await d.docker(["inspect", "-f", f, name])).trim()).toBe(
      `[{"Type":"tmpfs","Source":"","Destination":"/cache","Mode":"","RW":true,"Propagation":""}] 217 host ${oomControl} ${weight ? 300 : 0}`,
    );
    expect(ok(await d.docker(["exec", name, "cat", "/proc/1/oom_score_adj"]))).toBe("217\n");
    expect(ok(await d.docker(["exec", name, "cat", "/proc/self/oom_score_adj"]))).toBe("217\n");
    const pid = ok(await d.docker(["inspect", "-f", "{{.State.Pid}}", name])).trim();
    expect(readlinkSync(`/proc/${pid}/ns/cgroup`)).toBe(readlinkSync("/proc/self/ns/cgroup"));
    if (oomControl) expect(ok(await d.docker(["exec", name, "cat", "/sys/fs/cgroup/memory/memory.oom_control"]))).toMatch(/^oom_kill_disable 1$/m);
    expect(ok(await d.docker(["info", "--format", "{{.OomKillDisable}}"])).trim()).toBe(String(oomControl));
    ok(await d.docker(["rm", "-f", name]));
  });

  test("rmi: Untagged, the image, then its released layer, as docker prints dockerd's list", async () => {
    const c = `lay${tag}`,
      image = `layered${tag}:x`;
    ok(await run(["--name", c, "busybox", "sh", "-c", "echo hi > /f"]));
    const id = ok(await d.docker(["commit", c, image])).trim();
    ok(await d.docker(["rm", c]));
    const lines = ok(await d.docker(["rmi", image]))
      .trim()
      .split("\n");
    expect(lines.slice(0, 2)).toEqual([`Untagged: ${image}`, `Deleted: ${id}`]);
    expect(lines.length).toBe(3);
    expect(lines[2]).toMatch(/^Deleted: sha256:[0-9a-f]{64}$/);
  });

  test("GET /containers/json gives each network's endpoint as inspect does (a running container's address, not the create request's empty one); stats' read has sub-millisecond digits", async () => {
    const net = `ls${tag}`,
      name = `ep${tag}`;
    ok(await d.docker(["network", "create", "--subnet", "10.197.83.0/24", net]));
    // removed even when an expectation fails: a network's bridge and its host route outlive the daemon's root
    try {
      ok(await d.docker(["run", "-d", "--pull=never", "--network", net, "--name", name, "busybox", "sleep", "60"]));
      const inspected = JSON.parse(ok(await d.docker(["inspect", "-f", "{{json .NetworkSettings.Networks}}", name])))[net];
      expect(inspected.IPAddress).toMatch(/^10\.197\.83\.\d+$/);
      const raw = await rawRequest(
        d.sock,
        `GET /containers/json?filters=${encodeURIComponent(JSON.stringify({ name: [name] }))} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`,
      );
      const body = raw.slice(raw.indexOf("\r\n\r\n") + 4);
      // chunked or not: the JSON array is the body's one bracketed run
      const listed = JSON.parse(body.slice(body.indexOf("["), body.lastIndexOf("]") + 1))[0].NetworkSettings.Networks[net];
      expect(listed).toEqual(inspected);
      expect(listed).toMatchObject({ Gateway: "10.197.83.1", IPPrefixLen: 24, GwPriority: 0 });
      expect(listed.EndpointID).toMatch(/^[0-9a-f]{64}$/);
      // stats' read is a time.Time to below the millisecond (three reads: one may end in zeros)
      const reads: string[] = [];
      for (let i = 0; i < 3; i++) {
        const st = await rawRequest(d.sock, `GET /containers/${name}/stats?stream=false HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
        reads.push(/"read":"([^"]+)"/.exec(st)![1]!);
      }
      for (const r of reads) expect(r).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d*[1-9])?Z$/);
      expect(reads.some((r) => /\.\d{4,}Z$/.test(r))).toBe(true);
    } finally {
      await d.docker(["rm", "-f", name]);
      await d.docker(["network", "rm", net]);
    }
  });

  test("inspect's Created has nanoseconds; the default bridge has dockerd's driver options", async () => {
    ok(await d.docker(["create", "--pull=never", "--network", "none", "--name", `cr${tag}`, "busybox"]));
    const created = ok(await d.docker(["inspect", "-f", "{{.Created}}", `cr${tag}`])).trim();
    expect(created).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{5,9}Z$/);
    expect(created).not.toMatch(/0Z$/);
    ok(await d.docker(["rm", `cr${tag}`]));
    expect(JSON.parse(ok(await d.docker(["network", "inspect", "bridge", "-f", "{{json .Options}}"])))).toMatchObject({
      "com.docker.network.bridge.default_bridge": "true",
      "com.docker.network.bridge.enable_icc": "true",
      "com.docker.network.bridge.enable_ip_masquerade": "true",
      "com.docker.network.bridge.host_binding_ipv4": "0.0.0.0",
    });
  });
});
