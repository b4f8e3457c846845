/**
 * berth as a client of `berth daemon` (issue 12 item 4): the verbs through the Engine API give the
 * daemonless CLI's output and exit codes (run and its exit status, -i with a pipe, -it on a pty, -d,
 * ps, logs, exec, inspect, cp both ways, stop/rm, the daemon's errors), a verb without a remote
 * implementation is refused, and `system dial-stdio` joins stdio to the socket.
 */
import { ptyDriver } from "../helpers/pty.ts";
import { describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { berth, berthArgv } from "../helpers/cli.ts";
import { rootEnabled } from "../helpers/root.ts";
import { clientFixture } from "./_fixture.ts";

const { dir, sock, config, client, local, state } = clientFixture("client-mode");

const PTY_DRIVER = ptyDriver({ rows: 33, cols: 101, printOutput: true });

async function onPty(args: string[], drive: string) {
  const py = join(dir, "ptydrive.py");
  writeFileSync(py, PTY_DRIVER);
  const p = Bun.spawn(["python3", py, ...berthArgv(["-H", `unix://${sock}`, ...args])], {
    stdout: "pipe",
    stderr: "pipe",
    env: { ...process.env, TERM: "xterm", DRIVE: drive, BERTH_CONFIG: config },
    timeout: 60_000,
  });
  const [stdout, stderr, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  return { stdout, stderr, code };
}

describe.skipIf(!rootEnabled)("client mode against berth daemon", () => {
  test("version and info name the daemon", async () => {
    const v = await client(["version"]);
    expect(v.exitCode).toBe(0);
    expect(v.stdout).toContain("Client: berth");
    expect(v.stdout).toMatch(/Server: berth\n Engine:\n {2}Version: +\S+\n {2}API version: +1\.\d+ \(minimum version 1\.\d+\)/);
    const f = await client(["version", "--format", "{{.Server.Os}}"]);
    expect(f.stdout).toBe("linux\n");
    const i = await client(["info", "--format", "{{.OSType}} {{.ClientInfo.Context}}"]);
    expect(i.stdout).toBe("linux default\n");
  });

  test("run: output and exit status as the daemonless CLI", async () => {
    for (const cmd of [
      ["echo", "hello"],
      ["sh", "-c", "echo out; echo err >&2; exit 3"],
    ]) {
      const r = await client(["run", "busybox", ...cmd]);
      const l = await local(["run", "busybox", ...cmd]);
      expect({ out: r.stdout, err: r.stderr, code: r.exitCode }).toEqual({ out: l.stdout, err: l.stderr, code: l.exitCode });
    }
    const rm = await client(["run", "--rm", "busybox", "sh", "-c", "echo gone; exit 4"]);
    expect(rm).toMatchObject({ stdout: "gone\n", exitCode: 4 });
    // a missing image: the daemon's 404, docker's run exit 125 (pull=never: nothing leaves this host)
    const missing = await client(["run", "--pull=never", "nosuch/image:1", "true"]);
    expect(missing.exitCode).toBe(125);
    expect(missing.stderr).toContain("Error response from daemon:");
  });

  test("run -i: piped stdin reaches the container and its EOF ends it", async () => {
    const r = await client(["run", "--rm", "-i", "busybox", "sh", "-c", "cat; echo done"], { stdin: "line one\nline two\n" });
    expect(r).toMatchObject({ stdout: "line one\nline two\ndone\n", exitCode: 0 });
  });

  test("run -it and exec -it on a pty: terminal size, the shell's status", async () => {
    const r = await onPty(
      ["run", "-it", "--name", "tty1", "busybox", "sh"],
      'expect("# "); send("stty size; echo x-$((40+2))\\r"); expect("x-42"); send("exit 7\\r")',
    );
    expect(r.stdout + r.stderr).toContain("33 101");
    expect(r.stdout).toContain("EXIT 7");
    await client(["rm", "-f", "tty1"]);
    const d = await client(["run", "-dit", "--name", "tty2", "busybox", "sh"]);
    expect(d.exitCode).toBe(0);
    const e = await onPty(["exec", "-it", "tty2", "sh"], 'expect("# "); send("tty; echo y-$((1+1))\\r"); expect("y-2"); send("exit 4\\r")');
    expect(e.stdout).toContain("/dev/pts/");
    expect(e.stdout).toContain("EXIT 4");
    // the detach keys leave the container running
    const det = await onPty(["attach", "tty2"], 'time.sleep(0.3); send("\\x10"); time.sleep(0.2); send("\\x11")');
    expect(det.stdout).toContain("EXIT 1");
    expect((await client(["inspect", "-f", "{{.State.Running}}", "tty2"])).stdout).toBe("true\n");
    await client(["rm", "-f", "tty2"]);
  });

  test("-d, ps, logs, exec, inspect, port, stop, rm: the same containers either way", async () => {
    const d = await client([
      "run",
      "-d",
      "--name",
      "web",
      "-p",
      "127.0.0.1::80",
      "-e",
      "GREETING=hi",
      "busybox",
      "sh",
      "-c",
      "echo $GREETING; echo warn >&2; sleep 60",
    ]);
    expect(d.exitCode).toBe(0);
    const id = d.stdout.trim();
    expect(id).toMatch(/^[0-9a-f]{64}$/);
    const fmt = ["ps", "--format", "{{.ID}} {{.Names}} {{.Image}} {{.Command}}"];
    const rp = await client(fmt);
    expect(rp.stdout).toBe((await local(fmt)).stdout);
    expect(rp.stdout).toContain(`${id.slice(0, 12)} web busybox`);
    expect((await client(["ps", "-q"])).stdout).toBe((await local(["ps", "-q"])).stdout);
    // logs: stdout and stderr kept apart, as locally
    for (let i = 0; i < 100 && !(await client(["logs", "web"])).stdout.includes("hi"); i++) await Bun.sleep(50);
    const lr = await client(["logs", "web"]);
    const ll = await local(["logs", "web"]);
    expect({ out: lr.stdout, err: lr.stderr }).toEqual({ out: ll.stdout, err: ll.stderr });
    expect(lr.stdout).toBe("hi\n");
    // logs -f follows until the container ends
    const f = client(["logs", "-f", "web"], { timeoutMs: 20_000 });
    await Bun.sleep(300);
    await client(["kill", "web"]);
    expect((await f).stdout).toBe("hi\n");
    await client(["start", "web"]);
    const pi = await client(["exec", "-i", "web", "sh", "-c", "cat; echo end; exit 2"], { stdin: "a\nb\n" });
    expect({ out: pi.stdout, code: pi.exitCode }).toEqual({ out: "a\nb\nend\n", code: 2 });
    const ex = await client(["exec", "-e", "X=1", "web", "sh", "-c", "echo $X $GREETING; exit 5"]);
    expect({ out: ex.stdout, code: ex.exitCode }).toEqual({ out: "1 hi\n", code: 5 });
    expect((await client(["exec", "web", "nosuchcmd"])).exitCode).toBe((await local(["exec", "web", "nosuchcmd"])).exitCode);
    const ins = await client(["inspect", "-f", "{{.Name}} {{.State.Status}} {{.Config.Image}}", "web"]);
    expect(ins.stdout).toBe((await local(["inspect", "-f", "{{.Name}} {{.State.Status}} {{.Config.Image}}", "web"])).stdout);
    const port = await client(["port", "web", "80"]);
    expect(port.stdout).toMatch(/^127\.0\.0\.1:\d+\n$/);
    expect(port.stdout).toBe((await local(["port", "web", "80"])).stdout);
    expect((await client(["top", "web"])).stdout).toContain("sleep 60");
    expect((await client(["stop", "-t", "1", "web"])).stdout).toBe("web\n");
    expect((await client(["rm", "web"])).stdout).toBe("web\n");
    expect((await local(["ps", "-a", "--format", "{{.Names}}"])).stdout).not.toContain("web");
  });

  test("the daemon's errors: docker's words and exit codes", async () => {
    const rm = await client(["rm", "nosuch"]);
    expect(rm).toMatchObject({ exitCode: 1, stderr: "Error response from daemon: No such container: nosuch\n" });
    expect((await client(["rm", "-f", "nosuch"])).exitCode).toBe(0);
    const ins = await client(["inspect", "nosuch"]);
    expect(ins).toMatchObject({ exitCode: 1, stdout: "[]\n", stderr: "Error: No such object: nosuch\n" });
    const st = await client(["stop", "nosuch"]);
    expect(st.exitCode).toBe(1);
    expect((await client(["create", "--name", "not-running", "busybox", "true"])).exitCode).toBe(0);
    const stopped = await client(["exec", "not-running", "true"]);
    expect(stopped.exitCode).toBe((await local(["exec", "not-running", "true"])).exitCode);
    expect(stopped.stderr).toMatch(/^Error response from daemon: container [0-9a-f]{64} is not running\n$/);
    await client(["rm", "not-running"]);
    const ex = await client(["exec", "nosuch", "true"]);
    expect(ex.exitCode).toBe(1);
    expect(ex.stderr).toContain("No such container: nosuch");
  });

  test("cp both ways, through the archive API", async () => {
    expect((await client(["run", "-d", "--name", "files", "busybox", "sleep", "60"])).exitCode).toBe(0);
    const src = join(dir, "cp-src");
    mkdirSync(join(src, "tree/sub"), { recursive: true });
    writeFileSync(join(src, "one.txt"), "one\n");
    writeFileSync(join(src, "tree/sub/deep.txt"), "deep\n");
    expect((await client(["cp", join(src, "one.txt"), "files:/tmp/"])).exitCode).toBe(0);
    expect((await client(["cp", join(src, "one.txt"), "files:/tmp/renamed.txt"])).exitCode).toBe(0);
    expect((await client(["cp", join(src, "tree"), "files:/tmp/"])).exitCode).toBe(0);
    const cat = await client(["exec", "files", "cat", "/tmp/one.txt", "/tmp/renamed.txt", "/tmp/tree/sub/deep.txt"]);
    expect(cat.stdout).toBe("one\none\ndeep\n");
    const out = join(dir, "cp-out");
    mkdirSync(out);
    // what a killed copy left (its pid gone) is swept by the next copy there; a live one's stays
    mkdirSync(join(out, ".berth-cp-4194999-dead01/tree"), { recursive: true });
    mkdirSync(join(out, `.berth-cp-${process.pid}-live01`));
    expect((await client(["cp", "files:/tmp/tree", out])).exitCode).toBe(0);
    expect(existsSync(join(out, ".berth-cp-4194999-dead01"))).toBe(false);
    expect(existsSync(join(out, `.berth-cp-${process.pid}-live01`))).toBe(true);
    rmSync(join(out, `.berth-cp-${process.pid}-live01`), { recursive: true });
    expect((await client(["cp", "files:/tmp/one.txt", join(out, "copy.txt")])).exitCode).toBe(0);
    expect(readFileSync(join(out, "tree/sub/deep.txt"), "utf8")).toBe("deep\n");
    expect(readFileSync(join(out, "copy.txt"), "utf8")).toBe("one\n");
    // the container's root, to a new directory and into an existing one
    expect((await client(["cp", "files:/", join(out, "root")])).exitCode).toBe(0);
    expect(readFileSync(join(out, "root/tmp/tree/sub/deep.txt"), "utf8")).toBe("deep\n");
    expect((await client(["cp", "files:/", out])).exitCode).toBe(0);
    expect(readFileSync(join(out, "tmp/one.txt"), "utf8")).toBe("one\n");
    expect(readdirSync(out).some((n) => n.startsWith(".berth-cp-"))).toBe(false);
    const missing = await client(["cp", "files:/nope", out]);
    expect(missing.exitCode).toBe(1);
    expect(missing.stderr).toContain("Error response from daemon:");
    await client(["rm", "-f", "files"]);
  });

  test("a verb the client does not cover is refused, never run on a local store", async () => {
    const r = await client(["system", "check"]);
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toBe(`berth: berth system check: not available in client mode (unix://${sock})\n`);
    const c = await client(["system", "restore"]);
    expect(c.exitCode).toBe(1);
    expect(c.stderr).toContain("not available in client mode");
  });

  test("DOCKER_HOST and BERTH_HOST select the daemon; without them berth stays daemonless", async () => {
    const d = await client(["run", "-d", "--name", "env-sel", "busybox", "sleep", "60"]);
    expect(d.exitCode).toBe(0);
    for (const k of ["DOCKER_HOST", "BERTH_HOST"]) {
      const r = await berth(["ps", "--format", "{{.Names}}"], { env: { BERTH_CONFIG: config, [k]: `unix://${sock}` } });
      expect(r.stdout).toContain("env-sel");
    }
    // BERTH_HOST wins over DOCKER_HOST
    const both = await berth(["ps"], { env: { BERTH_CONFIG: config, DOCKER_HOST: "unix:///nonexistent.sock", BERTH_HOST: `unix://${sock}` } });
    expect(both.exitCode).toBe(0);
    // a daemonless ps on an empty root sees nothing of the daemon's
    const empty = join(dir, "empty-root");
    const none = await berth(["--root", empty, "ps", "-a", "--format", "{{.Names}}"], { env: { BERTH_CONFIG: config } });
    expect(none).toMatchObject({ exitCode: 0, stdout: "" });
    await client(["rm", "-f", "env-sel"]);
  });

  test("commit, diff, history, export, update, stats, prune", async () => {
    expect((await client(["run", "-d", "--name", "extra", "busybox", "sh", "-c", "echo x > /newfile; sleep 60"])).exitCode).toBe(0);
    for (let i = 0; i < 100 && !(await client(["diff", "extra"])).stdout.includes("/newfile"); i++) await Bun.sleep(50);
    expect((await client(["diff", "extra"])).stdout).toBe((await local(["diff", "extra"])).stdout);
    expect((await client(["diff", "extra"])).stdout).toContain("A /newfile");
    const c = await client(["commit", "-m", "from client", "-c", "ENV FROM_CLIENT=1", "extra", "client/committed:1"]);
    expect(c.stdout).toMatch(/^sha256:[0-9a-f]{64}\n$/);
    const h = ["history", "--format", "{{.ID}} {{.Comment}}", "client/committed:1"];
    expect((await client(h)).stdout).toBe((await local(h)).stdout);
    expect((await client(h)).stdout.split("\n")[0]).toContain(" from client");
    const env = await client(["run", "--rm", "client/committed:1", "sh", "-c", "cat /newfile; echo $FROM_CLIENT"]);
    expect(env.stdout).toBe("x\n1\n");
    const tar = join(dir, "export.tar");
    expect((await client(["export", "-o", tar, "extra"])).exitCode).toBe(0);
    expect(Bun.spawnSync(["tar", "-tf", tar]).stdout.toString()).toContain("newfile");
    expect((await client(["update", "--memory", "64m", "extra"])).stdout).toBe("extra\n");
    expect((await client(["inspect", "-f", "{{.HostConfig.Memory}}", "extra"])).stdout).toBe("67108864\n");
    const st = await client(["stats", "--no-stream", "--format", "{{.Name}} {{.PIDs}}", "extra"]);
    expect(st.exitCode).toBe(0);
    expect(st.stdout).toBe((await local(["stats", "--no-stream", "--format", "{{.Name}} {{.PIDs}}", "extra"])).stdout);
    await client(["kill", "extra"]);
    expect((await client(["wait", "extra"])).stdout).toBe("137\n");
    const pr = await client(["container", "prune", "-f"]);
    expect(pr.stdout).toContain("Deleted Containers:");
    expect((await local(["ps", "-a", "--format", "{{.Names}}"])).stdout).not.toContain("extra");
    expect((await client(["rmi", "client/committed:1"])).exitCode).toBe(0);
  });

  test("tcp:// on loopback: the same daemon", async () => {
    const r = await berth(["-H", `tcp://127.0.0.1:${state.port}`, "run", "--rm", "busybox", "sh", "-c", "echo over tcp; exit 0"], {
      env: { BERTH_CONFIG: config },
    });
    expect(r).toMatchObject({ exitCode: 0, stdout: "over tcp\n" });
    const e = await berth(["ps", "-a"], { env: { BERTH_CONFIG: config, DOCKER_HOST: `tcp://127.0.0.1:${state.port}` } });
    expect(e.exitCode).toBe(0);
  });

  test("system dial-stdio joins stdin/stdout to the daemon's socket", async () => {
    const r = await berth(["-H", `unix://${sock}`, "system", "dial-stdio"], {
      stdin: "GET /_ping HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
      env: { BERTH_CONFIG: config },
      timeoutMs: 10_000,
    });
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
    expect(r.stdout).toMatch(/\r\nApi-Version: 1\.\d+\r\n/i);
    expect(r.stdout.endsWith("OK")).toBe(true);
  });
});

describe("client mode without a daemon", () => {
  test("a socket nobody listens on: docker's message, exit 1", async () => {
    const r = await berth(["-H", "unix:///nonexistent/berth.sock", "ps"], { env: { BERTH_CONFIG: "/nonexistent" } });
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toContain("Cannot connect to the berth daemon at unix:///nonexistent/berth.sock. Is the berth daemon running?");
    // version prints the client's half first, as docker's does
    const v = await berth(["-H", "unix:///nonexistent/berth.sock", "version"], { env: { BERTH_CONFIG: "/nonexistent" } });
    expect(v.exitCode).toBe(1);
    expect(v.stdout).toStartWith("Client: berth\n Version:");
  });

  test("bad host strings and conflicting selections are refused", async () => {
    const bad = await berth(["-H", "ftp://x", "ps"], { env: { BERTH_CONFIG: "/nonexistent" } });
    expect(bad.exitCode).toBe(1);
    expect(bad.stderr).toContain('unable to parse berth host "ftp://x"');
    const both = await berth(["-H", "unix:///x.sock", "--context", "foo", "ps"], { env: { BERTH_CONFIG: "/nonexistent" } });
    expect(both.stderr).toContain("conflicting options: cannot specify both --host and --context");
    const two = await berth(["-H", "unix:///a.sock", "-H", "unix:///b.sock", "ps"], { env: { BERTH_CONFIG: "/nonexistent" } });
    expect(two.stderr).toContain("Specify only one -H");
  });
});
