/**
 * Peers on demand (`bun run bench --with-peers`): install Debian's docker.io, podman, crun, runc,
 * docker-registry, skopeo, hyperfine, time and umoci when missing, apply the host workarounds this VM
 * kind needs, start dockerd and a registry on 127.0.0.1 when they are not already running, and stop
 * exactly what was started here (pids recorded) when the bench ends.
 *
 * The workarounds come from the anchor measurements (docs/peers.md; the setup script is in the shared peers folder, by the
 * session that measured docker/podman/crun/runc on this VM kind); each is repeated below with its error:
 *  - no systemd, and policy-rc.d denies service starts: daemons are started by hand with `setsid -f`;
 *  - podman's root rlimits (nofile/nproc 1048576) exceed this sandbox's hard limits and CAP_SYS_RESOURCE is
 *    missing: default_ulimits in /etc/containers/containers.conf;
 *  - crun 1.8 refuses the hybrid layout while cgroup2 still holds a controller (hugetlb): that controller
 *    gets its own v1 hierarchy for the duration of the bench, and the mount is undone afterwards;
 *  - podman needs the plain-HTTP registry on 127.0.0.1:5000 marked insecure (docker treats 127/8 so already);
 *  - peers are always run with --pull=never, so nothing ever leaves the machine.
 *
 * dockerd is started with --iptables=false --ip-forward=false (override: BENCH_DOCKERD_FLAGS). The bench
 * never rewrites firewall rules, and a default dockerd would: it sets the FORWARD policy to DROP and loads
 * br_netfilter, which drops bridged traffic of other engines on this shared machine (berth's own bridge
 * tests included). A container running `true` on docker0 needs neither NAT nor forwarding, so the
 * `run --rm IMG true` figures are unaffected.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, rmdirSync, statSync, writeFileSync, copyFileSync } from "node:fs";
import { join } from "node:path";
import { log, must, runCmd, sleep, which } from "./proc.ts";

export const REGISTRY = "127.0.0.1:5000";
export const DOCKER_SOCK = "/var/run/docker.sock";

const PACKAGES = ["docker.io", "containerd", "podman", "crun", "runc", "docker-registry", "skopeo", "hyperfine", "time", "umoci", "busybox-static"];

/** What this process started or changed, so that exactly that is undone. */
export interface PeerState {
  dockerdPid?: number;
  registryPid?: number;
  mountedCgroups: string[];
  installed: string[];
  notes: string[];
}

export function newPeerState(): PeerState {
  return { mountedCgroups: [], installed: [], notes: [] };
}

/** The Debian client matches the 20.10 daemon (API 1.41) and does BuildKit builds on its own; the
 * preinstalled /usr/local/bin/docker 28 has no buildx plugin (docs/peers.md). */
export function dockerCli(): string | null {
  if (existsSync("/usr/bin/docker")) return "/usr/bin/docker";
  return which("docker");
}

export async function dockerPing(): Promise<boolean> {
  if (!existsSync(DOCKER_SOCK)) return false;
  try {
    const r = await fetch("http://localhost/_ping", { unix: DOCKER_SOCK, signal: AbortSignal.timeout(2000) } as RequestInit);
    return r.ok;
  } catch {
    return false;
  }
}

export async function registryPing(): Promise<boolean> {
  try {
    const r = await fetch(`http://${REGISTRY}/v2/`, { signal: AbortSignal.timeout(2000) });
    return r.ok;
  } catch {
    return false;
  }
}

function dpkgInstalled(pkg: string): boolean {
  const r = runCmd(["dpkg-query", "-W", "-f=${Status}", pkg]);
  return r.ok && r.stdout.includes("install ok installed");
}

export function installPeers(state: PeerState): void {
  const missing = PACKAGES.filter((p) => !dpkgInstalled(p));
  if (missing.length === 0) return;
  log(`apt-get install ${missing.join(" ")}`);
  const env = { DEBIAN_FRONTEND: "noninteractive" };
  // another apt on the shared machine may hold the dpkg lock: wait for it (docs/peers.md obstacle 1)
  const apt = ["apt-get", "-o", "DPkg::Lock::Timeout=300"];
  let r = runCmd([...apt, "install", "-y", ...missing], { env, timeoutMs: 900_000 });
  if (!r.ok) {
    runCmd([...apt, "update"], { env, timeoutMs: 600_000 });
    r = runCmd([...apt, "install", "-y", ...missing], { env, timeoutMs: 900_000 });
  }
  if (!r.ok) state.notes.push(`apt-get install failed: ${r.stderr.trim().split("\n").pop()}`);
  else state.installed.push(...missing);
}

/** Host workarounds; idempotent. */
export function applyHostFixes(state: PeerState): void {
  // (a) crun 1.8.1: "cgroups in hybrid mode not supported, drop all controllers from cgroupv2".
  //     /sys/fs/cgroup/unified lists hugetlb because that controller has no v1 mount on this VM;
  //     binding it to its own v1 hierarchy empties the cgroup2 controller list (docs/peers.md obstacle 4).
  const U = "/sys/fs/cgroup/unified/cgroup.controllers";
  if (existsSync(U) && which("crun")) {
    for (const c of readFileSync(U, "utf8").split(/\s+/).filter(Boolean)) {
      const dir = `/sys/fs/cgroup/${c}`;
      mkdirSync(dir, { recursive: true });
      if (!runCmd(["mountpoint", "-q", dir]).ok) {
        const r = runCmd(["mount", "-t", "cgroup", "-o", c, "cgroup", dir]);
        if (r.ok) {
          state.mountedCgroups.push(dir);
          log(`mounted cgroup v1 hierarchy ${dir} for crun (undone at the end)`);
        } else state.notes.push(`mount cgroup ${c}: ${r.stderr.trim()}`);
      }
    }
  }
  // (b) podman as root asks for nofile/nproc=1048576; without CAP_SYS_RESOURCE crun fails with
  //     "setrlimit `RLIMIT_NOFILE`: Operation not permitted" (docs/peers.md obstacle 3). Stay within our
  //     hard limits; podman itself was seen running with an nproc hard limit of 32768.
  if (which("podman")) {
    const lim = (flag: string) => {
      const r = runCmd(["sh", "-c", `ulimit -H${flag}`]);
      const v = r.stdout.trim();
      return v === "unlimited" || v === "" ? Infinity : Number(v);
    };
    const hn = Math.min(lim("n"), 1048576);
    const hu = Math.min(lim("u"), 32768);
    const CC = "/etc/containers/containers.conf";
    mkdirSync("/etc/containers/registries.conf.d", { recursive: true });
    const cur = existsSync(CC) ? readFileSync(CC, "utf8") : "";
    // leave a config alone that this bench or the anchors' setup.sh already wrote
    if (!cur.includes("berth bench") && !cur.includes("anchors setup.sh")) {
      if (cur) copyFileSync(CC, `${CC}.pre-berth-bench`);
      writeFileSync(
        CC,
        `# written by berth bench/peers.ts: this VM lacks CAP_SYS_RESOURCE, so podman's default root rlimits
# (nofile/nproc=1048576) make crun fail with EPERM; no systemd/journald here.
[containers]
default_ulimits = ["nofile=${hn}:${hn}", "nproc=${hu}:${hu}"]
[engine]
events_logger = "file"
cgroup_manager = "cgroupfs"
`,
      );
      log(`wrote ${CC} (podman rlimits within the sandbox's hard limits)`);
    }
    const RC = "/etc/containers/registries.conf.d/50-berth-bench.conf";
    if (!existsSync(RC) && !existsSync("/etc/containers/registries.conf.d/50-anchors.conf")) {
      writeFileSync(RC, `# written by berth bench/peers.ts: local plain-HTTP registry\n[[registry]]\nlocation = "${REGISTRY}"\ninsecure = true\n`);
    }
  }
}

/** Start dockerd and the registry when they are down; record what was started. */
export async function startDaemons(state: PeerState, workDir: string): Promise<void> {
  const run = join(workDir, "run");
  mkdirSync(run, { recursive: true });
  if (which("dockerd") && !(await dockerPing())) {
    const flags = (process.env.BENCH_DOCKERD_FLAGS ?? "--iptables=false --ip-forward=false").split(/\s+/).filter(Boolean);
    const pid = await startDockerd(flags, join(run, "dockerd.log"));
    if (pid) {
      state.dockerdPid = pid;
      log(`started dockerd (pid ${pid}, ${flags.join(" ") || "default flags"})`);
    } else state.notes.push(`dockerd did not come up; see ${join(run, "dockerd.log")}`);
  }
  if (which("docker-registry") && !(await registryPing())) {
    const cfg = join(workDir, "registry-config.yml");
    const storage = join(workDir, "registry");
    mkdirSync(storage, { recursive: true });
    // Debian's own /etc/docker/registry/config.yml listens on all interfaces; this one binds loopback only
    writeFileSync(
      cfg,
      `version: 0.1
log:
  level: warn
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: ${storage}
  delete:
    enabled: true
  cache:
    blobdescriptor: inmemory
http:
  addr: ${REGISTRY}
  secret: berth-bench-local-only
`,
    );
    const pidFile = join(run, "registry.pid");
    runCmd([
      "setsid",
      "-f",
      "sh",
      "-c",
      `echo $$ > '${pidFile}'; exec /usr/bin/docker-registry serve '${cfg}' >>'${join(run, "registry.log")}' 2>&1 </dev/null`,
    ]);
    for (let i = 0; i < 100 && !(await registryPing()); i++) await sleep(100);
    if (await registryPing()) {
      state.registryPid = Number(readFileSync(pidFile, "utf8").trim());
      log(`started docker-registry on ${REGISTRY} (pid ${state.registryPid}, storage ${storage})`);
    } else state.notes.push(`registry did not come up; see ${join(run, "registry.log")}`);
  }
}

/**
 * exec dockerd in its own session (setsid -f: killing our process group does not take it down), wait
 * until /_ping answers. Returns its pid (from /var/run/docker.pid) or 0.
 */
export async function startDockerd(flags: string[], logFile: string, timeoutMs = 60_000): Promise<number> {
  runCmd(["setsid", "-f", "sh", "-c", `exec /usr/sbin/dockerd ${flags.join(" ")} >>'${logFile}' 2>&1 </dev/null`]);
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    if (await dockerPing()) {
      try {
        return Number(readFileSync("/var/run/docker.pid", "utf8").trim());
      } catch {
        return 0;
      }
    }
    await sleep(10);
  }
  return 0;
}

export async function stopPid(pid: number, what: string, timeoutMs = 20_000): Promise<boolean> {
  try {
    process.kill(pid, "SIGTERM");
  } catch {
    return true; // already gone
  }
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    try {
      process.kill(pid, 0);
    } catch {
      return true;
    }
    await sleep(50);
  }
  log(`${what} (pid ${pid}) did not stop within ${timeoutMs} ms; sending SIGKILL`);
  try {
    process.kill(pid, "SIGKILL");
  } catch {
    /* gone */
  }
  return false;
}

/** hierarchy id of a cgroup controller in /proc/cgroups (0 = bound to cgroup2 again) */
function hierarchyOf(controller: string): number {
  const line = readFileSync("/proc/cgroups", "utf8")
    .split("\n")
    .find((l) => l.split("\t")[0] === controller);
  return line ? Number(line.split("\t")[1]) : 0;
}

/** rmdir the empty child cgroups of a v1 hierarchy, deepest first (busy ones stay: EBUSY). */
function rmdirChildren(d: string): void {
  for (const e of readdirSync(d)) {
    const p = join(d, e);
    try {
      if (!statSync(p).isDirectory()) continue;
    } catch {
      continue;
    }
    rmdirChildren(p);
    try {
      rmdirSync(p);
    } catch {
      /* busy */
    }
  }
}

/**
 * Give the controller back to cgroup2, restoring the host's layout. A v1 hierarchy that still has child
 * cgroups when unmounted lingers in the kernel (the controller stays bound to it, peers.md obstacle 4),
 * and cgroups of just-stopped containers die asynchronously; so: rmdir the children, umount, and if
 * /proc/cgroups still shows the controller bound, mount the hierarchy again and repeat for a few seconds.
 */
async function unmountCgroup(dir: string, state: PeerState): Promise<void> {
  const controller = dir.split("/").pop()!;
  for (let attempt = 0; attempt < 20; attempt++) {
    if (attempt > 0) {
      await sleep(300);
      if (runCmd(["mount", "-t", "cgroup", "-o", controller, "cgroup", dir]).ok === false) break;
    }
    rmdirChildren(dir);
    const r = runCmd(["umount", dir]);
    if (!r.ok) {
      state.notes.push(`umount ${dir}: ${r.stderr.trim()}`);
      return;
    }
    // the kernel destroys an unmounted, childless hierarchy asynchronously: give it a moment
    for (let i = 0; i < 20 && hierarchyOf(controller) !== 0; i++) await sleep(100);
    if (hierarchyOf(controller) === 0) {
      try {
        rmdirSync(dir);
      } catch {
        /* on tmpfs /sys/fs/cgroup; an empty dir is harmless */
      }
      log(`unmounted ${dir}; ${controller} is back in cgroup2`);
      return;
    }
  }
  state.notes.push(
    `${controller} is still bound to a lingering v1 hierarchy (child cgroups busy); run: mount -t cgroup -o ${controller} cgroup ${dir} && find ${dir} -mindepth 1 -depth -type d -delete; umount ${dir}`,
  );
}

/** Undo exactly what startDaemons/applyHostFixes started or mounted. Safe to call twice. */
export async function stopStarted(state: PeerState): Promise<void> {
  if (state.dockerdPid) {
    const pid = state.dockerdPid;
    state.dockerdPid = undefined;
    log(`stopping dockerd (pid ${pid}) started by the bench`);
    await stopPid(pid, "dockerd", 30_000);
  }
  if (state.registryPid) {
    const pid = state.registryPid;
    state.registryPid = undefined;
    log(`stopping docker-registry (pid ${pid}) started by the bench`);
    await stopPid(pid, "docker-registry");
  }
  for (const dir of state.mountedCgroups.splice(0)) await unmountCgroup(dir, state);
}

/** One line per peer tool, for the JSON's environment block. */
export function peerVersions(): Record<string, string> {
  const v: Record<string, string> = {};
  const first = (cmd: string[]) => {
    const r = runCmd(cmd, { timeoutMs: 10_000 });
    return r.ok ? r.stdout.trim().split("\n")[0]! : "";
  };
  const docker = dockerCli();
  if (docker) v.docker = first([docker, "version", "-f", "client {{.Client.Version}} / server {{.Server.Version}}"]) || first([docker, "--version"]);
  for (const t of ["podman", "crun", "runc", "skopeo", "tar"]) if (which(t)) v[t] = first([t, "--version"]);
  v.kernel = first(["uname", "-r"]);
  return v;
}

export { must };
