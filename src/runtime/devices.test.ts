import { describe, expect, test } from "bun:test";
import { deviceFilterProgram, parseDeviceRule } from "./devices.ts";
import { DEFAULT_DEVICE_RULES } from "./cgroups.ts";

/** an interpreter for the few eBPF instructions the program uses: the test does not trust the encoder
 * to mean what it says, it runs it */
function run(prog: Uint8Array, type: "b" | "c", major: number, minor: number, access: string): number {
  const v = new DataView(prog.buffer, prog.byteOffset, prog.byteLength);
  const acc = [...access].reduce((a, ch) => a | ({ m: 1, r: 2, w: 4 } as Record<string, number>)[ch]!, 0);
  const ctx = [(acc << 16) | (type === "b" ? 1 : 2), major, minor];
  const r = new Array<number>(11).fill(0);
  for (let pc = 0, steps = 0; steps < 10_000; pc++, steps++) {
    const code = v.getUint8(pc * 8),
      regs = v.getUint8(pc * 8 + 1),
      off = v.getInt16(pc * 8 + 2, true),
      imm = v.getInt32(pc * 8 + 4, true);
    const dst = regs & 0xf,
      src = regs >> 4;
    switch (code) {
      case 0x61:
        expect(src).toBe(1);
        r[dst] = ctx[off / 4]! >>> 0;
        break;
      case 0x57:
        r[dst] = (r[dst]! & imm) >>> 0;
        break;
      case 0x77:
        r[dst] = r[dst]! >>> imm;
        break;
      case 0xbc:
        r[dst] = r[src]!;
        break;
      case 0x54:
        r[dst] = (r[dst]! & imm) >>> 0;
        break;
      case 0xb7:
        r[dst] = imm;
        break;
      case 0x55:
        if (r[dst] !== imm) pc += off;
        break;
      case 0x5d:
        if (r[dst] !== r[src]) pc += off;
        break;
      case 0x95:
        return r[0]!;
      default:
        throw new Error(`unexpected opcode 0x${code.toString(16)} at ${pc}`);
    }
  }
  throw new Error("no exit");
}

describe("device rules → cgroup v2 BPF program", () => {
  test("parse", () => {
    expect(parseDeviceRule("c 1:3 rwm")).toEqual({ type: "c", major: 1, minor: 3, access: 7 });
    expect(parseDeviceRule("b *:* m")).toEqual({ type: "b", major: undefined, minor: undefined, access: 1 });
    expect(parseDeviceRule("c 136:* rw")).toEqual({ type: "c", major: 136, minor: undefined, access: 6 });
    expect(parseDeviceRule("a")).toEqual({ type: "a", major: undefined, minor: undefined, access: 7 });
    expect(() => parseDeviceRule("x 1:2 r")).toThrow(/invalid device rule "x 1:2 r"/);
    expect(() => parseDeviceRule("c 1:2 rq")).toThrow(/invalid device rule/);
  });

  test("docker's default list: the standard nodes, ptys and tun; mknod of anything; nothing else", () => {
    const p = deviceFilterProgram(DEFAULT_DEVICE_RULES.map(parseDeviceRule));
    for (const [maj, min] of [
      [1, 3],
      [1, 5],
      [1, 7],
      [1, 8],
      [1, 9],
      [5, 0],
      [5, 1],
      [5, 2],
      [136, 0],
      [136, 77],
      [10, 200],
    ])
      expect([maj, min, run(p, "c", maj!, min!, "rw")]).toEqual([maj, min, 1]);
    expect(run(p, "c", 1, 1, "r")).toBe(0); // /dev/mem
    expect(run(p, "c", 1, 1, "m")).toBe(1); // but it may be created (docker allows mknod)
    expect(run(p, "b", 8, 0, "m")).toBe(1);
    expect(run(p, "b", 8, 0, "r")).toBe(0); // /dev/sda
    expect(run(p, "b", 8, 0, "rm")).toBe(0);
    expect(run(p, "c", 10, 237, "rw")).toBe(0); // loop-control
    expect(run(p, "b", 1, 3, "r")).toBe(0); // the type matters
  });

  test("an empty list denies everything; 'a' allows everything", () => {
    expect(run(deviceFilterProgram([]), "c", 1, 3, "r")).toBe(0);
    expect(run(deviceFilterProgram([parseDeviceRule("a")]), "b", 8, 0, "rwm")).toBe(1);
    expect(run(deviceFilterProgram([parseDeviceRule("c 4:* r")]), "c", 4, 9, "rw")).toBe(0);
    expect(run(deviceFilterProgram([parseDeviceRule("c 4:* r")]), "c", 4, 9, "r")).toBe(1);
  });
});
