/**
 * The start path of `run` (issue 13): the compiled binary loads the shim that `bun run build` compiled
 * and embedded (no TinyCC compile at run time, nothing written to disk); the sources fall back to TinyCC.
 * The phase trace (BERTH_TRACE=1) says which one was used.
 */
import { describe, expect, test } from "bun:test";
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { busyboxRoot, repo, useDist } from "../helpers/cli.ts";
import { rootEnabled } from "../helpers/root.ts";
import { prebuiltShimName } from "../../src/runtime/shim.ts";

const { run } = busyboxRoot("start");

describe.skipIf(!useDist)("prebuilt shim", () => {
  test("the build compiled shim.c into an object named after the source's hash", () => {
    const dir = join(repo, "dist/native");
    expect(existsSync(join(dir, `${prebuiltShimName()}.so`))).toBe(true);
  });
});

describe.skipIf(!rootEnabled)("run's start path", () => {
  test(`the shim comes from ${useDist ? "the embedded object" : "TinyCC"} and nothing is left in TMPDIR`, async () => {
    const tmp = readdirSync("/tmp").filter((n) => n.startsWith("berth-shim-") || n.startsWith(".bun-"));
    const r = await run(["run", "--rm", "--network", "none", "busybox", "echo", "hi"], { env: { BERTH_TRACE: "1" } });
    expect(r).toMatchObject({ exitCode: 0, stdout: "hi\n" });
    expect(r.stderr).toContain(`runtime: shim loaded (${useDist ? "embedded" : "tinycc"})`);
    expect(readdirSync("/tmp").filter((n) => n.startsWith("berth-shim-") || n.startsWith(".bun-"))).toEqual(tmp);
  });

  test("with nothing to wire between clone and exec, the child borrows berth's memory (vfork); its process starts clean", async () => {
    // what a container's process must see however it was cloned: no signal blocked, ignored or caught
    // (not Bun's SIGPIPE/SIGXFSZ), its own cgroups (cgroupns: every line ends in "/")
    const sh = "grep -E '^Sig(Blk|Ign|Cgt)' /proc/self/status; cut -d: -f3 /proc/self/cgroup | sort -u; hostname";
    for (const init of [[], ["--init"]]) {
      const r = await run(["run", "--rm", "--network", "none", ...init, "--hostname", "box", "busybox", "sh", "-c", sh], { env: { BERTH_TRACE: "1" } });
      expect(r).toMatchObject({ exitCode: 0, stdout: "SigBlk:\t0000000000000000\nSigIgn:\t0000000000000000\nSigCgt:\t0000000000000000\n/\nbox\n" });
      // --init's reaper never execs: it cannot borrow the memory of a berth that must go on
      expect(r.stderr).toContain(init.length ? "runtime: cloned\n" : "runtime: cloned, exec'd (vfork)");
    }
    // on the default bridge the child borrows the memory from a thread of the shim's, so this process
    // wires the veth meanwhile; the container sees its address and route
    const br = await run(["run", "--rm", "busybox", "sh", "-c", "ip -4 -o addr show eth0 | wc -l; ip route | grep -c '^default via'"], {
      env: { BERTH_TRACE: "1" },
    });
    expect(br).toMatchObject({ exitCode: 0, stdout: "1\n1\n" });
    expect(br.stderr).toContain("runtime: cloned (vfork, thread)");
    // a failed exec and a failed set-up step still come back as docker's errors
    const bad = await run(["run", "--rm", "--network", "none", "busybox", "/no/such"]);
    expect(bad.exitCode).toBe(127);
    expect(bad.stderr).toContain('exec: "/no/such": stat /no/such: no such file or directory');
    const cwd = await run(["run", "--rm", "--network", "none", "-w", "/etc/passwd", "busybox", "true"]);
    expect(cwd).toMatchObject({ exitCode: 125, stderr: expect.stringContaining("chdir: Not a directory") });
    const cwdBr = await run(["run", "--rm", "-w", "/etc/passwd", "busybox", "true"]);
    expect(cwdBr).toMatchObject({ exitCode: 125, stderr: expect.stringContaining("chdir: Not a directory") });
  });
});
