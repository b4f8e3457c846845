/**
 * The plan blob shim.c reads (encodePlan): header words, NUL-terminated strings at 8-aligned offsets,
 * offset vectors ending in 0, two's complement for negative words. Decoded here the way shim.c does.
 */
import { describe, expect, test } from "bun:test";
import { encodePlan, prebuiltShimName, type ShimPlan } from "./shim.ts";

function decoder(blob: Uint8Array) {
  const view = new DataView(blob.buffer, blob.byteOffset, blob.byteLength);
  const word = (off: number) => view.getBigUint64(off, true);
  const h = (i: number) => word(i * 8);
  const str = (off: bigint) => {
    if (off === 0n) return undefined;
    const start = Number(off);
    expect(start % 8).toBe(0);
    const end = blob.indexOf(0, start);
    return new TextDecoder().decode(blob.subarray(start, end));
  };
  const strv = (off: bigint) => {
    const out: (string | undefined)[] = [];
    for (let p = Number(off); word(p) !== 0n; p += 8) out.push(str(word(p)));
    return out;
  };
  return { h, word, str, strv };
}

const plan: ShimPlan = {
  mode: "create",
  cloneFlags: 0x6c020000,
  hostname: "héllo",
  argv: ["sh", "-c", "echo ünïcode"],
  env: ["PATH=/bin", "A=b"],
  path: "/usr/bin:/bin",
  ops: [
    { kind: 4, source: "proc", target: "proc", fstype: "proc", flags: 14 },
    { kind: 7, source: "/proc/self/fd", target: "dev/fd" },
  ],
  syncFd: 5,
  errFd: 7,
  stdin: 0,
  stdout: 1,
  stderr: 2,
  tty: true,
  uid: 1000,
  gid: 1000,
  groups: [10, 20],
  capMask: 0xffffffffffn,
  noNewPrivs: true,
  init: false,
  cwd: "/work",
  namespaces: [[9, 0x08000000]],
  rlimits: [[7, 1024n, 0xffffffffffffffffn]],
  cgroupTasks: ["/sys/fs/cgroup/memory/berth/x/tasks"],
  cgroupFd: -1,
  seccomp: new Uint8Array(16).fill(7),
};

describe("encodePlan", () => {
  test("every header word and what it points at", () => {
    const blob = encodePlan(plan);
    const { h, word, str, strv } = decoder(blob);
    expect(blob.length % 8).toBe(0);
    expect([h(0), h(1)]).toEqual([0n, 0x6c020000n]);
    expect(str(h(2))).toBe("héllo");
    expect(strv(h(3))).toEqual(["sh", "-c", "echo ünïcode"]);
    expect(strv(h(4))).toEqual(["PATH=/bin", "A=b"]);
    expect(h(6)).toBe(2n);
    const op = (i: number, f: number) => word(Number(h(5)) + (i * 6 + f) * 8);
    expect([op(0, 0), str(op(0, 1)), str(op(0, 2)), str(op(0, 3)), op(0, 4), op(0, 5)]).toEqual([4n, "proc", "proc", "proc", 14n, 0n]);
    expect([op(1, 0), str(op(1, 1)), str(op(1, 2)), op(1, 3)]).toEqual([7n, "/proc/self/fd", "dev/fd", 0n]);
    expect([7, 8, 9, 10, 11, 12].map(h)).toEqual([5n, 7n, 0n, 1n, 2n, 1n]);
    expect([h(13), h(14), h(15)]).toEqual([1000n, 1000n, 2n]);
    expect([...new Uint32Array(blob.slice(Number(h(16)), Number(h(16)) + 8).buffer)]).toEqual([10, 20]);
    expect([h(17), h(18), h(19)]).toEqual([0xffffffffffn, 1n, 0n]);
    expect(str(h(20))).toBe("/work");
    expect([word(Number(h(21))), word(Number(h(21)) + 8), h(22)]).toEqual([9n, 0x08000000n, 1n]);
    expect([word(Number(h(23))), word(Number(h(23)) + 8), word(Number(h(23)) + 16), h(24)]).toEqual([7n, 1024n, 0xffffffffffffffffn, 1n]);
    expect(str(h(25))).toBe("/usr/bin:/bin");
    expect(strv(h(26))).toEqual(["/sys/fs/cgroup/memory/berth/x/tasks"]);
    expect(h(27)).toBe(0xffffffffffffffffn); // -1: no cgroup fd
    expect(h(28)).toBe(0n);
    expect([...blob.subarray(Number(h(29)), Number(h(29)) + 16)]).toEqual(new Array(16).fill(7));
    expect(h(30)).toBe(2n);
  });

  test("a plan bigger than the first buffer", () => {
    const many = Array.from({ length: 2000 }, (_, i) => `VAR${i}=${"x".repeat(20)}`);
    const { h, strv } = decoder(encodePlan({ ...plan, env: many }));
    expect(strv(h(4))).toEqual(many);
  });

  test("the prebuilt object's name follows the source's hash", () => {
    expect(prebuiltShimName("a")).not.toBe(prebuiltShimName("b"));
    expect(prebuiltShimName()).toMatch(/^berth-shim-[0-9a-f]+$/);
  });
});
