/**
 * Other real clients of berth's daemon: Debian's python3-docker (docker-py 5.0.3: a run and a log
 * stream, images, volumes, networks, registry-less calls), Debian's docker-compose 1.29 (`up -d` of two
 * services on a network with a named volume, then exec, logs and `down -v`), and dockerode from npm (a
 * container started and waited for with a wait-strategy loop). Root only; compose creates a bridge (run
 * under /work/wt/locked).
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import Docker from "dockerode";
import { rootEnabled } from "../helpers/root.ts";
import { Registry } from "../integration/registry-fixture.ts";
import { apiDaemon } from "./_api-daemon.ts";

const d = apiDaemon("daemon-clients");
const ok = (r: { exitCode: number; stderr: string; stdout: string }) => {
  if (r.exitCode !== 0) throw new Error(`exit ${r.exitCode}: ${r.stderr}${r.stdout}`);
  return r.stdout;
};
// Debian's interpreter: /usr/bin/python3 has python3-docker, whatever python3 comes first on PATH
const debianPython = "/usr/bin/python3";
const tag = Math.random().toString(36).slice(2, 7);

describe.skipIf(!rootEnabled)("docker-py → berth daemon", () => {
  test("a run, a followed log stream, images, volumes and networks", async () => {
    const script = `
import os, sys, docker
c = docker.DockerClient(base_url=os.environ["DOCKER_HOST"], version="auto")
print("api", c.version()["ApiVersion"])
print("run", c.containers.run("busybox", ["sh", "-c", "echo hello-py"], remove=True).decode().strip())
ct = c.containers.run("busybox", ["sh", "-c", "for i in 1 2 3; do echo line$i; sleep 0.2; done"], detach=True)
lines = b"".join(ct.logs(stream=True, follow=True)).decode().split()
print("stream", ",".join(lines))
print("exit", ct.wait()["StatusCode"])
ct.remove()
print("image", c.images.get("busybox").tags)
v = c.volumes.create("pyvol${tag}", labels={"by": "py"})
print("volume", v.name, [x.name for x in c.volumes.list(filters={"label": "by=py"})])
v.remove()
n = c.networks.create("pynet${tag}", labels={"by": "py"})
print("network", n.name, [x.name for x in c.networks.list(filters={"label": "by=py"})])
n.remove()
ctx = os.path.join(os.environ["HOME"], "pyctx")
os.makedirs(ctx, exist_ok=True)
open(os.path.join(ctx, "Dockerfile"), "w").write("FROM busybox\\nARG WHO=x\\nRUN echo built-by-$WHO > /who\\n")
img, logs = c.images.build(path=ctx, tag="pybuilt:1", buildargs={"WHO": "py"}, rm=True)
print("build", img.tags, any("Step 3/3" in l.get("stream", "") for l in logs))
print("built-run", c.containers.run("pybuilt:1", ["cat", "/who"], remove=True).decode().strip())
try:
    c.images.get("nosuch:1")
except docker.errors.ImageNotFound:
    print("notfound ok")
`;
    const out = ok(await d.exec([debianPython, "-c", script]));
    expect(out).toMatch(/^api 1\.\d+\n/);
    expect(out).toContain("run hello-py\n");
    expect(out).toContain("stream line1,line2,line3\n");
    expect(out).toContain("exit 0\n");
    expect(out).toContain("image ['busybox:latest']\n");
    expect(out).toContain(`volume pyvol${tag} ['pyvol${tag}']\n`);
    expect(out).toContain(`network pynet${tag} ['pynet${tag}']\n`);
    expect(out).toContain("build ['pybuilt:1'] True\n");
    expect(out).toContain("built-run built-by-py\n");
    expect(out).toContain("notfound ok\n");
  });

  test("stats: the cgroup's and the sandbox's own counters, not placeholders", async () => {
    const script = `
import os, time, docker
c = docker.DockerClient(base_url=os.environ["DOCKER_HOST"], version="auto")
busy = c.containers.run("busybox", ["sh", "-c", "i=0; while [ $i -lt 300000 ]; do i=$((i+1)); done; sleep 60"], detach=True)
quiet = c.containers.run("busybox", ["sleep", "60"], detach=True, network_mode="none")
writer = c.containers.run("busybox", ["sh", "-c", "dd if=/dev/zero of=/x bs=64k count=16 oflag=direct; sleep 60"], detach=True, network_mode="none")
time.sleep(1.5)
rows = writer.stats(stream=False)["blkio_stats"]["io_service_bytes_recursive"] or []
w = [r for r in rows if r["op"].lower() == "write" and r["value"] >= 1048576]
dev = os.stat("${d.dir}").st_dev
print("blkio", len(w) > 0, all(r["major"] > 0 for r in rows), (w[0]["major"], w[0]["minor"]) == (os.major(dev), os.minor(dev)) if w else None)
writer.remove(force=True)
s = busy.stats(stream=False)
u = s["cpu_stats"]["cpu_usage"]
print("user", u["usage_in_usermode"] > 0, "total", u["total_usage"] > 0)
print("memstat", len(s["memory_stats"]["stats"]) > 5)
print("nets", sorted(s.get("networks", {}).keys()))
print("none-nets", "networks" in quiet.stats(stream=False))
busy.remove(force=True)
quiet.remove(force=True)
`;
    const out = ok(await d.exec([debianPython, "-c", script]));
    expect(out).toContain("user True total True\n");
    expect(out).toContain("memstat True\n");
    expect(out).toContain("nets ['eth0']\n");
    expect(out).toContain("none-nets False\n");
    // the container's own writes, on the device under the daemon's root (dockerd's rows, not a 0:0 sum)
    expect(out).toContain("blkio True True True\n");
  });
});

describe.skipIf(!rootEnabled)("docker-py → berth daemon → a local registry", () => {
  const reg = new Registry(join(d.dir === "/nonexistent" ? "/tmp" : d.dir, "registry"));
  beforeAll(() => reg.start({ htpasswd: { user: "bob", password: "pw-py" } }));
  afterAll(() => reg.stop());

  test("login (POST /auth), push, pull and registry data (GET /distribution)", async () => {
    const script = `
import os, docker
c = docker.DockerClient(base_url=os.environ["DOCKER_HOST"], version="auto")
host = "${reg.host}"
try:
    c.login(username="bob", password="wrong", registry=host)
except docker.errors.APIError as e:
    print("refused", e.status_code)
print("login", c.login(username="bob", password="pw-py", registry=host)["Status"])
c.images.get("busybox").tag(host + "/py/bb", "1")
last = None
for line in c.images.push(host + "/py/bb", tag="1", stream=True, decode=True):
    last = line
print("pushed", last["aux"]["Digest"])
c.images.remove(host + "/py/bb:1")
img = c.images.pull(host + "/py/bb", tag="1")
print("pulled", img.tags)
rd = c.images.get_registry_data(host + "/py/bb:1")
print("registry", rd.id == last["aux"]["Digest"], rd.has_platform("linux/amd64"))
`;
    const out = ok(await d.exec([debianPython, "-c", script]));
    expect(out).toContain("refused 401\n");
    expect(out).toContain("login Login Succeeded\n");
    expect(out).toMatch(/pushed sha256:[0-9a-f]{64}\n/);
    // the same image as busybox (pushed from it): both names
    expect(out).toContain(`pulled ['${reg.host}/py/bb:1', 'busybox:latest']\n`);
    expect(out).toContain("registry True True\n");
  });
});

describe.skipIf(!rootEnabled)("docker-compose 1.29 → berth daemon", () => {
  test("up -d two services (one built) on a network with a named volume; exec; logs; down -v --rmi local", async () => {
    const dir = join(d.dir, "compose");
    mkdirSync(dir, { recursive: true });
    writeFileSync(
      join(dir, "docker-compose.yml"),
      `version: "3.7"
services:
  web:
    image: busybox
    command: ["sh", "-c", "echo web-up; echo served > /data/index.html; exec httpd -f -p 8080 -h /data"]
    volumes: ["data:/data"]
    networks: ["back"]
    stop_grace_period: 1s
  client:
    build: ./client
    command: ["sh", "-c", "cat /built-by; exec sleep 300"]
    networks: ["back"]
    stop_grace_period: 1s
    depends_on: ["web"]
volumes:
  data: {}
networks:
  back: {}
`,
    );
    mkdirSync(join(dir, "client"), { recursive: true });
    writeFileSync(join(dir, "client", "Dockerfile"), "FROM busybox\nARG BY=compose\nRUN echo built-by-$BY > /built-by\n");
    const project = `cp${tag}`;
    const compose = (args: string[]) => d.exec(["docker-compose", "-p", project, ...args], { cwd: dir, env: { COMPOSE_INTERACTIVE_NO_CLI: "1" } });
    try {
      ok(await compose(["up", "-d"]));
      const ps = ok(await d.docker(["ps", "--filter", `label=com.docker.compose.project=${project}`, "--format", "{{.Names}}"]));
      expect(ps.split("\n").filter(Boolean).sort()).toEqual([`${project}_client_1`, `${project}_web_1`]);
      expect(ok(await d.docker(["network", "ls", "--format", "{{.Name}}"]))).toContain(`${project}_back`);
      expect(ok(await d.docker(["volume", "ls", "--format", "{{.Name}}"]))).toContain(`${project}_data`);
      // the client reaches the web service by its service name over the project network
      let fetched = "";
      for (let i = 0; i < 50 && fetched !== "served\n"; i++) {
        fetched = (await compose(["exec", "-T", "client", "wget", "-qO-", "http://web:8080/index.html"])).stdout;
        if (fetched !== "served\n") await Bun.sleep(100);
      }
      expect(fetched).toBe("served\n");
      expect(ok(await compose(["logs", "--no-color", "web"]))).toContain("web-up");
      // the client service's image was built through POST /build
      expect(ok(await compose(["logs", "--no-color", "client"]))).toContain("built-by-compose");
    } finally {
      const down = await compose(["down", "-v", "--rmi", "local"]);
      expect(down.exitCode).toBe(0);
    }
    expect(ok(await d.docker(["ps", "-a", "--filter", `label=com.docker.compose.project=${project}`, "-q"]))).toBe("");
    expect(ok(await d.docker(["network", "ls", "--format", "{{.Name}}"]))).not.toContain(`${project}_back`);
    expect(ok(await d.docker(["volume", "ls", "--format", "{{.Name}}"]))).not.toContain(`${project}_data`);
    expect(ok(await d.docker(["images", "--format", "{{.Repository}}"]))).not.toContain(`${project}_client`);
  });
});

describe.skipIf(!rootEnabled)("dockerode → berth daemon", () => {
  test("a container started and waited for with a wait strategy (log line, then running), its port published on any free port, stopped, waited, removed", async () => {
    const docker = new Docker({ socketPath: d.sock });
    expect((await docker.ping()).toString()).toBe("OK");
    expect((await docker.listImages()).some((i) => i.RepoTags?.includes("busybox:latest"))).toBe(true);
    const c = await docker.createContainer({
      Image: "busybox",
      name: `node${tag}`,
      Cmd: ["sh", "-c", "sleep 0.3; echo ready; exec httpd -f -p 8080 -h /etc"],
      Labels: { by: "dockerode" },
      ExposedPorts: { "8080/tcp": {} },
      // testcontainers' binding: HostPort "0" is any free port
      HostConfig: { PortBindings: { "8080/tcp": [{ HostPort: "0" }] } },
    });
    await c.start();
    // testcontainers' Wait.forLogMessage: poll the logs until the line shows, within a deadline
    let logs = "";
    for (const end = Date.now() + 20_000; !logs.includes("ready") && Date.now() < end; await Bun.sleep(100)) {
      logs = (await c.logs({ stdout: true, stderr: true })).toString();
    }
    expect(logs).toContain("ready");
    const info = await c.inspect();
    expect(info.State.Running).toBe(true);
    const port = Number(info.NetworkSettings.Ports["8080/tcp"]?.[0]?.HostPort);
    expect(port).toBeGreaterThan(0);
    const served = await fetch(`http://127.0.0.1:${port}/hostname`);
    expect(served.status).toBe(200);
    expect((await served.text()).trim()).toBe(c.id.slice(0, 12));
    const listed = await docker.listContainers({ filters: { label: ["by=dockerode"] } });
    expect(listed.map((x) => x.Id)).toEqual([c.id]);
    await c.stop({ t: 1 });
    const waited = (await c.wait()) as { StatusCode: number };
    expect(waited.StatusCode).toBe(137);
    await c.remove();
    await expect(c.inspect()).rejects.toMatchObject({ statusCode: 404 });
  });
});
