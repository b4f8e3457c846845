/** Shared by the runtime-*.test.ts files: a busybox rootfs (Debian busybox-static) in a temp dir, a
 * ContainerSpec builder, and a runner that collects a container's output through pipes. */
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, rmdirSync, symlinkSync, writeFileSync } from "node:fs";
import { spawnSync } from "bun";
import {
  createContainer,
  DEFAULT_CAPABILITIES,
  DEFAULT_MASKED_PATHS,
  DEFAULT_READONLY_PATHS,
  removeCgroup,
  type CreateHooks,
} from "../../src/runtime/index.ts";
import type { ContainerSpec, ExitInfo, ProcessSpec } from "../../src/runtime/types.ts";
import { pipe2, closeFd } from "../../src/ffi/container-io.ts";

export const BUSYBOX = "/bin/busybox";

export function makeRootfs(area: string): string {
  const root = mkdtempSync(`/tmp/berth-test-${area}-`);
  const rootfs = `${root}/rootfs`;
  for (const d of ["bin", "etc", "proc", "sys", "dev", "tmp", "root", "home/nobody"]) mkdirSync(`${rootfs}/${d}`, { recursive: true });
  chmodSync(`${rootfs}/tmp`, 0o1777);
  copyFileSync(BUSYBOX, `${rootfs}/bin/busybox`);
  chmodSync(`${rootfs}/bin/busybox`, 0o755);
  const applets = spawnSync([BUSYBOX, "--list"]).stdout.toString().split("\n").filter(Boolean);
  for (const a of applets) if (a !== "busybox" && !existsSync(`${rootfs}/bin/${a}`)) symlinkSync("busybox", `${rootfs}/bin/${a}`);
  writeFileSync(`${rootfs}/etc/passwd`, "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/home/nobody:/bin/sh\n");
  writeFileSync(`${rootfs}/etc/group`, "root:x:0:\ntty:x:5:\nnobody:x:65534:\n");
  return root;
}

let seq = 0;
export function testSpec(root: string, args: string[], patch: Partial<ContainerSpec> = {}, proc: Partial<ProcessSpec> = {}): ContainerSpec {
  const id = `berth-test-rt-${process.pid}-${++seq}`;
  return {
    id,
    hostname: "rt-test",
    rootfs: [{ type: "bind", source: `${root}/rootfs`, target: "/", options: ["rbind"] }],
    readonlyRootfs: false,
    mounts: [],
    process: {
      args,
      env: ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOME=/root"],
      cwd: "/",
      uid: 0,
      gid: 0,
      additionalGids: [],
      terminal: false,
      capabilities: DEFAULT_CAPABILITIES,
      noNewPrivileges: false,
      init: false,
      ...proc,
    },
    namespaces: { net: "new", ipc: "new", uts: "new", pid: "new" },
    cgroupPath: `berth-test/${id}`,
    resources: {},
    privileged: false,
    maskedPaths: DEFAULT_MASKED_PATHS,
    readonlyPaths: DEFAULT_READONLY_PATHS,
    ...patch,
  };
}

/** run to completion with stdout/stderr on pipes; removes the container's cgroup afterwards */
export async function runCollect(spec: ContainerSpec, hooks: CreateHooks = {}): Promise<ExitInfo & { stdout: string; stderr: string }> {
  const [outR, outW] = pipe2();
  const [errR, errW] = pipe2();
  const [inR, inW] = pipe2();
  closeFd(inW);
  try {
    const c = await createContainer(spec, { stdin: inR, stdout: outW, stderr: errW }, hooks).finally(() => {
      closeFd(outW);
      closeFd(errW);
      closeFd(inR);
    });
    const [stdout, stderr] = await Promise.all([Bun.file(outR).text(), Bun.file(errR).text()]);
    const exit = await c.wait();
    return { ...exit, stdout, stderr };
  } finally {
    closeFd(outR);
    closeFd(errR);
    removeCgroup(spec.cgroupPath);
  }
}

/** nothing left behind: no berth-test cgroup dirs, no mounts under `root` */
export function leaks(root: string): string[] {
  const out: string[] = [];
  for (const h of readdirSync("/sys/fs/cgroup")) {
    const d = `/sys/fs/cgroup/${h}/berth-test`;
    if (existsSync(d))
      for (const e of readdirSync(d, { withFileTypes: true })) if (e.isDirectory() && e.name.includes(`-${process.pid}-`)) out.push(`${d}/${e.name}`);
  }
  for (const line of readFileSync("/proc/self/mountinfo", "utf8").split("\n")) if (line.includes(root)) out.push(line);
  return out;
}

export function removeRoot(root: string): void {
  rmSync(root, { recursive: true, force: true });
  // the shared parent cgroup, once no test file uses it any more
  for (const h of readdirSync("/sys/fs/cgroup"))
    try {
      rmdirSync(`/sys/fs/cgroup/${h}/berth-test`);
    } catch {}
}
