/**
 * The v2 writers against a real cgroup2 tree. This host is hybrid (v1 controllers, cgroup2 without
 * them), so the tree is mounted privately in a temp dir: it is the one unified hierarchy, with no
 * resource controllers, which still exercises cgroup.procs, cgroup.freeze/cgroup.events and rmdir.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readFileSync, rmSync, rmdirSync } from "node:fs";
import { spawn } from "bun";
import { rootEnabled } from "../helpers/root.ts";
import { createCgroup, joinCgroup, cgroupPids, freeze, thaw, removeCgroup, stats, oomKilled, type CgroupLayout } from "../../src/runtime/index.ts";
import { mount, umount2, MNT_DETACH } from "../../src/ffi/fs.ts";

let dir = "";
let layout: CgroupLayout;
beforeAll(() => {
  if (!rootEnabled) return;
  dir = mkdtempSync("/tmp/berth-test-runtime-cg2-");
  mount("cgroup2", dir, "cgroup2", 0);
  const controllers = readFileSync(`${dir}/cgroup.controllers`, "utf8").trim().split(/\s+/).filter(Boolean);
  layout = { kind: "v2", hierarchies: [{ dir, type: "cgroup2", controllers }] };
});
afterAll(() => {
  if (!dir) return;
  umount2(dir, MNT_DETACH);
  rmSync(dir, { recursive: true, force: true });
});

describe.skipIf(!rootEnabled)("runtime: cgroup v2 tree", () => {
  test("create, join, freeze/thaw, pids, remove", async () => {
    const path = `berth-test/v2-${process.pid}`;
    createCgroup(path, { pidsLimit: 10, memory: 1 << 26 }, { layout }); // limits skipped where no controller
    const child = spawn(["sleep", "30"]);
    try {
      joinCgroup(path, child.pid, layout);
      expect(cgroupPids(path, layout)).toEqual([child.pid]);
      expect(readFileSync(`/proc/${child.pid}/cgroup`, "utf8")).toContain(`0::/${path}\n`);
      freeze(path, layout);
      expect(readFileSync(`${dir}/${path}/cgroup.events`, "utf8")).toContain("frozen 1");
      expect(readFileSync(`/proc/${child.pid}/status`, "utf8")).toMatch(/State:\s+S/);
      thaw(path, layout);
      expect(readFileSync(`${dir}/${path}/cgroup.events`, "utf8")).toContain("frozen 0");
      expect(stats(path, layout).memoryUsage).toBeGreaterThanOrEqual(0);
      expect(oomKilled(path, layout)).toBe(false);
      removeCgroup(path, layout); // kills the sleep, then rmdir
      await child.exited;
      expect(child.signalCode).toBe("SIGKILL");
      expect(existsSync(`${dir}/${path}`)).toBe(false);
    } finally {
      child.kill(9);
      try {
        removeCgroup(path, layout);
      } catch {}
      try {
        rmdirSync(`${dir}/berth-test`);
      } catch {} // shared with other runtime tests: only if empty
    }
  });

  test("devices: docker's list enforced by the BPF program, --privileged unrestricted", async () => {
    const probe =
      "read x; head -c1 /dev/zero >/dev/null && echo zero-ok; true </dev/loop-control 2>/dev/null && echo loop-control-opened || echo loop-control-denied";
    const inCgroup = async (path: string) => {
      const child = spawn(["sh", "-c", probe], { stdin: "pipe", stdout: "pipe" });
      try {
        joinCgroup(path, child.pid, layout); // before the shell opens anything
        child.stdin.write("go\n");
        await child.stdin.end();
        return await new Response(child.stdout).text();
      } finally {
        child.kill(9);
        await child.exited;
      }
    };
    const base = `berth-test/dev-${process.pid}`;
    try {
      createCgroup(`${base}/default`, {}, { layout });
      createCgroup(`${base}/privileged`, {}, { layout, privileged: true });
      expect(await inCgroup(`${base}/default`)).toBe("zero-ok\nloop-control-denied\n");
      expect(await inCgroup(`${base}/privileged`)).toBe("zero-ok\nloop-control-opened\n");
    } finally {
      for (const c of ["default", "privileged"])
        try {
          removeCgroup(`${base}/${c}`, layout);
        } catch {}
      // removeCgroup leaves parents (as berth's own "berth" stays): this test's own level goes here
      for (const d of [base, "berth-test"])
        try {
          rmdirSync(`${dir}/${d}`);
        } catch {} // berth-test is shared with other runtime tests: only if empty
    }
  });
});
