/**
 * seccomp as docker applies it, checked from inside: the default profile (filter mode in
 * /proc/self/status, namespaces and mounts refused), what CAP_SYS_ADMIN opens, unconfined, privileged,
 * a profile file of the user's, exec under the same filter; systempaths=unconfined. Root only.
 */
import { describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { type CliResult, busyboxRoot } from "../helpers/cli.ts";
import { rootEnabled } from "../helpers/root.ts";

const { run } = busyboxRoot("seccomp");
const ok = (r: CliResult) => expect(r).toMatchObject({ exitCode: 0 });
const sfx = Math.random().toString(36).slice(2, 8);
const net = ["--network", "none"];
const mode = "grep '^Seccomp:' /proc/self/status | tr -d '\\t '";

describe.skipIf(!rootEnabled)("seccomp", () => {
  test("default profile: filter mode, no new namespaces or mounts, ordinary work unaffected", async () => {
    const r = await run([
      "run",
      "--rm",
      ...net,
      "busybox",
      "sh",
      "-c",
      `${mode}; unshare -m true 2>&1; echo unshare=$?; mkdir /tmp/m; mount -t tmpfs t /tmp/m 2>/dev/null; echo mount=$?; echo hi > /tmp/f && cat /tmp/f; (sleep 0.01 &); wait; echo done`,
    ]);
    ok(r);
    expect(r.stdout).toBe("Seccomp:2\nunshare: unshare(0x20000): Operation not permitted\nunshare=1\nmount=1\nhi\ndone\n");
    // exec'd processes run under the same filter
    const name = `ex-${sfx}`;
    ok(await run(["run", "-d", ...net, "--name", name, "busybox", "sleep", "60"]));
    expect((await run(["exec", name, "sh", "-c", mode])).stdout).toBe("Seccomp:2\n");
    ok(await run(["rm", "-f", name]));
  });

  test("CAP_SYS_ADMIN opens unshare and mount; unconfined and --privileged run without a filter", async () => {
    const admin = await run([
      "run",
      "--rm",
      ...net,
      "--cap-add",
      "SYS_ADMIN",
      "busybox",
      "sh",
      "-c",
      "unshare -m true && echo unshare-ok; mkdir /tmp/m && mount -t tmpfs t /tmp/m && echo mount-ok",
    ]);
    expect(admin).toMatchObject({ exitCode: 0, stdout: "unshare-ok\nmount-ok\n" });
    expect((await run(["run", "--rm", ...net, "--security-opt", "seccomp=unconfined", "busybox", "sh", "-c", mode])).stdout).toBe("Seccomp:0\n");
    expect((await run(["run", "--rm", ...net, "--privileged", "busybox", "sh", "-c", mode])).stdout).toBe("Seccomp:0\n");
  });

  test("a profile file in docker's format; a missing file is refused; systempaths=unconfined", async () => {
    const dir = mkdtempSync("/tmp/berth-test-seccomp-");
    try {
      writeFileSync(
        `${dir}/p.json`,
        JSON.stringify({ defaultAction: "SCMP_ACT_ALLOW", syscalls: [{ names: ["mkdir", "mkdirat"], action: "SCMP_ACT_ERRNO", errnoRet: 13 }] }),
      );
      const r = await run([
        "run",
        "--rm",
        ...net,
        "--security-opt",
        `seccomp=${dir}/p.json`,
        "busybox",
        "sh",
        "-c",
        "mkdir /tmp/nope; echo rc=$?; touch /tmp/yes && echo touch-ok",
      ]);
      expect(r.stdout).toBe("rc=1\ntouch-ok\n");
      expect(r.stderr).toContain("Permission denied");
      const missing = await run(["run", "--rm", ...net, "--security-opt", `seccomp=${dir}/none.json`, "busybox", "true"]);
      expect(missing.exitCode).toBe(125);
      expect(missing.stderr).toContain(`opening seccomp profile (${dir}/none.json) failed`);
      writeFileSync(`${dir}/bad.json`, JSON.stringify({ defaultAction: "SCMP_ACT_BOGUS", syscalls: [] }));
      const bad = await run(["run", "--rm", ...net, "--security-opt", `seccomp=${dir}/bad.json`, "busybox", "true"]);
      expect(bad.exitCode).toBe(125);
      expect(bad.stderr).toContain('unknown action "SCMP_ACT_BOGUS"');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    const masked = await run(["run", "--rm", ...net, "busybox", "sh", "-c", "grep -c -e ' /proc/keys ' -e ' /proc/timer_list ' /proc/self/mounts"]);
    expect(masked.stdout).toBe("2\n");
    const open = await run([
      "run",
      "--rm",
      ...net,
      "--security-opt",
      "systempaths=unconfined",
      "busybox",
      "sh",
      "-c",
      "grep -c -e ' /proc/keys ' -e ' /proc/timer_list ' /proc/self/mounts",
    ]);
    expect(open.stdout).toBe("0\n");
  });
});
