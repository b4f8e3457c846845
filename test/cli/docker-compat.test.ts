/**
 * What a docker user's scripts rely on, checked against what docker 28's CLI prints and exits with:
 * exit 1 (not 125) for a failed request outside `run`, `rm -f` of a missing container, --pull=never,
 * ps's COMMAND quoting and --format templates, images/history --format, inspect templates.
 * Root only (containers); every container is removed with the root.
 */
import { describe, expect, test } from "bun:test";
import { existsSync, writeFileSync } from "node:fs";
import { type CliResult, berth, berthArgv, busyboxRoot } from "../helpers/cli.ts";
import { rootEnabled } from "../helpers/root.ts";
import { Registry, haveRegistryTools } from "../integration/registry-fixture.ts";

const { root, run } = busyboxRoot("compat");
const ok = (r: CliResult) => expect(r).toMatchObject({ exitCode: 0 });
const sfx = Math.random().toString(36).slice(2, 8);
const N = ["--network", "none"];

describe.skipIf(!rootEnabled)("docker's exit codes and wording", () => {
  test("a failed request is exit 1 outside run; run keeps 125", async () => {
    for (const args of [
      ["tag", `nosuch${sfx}`, "x"],
      ["history", `nosuch${sfx}`],
      ["images", "--filter", "bogus=1"],
      ["logs", "--since", "bogus", `nosuch${sfx}`],
      ["pull", "::bad::"],
    ]) {
      const r = await run(args);
      expect({ args, exitCode: r.exitCode }).toEqual({ args, exitCode: 1 });
      expect(r.stderr).not.toContain("Usage:");
    }
    const img = await run(["images", "--filter", "bogus=1"]);
    expect(img.stderr).toBe("berth: Invalid filter 'bogus'\n");
    expect((await run(["images", "--filter", "dangling=maybe"])).stderr).toBe("berth: Invalid filter 'dangling=[maybe]'\n");
    expect((await run(["ps", "--filter", "status=bogus"])).stderr).toBe("berth: Invalid filter 'status=bogus'\n");
    // flag values stay 125, as docker's flag errors
    expect((await run(["stop", "-t", "x", "nosuch"])).exitCode).toBe(125);
  });

  test("--pull=never: No such image with no 'Unable to find' line; create 1, run 125", async () => {
    const c = await run(["create", "--pull=never", `nosuch${sfx}`]);
    expect(c).toMatchObject({ exitCode: 1, stdout: "", stderr: `berth: No such image: nosuch${sfx}:latest\n` });
    const r = await run(["run", "--rm", "--pull=never", `nosuch${sfx}`]);
    expect(r).toMatchObject({ exitCode: 125, stdout: "", stderr: `berth: No such image: nosuch${sfx}:latest\n` });
    // the default (missing) pulls: from a closed loopback port here, so the pull fails at once
    const dflt = await run(["create", `127.0.0.1:9/nosuch${sfx}`]);
    expect(dflt.exitCode).toBe(1);
    expect(dflt.stderr).toStartWith(`Unable to find image '127.0.0.1:9/nosuch${sfx}:latest' locally\n`);
    const rr = await run(["run", "--rm", `127.0.0.1:9/nosuch${sfx}`]);
    expect(rr.exitCode).toBe(125);
    expect(rr.stderr).toContain("ECONNREFUSED");
    // name problems are the daemon's: 1 for create, 125 for run
    expect((await run(["create", ...N, "--name", "bad name", "busybox"])).exitCode).toBe(1);
    expect((await run(["run", "--rm", ...N, "--name", "bad name", "busybox"])).exitCode).toBe(125);
  });

  test("rm -f of a missing container reports it and succeeds; rm without -f fails", async () => {
    const name = `gone-${sfx}`;
    ok(await run(["create", ...N, "--name", name, "busybox"]));
    const r = await run(["rm", "-f", `nosuch${sfx}`, name]);
    expect(r).toMatchObject({ exitCode: 0, stdout: `${name}\n`, stderr: `berth: No such container: nosuch${sfx}\n` });
    expect((await run(["rm", `nosuch${sfx}`])).exitCode).toBe(1);
    expect(await run(["start", `nosuch${sfx}`])).toMatchObject({
      exitCode: 1,
      stderr: `berth: No such container: nosuch${sfx}\nError: failed to start containers: nosuch${sfx}\n`,
    });
    expect(await run(["rmi", "-f", `nosuch${sfx}`])).toMatchObject({ exitCode: 0, stderr: `berth: No such image: nosuch${sfx}:latest\n` });
    expect((await run(["rmi", `nosuch${sfx}`])).exitCode).toBe(1);
  });

  test("export and cp to a reader that goes away: exit 141, nothing on stderr (docker's SIGPIPE)", async () => {
    const name = `pipe-${sfx}`;
    ok(await run(["create", ...N, "--name", name, "busybox"]));
    for (const args of [
      ["export", name],
      ["cp", `${name}:/bin`, "-"],
    ]) {
      const p = Bun.spawn(berthArgv(["--root", root, ...args]), { stdout: "pipe", stderr: "pipe", env: { ...process.env, NO_COLOR: "1" } });
      const reader = p.stdout.getReader();
      await reader.read();
      await reader.cancel();
      const code = await p.exited;
      expect({ args, code, stderr: await new Response(p.stderr).text() }).toEqual({ args, code: 141, stderr: "" });
    }
    ok(await run(["rm", name]));
  });

  test("run … | head: the reader goes away, berth exits 141 with nothing on stderr; --rm still removes the container, without it the container is left exited", async () => {
    const name = `headless-${sfx}`;
    const reading = async (args: string[], stream: "stdout" | "stderr") => {
      const p = Bun.spawn(berthArgv(["--root", root, ...args]), { stdout: "pipe", stderr: "pipe", env: { ...process.env, NO_COLOR: "1" } });
      const reader = (stream === "stdout" ? p.stdout : p.stderr).getReader();
      const first = await reader.read();
      await reader.cancel();
      const code = await p.exited;
      const err = stream === "stdout" ? await new Response(p.stderr).text() : "";
      return { got: new TextDecoder().decode(first.value).split("\n")[0], code, stderr: err };
    };
    // a container that writes for ever (yes) and one that would end on its own (seq), on stdout, on
    // stderr and through a tty
    const L = ["--label", name];
    for (const [args, stream] of [
      [["run", "--rm", ...L, ...N, "busybox", "yes"], "stdout"],
      [["run", "--rm", ...L, ...N, "busybox", "seq", "1", "1000000"], "stdout"],
      [["run", "--rm", ...L, ...N, "busybox", "sh", "-c", "yes >&2"], "stderr"],
      [["run", "--rm", "-t", ...L, ...N, "busybox", "yes"], "stdout"],
    ] as const) {
      const r = await reading([...args], stream);
      expect({ args, ...r, got: r.got.slice(0, 1) }).toEqual({ args, got: args.includes("seq") ? "1" : "y", code: 141, stderr: "" });
    }
    expect((await run(["ps", "-aq", "--filter", `label=${name}`])).stdout).toBe("");
    const kept = await reading(["run", "--name", name, ...N, "busybox", "yes"], "stdout");
    expect(kept).toMatchObject({ code: 141, stderr: "" });
    // killed when its output had nowhere to go, as a process writing to the pipe itself dies of SIGPIPE
    expect((await run(["inspect", "--format", "{{.State.Status}} {{.State.ExitCode}} {{.State.Error}}", name])).stdout).toBe("exited 137 \n");
    ok(await run(["rm", name]));
    // with a restart policy the container is not berth's to end: docker's daemon keeps it going, and
    // here the next command finds it and restarts it under a monitor
    const always = `${name}-always`;
    expect(await reading(["run", "--name", always, "--restart=always", ...N, "busybox", "yes"], "stdout")).toMatchObject({ code: 141, stderr: "" });
    let status = "";
    for (let i = 0; i < 50 && status !== "running"; i++, await Bun.sleep(100))
      status = (await run(["inspect", "--format", "{{.State.Status}}", always])).stdout.trim();
    expect(status).toBe("running");
    ok(await run(["rm", "-f", always]));
  });

  test("container processes start with default signal dispositions, whatever berth's caller ignored", async () => {
    // a caller that ignores SIGINT, SIGHUP and SIGPIPE (a background job, nohup, a pipeline's writer):
    // dockerd's containers never inherit that, and `cat big | head` in one must not print EPIPE errors
    const name = `sig-${sfx}`;
    const ignoring = async (args: string[]) => {
      const p = Bun.spawn(["sh", "-c", 'trap "" INT HUP PIPE; exec "$@"', "sh", ...berthArgv(["--root", root, ...args])], { stdout: "pipe", stderr: "pipe" });
      const [out, err, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
      return { stdout: out, stderr: err, exitCode: code };
    };
    // grep itself reads its status (a shell in between would set its own: ash ignores SIGQUIT)
    const sigs = ["grep", "-E", "^Sig(Ign|Blk)", "/proc/self/status"];
    expect(await ignoring(["run", "--rm", ...N, "busybox", ...sigs])).toMatchObject({
      exitCode: 0,
      stdout: "SigBlk:\t0000000000000000\nSigIgn:\t0000000000000000\n",
    });
    ok(await ignoring(["run", "-d", ...N, "--name", name, "busybox", "sleep", "300"]));
    expect((await ignoring(["exec", name, ...sigs])).stdout).toBe("SigBlk:\t0000000000000000\nSigIgn:\t0000000000000000\n");
    // SIGPIPE's default: the writer dies quietly when the reader goes
    expect(await run(["exec", name, "sh", "-c", "yes | head -c 3; echo; cat /dev/zero | head -c 1 >/dev/null"])).toMatchObject({
      stdout: "y\ny\n",
      stderr: "",
    });
    ok(await run(["rm", "-f", name]));
  });

  test("exec: a process that cannot be set up is 126; a stopped container 1", async () => {
    const name = `ex-${sfx}`;
    ok(await run(["run", "-d", ...N, "--name", name, "busybox", "sleep", "300"]));
    const u = await run(["exec", "-u", "nosuch", name, "true"]);
    expect(u).toMatchObject({ exitCode: 126 });
    expect(u.stderr).toContain("unable to find user nosuch: no matching entries in passwd file");
    expect((await run(["exec", "-w", "/nonexistent", name, "pwd"])).exitCode).toBe(126);
    expect(await run(["exec", "--env-file", `/nonexistent-${sfx}`, name, "true"])).toMatchObject({
      exitCode: 1,
      stderr: `berth: open /nonexistent-${sfx}: no such file or directory\n`,
    });
    ok(await run(["rm", "-f", name]));
  });

  test("run -it without a terminal: exit 1 before anything is created", async () => {
    const before = (await run(["ps", "-aq"])).stdout;
    const r = await run(["run", "--rm", "-it", ...N, "busybox", "true"]);
    expect(r).toMatchObject({ exitCode: 1, stderr: "berth: the input device is not a TTY\n" });
    expect((await run(["ps", "-aq"])).stdout).toBe(before);
  });

  test("top with ps options; ps --filter before/since/network", async () => {
    const a = `fa-${sfx}`,
      b = `fb-${sfx}`;
    ok(await run(["run", "-d", ...N, "--name", a, "busybox", "sleep", "300"]));
    ok(await run(["create", ...N, "--name", b, "busybox"]));
    const t = await run(["top", a, "-o", "pid,comm"]);
    ok(t);
    const lines = t.stdout.trim().split("\n");
    expect(lines[0]).toMatch(/^PID {17}COMMAND$/);
    expect(lines.slice(1).map((l) => l.trim().split(/\s+/)[1])).toEqual(["sleep"]);
    expect((await run(["top", a, "-o", "comm"])).stderr).toBe("berth: Couldn't find PID field in ps output\n");
    const names = async (f: string) => (await run(["ps", "-a", "--filter", f, "--filter", `name=-${sfx}`, "--format", "{{.Names}}"])).stdout;
    expect(await names(`since=${a}`)).toBe(`${b}\n`);
    expect(await names(`before=${b}`)).toContain(`${a}\n`);
    expect(await names(`before=${b}`)).not.toContain(b);
    expect(await names("network=none")).toContain(`${b}\n`);
    ok(await run(["rm", "-f", a, b]));
  });

  test("diff leaves out the mount points the engine made (docker's init layer)", async () => {
    const name = `df-${sfx}`;
    ok(await run(["run", ...N, "--name", name, "busybox", "true"]));
    expect((await run(["diff", name])).stdout).toBe("");
    ok(await run(["start", "-a", name]));
    const b = `df2-${sfx}`;
    ok(await run(["run", ...N, "--name", b, "busybox", "sh", "-c", "echo x > /etc/foo"]));
    expect((await run(["diff", b])).stdout.split("\n").filter(Boolean).sort()).toEqual(["A /etc/foo", "C /etc"]);
    ok(await run(["rm", name, b]));
  });

  test("cp out to a directory that does not exist: docker's error, nothing created on the host", async () => {
    const name = `cp-${sfx}`;
    ok(await run(["create", ...N, "--name", name, "busybox"]));
    const dir = `/tmp/berth-test-nodir-${sfx}`;
    const r = await run(["cp", `${name}:/etc/passwd`, `${dir}/x`]);
    expect(r).toMatchObject({ exitCode: 1, stderr: `berth: invalid output path: directory "${dir}" does not exist\n` });
    expect(existsSync(dir)).toBe(false);
    ok(await run(["rm", name]));
  });

  test("--label-file (comments skipped, --label wins) and --cpu-quota/--cpu-period", async () => {
    const name = `lf-${sfx}`;
    const f = `${root}/labels-${sfx}`;
    writeFileSync(f, "# a comment\nteam=core\n\nflag=file\n");
    ok(await run(["create", ...N, "--name", name, "--label-file", f, "--label", "flag=cli", "--cpu-quota", "50000", "busybox"]));
    // the CFS pair is kept as given (it was turned into NanoCpus, so CpuQuota read 0)
    expect(
      (await run(["inspect", "-f", "{{json .Config.Labels}} {{.HostConfig.NanoCpus}} {{.HostConfig.CpuQuota}} {{.HostConfig.CpuPeriod}}", name])).stdout,
    ).toBe('{"team":"core","flag":"cli"} 0 50000 0\n');
    const both = await run(["create", ...N, "--cpus", "1", "--cpu-quota", "50000", "busybox"]);
    expect(both.stderr).toContain("Conflicting options: Nano CPUs and CPU Quota cannot both be set");
    ok(await run(["rm", name]));
    // the cgroup holds them as given, seen from inside; update changes both; --cpus then is refused as dockerd does
    const cfs = "cat /sys/fs/cgroup/cpu/cpu.cfs_quota_us /sys/fs/cgroup/cpu/cpu.cfs_period_us 2>/dev/null || cat /sys/fs/cgroup/cpu.max";
    const v1 = (q: number, p: number) => [`${q}\n${p}\n`, `${q} ${p}\n`];
    const r = await run(["run", "--rm", ...N, "--cpu-quota", "50000", "--cpu-period", "200000", "busybox", "sh", "-c", cfs]);
    expect(v1(50000, 200000)).toContain(r.stdout);
    const cq = `cq-${sfx}`;
    ok(await run(["run", "-d", ...N, "--name", cq, "--cpu-quota", "50000", "busybox", "sleep", "300"]));
    ok(await run(["update", "--cpu-quota", "30000", "--cpu-period", "50000", cq]));
    expect(v1(30000, 50000)).toContain((await run(["exec", cq, "sh", "-c", cfs])).stdout);
    expect((await run(["inspect", "-f", "{{.HostConfig.NanoCpus}} {{.HostConfig.CpuQuota}} {{.HostConfig.CpuPeriod}}", cq])).stdout).toBe("0 30000 50000\n");
    const nano = await run(["update", "--cpus", "1", cq]);
    expect(nano).toMatchObject({ exitCode: 1 });
    expect(nano.stderr).toContain("Conflicting options: Nano CPUs cannot be updated as CPU Period has already been set");
    ok(await run(["rm", "-f", cq]));
  });

  test("an existing --cidfile is refused before anything is created; save/export to a missing directory", async () => {
    const f = `${root}/cid-${sfx}`;
    writeFileSync(f, "x");
    const before = (await run(["ps", "-aq"])).stdout;
    const r = await run(["create", ...N, "--cidfile", f, "busybox"]);
    expect(r).toMatchObject({ exitCode: 125, stderr: `berth: container ID file found, make sure the other container isn't running or delete ${f}\n` });
    expect((await run(["ps", "-aq"])).stdout).toBe(before);
    const dir = `/tmp/berth-test-nodir-${sfx}`;
    expect(await run(["save", "-o", `${dir}/x.tar`, "busybox"])).toMatchObject({
      exitCode: 1,
      stderr: `berth: failed to save image: invalid output path: stat ${dir}: no such file or directory\n`,
    });
  });

  test("wrong argument counts in docker's words", async () => {
    const t = await run(["tag", "busybox"]);
    expect(t).toMatchObject({ exitCode: 1 });
    expect(t.stderr).toBe(
      "berth: 'berth tag' requires 2 arguments\n\nUsage:  berth tag SOURCE_IMAGE[:TAG] TARGET_IMAGE[:TAG]\n\nRun 'berth tag --help' for more information\n",
    );
    expect((await run(["rm"])).stderr).toContain(
      "requires at least 1 argument\n\nUsage:  berth rm [OPTIONS] CONTAINER [CONTAINER...]\n\nSee 'berth rm --help'",
    );
  });

  test("logs --details: a space before each line (no log attributes)", async () => {
    const name = `lg-${sfx}`;
    ok(await run(["run", ...N, "--name", name, "busybox", "echo", "hi"]));
    expect((await run(["logs", "--details", name])).stdout).toBe(" hi\n");
    ok(await run(["rm", name]));
  });

  test("commit with a bad name writes no image", async () => {
    const name = `cm-${sfx}`;
    ok(await run(["create", ...N, "--name", name, "busybox"]));
    const before = (await run(["images", "-aq"])).stdout;
    const r = await run(["commit", name, "BAD:Tag"]);
    expect(r).toMatchObject({ exitCode: 1, stderr: "berth: invalid reference format: repository name (library/BAD) must be lowercase\n" });
    expect((await run(["images", "-aq"])).stdout).toBe(before);
    ok(await run(["rm", name]));
  });
});

describe.skipIf(!rootEnabled)("ps, images, history and inspect output", () => {
  test("ps: COMMAND quotes arguments with spaces; --format with if, .Label, table, json", async () => {
    const name = `ps-${sfx}`;
    expect((await run(["run", ...N, "--name", name, "--label", "app=web", "busybox", "sh", "-c", "exit 2"])).exitCode).toBe(2);
    const f = ["--filter", `name=${name}`];
    const t = await run(["ps", "-a", ...f, "--format", "table {{.Names}}\\t{{.Command}}\\t{{.State}}"]);
    expect(t.stdout).toBe(`NAMES${" ".repeat(Math.max(10, name.length + 3) - 5)}COMMAND            STATE\n${name}   "sh -c 'exit 2'"   exited\n`);
    const g = await run(["ps", "-a", ...f, "--format", '{{if eq .State "exited"}}{{.Names}} is down{{end}} {{.Label "app"}} {{.Labels}}']);
    expect(g.stdout).toBe(`${name} is down web app=web\n`);
    const j = JSON.parse((await run(["ps", "-a", ...f, "--format", "{{json .}}"])).stdout);
    expect(Object.keys(j)).toEqual([...Object.keys(j)].sort());
    expect(j).toMatchObject({ Names: name, State: "exited", Command: `"sh -c 'exit 2'"`, Labels: "app=web" });
    // a field the row does not have is an error, as on docker's Go structs
    const typo = await run(["ps", "-a", ...f, "--format", "{{.Nmae}}"]);
    expect(typo).toMatchObject({ exitCode: 1, stdout: "" });
    expect(typo.stderr).toContain("can't evaluate field Nmae in type *formatter.ContainerContext");
    const bad = await run(["ps", "--format", "{{nosuchfunc .ID}}"]);
    expect(bad).toMatchObject({ exitCode: 64, stdout: "" });
    expect(bad.stderr).toContain('function "nosuchfunc" not defined');
    ok(await run(["rm", name]));
  });

  test("images: --format templates and table, -q one line per tag", async () => {
    const tag = `compat${sfx}`;
    ok(await run(["tag", "busybox", `${tag}:a`]));
    ok(await run(["tag", "busybox", `${tag}:b`]));
    const id = (await run(["images", "-q", "busybox"])).stdout.trim();
    expect((await run(["images", "-q", tag])).stdout).toBe(`${id}\n${id}\n`);
    expect((await run(["images", "--format", "{{.Repository}}:{{.Tag}} {{.ID}}", tag])).stdout).toBe(`${tag}:a ${id}\n${tag}:b ${id}\n`);
    const t = (await run(["images", "--format", "table {{.Repository}}\\t{{.Tag}}", tag])).stdout.split("\n");
    expect(t[0]).toMatch(/^REPOSITORY\s+TAG$/);
    expect(t[1]).toMatch(new RegExp(`^${tag}\\s+a$`));
    const j = JSON.parse((await run(["images", "--format", "json", `${tag}:a`])).stdout);
    expect(j).toMatchObject({ Repository: tag, Tag: "a", ID: id });
    expect(j.CreatedAt).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d \+0000 UTC$/);
    // reference filters are alternatives; before/since compare creation with the named image
    const either = await run(["images", "--format", "{{.Repository}}:{{.Tag}}", "--filter", `reference=${tag}:a`, "--filter", `reference=${tag}:b`]);
    expect(either.stdout).toBe(`${tag}:a\n${tag}:b\n`);
    expect((await run(["images", "-q", "--filter", "before=busybox", "--filter", `reference=${tag}*`])).stdout).toBe("");
    expect((await run(["images", "--filter", "since=nosuch-image"])).stderr).toBe("berth: No such image: nosuch-image:latest\n");
    ok(await run(["rmi", `${tag}:a`, `${tag}:b`]));
  });

  test("history --format", async () => {
    const h = await run(["history", "--format", "{{.ID}}|{{.CreatedBy}}", "busybox"]);
    ok(h);
    expect(h.stdout).toMatch(/^[0-9a-f]{12}\|/);
    const j = JSON.parse((await run(["history", "--format", "{{json .}}", "busybox"])).stdout.split("\n")[0]!);
    expect(Object.keys(j)).toEqual(["Comment", "CreatedAt", "CreatedBy", "CreatedSince", "ID", "Size"]);
  });

  test("inspect: templates with range/index/printf, \\n kept literally, --format json is one array", async () => {
    const name = `in-${sfx}`;
    ok(await run(["create", ...N, "--name", name, "--label", "a=1", "--label", "b=2", "busybox", "sleep", "5"]));
    const r = await run([
      "inspect",
      "-f",
      '{{range $k, $v := .Config.Labels}}{{$k}}={{$v}};{{end}} {{join .Config.Cmd ","}} {{printf "%s:%d" .Name .State.ExitCode}}\\n',
      name,
    ]);
    expect(r.stdout).toBe(`a=1;b=2; sleep,5 /${name}:0\\n\n`);
    const arr = JSON.parse((await run(["inspect", "--format", "json", name])).stdout);
    expect(Array.isArray(arr) && arr.length === 1 && arr[0].Name === `/${name}`).toBe(true);
    const img = JSON.parse((await run(["image", "inspect", "--format", "json", "busybox"])).stdout);
    expect(Array.isArray(img)).toBe(true);
    const sz = (await run(["inspect", "-s", "-f", "{{.SizeRw}} {{.SizeRootFs}}", name])).stdout.trim().split(" ").map(Number);
    expect(sz[1]!).toBeGreaterThan(sz[0]!);
    expect((await run(["inspect", "-f", "{{.Name}} {{.Driver}}", "none"])).stdout).toBe("none null\n");
    const t = await run(["inspect", "--type", "bogus", name]);
    expect(t).toMatchObject({ exitCode: 1, stdout: "" });
    expect(t.stderr).toStartWith('berth: unknown type: "bogus": must be one of');
    const bad = await run(["inspect", "-f", "{{.Name", name]);
    expect(bad).toMatchObject({ exitCode: 64, stdout: "" });
    ok(await run(["rm", name]));
  });
});

describe("help", () => {
  test("a group's --help lists each subcommand once, sorted, with docker's descriptions", async () => {
    const r = await berth(["image", "--help"]);
    expect(r.exitCode).toBe(0);
    const cmds = r.stdout.split("Commands:\n")[1]!.split("\n\n")[0]!.split("\n");
    expect(cmds).toContain("  ls          List images");
    expect(cmds).toContain("  rm          Remove one or more images");
    expect(cmds.some((l) => /^ {2}(list|remove)\b/.test(l))).toBe(false);
    const c = (await berth(["container", "--help"])).stdout;
    for (const name of ["ls", "port", "prune", "inspect", "wait"]) expect(c).toMatch(new RegExp(`^  ${name} +\\S`, "m"));
    const names = cmds.map((l) => l.trim().split(/\s+/)[0]!);
    expect(names).toEqual([...names].sort());
  });

  test("options are sorted by long name", async () => {
    const r = await berth(["images", "--help"]);
    const longs = [...r.stdout.matchAll(/^ {2}(?:-\w, | {4})--([\w-]+)/gm)].map((m) => m[1]!);
    expect(longs.length).toBeGreaterThan(4);
    expect(longs).toEqual([...longs].sort());
  });
});

describe.skipIf(!rootEnabled || !haveRegistryTools)("run pulls a missing image (docker's --pull=missing)", () => {
  test("from a registry on 127.0.0.1: 'Unable to find image', pull progress on stderr, then the container", async () => {
    const reg = new Registry(`${root}/registry-${sfx}`);
    await reg.start();
    try {
      const ref = `${reg.host}/compat/bb:${sfx}`;
      ok(await run(["tag", "busybox", ref]));
      ok(await run(["push", ref]));
      ok(await run(["rmi", ref]));
      const r = await run(["run", "--rm", ...N, ref, "echo", "pulled"]);
      expect(r).toMatchObject({ exitCode: 0, stdout: "pulled\n" });
      expect(r.stderr).toStartWith(`Unable to find image '${ref}' locally\n`);
      expect(r.stderr).toContain(`Status: Downloaded newer image for ${ref}`);
      // present now: no pull, nothing on stderr
      expect(await run(["run", "--rm", ...N, ref, "echo", "again"])).toMatchObject({ exitCode: 0, stdout: "again\n", stderr: "" });
      // --pull=always pulls even so
      const a = await run(["create", "--pull=always", ...N, ref]);
      ok(a);
      expect(a.stderr).toContain("Pulling from compat/bb");
      ok(await run(["rm", a.stdout.trim()]));
      ok(await run(["rmi", ref]));
    } finally {
      await reg.stop();
    }
  });
});
