/**
 * A throwaway btrfs (or any filesystem with a mkfs.<type>: loopFilesystem) for tests (root only): a
 * sparse image file in a fresh mktemp dir, `mkfs.btrfs`,
 * attached to a loop device of its own (`losetup --find --show`) and mounted at <dir>/mnt. Disposing
 * unmounts it, detaches that loop device and deletes the directory, and checks that neither the mount
 * nor the loop device is left (STYLE §9 "leave nothing behind"). Needs btrfs-progs and util-linux
 * (scripts/deps.sh).
 */
import { closeSync, mkdirSync, mkdtempSync, openSync, readFileSync, ftruncateSync, rmSync } from "node:fs";

export interface LoopBtrfs {
  /** the mktemp dir holding the image and the mount point */
  dir: string;
  /** where the btrfs is mounted */
  mnt: string;
  /** the loop device, /dev/loopN */
  device: string;
  [Symbol.dispose](): void;
}

function run(argv: string[]): string {
  const p = Bun.spawnSync(argv, { stdout: "pipe", stderr: "pipe" });
  if (p.exitCode !== 0) throw new Error(`${argv.join(" ")}: exit ${p.exitCode}: ${p.stderr.toString().trim()}`);
  return p.stdout.toString();
}

export function loopBtrfs(tag: string, sizeMiB = 300): LoopBtrfs {
  return loopFilesystem("btrfs", tag, sizeMiB);
}

/** a loop-mounted scratch filesystem of `type` (mkfs.<type> -q), e.g. for a storage driver that needs one */
export function loopFilesystem(type: string, tag: string, sizeMiB = 300): LoopBtrfs {
  const dir = mkdtempSync(`/tmp/berth-test-${type}-${tag}-`);
  const img = `${dir}/${type}.img`,
    mnt = `${dir}/mnt`;
  let device = "";
  let mounted = false;
  const dispose = () => {
    const errors: string[] = [];
    if (mounted) {
      try {
        run(["umount", mnt]);
      } catch (e) {
        errors.push((e as Error).message);
        try {
          run(["umount", "--lazy", mnt]);
        } catch {}
      }
    }
    if (device) {
      try {
        run(["losetup", "--detach", device]);
      } catch (e) {
        errors.push((e as Error).message);
      }
    }
    rmSync(dir, { recursive: true, force: true });
    if (readFileSync("/proc/self/mountinfo", "utf8").includes(dir)) errors.push(`${mnt} is still mounted`);
    if (device && run(["losetup", "--list", "--noheadings", "--output", "BACK-FILE"]).includes(img)) errors.push(`${device} still backs ${img}`);
    if (errors.length) throw new Error(`loop ${type} cleanup: ${errors.join("; ")}`);
  };
  try {
    const fd = openSync(img, "w", 0o600);
    ftruncateSync(fd, sizeMiB * 1024 * 1024); // sparse: no blocks until written
    closeSync(fd);
    run([`mkfs.${type}`, "-q", img]);
    device = run(["losetup", "--find", "--show", img]).trim();
    mkdirSync(mnt);
    run(["mount", "-t", type, device, mnt]);
    mounted = true;
  } catch (e) {
    try {
      dispose();
    } catch {}
    throw e;
  }
  return { dir, mnt, device, [Symbol.dispose]: dispose };
}
