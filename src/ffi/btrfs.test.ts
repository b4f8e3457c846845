import { expect, test } from "bun:test";
import {
  BTRFS_IOC_SNAP_CREATE_V2,
  BTRFS_IOC_SNAP_DESTROY,
  BTRFS_IOC_SNAP_DESTROY_V2,
  BTRFS_IOC_SUBVOL_CREATE_V2,
  BTRFS_IOC_SUBVOL_GETFLAGS,
  BTRFS_IOC_SUBVOL_SETFLAGS,
  BTRFS_IOC_TREE_SEARCH_V2,
  BTRFS_IOC_INO_LOOKUP,
  BTRFS_IOC_GET_SUBVOL_INFO,
  BTRFS_SUBVOL_RDONLY,
  volArgs,
  volArgsV2,
} from "./btrfs.ts";

test("ioctl numbers and struct layouts match <linux/btrfs.h> (values printed by a C program against the header)", () => {
  expect(BTRFS_IOC_SNAP_CREATE_V2).toBe(0x50009417);
  expect(BTRFS_IOC_SUBVOL_CREATE_V2).toBe(0x50009418);
  expect(BTRFS_IOC_SNAP_DESTROY).toBe(0x5000940f);
  expect(BTRFS_IOC_SNAP_DESTROY_V2).toBe(0x5000943f);
  expect(BTRFS_IOC_SUBVOL_GETFLAGS).toBe(0x80089419);
  expect(BTRFS_IOC_SUBVOL_SETFLAGS).toBe(0x4008941a);
  expect(BTRFS_IOC_TREE_SEARCH_V2).toBe(0xc0709411); // sizeof(struct btrfs_ioctl_search_args_v2) = 112
  expect(BTRFS_IOC_INO_LOOKUP).toBe(0xd0009412);
  expect(BTRFS_IOC_GET_SUBVOL_INFO).toBe(0x81f8943c); // sizeof(struct btrfs_ioctl_get_subvol_info_args) = 504
  expect(BTRFS_SUBVOL_RDONLY).toBe(2n);
  const v2 = volArgsV2(7, BTRFS_SUBVOL_RDONLY, "fs");
  expect(v2.length).toBe(4096); // sizeof(struct btrfs_ioctl_vol_args_v2)
  const dv = new DataView(v2.buffer);
  expect(dv.getBigInt64(0, true)).toBe(7n);
  expect(dv.getBigUint64(16, true)).toBe(2n);
  expect(new TextDecoder().decode(v2.subarray(56, 59))).toBe("fs\0"); // offsetof(name) = 56
  const v1 = volArgs(3, "x");
  expect(v1.length).toBe(4096); // sizeof(struct btrfs_ioctl_vol_args)
  expect(new TextDecoder().decode(v1.subarray(8, 10))).toBe("x\0"); // offsetof(name) = 8
});

test("subvolume names are one path component", () => {
  for (const bad of ["", ".", "..", "a/b", "x".repeat(4040)]) expect(() => volArgsV2(0, 0n, bad)).toThrow("one path component");
  expect(volArgsV2(0, 0n, "x".repeat(4039)).length).toBe(4096);
});
