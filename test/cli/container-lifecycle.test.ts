/**
 * The container verbs through the real CLI, with a busybox image imported from Debian's busybox-static
 * (scripts/busybox-rootfs.sh). Root only: containers need namespaces, mounts and cgroups. Every
 * container is removed and the leak check at the end looks for cgroups, mounts and state left behind.
 */
import { describe, expect, test } from "bun:test";
import { chownSync, existsSync, lstatSync, readdirSync, readFileSync, writeFileSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { type CliResult, busyboxRoot } from "../helpers/cli.ts";
import { rootEnabled } from "../helpers/root.ts";

const { root, run } = busyboxRoot("ctr");

const ok = (r: CliResult) => expect({ ...r, exitCode: r.exitCode }).toMatchObject({ exitCode: 0 });

async function until(fn: () => Promise<boolean> | boolean, what: string, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await fn())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await Bun.sleep(50);
  }
}

function cgroupDirs(id: string): string[] {
  const out: string[] = [];
  for (const base of ["/sys/fs/cgroup", "/sys/fs/cgroup/unified"]) {
    let ctrls: string[] = [];
    try {
      ctrls = readdirSync(base);
    } catch {
      continue;
    }
    for (const c of ["", ...ctrls]) {
      const p = join(base, c, "berth", id);
      if (existsSync(p)) out.push(p);
    }
  }
  return out;
}

describe.skipIf(!rootEnabled)("run", () => {
  test("foreground output, exit status and --rm", async () => {
    const r = await run(["run", "--rm", "--name", "fg1", "busybox", "echo", "hello"]);
    expect(r).toMatchObject({ stdout: "hello\n", exitCode: 0 });
    expect((await run(["ps", "-aq"])).stdout).toBe("");
    expect(await run(["run", "--rm", "busybox", "sh", "-c", "echo err >&2; exit 3"])).toMatchObject({ stdout: "", stderr: "err\n", exitCode: 3 });
  });

  test("wait on a detached --rm container reports its exit code, also when it is removed first", async () => {
    // docker's `wait` of a `run -d --rm` container: the real code whether the removal came before the
    // wait saw the exit or after
    for (const delay of ["0.3", "0"]) {
      const id = (await run(["run", "-d", "--rm", "busybox", "sh", "-c", `sleep ${delay}; exit 7`])).stdout.trim();
      expect(id).toMatch(/^[0-9a-f]{64}$/);
      if (delay === "0") await until(async () => (await run(["ps", "-aq"])).stdout === "", "the --rm container removed");
      const w = await run(["wait", id]);
      if (delay === "0") expect(w).toMatchObject({ exitCode: 1, stderr: `berth: No such container: ${id}\n` });
      else expect(w).toMatchObject({ stdout: "7\n", exitCode: 0 });
    }
    expect((await run(["ps", "-aq"])).stdout).toBe("");
  });

  test("the view from inside: pid 1, hostname, env, workdir, user", async () => {
    const r = await run([
      "run",
      "--name",
      "inside",
      "-e",
      "FOO=bar",
      "-w",
      "/tmp",
      "-u",
      "nobody",
      "busybox",
      "sh",
      "-c",
      "echo $$; hostname; echo $FOO; pwd; id -u; id -g; echo $HOME; cat /etc/hostname",
    ]);
    ok(r);
    const id = (await run(["inspect", "-f", "{{.Id}}", "inside"])).stdout.trim();
    expect(r.stdout).toBe(`1\n${id.slice(0, 12)}\nbar\n/tmp\n65534\n65534\n/nonexistent\n${id.slice(0, 12)}\n`);
    ok(await run(["rm", "inside"]));
  });

  test("hostname, add-host, dns, read-only, tmpfs, bind volume", async () => {
    const vol = join(root, "vol");
    mkdirSync(vol);
    writeFileSync(join(vol, "f"), "from host\n");
    const r = await run([
      "run",
      "--rm",
      "-h",
      "box",
      "--add-host",
      "db:10.1.2.3",
      "--dns",
      "9.9.9.9",
      "--read-only",
      "--tmpfs",
      "/scratch",
      "-v",
      `${vol}:/data:ro`,
      "-v",
      `${join(root, "newdir")}:/made`,
      "busybox",
      "sh",
      "-c",
      "hostname; grep db /etc/hosts; grep nameserver /etc/resolv.conf; cat /data/f; touch /data/x 2>/dev/null || echo ro-vol; touch /etc/x 2>/dev/null || echo ro-root; touch /scratch/ok && echo tmpfs-rw; touch /made/y && echo rw-vol",
    ]);
    expect(r).toMatchObject({ exitCode: 0, stdout: "box\n10.1.2.3\tdb\nnameserver 9.9.9.9\nfrom host\nro-vol\nro-root\ntmpfs-rw\nrw-vol\n" });
    expect(existsSync(join(root, "newdir/y"))).toBe(true);
  });

  test("capabilities: docker's default set, --cap-drop, --privileged", async () => {
    const eff = async (...flags: string[]) =>
      (await run(["run", "--rm", ...flags, "busybox", "grep", "CapEff", "/proc/self/status"])).stdout.trim().split(/\s+/)[1];
    expect(await eff()).toBe("00000000a80425fb");
    expect(await eff("--cap-drop", "ALL")).toBe("0000000000000000");
    expect(await eff("--cap-drop", "ALL", "--cap-add", "NET_ADMIN")).toBe("0000000000001000");
    // --privileged gives every capability the host's bounding set holds (this VM's lacks CAP_SYS_RESOURCE)
    const hostBnd = readFileSync("/proc/self/status", "utf8").match(/^CapBnd:\s*(\w+)$/m)![1];
    expect(await eff("--privileged")).toBe(hostBnd);
  });

  test("bad input: docker's words and exit codes, nothing half-created", async () => {
    // a missing image is pulled; this name's registry is a closed loopback port (no traffic leaves the host)
    let r = await run(["run", "--rm", "127.0.0.1:9/nosuchimage"]);
    expect(r.exitCode).toBe(125);
    expect(r.stderr).toContain("Unable to find image '127.0.0.1:9/nosuchimage:latest' locally");
    r = await run(["run", "--rm", "busybox", "nosuchcmd"]);
    expect(r.exitCode).toBe(127);
    expect(r.stderr).toContain('exec: "nosuchcmd": executable file not found in $PATH');
    r = await run(["run", "--rm", "busybox", "/etc/passwd"]);
    expect(r.exitCode).toBe(126);
    r = await run(["run", "--rm", "-u", "nosuch", "busybox", "true"]);
    expect(r.exitCode).toBe(125);
    expect(r.stderr).toContain("unable to find user nosuch: no matching entries in passwd file");
    r = await run(["run", "--bogus", "busybox"]);
    expect(r.exitCode).toBe(125);
    expect(r.stderr).toContain("unknown flag: --bogus");
    expect(r.stderr).toContain("Usage:  berth run [OPTIONS] IMAGE [COMMAND] [ARG...]");
    expect((await run(["ps", "-aq"])).stdout).toBe("");
    ok(await run(["create", "--name", "taken", "busybox"]));
    const id = (await run(["inspect", "-f", "{{.Id}}", "taken"])).stdout.trim();
    r = await run(["run", "--name", "taken", "busybox", "true"]);
    expect(r.exitCode).toBe(125);
    expect(r.stderr).toContain(
      `Conflict. The container name "/taken" is already in use by container "${id}". You have to remove (or rename) that container to be able to reuse that name.`,
    );
    r = await run(["rm", "nosuch"]);
    expect(r).toMatchObject({ exitCode: 1, stderr: "berth: No such container: nosuch\n" });
    ok(await run(["rm", "taken"]));
  });
});

describe.skipIf(!rootEnabled)("detached containers", () => {
  test("-d, ps, logs, stop, wait, inspect, rm", async () => {
    const r = await run([
      "run",
      "-d",
      "--name",
      "bg",
      "busybox",
      "sh",
      "-c",
      "echo out; echo err >&2; trap 'echo bye; exit 7' TERM; while :; do sleep 0.1; done",
    ]);
    ok(r);
    const id = r.stdout.trim();
    expect(id).toMatch(/^[0-9a-f]{64}$/);
    await until(async () => (await run(["logs", "bg"])).stdout === "out\n", "logs");
    const logs = await run(["logs", "bg"]);
    expect(logs).toMatchObject({ stdout: "out\n", stderr: "err\n", exitCode: 0 });
    const ts = await run(["logs", "-t", "--tail", "1", "bg"]);
    expect(ts.stdout + ts.stderr).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z (out|err)\n$/);
    const ps = await run(["ps"]);
    // column widths follow the content ("Less than a second ago" vs "2 seconds ago"), as in docker
    expect(ps.stdout.split("\n")[0]).toMatch(/^CONTAINER ID {3}IMAGE {5}COMMAND {18}CREATED +STATUS +PORTS +NAMES$/);
    expect(ps.stdout).toContain(id.slice(0, 12));
    expect(ps.stdout).toMatch(/Up (Less than a second|\d+ seconds?)/);
    expect((await run(["ps", "--format", "{{.Names}} {{.State}}"])).stdout).toBe("bg running\n");
    expect((await run(["ps", "-q", "-f", "name=bg"])).stdout).toBe(id.slice(0, 12) + "\n");
    expect((await run(["ps", "-q", "-f", "status=exited"])).stdout).toBe("");
    const rmRunning = await run(["rm", "bg"]);
    expect(rmRunning).toMatchObject({
      exitCode: 1,
      stderr: `berth: cannot remove container "/bg": container is running: stop the container before removing or force remove\n`,
    });
    ok(await run(["stop", "bg"]));
    expect((await run(["wait", "bg"])).stdout).toBe("7\n");
    expect((await run(["logs", "bg"])).stdout).toBe("out\nbye\n");
    const insp = JSON.parse((await run(["inspect", "bg"])).stdout);
    expect(insp[0]).toMatchObject({ Id: id, Name: "/bg", State: { Status: "exited", Running: false, ExitCode: 7, OOMKilled: false } });
    expect((await run(["ps", "-a", "--format", "{{.Status}}"])).stdout).toMatch(/^Exited \(7\) /);
    ok(await run(["rm", "bg"]));
    expect(existsSync(join(root, "containers", id))).toBe(false);
    expect(cgroupDirs(id)).toEqual([]);
  });

  test("kill -s, restart, rename, pause/unpause, top, exec", async () => {
    const id = (await run(["run", "-d", "--name", "k1", "busybox", "sleep", "1000"])).stdout.trim();
    ok(await run(["rename", "k1", "k2"]));
    expect((await run(["inspect", "-f", "{{.Name}}", id.slice(0, 8)])).stdout).toBe("/k2\n");
    const top = await run(["top", "k2"]);
    ok(top);
    expect(top.stdout).toMatch(/^UID\s+PID\s+PPID\s+C\s+STIME\s+TTY\s+TIME\s+CMD\n/);
    expect(top.stdout).toContain("sleep 1000");
    expect(await run(["exec", "k2", "sh", "-c", "echo $$ >/dev/null; echo in; exit 4"])).toMatchObject({ stdout: "in\n", exitCode: 4 });
    expect((await run(["exec", "-u", "nobody", "-w", "/tmp", "-e", "X=1", "k2", "sh", "-c", "id -u; pwd; echo $X"])).stdout).toBe("65534\n/tmp\n1\n");
    expect((await run(["exec", "k2", "nosuch"])).exitCode).toBe(127);
    expect((await run(["exec", "-i", "k2", "cat"], { stdin: "piped\n" })).stdout).toBe("piped\n");
    // exec -d: docker discards its output, so a command that prints runs on (a pipe nobody read killed
    // it with SIGPIPE at its first write)
    expect(await run(["exec", "-d", "k2", "sh", "-c", "echo out; echo err >&2; touch /detached; sleep 30"])).toMatchObject({ exitCode: 0, stdout: "" });
    await until(async () => (await run(["exec", "k2", "test", "-e", "/detached"])).exitCode === 0, "the detached exec's file");
    expect((await run(["exec", "k2", "ps", "-o", "args"])).stdout).toContain("sleep 30");
    // exec -dt: no process is left to hold a terminal's master, so it runs without one (a master
    // closed at once hung it up at its first output)
    expect(await run(["exec", "-dt", "k2", "sh", "-c", "echo out; touch /detached-t; sleep 31"])).toMatchObject({ exitCode: 0, stdout: "" });
    await until(async () => (await run(["exec", "k2", "test", "-e", "/detached-t"])).exitCode === 0, "the detached -t exec's file");
    expect((await run(["exec", "k2", "ps", "-o", "args"])).stdout).toContain("sleep 31");
    ok(await run(["pause", "k2"]));
    expect((await run(["inspect", "-f", "{{.State.Status}}", "k2"])).stdout).toBe("paused\n");
    ok(await run(["unpause", "k2"]));
    expect((await run(["inspect", "-f", "{{.State.Status}}", "k2"])).stdout).toBe("running\n");
    ok(await run(["kill", "-s", "TERM", "k2"])); // PID 1 without a handler ignores TERM
    await Bun.sleep(200);
    expect((await run(["inspect", "-f", "{{.State.Running}}", "k2"])).stdout).toBe("true\n");
    ok(await run(["restart", "-t", "1", "k2"]));
    expect((await run(["inspect", "-f", "{{.State.Running}}", "k2"])).stdout).toBe("true\n");
    ok(await run(["kill", "k2"]));
    expect((await run(["wait", "k2"])).stdout).toBe("137\n");
    ok(await run(["rm", "k2"]));
  });

  test("cp both ways and never out of the container", async () => {
    const id = (await run(["run", "-d", "--name", "cp1", "busybox", "sh", "-c", "ln -s / /hostroot; ln -s /etc/../../.. /up; sleep 1000"])).stdout.trim();
    await Bun.sleep(300);
    const out = join(root, "cpout");
    mkdirSync(out);
    ok(await run(["cp", "cp1:/etc/hostname", out]));
    expect(readFileSync(join(out, "hostname"), "utf8")).toBe(id.slice(0, 12) + "\n");
    const tar = await run(["cp", "cp1:/etc/hostname", "-"]);
    expect(tar.stdout.slice(0, 8)).toBe("hostname");
    writeFileSync(join(out, "in.txt"), "into the box\n");
    ok(await run(["cp", join(out, "in.txt"), "cp1:/tmp/"]));
    expect((await run(["exec", "cp1", "cat", "/tmp/in.txt"])).stdout).toBe("into the box\n");
    // owners: root's unless -a keeps the host's (docker's copyUIDGID)
    chownSync(join(out, "in.txt"), 1234, 2345);
    ok(await run(["cp", join(out, "in.txt"), "cp1:/tmp/plain.txt"]));
    ok(await run(["cp", "-a", join(out, "in.txt"), "cp1:/tmp/kept.txt"]));
    expect((await run(["exec", "cp1", "stat", "-c", "%u:%g", "/tmp/plain.txt", "/tmp/kept.txt"])).stdout).toBe("0:0\n1234:2345\n");
    // /up/<host path> resolves inside the container's root, not the host's
    const esc = await run(["cp", `cp1:/up${root}/busybox.tar`, join(out, "x")]);
    expect(esc.exitCode).toBe(1);
    expect(existsSync(join(out, "x"))).toBe(false);
    // the running container's root: a directory with its files (not a link to the host's "/"), its
    // /proc and /sys as empty directories (docker copies the rootfs, not kernel filesystems)
    ok(await run(["cp", "cp1:/", join(out, "whole")]));
    expect(lstatSync(join(out, "whole")).isDirectory()).toBe(true);
    expect(readFileSync(join(out, "whole/tmp/in.txt"), "utf8")).toBe("into the box\n");
    expect(readdirSync(join(out, "whole/proc"))).toEqual([]);
    expect(readdirSync(join(out, "whole/sys"))).toEqual([]);
    const names = (await run(["cp", "cp1:/", "-"])).stdout;
    expect(names.slice(0, 2)).toBe("/\0");
    ok(await run(["rm", "-f", "cp1"]));
  });

  test("a SIGKILLed monitor: rm -f still leaves nothing", async () => {
    const id = (await run(["run", "-d", "--name", "orphan", "busybox", "sleep", "1000"])).stdout.trim();
    const st = JSON.parse(readFileSync(join(root, "containers", id, "state.json"), "utf8"));
    expect(st.Pid).toBeGreaterThan(0);
    expect(readFileSync(`/proc/${st.MonitorPid}/cmdline`, "utf8")).toContain("__monitor");
    process.kill(st.MonitorPid, "SIGKILL");
    await Bun.sleep(100);
    expect((await run(["inspect", "-f", "{{.State.Running}}", "orphan"])).stdout).toBe("true\n");
    ok(await run(["rm", "-f", "orphan"]));
    await until(() => !existsSync(`/proc/${st.Pid}`), "the container process to go");
    expect(existsSync(join(root, "containers", id))).toBe(false);
    expect(cgroupDirs(id)).toEqual([]);
    expect(readFileSync("/proc/self/mountinfo", "utf8")).not.toContain(id);
  });

  test("OOM: exit 137 and OOMKilled", async () => {
    const r = await run(["run", "--name", "oom", "-m", "16m", "--memory-swap", "16m", "busybox", "sh", "-c", "tail /dev/zero"]);
    expect(r.exitCode).toBe(137);
    expect((await run(["inspect", "-f", "{{.State.OOMKilled}}", "oom"])).stdout).toBe("true\n");
    ok(await run(["rm", "oom"]));
  });
});

describe.skipIf(!rootEnabled)("-it through a real pty", () => {
  test("typing, resize, Ctrl-C and the exit code", async () => {
    const driver = `
import os, pty, sys, time, select, fcntl, termios, struct
argv = sys.argv[1:]
pid, fd = pty.fork()
if pid == 0:
    os.execvp(argv[0], argv)
buf = b""
def expect(s, t=10):
    global buf
    end = time.time() + t
    while s.encode() not in buf:
        r, _, _ = select.select([fd], [], [], max(0, end - time.time()))
        if not r: sys.stderr.write("timeout waiting for %r, got %r\\n" % (s, buf)); sys.exit(90)
        try: buf += os.read(fd, 4096)
        except OSError: break
def send(s): os.write(fd, s.encode())
fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
expect("# ")
send("echo $((6*7))\\r"); expect("42")
send("stty size\\r"); expect("24 80")
fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 100, 0, 0))
os.kill(pid, 28)
time.sleep(0.3)
send("stty size\\r"); expect("30 100")
send("sleep 100\\r"); time.sleep(0.3); send("\\x03"); expect("# ")
send("tty\\r"); expect("/dev/pts/0")
send("exit 5\\r")
while True:
    try:
        d = os.read(fd, 4096)
        if not d: break
    except OSError: break
_, status = os.waitpid(pid, 0)
print("EXIT", os.waitstatus_to_exitcode(status))
`;
    const py = join(root, "drive.py");
    writeFileSync(py, driver);
    const { berthArgv } = await import("../helpers/cli.ts");
    const p = Bun.spawn(["python3", py, ...berthArgv(["--root", root, "run", "--rm", "-it", "busybox", "sh"])], {
      stdout: "pipe",
      stderr: "pipe",
      env: { ...process.env, TERM: "xterm" },
      timeout: 60_000,
    });
    const [stdout, stderr, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
    expect({ stdout, stderr, code }).toMatchObject({ stdout: "EXIT 5\n", code: 0 });
  });
});

describe.skipIf(!rootEnabled)("detach keys through a real pty", () => {
  // drive.py ARGV...: a pty session scripted by DRIVE (python lines using expect/send/key)
  const driver = `
import os, pty, sys, time, select
argv = sys.argv[1:]
pid, fd = pty.fork()
if pid == 0:
    os.execvp(argv[0], argv)
buf = b""
def expect(s, t=10):
    global buf
    end = time.time() + t
    while s.encode() not in buf:
        r, _, _ = select.select([fd], [], [], max(0, end - time.time()))
        if not r: sys.stderr.write("timeout waiting for %r, got %r\\n" % (s, buf)); sys.exit(90)
        try: buf += os.read(fd, 4096)
        except OSError: break
def send(s): os.write(fd, s.encode())
def key(b): os.write(fd, b); time.sleep(0.2)
exec(os.environ["DRIVE"])
rest = b""
while True:
    try:
        d = os.read(fd, 4096)
        if not d: break
        rest += d
    except OSError: break
_, status = os.waitpid(pid, 0)
print("EXIT", os.waitstatus_to_exitcode(status))
print("TAIL", repr(rest))
`;
  async function drive(args: string[], script: string, env: Record<string, string> = {}) {
    const py = join(root, "detach.py");
    writeFileSync(py, driver);
    const { berthArgv } = await import("../helpers/cli.ts");
    const p = Bun.spawn(["python3", py, ...berthArgv(["--root", root, ...args])], {
      stdout: "pipe",
      stderr: "pipe",
      env: { ...process.env, TERM: "xterm", DRIVE: script, ...env },
      timeout: 40_000,
    });
    const [stdout, stderr, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
    expect({ stderr, code }).toEqual({ stderr: "", code: 0 });
    return stdout;
  }
  const running = async (name: string) => (await run(["inspect", "-f", "{{.State.Running}}", name])).stdout;

  test("Ctrl-P Ctrl-Q leaves run -it, attach and start -ai; the container runs on", async () => {
    const name = "detachme";
    let out = await drive(
      ["run", "-it", "--name", name, "busybox", "sh"],
      `expect("# ")\nsend("echo $((6*7))\\r"); expect("42")\nkey(b"\\x10"); key(b"\\x11")`,
    );
    expect(out).toStartWith("EXIT 0\n");
    expect(await running(name)).toBe("true\n");
    // attach: docker's attach reports the escape as its error
    out = await drive(["attach", name], `time.sleep(1); send("echo $((40+2))\\r"); expect("42")\nkey(b"\\x10"); key(b"\\x11")`);
    expect(out).toContain("EXIT 1\n");
    expect(out).toContain("read escape sequence");
    expect(await running(name)).toBe("true\n");
    out = await drive(["start", "-ai", name], `time.sleep(1); send("echo $((50+3))\\r"); expect("53")\nkey(b"\\x10"); key(b"\\x11")`);
    expect(out).toStartWith("EXIT 0\n");
    expect(await running(name)).toBe("true\n");
    // start -ai of a stopped container starts it and detaches the same way
    ok(await run(["stop", "-t", "1", name]));
    out = await drive(["start", "-ai", name], `expect("# "); send("echo $((60+4))\\r"); expect("64")\nkey(b"\\x10"); key(b"\\x11")`);
    expect(out).toStartWith("EXIT 0\n");
    expect(await running(name)).toBe("true\n");
    ok(await run(["rm", "-f", name]));
    // a container that ends before the session attaches: its output and exit code still reach the client
    out = await drive(["run", "--rm", "-it", "busybox", "sh", "-c", "echo quick; exit 3"], "pass");
    expect(out).toStartWith("EXIT 3\n");
    expect(out).toContain("quick");
  });

  test("--detach-keys and config.json detachKeys; a partial sequence passes the held key through; a bad spec is refused", async () => {
    const name = "detachkeys";
    // ctrl-a then x is not the sequence: both reach the shell (x is echoed), then ctrl-a,b detaches
    let out = await drive(
      ["run", "-it", "--detach-keys", "ctrl-a,b", "--name", name, "busybox", "sh"],
      `expect("# ")\nkey(b"\\x01"); key(b"x"); expect("x")\nsend("\\x15echo ok$((1+1))\\r"); expect("ok2")\nkey(b"\\x01"); key(b"b")`,
    );
    expect(out).toStartWith("EXIT 0\n");
    expect(await running(name)).toBe("true\n");
    const cfgDir = join(root, "dockercfg");
    mkdirSync(cfgDir, { recursive: true });
    writeFileSync(join(cfgDir, "config.json"), JSON.stringify({ detachKeys: "ctrl-e,e" }));
    out = await drive(["attach", name], `time.sleep(1); send("echo $((70+5))\\r"); expect("75")\nkey(b"\\x05"); key(b"e")`, { DOCKER_CONFIG: cfgDir });
    expect(out).toContain("EXIT 1\n");
    expect(await running(name)).toBe("true\n");
    ok(await run(["rm", "-f", name]));
    const bad = await run(["run", "--rm", "-i", "--detach-keys", "ctrl-1", "busybox", "true"]);
    expect(bad.exitCode).toBe(125);
    expect(bad.stderr).toContain("Invalid detach keys (ctrl-1) provided");
  });
});
