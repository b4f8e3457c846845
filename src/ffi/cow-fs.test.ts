/** addDirFlags (FS_IOC_GETFLAGS / FS_IOC_SETFLAGS) on the filesystems this machine has. */
import { afterAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { SyscallError } from "../lib/errors.ts";
import { addDirFlags, FS_TOPDIR_FL } from "./cow-fs.ts";

const fsType = (dir: string) => Bun.spawnSync(["stat", "-f", "-c", "%T", dir]).stdout.toString().trim();
const dirs: string[] = [];
const tmpDir = (parent: string) => {
  const d = mkdtempSync(`${parent}/berth-test-flags-`);
  dirs.push(d);
  return d;
};
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

test.skipIf(!fsType("/tmp").startsWith("ext"))("FS_TOPDIR_FL is set once on an ext2/3/4 directory, as chattr +T does", () => {
  const d = tmpDir("/tmp");
  expect(addDirFlags(d, FS_TOPDIR_FL) & FS_TOPDIR_FL).toBe(0); // the flags found: not there yet
  expect(addDirFlags(d, FS_TOPDIR_FL) & FS_TOPDIR_FL).toBe(FS_TOPDIR_FL);
  const lsattr = Bun.spawnSync(["lsattr", "-d", d]);
  if (lsattr.exitCode === 0) expect(lsattr.stdout.toString().split(" ")[0]).toContain("T");
});

test("a filesystem without the flag or a non-directory is a SyscallError naming the path", () => {
  const d = tmpDir(fsType("/dev/shm") === "tmpfs" ? "/dev/shm" : "/tmp");
  writeFileSync(`${d}/file`, "");
  let err: unknown;
  try {
    addDirFlags(`${d}/file`, FS_TOPDIR_FL);
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(SyscallError);
  expect((err as SyscallError).code).toBe("ENOTDIR");
  expect((err as SyscallError).message).toContain(`${d}/file`);
  if (fsType(d) !== "tmpfs") return;
  try {
    addDirFlags(d, FS_TOPDIR_FL);
    err = undefined;
  } catch (e) {
    err = e;
  }
  // tmpfs keeps only a few flags (append, immutable, nodump, noatime; none before 6.0)
  expect(["ENOTTY", "EOPNOTSUPP", "ENOTSUP", "EINVAL"]).toContain((err as SyscallError | undefined)?.code ?? "no error");
});
