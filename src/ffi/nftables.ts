/**
 * nf_tables over NETLINK_NETFILTER: batched transactions of tables, chains, rules, maps and map
 * elements, built with the TLV helpers of netlink.ts. Enough of the expression set for berth's NAT
 * (payload, meta, cmp, bitwise, fib, lookup, nat, masq, immediate verdicts) and nothing else.
 *
 * Wire format (<linux/netfilter/nfnetlink.h>, <linux/netfilter/nf_tables.h>): each message is
 * nlmsghdr (type = NFNL_SUBSYS_NFTABLES << 8 | NFT_MSG_*) + nfgenmsg + attributes; a transaction is
 * NFNL_MSG_BATCH_BEGIN … NFNL_MSG_BATCH_END sent in ONE datagram and applied atomically. Integer
 * attributes are big-endian (the kernel reads them with ntohl); register contents keep the packet's
 * byte order. The encodings below were compared with `nft --debug=netlink,mnl` (nftables 1.0.6).
 *
 * Replies: nfnetlink processes the whole batch inside sendmsg(2), so every ACK/error is queued when
 * sendto returns; `commit` drains the socket without blocking (MSG_DONTWAIT) and never waits.
 */
import { EngineError, SyscallError } from "../lib/errors.ts";
import { T, lazyLib, errno, fail, strerror } from "./_core.ts";
import { errnoName } from "./errno.ts";
import {
  AF_UNSPEC,
  NFNL_SUBSYS_NFTABLES,
  NLA_F_NESTED,
  NLMSG_ERROR,
  NLM_F_ACK,
  NLM_F_CREATE,
  NLM_F_REQUEST,
  type NetlinkSocket,
  align4,
  attr,
  attrStr,
  nfgenmsg,
  nlmsg,
  parseAttrs,
  parseMessages,
  NLM_F_ACK_TLVS,
  NLM_F_CAPPED,
  NLMSGERR_ATTR_MSG,
  NFPROTO_IPV4,
  NFT_MSG_NEWCHAIN,
  NFTA_TABLE_NAME,
  NFTA_CHAIN_TABLE,
  NFTA_CHAIN_NAME,
} from "./netlink.ts";

const lib = lazyLib({
  recv: { args: [T.i32, T.ptr, T.u64, T.i32], returns: T.i64 },
} as const);

const MSG_DONTWAIT = 0x40;

// <linux/netfilter/nfnetlink.h>
export const NFNL_MSG_BATCH_BEGIN = 16;
export const NFNL_MSG_BATCH_END = 17;
// <linux/netfilter/nf_tables.h> enum nf_tables_msg_types
export const NFT_MSG_NEWTABLE = 0;
export const NFT_MSG_DELTABLE = 2;
export const NFT_MSG_DELCHAIN = 5;
export const NFT_MSG_NEWRULE = 6;
export const NFT_MSG_DELRULE = 8;
export const NFT_MSG_NEWSET = 9;
export const NFT_MSG_NEWSETELEM = 12;
export const NFT_MSG_DELSETELEM = 14;
// attributes
export const NFTA_LIST_ELEM = 1;
export const NFTA_HOOK_HOOKNUM = 1;
export const NFTA_HOOK_PRIORITY = 2;
export const NFTA_CHAIN_HOOK = 4;
export const NFTA_CHAIN_POLICY = 5;
export const NFTA_CHAIN_TYPE = 7;
export const NFTA_RULE_TABLE = 1;
export const NFTA_RULE_CHAIN = 2;
export const NFTA_RULE_EXPRESSIONS = 4;
export const NFTA_SET_TABLE = 1;
export const NFTA_SET_NAME = 2;
export const NFTA_SET_FLAGS = 3;
export const NFTA_SET_KEY_TYPE = 4;
export const NFTA_SET_KEY_LEN = 5;
export const NFTA_SET_DATA_TYPE = 6;
export const NFTA_SET_DATA_LEN = 7;
export const NFTA_SET_ID = 10;
export const NFT_SET_MAP = 0x8;
export const NFTA_SET_ELEM_KEY = 1;
export const NFTA_SET_ELEM_DATA = 2;
export const NFTA_SET_ELEM_LIST_TABLE = 1;
export const NFTA_SET_ELEM_LIST_SET = 2;
export const NFTA_SET_ELEM_LIST_ELEMENTS = 3;
export const NFTA_DATA_VALUE = 1;
export const NFTA_DATA_VERDICT = 2;
export const NFTA_VERDICT_CODE = 1;
export const NFTA_EXPR_NAME = 1;
export const NFTA_EXPR_DATA = 2;
export const NFTA_IMMEDIATE_DREG = 1;
export const NFTA_IMMEDIATE_DATA = 2;
export const NFTA_BITWISE_SREG = 1;
export const NFTA_BITWISE_DREG = 2;
export const NFTA_BITWISE_LEN = 3;
export const NFTA_BITWISE_MASK = 4;
export const NFTA_BITWISE_XOR = 5;
export const NFTA_CMP_SREG = 1;
export const NFTA_CMP_OP = 2;
export const NFTA_CMP_DATA = 3;
export const NFT_CMP_EQ = 0;
export const NFT_CMP_NEQ = 1;
export const NFTA_PAYLOAD_DREG = 1;
export const NFTA_PAYLOAD_BASE = 2;
export const NFTA_PAYLOAD_OFFSET = 3;
export const NFTA_PAYLOAD_LEN = 4;
export const NFT_PAYLOAD_NETWORK_HEADER = 1;
export const NFT_PAYLOAD_TRANSPORT_HEADER = 2;
export const NFTA_META_DREG = 1;
export const NFTA_META_KEY = 2;
export const NFT_META_IIFNAME = 6;
export const NFT_META_OIFNAME = 7;
export const NFT_META_L4PROTO = 16;
export const NFTA_FIB_DREG = 1;
export const NFTA_FIB_RESULT = 2;
export const NFTA_FIB_FLAGS = 3;
export const NFT_FIB_RESULT_ADDRTYPE = 3;
export const NFTA_FIB_F_DADDR = 1 << 1;
export const NFTA_CT_DREG = 1;
export const NFTA_CT_KEY = 2;
export const NFT_CT_STATUS = 2;
// <linux/netfilter/nf_conntrack_common.h>
export const IPS_DST_NAT = 1 << 5;
export const NFTA_LOOKUP_SET = 1;
export const NFTA_LOOKUP_SREG = 2;
export const NFTA_LOOKUP_DREG = 3;
export const NFTA_NAT_TYPE = 1;
export const NFTA_NAT_FAMILY = 2;
export const NFTA_NAT_REG_ADDR_MIN = 3;
export const NFTA_NAT_REG_PROTO_MIN = 5;
export const NFT_NAT_DNAT = 1;
// registers: NFT_REG_1 is 16 bytes wide and aliases NFT_REG32_00..03
export const NFT_REG_VERDICT = 0;
export const NFT_REG_1 = 1;
export const NFT_REG32_00 = 8;
export const NFT_REG32_01 = 9;
export const NFT_REG32_02 = 10;
// <linux/netfilter.h>
export const NF_DROP = 0;
export const NF_ACCEPT = 1;
export const NF_INET_PRE_ROUTING = 0;
export const NF_INET_FORWARD = 2;
export const NF_INET_LOCAL_OUT = 3;
export const NF_INET_POST_ROUTING = 4;
// nft's datatype ids (userspace src/datatype.h; stored by the kernel for `nft list` only). A
// concatenation's id is the member ids joined 6 bits apart (TYPE_BITS).
export const TYPE_IPADDR = 7;
export const TYPE_INET_PROTOCOL = 12;
export const TYPE_INET_SERVICE = 13;
export const concatType = (...ids: number[]) => ids.reduce((acc, t) => (acc << 6) | t, 0);

const be32 = (v: number) => {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, v >>> 0, false);
  return b;
};
const le32 = (v: number) => {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, v >>> 0, true);
  return b;
};
const attrBe32 = (type: number, v: number) => attr(type, be32(v));
const nested = (type: number, parts: Uint8Array[]) => attr(type | NLA_F_NESTED, parts);
const dataValue = (type: number, v: Uint8Array) => nested(type, [attr(NFTA_DATA_VALUE, v)]);

/** an interface name as `meta iifname` loads it: IFNAMSIZ (16) bytes, NUL padded */
export function ifnameBytes(name: string): Uint8Array {
  const b = new Uint8Array(16);
  const e = new TextEncoder().encode(name);
  if (e.length > 15) throw new EngineError("invalid_argument", `interface name "${name}" is longer than 15 bytes`);
  b.set(e);
  return b;
}

/** expressions: each becomes NFTA_LIST_ELEM{ NFTA_EXPR_NAME, NFTA_EXPR_DATA{…} } */
function expr(name: string, data: Uint8Array[]): Uint8Array {
  return nested(NFTA_LIST_ELEM, [attrStr(NFTA_EXPR_NAME, name), nested(NFTA_EXPR_DATA, data)]);
}

export const nftExpr = {
  payload: (dreg: number, base: number, offset: number, len: number) =>
    expr("payload", [
      attrBe32(NFTA_PAYLOAD_DREG, dreg),
      attrBe32(NFTA_PAYLOAD_BASE, base),
      attrBe32(NFTA_PAYLOAD_OFFSET, offset),
      attrBe32(NFTA_PAYLOAD_LEN, len),
    ]),
  meta: (key: number, dreg: number) => expr("meta", [attrBe32(NFTA_META_KEY, key), attrBe32(NFTA_META_DREG, dreg)]),
  cmp: (op: number, sreg: number, data: Uint8Array) => expr("cmp", [attrBe32(NFTA_CMP_SREG, sreg), attrBe32(NFTA_CMP_OP, op), dataValue(NFTA_CMP_DATA, data)]),
  bitwise: (sreg: number, dreg: number, mask: Uint8Array, xor: Uint8Array) =>
    expr("bitwise", [
      attrBe32(NFTA_BITWISE_SREG, sreg),
      attrBe32(NFTA_BITWISE_DREG, dreg),
      attrBe32(NFTA_BITWISE_LEN, mask.length),
      dataValue(NFTA_BITWISE_MASK, mask),
      dataValue(NFTA_BITWISE_XOR, xor),
    ]),
  /** `fib daddr type` → dreg (a host-order u32 RTN_* value) */
  fibDaddrType: (dreg: number) =>
    expr("fib", [attrBe32(NFTA_FIB_FLAGS, NFTA_FIB_F_DADDR), attrBe32(NFTA_FIB_RESULT, NFT_FIB_RESULT_ADDRTYPE), attrBe32(NFTA_FIB_DREG, dreg)]),
  lookup: (set: string, sreg: number, dreg?: number) =>
    expr("lookup", [attrBe32(NFTA_LOOKUP_SREG, sreg), ...(dreg === undefined ? [] : [attrBe32(NFTA_LOOKUP_DREG, dreg)]), attrStr(NFTA_LOOKUP_SET, set)]),
  dnat: (regAddr: number, regProto: number) =>
    expr("nat", [
      attrBe32(NFTA_NAT_TYPE, NFT_NAT_DNAT),
      attrBe32(NFTA_NAT_FAMILY, NFPROTO_IPV4),
      attrBe32(NFTA_NAT_REG_ADDR_MIN, regAddr),
      attrBe32(NFTA_NAT_REG_PROTO_MIN, regProto),
    ]),
  masq: () => expr("masq", []),
  /** conntrack field → dreg (`ct status` is a host-order u32 bitmask) */
  ct: (key: number, dreg: number) => expr("ct", [attrBe32(NFTA_CT_KEY, key), attrBe32(NFTA_CT_DREG, dreg)]),
  verdict: (code: number) =>
    expr("immediate", [
      attrBe32(NFTA_IMMEDIATE_DREG, NFT_REG_VERDICT),
      nested(NFTA_IMMEDIATE_DATA, [nested(NFTA_DATA_VERDICT, [attrBe32(NFTA_VERDICT_CODE, code)])]),
    ]),
  /** cmp data for a host-order u32 register value (fib results) */
  u32: le32,
};

export interface ChainHook {
  /** "filter" | "nat" */
  type: string;
  hooknum: number;
  priority: number;
  policy?: number;
}

/**
 * One nf_tables transaction. Methods queue messages; `commit` sends them as one batch and throws the
 * first error (SyscallError named after the failing message) — the kernel then applied nothing.
 */
export class NftBatch {
  private readonly msgs: { type: number; flags: number; parts: Uint8Array[]; what: string }[] = [];
  constructor(private readonly family = NFPROTO_IPV4) {}

  get length(): number {
    return this.msgs.length;
  }

  private add(type: number, flags: number, parts: Uint8Array[], what: string): this {
    this.msgs.push({ type: (NFNL_SUBSYS_NFTABLES << 8) | type, flags, parts, what });
    return this;
  }

  /** create if missing (no NLM_F_EXCL: an existing table is not an error) */
  newTable(name: string): this {
    return this.add(NFT_MSG_NEWTABLE, NLM_F_CREATE, [attrStr(NFTA_TABLE_NAME, name)], `NFT_MSG_NEWTABLE ${name}`);
  }

  delTable(name: string): this {
    return this.add(NFT_MSG_DELTABLE, 0, [attrStr(NFTA_TABLE_NAME, name)], `NFT_MSG_DELTABLE ${name}`);
  }

  newChain(table: string, name: string, hook?: ChainHook): this {
    const parts = [attrStr(NFTA_CHAIN_TABLE, table), attrStr(NFTA_CHAIN_NAME, name)];
    if (hook) {
      parts.push(
        attrStr(NFTA_CHAIN_TYPE, hook.type),
        attrBe32(NFTA_CHAIN_POLICY, hook.policy ?? NF_ACCEPT),
        nested(NFTA_CHAIN_HOOK, [attrBe32(NFTA_HOOK_HOOKNUM, hook.hooknum), attrBe32(NFTA_HOOK_PRIORITY, hook.priority)]),
      );
    }
    return this.add(NFT_MSG_NEWCHAIN, NLM_F_CREATE, parts, `NFT_MSG_NEWCHAIN ${table}/${name}`);
  }

  /** deletes the chain with its rules */
  delChain(table: string, name: string): this {
    return this.add(NFT_MSG_DELCHAIN, 0, [attrStr(NFTA_CHAIN_TABLE, table), attrStr(NFTA_CHAIN_NAME, name)], `NFT_MSG_DELCHAIN ${table}/${name}`);
  }

  /** DELRULE with a chain and no handle removes every rule of that chain (`nft flush chain`) */
  flushChain(table: string, chain: string): this {
    return this.add(NFT_MSG_DELRULE, 0, [attrStr(NFTA_RULE_TABLE, table), attrStr(NFTA_RULE_CHAIN, chain)], `NFT_MSG_DELRULE ${table}/${chain}`);
  }

  newRule(table: string, chain: string, exprs: Uint8Array[]): this {
    const parts = [attrStr(NFTA_RULE_TABLE, table), attrStr(NFTA_RULE_CHAIN, chain), nested(NFTA_RULE_EXPRESSIONS, exprs)];
    return this.add(NFT_MSG_NEWRULE, NLM_F_CREATE | 0x800 /* NLM_F_APPEND */, parts, `NFT_MSG_NEWRULE ${table}/${chain}`);
  }

  /** a map (`NFT_SET_MAP`) with fixed key/data lengths; created if missing */
  newMap(table: string, name: string, m: { keyType: number; keyLen: number; dataType: number; dataLen: number; id: number }): this {
    const parts = [
      attrStr(NFTA_SET_TABLE, table),
      attrStr(NFTA_SET_NAME, name),
      attrBe32(NFTA_SET_FLAGS, NFT_SET_MAP),
      attrBe32(NFTA_SET_KEY_TYPE, m.keyType),
      attrBe32(NFTA_SET_KEY_LEN, m.keyLen),
      attrBe32(NFTA_SET_DATA_TYPE, m.dataType),
      attrBe32(NFTA_SET_DATA_LEN, m.dataLen),
      attrBe32(NFTA_SET_ID, m.id),
    ];
    return this.add(NFT_MSG_NEWSET, NLM_F_CREATE, parts, `NFT_MSG_NEWSET ${table}/${name}`);
  }

  private elems(type: number, table: string, set: string, elems: { key: Uint8Array; data?: Uint8Array }[], what: string): this {
    const list = elems.map((e) => nested(NFTA_LIST_ELEM, [dataValue(NFTA_SET_ELEM_KEY, e.key), ...(e.data ? [dataValue(NFTA_SET_ELEM_DATA, e.data)] : [])]));
    const parts = [attrStr(NFTA_SET_ELEM_LIST_TABLE, table), attrStr(NFTA_SET_ELEM_LIST_SET, set), nested(NFTA_SET_ELEM_LIST_ELEMENTS, list)];
    return this.add(type, type === NFT_MSG_NEWSETELEM ? NLM_F_CREATE : 0, parts, `${what} ${table}/${set}`);
  }

  newElems(table: string, set: string, elems: { key: Uint8Array; data: Uint8Array }[]): this {
    return this.elems(NFT_MSG_NEWSETELEM, table, set, elems, "NFT_MSG_NEWSETELEM");
  }

  delElems(table: string, set: string, keys: Uint8Array[]): this {
    return this.elems(
      NFT_MSG_DELSETELEM,
      table,
      set,
      keys.map((key) => ({ key })),
      "NFT_MSG_DELSETELEM",
    );
  }

  commit(s: NetlinkSocket): void {
    if (this.msgs.length === 0) return;
    const whatBySeq = new Map<number, string>();
    const parts: Uint8Array[] = [nlmsg(NFNL_MSG_BATCH_BEGIN, NLM_F_REQUEST, s.nextSeq(), [nfgenmsg(AF_UNSPEC, NFNL_SUBSYS_NFTABLES)])];
    for (const m of this.msgs) {
      const seq = s.nextSeq();
      whatBySeq.set(seq, m.what);
      parts.push(nlmsg(m.type, NLM_F_REQUEST | NLM_F_ACK | m.flags, seq, [nfgenmsg(this.family), ...m.parts]));
    }
    parts.push(nlmsg(NFNL_MSG_BATCH_END, NLM_F_REQUEST, s.nextSeq(), [nfgenmsg(AF_UNSPEC, NFNL_SUBSYS_NFTABLES)]));
    let n = 0;
    for (const p of parts) n += p.length;
    const buf = new Uint8Array(n);
    let off = 0;
    for (const p of parts) {
      buf.set(p, off);
      off += p.length;
    }
    s.send(buf, "nf_tables batch");
    let first: SyscallError | undefined;
    let acked = 0;
    for (const m of drain(s)) {
      if (m.type !== NLMSG_ERROR || !whatBySeq.has(m.seq)) continue;
      acked++;
      const dv = new DataView(m.body.buffer, m.body.byteOffset, m.body.byteLength);
      const err = -dv.getInt32(0, true);
      if (err === 0 || first) continue;
      let hint: string | undefined;
      if (m.flags & NLM_F_ACK_TLVS) {
        const origLen = m.flags & NLM_F_CAPPED ? 16 : dv.getUint32(4, true);
        const msg = parseAttrs(m.body.subarray(4 + align4(origLen))).get(NLMSGERR_ATTR_MSG);
        if (msg) hint = `kernel: ${new TextDecoder().decode(msg).replace(/\0.*$/s, "")}`;
      }
      const [syscall, ...paths] = whatBySeq.get(m.seq)!.split(" ");
      first = new SyscallError(syscall!, err, errnoName(err), strerror(err), paths, hint ? { hint } : {});
    }
    if (first) throw first;
    if (acked === 0) throw new EngineError("internal", "nf_tables batch: the kernel sent no acknowledgement");
  }
}

/** every message already queued on the socket (MSG_DONTWAIT until EAGAIN) */
function* drain(s: NetlinkSocket) {
  const buf = new Uint8Array(65536);
  for (;;) {
    const r = Number(lib().recv(s.fd, buf, buf.length, MSG_DONTWAIT));
    if (r < 0) {
      const e = errno();
      if (e === 4 /* EINTR */) continue;
      if (e === 11 /* EAGAIN */) return;
      fail("recv", ["nf_tables batch"], e);
    }
    yield* parseMessages(buf.slice(0, r));
  }
}
