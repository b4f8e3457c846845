/**
 * The real docker CLI against `berth daemon` (issue 12): run (exit codes, piped stdin, a pty), ports,
 * logs -f, exec -it, ps/inspect formats, cp both ways, stop/rm, events — and the daemonless CLI on the
 * same root seeing the same containers.
 */
import { ptyDriver } from "../helpers/pty.ts";
import { describe, expect, test } from "bun:test";
import { chownSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { rootEnabled } from "../helpers/root.ts";
import { waitUntil } from "../helpers/cli.ts";
import { daemonFixture, freePort, haveDocker } from "./_daemon.ts";

const { dir, docker, cli } = daemonFixture("daemon-cli");

const PTY_DRIVER = ptyDriver({ rows: 24, cols: 80 });

async function onPty(args: string[], drive: string) {
  const py = join(dir, "drive.py");
  writeFileSync(py, PTY_DRIVER);
  const p = Bun.spawn(["python3", py, ...args], {
    stdout: "pipe",
    stderr: "pipe",
    env: {
      PATH: process.env.PATH ?? "",
      HOME: dir,
      TERM: "xterm",
      DRIVE: drive,
      DOCKER_HOST: `unix://${join(dir, "d.sock")}`,
      DOCKER_CONFIG: join(dir, "docker-config"),
    },
    timeout: 60_000,
  });
  const [stdout, stderr, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  return { stdout, stderr, code };
}

describe.skipIf(!rootEnabled || !haveDocker)("the docker CLI against berth daemon", () => {
  test("version and info name the server", async () => {
    const v = await docker(["version", "--format", "{{.Server.Platform.Name}} {{.Server.APIVersion}} {{.Server.MinAPIVersion}}"]);
    expect(v).toMatchObject({ exitCode: 0, stdout: "berth 1.47 1.24\n" });
    const i = await docker(["info", "--format", "{{.Images}} {{.OSType}} {{.Swarm.LocalNodeState}}"]);
    expect(i).toMatchObject({ exitCode: 0, stdout: "1 linux inactive\n" });
  });

  test("run --rm: output, stderr and the exit code", async () => {
    const r = await docker(["run", "--rm", "--pull=never", "busybox", "sh", "-c", "echo out; echo err >&2; exit 3"]);
    expect(r).toMatchObject({ exitCode: 3, stdout: "out\n", stderr: "err\n" });
    expect((await docker(["ps", "-aq"])).stdout).toBe("");
    // a command that does not exist: docker's 127
    const nf = await docker(["run", "--rm", "--pull=never", "busybox", "nosuchcmd"]);
    expect(nf.exitCode).toBe(127);
  });

  test("12 concurrent docker run --rm: each gets its own output and exit code", async () => {
    const rs = await Promise.all(
      Array.from({ length: 12 }, (_, i) =>
        docker(["run", "--rm", "--network", "none", "--pull=never", "busybox", "sh", "-c", `echo r${i + 1}; exit ${i + 1}`]),
      ),
    );
    expect(rs.map((r) => `${r.exitCode}:${r.stdout.trim()}`)).toEqual(Array.from({ length: 12 }, (_, i) => `${i + 1}:r${i + 1}`));
    expect((await docker(["ps", "-aq"])).stdout).toBe("");
  });

  test("run -i with piped stdin ends when the pipe does", async () => {
    const r = await docker(["run", "--rm", "-i", "--pull=never", "busybox", "sh", "-c", "wc -c; echo done"], { stdin: "x".repeat(100_000) });
    expect(r).toMatchObject({ exitCode: 0, stdout: "100000\ndone\n" });
  });

  test("run -it through a pty: typing, resize and the exit code", async () => {
    const drive = `
expect("# ")
send("echo $((6*7))\\r"); expect("42")
send("stty size\\r"); expect("24 80")
fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 100, 0, 0))
os.kill(pid, 28)
time.sleep(0.5)
send("stty size\\r"); expect("30 100")
send("exit 5\\r")
`;
    const r = await onPty(["docker", "run", "--rm", "-it", "--pull=never", "busybox", "sh"], drive);
    expect(r).toMatchObject({ stdout: "EXIT 5\n", code: 0 });
  });

  test("run -d -p publishes a port the host reaches; ps, inspect, logs -f, exec, stop, rm", async () => {
    const port = await freePort();
    const d = await docker([
      "run",
      "-d",
      "--name",
      "web",
      "--pull=never",
      "-p",
      `127.0.0.1:${port}:80`,
      "busybox",
      "sh",
      "-c",
      "echo hello-web > /www; httpd -f -p 80 -h /",
    ]);
    expect(d.exitCode).toBe(0);
    const id = d.stdout.trim();
    expect(id).toMatch(/^[0-9a-f]{64}$/);
    let body = "";
    await waitUntil("the published port answers", async () => {
      try {
        body = await (await fetch(`http://127.0.0.1:${port}/www`)).text();
        return true;
      } catch {
        return false; // httpd not up yet
      }
    });
    expect(body).toBe("hello-web\n");
    const ps = await docker(["ps", "--format", "{{.Names}}|{{.Image}}|{{.Ports}}"]);
    expect(ps.stdout).toBe(`web|busybox|127.0.0.1:${port}->80/tcp\n`);
    const ins = await docker(["inspect", "-f", "{{.Id}} {{.State.Running}} {{.Config.Image}}", "web"]);
    expect(ins.stdout).toBe(`${id} true busybox\n`);
    // exec: output and the exit code
    const ex = await docker(["exec", "web", "sh", "-c", "cat /www; exit 4"]);
    expect(ex).toMatchObject({ exitCode: 4, stdout: "hello-web\n" });
    const ei = await docker(["exec", "-i", "web", "cat"], { stdin: "through exec stdin" });
    expect(ei).toMatchObject({ exitCode: 0, stdout: "through exec stdin" });
    // ExecIDs: the exec instances still running, as dockerd lists them (none once they ended)
    expect((await docker(["inspect", "-f", "{{.ExecIDs}}", "web"])).stdout).toBe("[]\n");
    expect((await docker(["exec", "-d", "web", "sleep", "30"])).exitCode).toBe(0);
    expect((await docker(["inspect", "-f", "{{len .ExecIDs}}", "web"])).stdout).toBe("1\n");
    // -dt: the daemon holds the terminal and drains it (200 kB of output does not block the command)
    expect((await docker(["exec", "-dt", "web", "sh", "-c", "tty >/exec-tty; yes | head -c 200000; touch /exec-done; sleep 30"])).exitCode).toBe(0);
    await waitUntil("the -dt exec's output drained", async () => (await docker(["exec", "web", "test", "-e", "/exec-done"])).exitCode === 0);
    expect((await docker(["exec", "web", "cat", "/exec-tty"])).stdout).toMatch(/^\/dev\/pts\/\d+\n$/);
    expect((await docker(["stop", "-t", "1", "web"])).exitCode).toBe(0);
    expect((await docker(["inspect", "-f", "{{.State.Running}}", "web"])).stdout).toBe("false\n");
    expect((await docker(["rm", "web"])).exitCode).toBe(0);
    expect((await docker(["inspect", "web"])).exitCode).toBe(1);
  });

  test("logs -f follows until the container exits; logs --tail and -t", async () => {
    const d = await docker([
      "run",
      "-d",
      "--name",
      "lg",
      "--pull=never",
      "busybox",
      "sh",
      "-c",
      "for i in 1 2 3; do echo line$i; sleep 0.2; done; echo oops >&2",
    ]);
    expect(d.exitCode).toBe(0);
    const f = await docker(["logs", "-f", "lg"], { timeoutMs: 20_000 });
    expect(f).toMatchObject({ exitCode: 0, stdout: "line1\nline2\nline3\n", stderr: "oops\n" });
    expect((await docker(["logs", "--tail", "1", "lg"])).stderr).toBe("oops\n");
    const t = await docker(["logs", "-t", "lg"]);
    expect(t.stdout.split("\n")[0]).toMatch(/^\d{4}-\d\d-\d\dT[\d:.]+Z line1$/);
    expect((await docker(["wait", "lg"])).stdout).toBe("0\n");
    await docker(["rm", "lg"]);
  });

  test("exec -it through a pty", async () => {
    expect((await docker(["run", "-d", "--name", "sh1", "--pull=never", "busybox", "sleep", "1000"])).exitCode).toBe(0);
    const r = await onPty(
      ["docker", "exec", "-it", "sh1", "sh"],
      `
expect("# ")
send("tty\\r"); expect("/dev/pts/")
send("echo $((7*6))\\r"); expect("42")
send("exit 6\\r")
`,
    );
    expect(r).toMatchObject({ stdout: "EXIT 6\n", code: 0 });
    await docker(["rm", "-f", "sh1"]);
  });

  test("cp in both directions", async () => {
    expect((await docker(["run", "-d", "--name", "cp1", "--pull=never", "busybox", "sleep", "1000"])).exitCode).toBe(0);
    const src = join(dir, "in.txt");
    writeFileSync(src, "from the host\n");
    expect((await docker(["cp", src, "cp1:/tmp/"])).exitCode).toBe(0);
    expect((await docker(["exec", "cp1", "cat", "/tmp/in.txt"])).stdout).toBe("from the host\n");
    // owners: root's in the container unless -a (copyUIDGID) keeps the host's
    const owned = join(dir, "owned.txt");
    writeFileSync(owned, "mine\n");
    chownSync(owned, 1234, 2345);
    expect((await docker(["cp", owned, "cp1:/tmp/plain.txt"])).exitCode).toBe(0);
    expect((await docker(["cp", "-a", owned, "cp1:/tmp/kept.txt"])).exitCode).toBe(0);
    expect((await docker(["exec", "cp1", "stat", "-c", "%u:%g", "/tmp/plain.txt", "/tmp/kept.txt"])).stdout).toBe("0:0\n1234:2345\n");
    // noOverwriteDirNonDir: a file never replaces a directory
    await docker(["exec", "cp1", "mkdir", "-p", "/tmp/adir/keep"]);
    const clash = await docker(["cp", owned, "cp1:/tmp/adir"]);
    expect(clash.exitCode).toBe(0); // into the directory, as docker does
    const tarOver = Bun.spawnSync(["tar", "-c", "-f", "-", "--transform=s,owned.txt,adir,", "-C", dir, "owned.txt"]).stdout;
    const over = await docker(["cp", "-", "cp1:/tmp"], { stdin: tarOver });
    expect(over.exitCode).toBe(1);
    expect(over.stderr).toContain('cannot overwrite directory "/tmp/adir" with non-directory');
    expect((await docker(["exec", "cp1", "ls", "/tmp/adir"])).stdout).toBe("keep\nowned.txt\n");
    await docker(["exec", "cp1", "sh", "-c", "mkdir -p /out/sub && echo inside > /out/sub/f"]);
    const dest = join(dir, "out");
    expect((await docker(["cp", "cp1:/out", dest])).exitCode).toBe(0);
    expect(readFileSync(join(dest, "sub/f"), "utf8")).toBe("inside\n");
    // a destination that does not exist yet, under the container's root (the copy goes to "/" with a rename)
    expect((await docker(["cp", join(dir, "out"), "cp1:/opt/"])).exitCode).toBe(0);
    expect((await docker(["exec", "cp1", "cat", "/opt/sub/f"])).stdout).toBe("inside\n");
    // DIR/. is the directory's content
    const contentDest = join(dir, "content");
    expect((await docker(["cp", "cp1:/out/sub/.", contentDest])).exitCode).toBe(0);
    expect(readFileSync(join(contentDest, "f"), "utf8")).toBe("inside\n");
    // the container's root: its content lands in the new destination, and merges into an existing one
    const rootDest = join(dir, "rootcopy");
    expect((await docker(["cp", "cp1:/", rootDest])).exitCode).toBe(0);
    expect(existsSync(`${rootDest}.`)).toBe(false);
    expect(readFileSync(join(rootDest, "out/sub/f"), "utf8")).toBe("inside\n");
    expect(existsSync(join(rootDest, "bin/busybox"))).toBe(true);
    const rootInto = join(dir, "rootinto");
    mkdirSync(rootInto);
    expect((await docker(["cp", "cp1:/", rootInto])).exitCode).toBe(0);
    expect(readFileSync(join(rootInto, "tmp/in.txt"), "utf8")).toBe("from the host\n");
    const missing = await docker(["cp", "cp1:/nope", join(dir, "x")]);
    expect(missing.exitCode).toBe(1);
    expect(missing.stderr).toContain("Could not find the file /nope");
    await docker(["rm", "-f", "cp1"]);
  });

  test("events: create, start, die, destroy of a run --rm", async () => {
    const since = Math.floor(Date.now() / 1000) - 1;
    expect((await docker(["run", "--rm", "--name", "evt", "--pull=never", "busybox", "true"])).exitCode).toBe(0);
    const until = Math.floor(Date.now() / 1000) + 1;
    const ev = await docker(["events", "--since", String(since), "--until", String(until), "--filter", "container=evt", "--format", "{{.Action}}"]);
    expect(ev.exitCode).toBe(0);
    const actions = ev.stdout.split("\n").filter((a) => ["create", "start", "die", "destroy"].includes(a));
    expect(actions).toEqual(["create", "start", "die", "destroy"]);
  });

  test("one store: the daemonless CLI and the daemon see the same containers", async () => {
    // created by the CLI, handled through the daemon
    expect((await cli(["run", "-d", "--name", "fromcli", "busybox", "sh", "-c", "echo cli-log; sleep 1000"])).exitCode).toBe(0);
    expect((await docker(["ps", "--format", "{{.Names}}"])).stdout).toContain("fromcli\n");
    await waitUntil("the log line", async () => (await docker(["logs", "fromcli"])).stdout === "cli-log\n");
    expect((await docker(["exec", "fromcli", "echo", "via-daemon"])).stdout).toBe("via-daemon\n");
    expect((await docker(["rm", "-f", "fromcli"])).exitCode).toBe(0);
    expect((await cli(["ps", "-a", "--format", "{{.Names}}"])).stdout).not.toContain("fromcli");
    // created through the daemon, handled by the CLI
    expect((await docker(["run", "-d", "--name", "fromd", "--pull=never", "busybox", "sh", "-c", "echo d-log; sleep 1000"])).exitCode).toBe(0);
    expect((await cli(["ps", "--format", "{{.Names}}"])).stdout).toContain("fromd\n");
    await waitUntil("the log line", async () => (await cli(["logs", "fromd"])).stdout === "d-log\n");
    expect((await cli(["exec", "fromd", "echo", "via-cli"])).stdout).toBe("via-cli\n");
    expect((await cli(["rm", "-f", "fromd"])).exitCode).toBe(0);
    expect((await docker(["ps", "-a", "--format", "{{.Names}}"])).stdout).not.toContain("fromd");
  });

  test("create, start -a, restart, pause, rename, update, top, stats, diff, export, prune", async () => {
    expect((await docker(["create", "--name", "c1", "--pull=never", "busybox", "sh", "-c", "echo started; sleep 1000"])).exitCode).toBe(0);
    expect((await docker(["start", "c1"])).exitCode).toBe(0);
    expect((await docker(["pause", "c1"])).exitCode).toBe(0);
    expect((await docker(["ps", "--format", "{{.Status}}"])).stdout).toContain("(Paused)");
    expect((await docker(["unpause", "c1"])).exitCode).toBe(0);
    expect((await docker(["rename", "c1", "c2"])).exitCode).toBe(0);
    expect((await docker(["update", "--memory", "64m", "c2"])).exitCode).toBe(0);
    expect((await docker(["inspect", "-f", "{{.HostConfig.Memory}}", "c2"])).stdout).toBe("67108864\n");
    expect((await docker(["top", "c2"])).stdout).toContain("sleep 1000");
    // ps options reach the daemon as ps_args: the host's ps runs with them, rows kept for the container
    const psTop = (await docker(["top", "c2", "-o", "pid,comm"])).stdout.trim().split("\n");
    expect(psTop[0]).toMatch(/^PID\s+COMMAND$/);
    const comms = psTop.slice(1).map((l) => l.trim().split(/\s+/)[1]);
    expect(comms).toContain("sleep");
    expect(comms.every((c) => c === "sh" || c === "sleep")).toBe(true);
    const st = await docker(["stats", "--no-stream", "--format", "{{.Name}} {{.PIDs}}", "c2"]);
    expect(st).toMatchObject({ exitCode: 0, stdout: "c2 1\n" });
    await docker(["exec", "c2", "touch", "/newfile"]);
    expect((await docker(["diff", "c2"])).stdout).toContain("A /newfile");
    const exp = await docker(["export", "-o", join(dir, "c2.tar"), "c2"]);
    expect(exp.exitCode).toBe(0);
    expect(Bun.spawnSync(["tar", "tf", join(dir, "c2.tar")]).stdout.toString()).toContain("newfile");
    expect((await docker(["restart", "-t", "1", "c2"])).exitCode).toBe(0);
    expect((await docker(["logs", "c2"])).stdout).toBe("started\nstarted\n");
    expect((await docker(["kill", "c2"])).exitCode).toBe(0);
    expect((await docker(["container", "prune", "-f"])).stdout).toContain("Deleted Containers:");
    expect((await docker(["ps", "-aq"])).stdout).toBe("");
  });

  test("errors: docker's statuses and messages", async () => {
    const r = await docker(["logs", "nosuch"]);
    expect(r).toMatchObject({ exitCode: 1, stderr: "Error response from daemon: No such container: nosuch\n" });
    expect((await docker(["run", "--pull=never", "nosuchimage:1"])).stderr).toContain("No such image");
  });
});
