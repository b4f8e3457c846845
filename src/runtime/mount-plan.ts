/**
 * ContainerSpec → the ordered mount operations the shim's child performs (STYLE §5: plan, then act).
 * Pure: every fact about the host (is a bind source a directory, which cgroup hierarchies exist, which
 * device nodes the host has) comes in through PlanInput.
 *
 * Order follows runc's rootfs_linux.go: make "/" private so nothing propagates back to the host, mount
 * the rootfs on a staging directory, then proc, /dev (tmpfs + bound host device nodes, since mknod may
 * be refused), devpts, shm, mqueue, sysfs, cgroups, user mounts (shallow first), masks, read-only
 * paths, pivot_root(".", ".") and the read-only rootfs remount.
 *
 * Targets are container-absolute; the shim resolves them with openat2(RESOLVE_IN_ROOT), so a symlink
 * in the image cannot redirect a mount to the host.
 */
import type { Mount } from "../oci/index.ts";
import { EngineError } from "../lib/errors.ts";
import type { ContainerSpec } from "./types.ts";
import { OP, type ShimOp } from "./shim.ts";
import { MS_BIND, MS_NODEV, MS_NOEXEC, MS_NOSUID, MS_RDONLY, MS_REC } from "../ffi/fs.ts";

const MS_STRICTATIME = 1 << 24;
const MS_RELATIME = 1 << 21;
const MS_NOATIME = 1024;

/** moby's defaults (oci/defaults.go) for engines that build the lists themselves */
export { MASKED_PATHS as DEFAULT_MASKED_PATHS, READONLY_PATHS as DEFAULT_READONLY_PATHS } from "../oci/defaults.ts";

/** nodes runc binds into every container's /dev (libcontainer/specconv AllowedDevices) */
export const DEFAULT_DEVICES = ["null", "zero", "full", "random", "urandom", "tty"];
const DEFAULT_DEVICE_NUMBERS: [string, number, number][] = [
  ["null", 1, 3],
  ["zero", 1, 5],
  ["full", 1, 7],
  ["random", 1, 8],
  ["urandom", 1, 9],
  ["tty", 5, 0],
];

export interface CgroupMount {
  /** directory under /sys/fs/cgroup ("" for a pure-v2 host) */
  name: string;
  fstype: "cgroup" | "cgroup2";
  /** mount data, e.g. "cpu" or "none,name=systemd" */
  data?: string;
  /** the hierarchy's mount point on the host (a container without a cgroup namespace gets a bind of
   * its own cgroup directory under it, as runc does) */
  hostDir?: string;
}

export interface PlanInput {
  spec: ContainerSpec;
  /** host directory the rootfs is mounted on, inside the container's private mount namespace */
  staging: string;
  /** with process.terminal: the detached devpts instance (fsmount fd) the pty slave comes from and the
   * slave's name in it (/dev/pts/0). It is attached at /dev/pts, so the container's terminal is
   * /dev/pts/0 as with docker, and the slave is bound on /dev/console (runc does the same). */
  console?: { devptsFd: number; name: string };
  cgroupMounts: CgroupMount[];
  /** the rootfs (spec.rootfs[0]) already built by the parent as a detached mount (new mount API):
   * the child only attaches it. Overlay goes this way, so a lowerdir list longer than the one page
   * mount(2) accepts still works, and a bad overlay option fails in the parent with the kernel's words. */
  rootfsFd?: number;
  /** for --privileged: host /dev nodes to bind (names relative to /dev) */
  hostDevices?: string[];
  /** whether a bind source is a directory (a file bind needs a file as its mountpoint) */
  isDirectory(hostPath: string): boolean;
}

export interface PlannedOp extends ShimOp {
  /** what failed, for the error message: `mount "proc" on "/proc"` */
  what: string;
}

const FLAG_OPTIONS: Record<string, [set: number, clear: number]> = {
  ro: [MS_RDONLY, 0],
  rw: [0, MS_RDONLY],
  nosuid: [MS_NOSUID, 0],
  suid: [0, MS_NOSUID],
  nodev: [MS_NODEV, 0],
  dev: [0, MS_NODEV],
  noexec: [MS_NOEXEC, 0],
  exec: [0, MS_NOEXEC],
  bind: [MS_BIND, 0],
  rbind: [MS_BIND | MS_REC, 0],
  strictatime: [MS_STRICTATIME, 0],
  relatime: [MS_RELATIME, 0],
  noatime: [MS_NOATIME, 0],
};
/** propagation is always private in the container (step 1); these are accepted and ignored */
const IGNORED = new Set(["private", "rprivate", "slave", "rslave", "shared", "rshared", "z", "Z", "defaults"]);

export function parseMountOptions(options: string[]): { flags: number; data: string[] } {
  let flags = 0;
  const data: string[] = [];
  for (const o of options) {
    const f = FLAG_OPTIONS[o];
    if (f) flags = (flags | f[0]) & ~f[1];
    else if (!IGNORED.has(o)) data.push(o);
  }
  return { flags, data };
}

function rel(target: string): string {
  const parts = target.split("/").filter((p) => p && p !== ".");
  if (parts.includes("..")) throw new EngineError("invalid_argument", `mount target "${target}": must not contain ".."`);
  return parts.join("/");
}

const q = JSON.stringify;

export function planMounts(input: PlanInput): PlannedOp[] {
  const { spec, staging } = input;
  const ops: PlannedOp[] = [];
  const mount = (kind: number, source: string, target: string, fstype: string | undefined, flags: number, data?: string) =>
    ops.push({ kind, source, target: rel(target), fstype, flags, data, what: `mount ${q(source)} on ${q(target)}` });
  const remount = (target: string, flags: number) => ops.push({ kind: OP.REMOUNT, target: rel(target), flags, what: `remount ${q(target)} read-only` });

  ops.push({ kind: OP.PRIVATE, what: `make "/" private` });
  if (spec.rootfs.length === 0) throw new EngineError("invalid_argument", "container rootfs: no mounts");
  for (const [i, m] of spec.rootfs.entries()) {
    const { flags, data } = parseMountOptions(m.options);
    const isBind = m.type === "bind" || (flags & MS_BIND) !== 0;
    const op = {
      source: m.source,
      fstype: isBind ? undefined : m.type,
      flags: isBind ? flags | MS_BIND | MS_REC : flags,
      data: data.length ? data.join(",") : undefined,
      what: `mount ${m.type} rootfs ${q(m.source)}`,
    };
    if (i === 0 && input.rootfsFd !== undefined)
      ops.push({ kind: OP.ATTACH, target: staging, flags: input.rootfsFd, what: `attach ${m.type} rootfs on ${q(staging)}` });
    else if (i === 0) ops.push({ kind: OP.ROOTFS, target: staging, ...op });
    else ops.push({ kind: OP.MOUNT, target: rel(m.target), ...op });
    if (i === 0) ops.push({ kind: OP.ENTER, target: staging, what: `enter rootfs ${q(staging)}` });
  }

  const priv = spec.privileged;
  if (spec.oci) planOciMounts(input, ops, mount, remount);
  else {
    mount(OP.MOUNT, "proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC);
    mount(OP.MOUNT, "tmpfs", "/dev", "tmpfs", MS_NOSUID | MS_STRICTATIME, "mode=755,size=65536k");
    const devices = priv ? (input.hostDevices ?? DEFAULT_DEVICES) : DEFAULT_DEVICES;
    for (const d of devices) mount(OP.MOUNT_FILE, `/dev/${d}`, `/dev/${d}`, undefined, MS_BIND);
    // --device: the host node bound where the container asked for it (mknod may be refused; runc binds too)
    for (const d of spec.devices ?? []) mount(OP.MOUNT_FILE, d.source, d.target, undefined, MS_BIND);
    for (const [link, to] of [
      ["/dev/fd", "/proc/self/fd"],
      ["/dev/stdin", "/proc/self/fd/0"],
      ["/dev/stdout", "/proc/self/fd/1"],
      ["/dev/stderr", "/proc/self/fd/2"],
      ["/dev/core", "/proc/kcore"],
      ["/dev/ptmx", "pts/ptmx"],
    ] as const)
      ops.push({ kind: OP.SYMLINK, source: to, target: rel(link), what: `symlink ${q(link)} -> ${q(to)}` });
    if (input.console) {
      ops.push({ kind: OP.MKDIR, target: "dev/pts", what: `create "/dev/pts"` });
      // relative to the working directory, the rootfs entered above; /dev is the fresh tmpfs
      ops.push({ kind: OP.ATTACH, target: "dev/pts", flags: input.console.devptsFd, what: `attach devpts on "/dev/pts"` });
    } else mount(OP.MOUNT, "devpts", "/dev/pts", "devpts", MS_NOSUID | MS_NOEXEC, "newinstance,ptmxmode=0666,mode=0620,gid=5");
    mount(
      OP.MOUNT,
      "shm",
      "/dev/shm",
      "tmpfs",
      MS_NOSUID | MS_NODEV | MS_NOEXEC,
      `mode=1777,size=${spec.shmSize ? `${Math.ceil(spec.shmSize / 1024)}k` : "65536k"}`,
    );
    mount(OP.MOUNT, "mqueue", "/dev/mqueue", "mqueue", MS_NOSUID | MS_NODEV | MS_NOEXEC);
    // a bind source is a path in the child's mount namespace: the staging root with /dev/pts attached
    if (input.console) mount(OP.MOUNT_FILE, `${staging}${input.console.name}`, "/dev/console", undefined, MS_BIND);

    const sysFlags = MS_NOSUID | MS_NODEV | MS_NOEXEC | (priv ? 0 : MS_RDONLY);
    mount(OP.MOUNT, "sysfs", "/sys", "sysfs", sysFlags);
    // --cgroupns host: the container's own cgroup directories bound, as runc does without a cgroup namespace
    planCgroupMounts(input, mount, remount, !priv, spec.namespaces.cgroup === "host" ? spec.cgroupPath : undefined);
  }

  // --sysctl: through the container's own /proc (its namespaces), before /proc/sys turns read-only
  for (const [key, value] of Object.entries(spec.sysctls ?? {})) {
    const path = `/proc/sys/${key.replace(/\./g, "/")}`;
    ops.push({ kind: OP.WRITE, target: rel(path), data: value, what: `set sysctl ${key}=${value}` });
  }

  // --oom-score-adj: the child's own, before its exec (its children inherit it)
  const adj = spec.process.oomScoreAdj;
  if (adj !== undefined && !spec.oci) ops.push({ kind: OP.WRITE, target: "proc/self/oom_score_adj", data: String(adj), what: `set oom_score_adj ${adj}` });

  if (!spec.oci) {
    // shallow targets first, so /a/b is mounted over /a and not hidden by it (moby sortMounts)
    const user = [...spec.mounts].sort((a, b) => rel(a.target).split("/").length - rel(b.target).split("/").length);
    for (const m of user) planUserMount(m, input, mount, remount);
  }

  if (!priv) {
    for (const p of spec.maskedPaths) ops.push({ kind: OP.MASK, target: rel(p), what: `mask ${q(p)}` });
    for (const p of spec.readonlyPaths)
      ops.push({ kind: OP.READONLY, target: rel(p), flags: MS_NOSUID | MS_NODEV | MS_NOEXEC, what: `make ${q(p)} read-only` });
  }
  // docker's marker file: scripts test for /.dockerenv to know they run in a container (the root is still
  // writable here; a read-only rootfs is remounted after the pivot)
  if (!spec.oci) ops.push({ kind: OP.MKFILE, target: ".dockerenv", what: `create "/.dockerenv"` });
  // runc creates the working directory if the image lacks it
  if (rel(spec.process.cwd || "/")) ops.push({ kind: OP.MKDIR, target: rel(spec.process.cwd), what: `create working directory ${q(spec.process.cwd)}` });
  ops.push({ kind: OP.PIVOT, what: "pivot_root" });
  if (spec.readonlyRootfs) remount("/", MS_BIND | MS_RDONLY);
  const prop = spec.oci?.rootfsPropagation;
  if (prop) ops.push({ kind: OP.PROPAGATE, target: "", flags: propagationFlags(prop)!, what: `make "/" ${prop}` });
  return ops;
}

const MS_UNBINDABLE = 1 << 17,
  MS_PRIVATE = 1 << 18,
  MS_SLAVE = 1 << 19,
  MS_SHARED = 1 << 20;
const PROPAGATION: Record<string, number> = {
  private: MS_PRIVATE,
  rprivate: MS_PRIVATE | MS_REC,
  slave: MS_SLAVE,
  rslave: MS_SLAVE | MS_REC,
  shared: MS_SHARED,
  rshared: MS_SHARED | MS_REC,
  unbindable: MS_UNBINDABLE,
  runbindable: MS_UNBINDABLE | MS_REC,
};

function propagationFlags(name: string): number | undefined {
  return PROPAGATION[name];
}

const MS_DEV_TYPE: Record<string, number> = { c: 0o020000, u: 0o020000, b: 0o060000, p: 0o010000 };

/** glibc's makedev */
function makedev(major: number, minor: number): bigint {
  const ma = BigInt(major),
    mi = BigInt(minor);
  return (mi & 0xffn) | ((ma & 0xfffn) << 8n) | ((mi & ~0xffn) << 12n) | ((ma & ~0xfffn) << 32n);
}

/**
 * An OCI bundle's mounts: the spec's list, in its order (runc mountToRootfs), with the host's cgroup
 * hierarchies for a "cgroup" entry and the console's devpts for the "/dev/pts" one; then, unless /dev is
 * a bind, runc's default devices, the /dev symlinks and linux.devices (setupDev/createDevices).
 */
function planOciMounts(
  input: PlanInput,
  ops: PlannedOp[],
  mount: (kind: number, source: string, target: string, fstype: string | undefined, flags: number, data?: string) => void,
  remount: (target: string, flags: number) => void,
): void {
  const { spec } = input;
  const oci = spec.oci!;
  let consoleAttached = false;
  const attachConsole = () => {
    ops.push({ kind: OP.MKDIR, target: "dev/pts", what: `create "/dev/pts"` });
    ops.push({ kind: OP.ATTACH, target: "dev/pts", flags: input.console!.devptsFd, what: `attach devpts on "/dev/pts"` });
    consoleAttached = true;
  };
  for (const m of spec.mounts) {
    for (const o of m.options)
      if (o === "idmap" || o === "ridmap")
        throw new EngineError("not_implemented", `mount ${q(m.target)}: idmapped mounts (option "${o}") are not supported by berth`);
    const target = rel(m.target);
    if (m.type === "cgroup" || m.type === "cgroup2") {
      planCgroupMounts(input, mount, remount, m.options.includes("ro"), spec.namespaces.cgroup === "host" ? spec.cgroupPath : undefined);
      continue;
    }
    if (m.type === "devpts" && target === "dev/pts" && input.console) {
      attachConsole();
      continue;
    }
    planUserMount(m, input, mount, remount);
    const prop = m.options.map(propagationFlags).find((f) => f !== undefined);
    if (prop !== undefined && prop !== (MS_PRIVATE | MS_REC) && prop !== MS_PRIVATE)
      ops.push({ kind: OP.PROPAGATE, target, flags: prop, what: `change propagation of ${q(m.target)}` });
  }
  if (input.console && !consoleAttached) attachConsole();
  const devIsBind = spec.mounts.some((m) => rel(m.target) === "dev" && (m.type === "bind" || m.options.includes("bind") || m.options.includes("rbind")));
  if (!devIsBind) {
    const userns = spec.namespaces.user !== undefined && spec.namespaces.user !== "host";
    // runc's default devices: made with mknod (as runc does), bound from the host in a user namespace
    for (const [d, major, minor] of DEFAULT_DEVICE_NUMBERS) {
      if (userns) mount(OP.MOUNT_FILE, `/dev/${d}`, `/dev/${d}`, undefined, MS_BIND);
      else ops.push({ kind: OP.MKNOD, target: `dev/${d}`, flags: MS_DEV_TYPE.c! | 0o666, data: `${makedev(major, minor)} 0 0`, what: `mknod "/dev/${d}"` });
    }
    for (const [link, to] of [
      ["/dev/fd", "/proc/self/fd"],
      ["/dev/stdin", "/proc/self/fd/0"],
      ["/dev/stdout", "/proc/self/fd/1"],
      ["/dev/stderr", "/proc/self/fd/2"],
      ["/dev/core", "/proc/kcore"],
      ["/dev/ptmx", "pts/ptmx"],
    ] as const)
      ops.push({ kind: OP.SYMLINK, source: to, target: rel(link), what: `symlink ${q(link)} -> ${q(to)}` });
    for (const d of oci.devices) {
      if (DEFAULT_DEVICES.includes(rel(d.path).replace(/^dev\//, ""))) continue;
      if (userns) mount(OP.MOUNT_FILE, d.path, d.path, undefined, MS_BIND);
      else
        ops.push({
          kind: OP.MKNOD,
          target: rel(d.path),
          flags: (MS_DEV_TYPE[d.type] ?? 0) | ((d.fileMode ?? 0o666) & 0o7777),
          data: `${makedev(d.major, d.minor)} ${d.uid ?? 0} ${d.gid ?? 0}`,
          what: `mknod ${q(d.path)}`,
        });
    }
  }
  if (input.console) mount(OP.MOUNT_FILE, `${input.staging}${input.console.name}`, "/dev/console", undefined, MS_BIND);
}

function planCgroupMounts(
  input: PlanInput,
  mount: (kind: number, source: string, target: string, fstype: string | undefined, flags: number, data?: string) => void,
  remount: (target: string, flags: number) => void,
  readonly: boolean,
  /** no cgroup namespace: bind <hierarchy>/<this path> instead of mounting the hierarchy's root */
  bindPath?: string,
): void {
  const cgFlags = MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_RELATIME | (readonly ? MS_RDONLY : 0);
  const v1 = input.cgroupMounts.filter((c) => c.name !== "");
  const one = (c: CgroupMount, target: string) => {
    if (bindPath && c.hostDir) {
      mount(OP.MOUNT, `${c.hostDir}/${bindPath}`, target, undefined, MS_BIND | MS_REC);
      if (readonly) remount(target, MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC);
    } else mount(OP.MOUNT, "cgroup", target, c.fstype, cgFlags, c.data);
  };
  if (v1.length) {
    mount(OP.MOUNT, "tmpfs", "/sys/fs/cgroup", "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=755");
    for (const c of v1) one(c, `/sys/fs/cgroup/${c.name}`);
    if (readonly) remount("/sys/fs/cgroup", MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_RDONLY);
  } else if (input.cgroupMounts.length) {
    one(input.cgroupMounts[0]!, "/sys/fs/cgroup");
  }
}

function planUserMount(
  m: Mount,
  input: PlanInput,
  mount: (kind: number, source: string, target: string, fstype: string | undefined, flags: number, data?: string) => void,
  remount: (target: string, flags: number) => void,
): void {
  const { flags, data } = parseMountOptions(m.options);
  if (m.type === "bind" || flags & MS_BIND) {
    const kind = input.isDirectory(m.source) ? OP.MOUNT : OP.MOUNT_FILE;
    // a bind ignores every flag but MS_REC; ro/nosuid/… need a second, remounting call (mount(2))
    mount(kind, m.source, m.target, undefined, MS_BIND | (m.options.includes("bind") ? 0 : MS_REC));
    const extra = flags & (MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC);
    if (extra) remount(m.target, MS_BIND | extra);
    return;
  }
  mount(OP.MOUNT, m.source || m.type, m.target, m.type, flags, data.length ? data.join(",") : undefined);
}
