/**
 * Device access rules ("c 1:3 rwm", the devices.allow syntax of cgroup v1) and, for cgroup v2, the
 * BPF_PROG_TYPE_CGROUP_DEVICE program that enforces them. Pure: rules in, instruction bytes out; the
 * loader is src/ffi/bpf.ts. The program follows the shape runc's devicefilter emits: read the context
 * once, then one block per allow rule that jumps to the next block on any mismatch and returns 1
 * (allow) when everything matched; falling off the end returns 0 (deny), which is docker's default
 * "deny all, then allow the list".
 *
 * Context (include/uapi/linux/bpf.h, struct bpf_cgroup_dev_ctx): u32 access_type at 0 — the device
 * type (BPF_DEVCG_DEV_BLOCK 1, BPF_DEVCG_DEV_CHAR 2) in the low 16 bits and the requested access
 * (BPF_DEVCG_ACC_MKNOD 1, _READ 2, _WRITE 4) in the high 16 bits —, u32 major at 4, u32 minor at 8.
 */
import { EngineError } from "../lib/errors.ts";

export interface DeviceRule {
  type: "a" | "b" | "c";
  /** undefined: any ("*") */
  major?: number;
  minor?: number;
  /** BPF_DEVCG_ACC_* bits: m 1, r 2, w 4 */
  access: number;
}

const ACCESS: Record<string, number> = { m: 1, r: 2, w: 4 };
const DEV_TYPE = { b: 1, c: 2 } as const;

/** "c 1:3 rwm", "b *:* m", "a" (everything) */
export function parseDeviceRule(text: string): DeviceRule {
  const m = /^([abc])(?:\s+(\*|\d+):(\*|\d+)(?:\s+([rwm]{1,3}))?)?$/.exec(text.trim());
  if (!m) throw new EngineError("invalid_argument", `invalid device rule "${text}": want TYPE MAJOR:MINOR ACCESS, e.g. "c 1:3 rwm"`);
  let access = 0;
  for (const ch of m[4] ?? "rwm") access |= ACCESS[ch]!;
  const num = (s: string | undefined) => (s === undefined || s === "*" ? undefined : Number(s));
  return { type: m[1] as DeviceRule["type"], major: num(m[2]), minor: num(m[3]), access };
}

// eBPF opcodes (include/uapi/linux/bpf.h, bpf_common.h)
const LDX_MEM_W = 0x61; //  BPF_LDX | BPF_MEM | BPF_W
const ALU64_AND_K = 0x57; // BPF_ALU64 | BPF_AND | BPF_K
const ALU64_RSH_K = 0x77; // BPF_ALU64 | BPF_RSH | BPF_K
const ALU32_MOV_X = 0xbc; // BPF_ALU | BPF_MOV | BPF_X
const ALU32_AND_K = 0x54; // BPF_ALU | BPF_AND | BPF_K
const ALU64_MOV_K = 0xb7; // BPF_ALU64 | BPF_MOV | BPF_K
const JMP_JNE_K = 0x55; //   BPF_JMP | BPF_JNE | BPF_K
const JMP_JNE_X = 0x5d; //   BPF_JMP | BPF_JNE | BPF_X
const JMP_EXIT = 0x95; //    BPF_JMP | BPF_EXIT

interface Insn {
  code: number;
  dst: number;
  src: number;
  off: number;
  imm: number;
}

const I = (code: number, dst = 0, src = 0, off = 0, imm = 0): Insn => ({ code, dst, src, off, imm });

/** the program allowing exactly `rules` (first match allows; no match denies), as instruction bytes */
export function deviceFilterProgram(rules: DeviceRule[]): Uint8Array {
  const prog: Insn[] = [
    I(LDX_MEM_W, 2, 1, 0), //   r2 = ctx->access_type
    I(ALU64_AND_K, 2, 0, 0, 0xffff), // r2 &= 0xffff: the device type
    I(LDX_MEM_W, 3, 1, 0), //   r3 = ctx->access_type
    I(ALU64_RSH_K, 3, 0, 0, 16), // r3 >>= 16: the requested access
    I(LDX_MEM_W, 4, 1, 4), //   r4 = ctx->major
    I(LDX_MEM_W, 5, 1, 8), //   r5 = ctx->minor
  ];
  for (const r of rules) {
    const block: Insn[] = [];
    const skips: number[] = []; // indexes (in block) of jumps to the next block
    const jne = (insn: Insn) => (skips.push(block.length), block.push(insn));
    if (r.type !== "a") jne(I(JMP_JNE_K, 2, 0, 0, DEV_TYPE[r.type]));
    if (r.access !== 7) {
      // every requested bit must be allowed: (r3 & allowed) == r3, with r1 as scratch
      block.push(I(ALU32_MOV_X, 1, 3));
      block.push(I(ALU32_AND_K, 1, 0, 0, r.access));
      jne(I(JMP_JNE_X, 1, 3));
    }
    if (r.major !== undefined) jne(I(JMP_JNE_K, 4, 0, 0, r.major));
    if (r.minor !== undefined) jne(I(JMP_JNE_K, 5, 0, 0, r.minor));
    block.push(I(ALU64_MOV_K, 0, 0, 0, 1), I(JMP_EXIT));
    for (const i of skips) block[i]!.off = block.length - i - 1;
    prog.push(...block);
  }
  prog.push(I(ALU64_MOV_K, 0, 0, 0, 0), I(JMP_EXIT));
  return encode(prog);
}

function encode(prog: Insn[]): Uint8Array {
  const out = new Uint8Array(prog.length * 8);
  const v = new DataView(out.buffer);
  prog.forEach((p, n) => {
    v.setUint8(n * 8, p.code);
    v.setUint8(n * 8 + 1, ((p.src & 0xf) << 4) | (p.dst & 0xf));
    v.setInt16(n * 8 + 2, p.off, true);
    v.setInt32(n * 8 + 4, p.imm, true);
  });
  return out;
}
