import { expect, test } from "bun:test";
import {
  NFT_PAYLOAD_TRANSPORT_HEADER,
  NFT_REG32_01,
  NFT_REG_1,
  NFTA_EXPR_DATA,
  NFTA_EXPR_NAME,
  NFTA_LIST_ELEM,
  concatType,
  ifnameBytes,
  nftExpr,
  TYPE_INET_PROTOCOL,
  TYPE_INET_SERVICE,
  TYPE_IPADDR,
} from "./nftables.ts";
import { NLA_F_NESTED, parseAttrs } from "./netlink.ts";

const be = (b: Uint8Array) => new DataView(b.buffer, b.byteOffset, 4).getUint32(0, false);

test("payload expression matches nft 1.0.6's encoding (`nft --debug=mnl`)", () => {
  // th dport → reg 9: LIST_ELEM(52){ NAME "payload"(12), DATA(36){ DREG 9, BASE 2, OFFSET 2, LEN 2 } }, integers big-endian
  const e = nftExpr.payload(NFT_REG32_01, NFT_PAYLOAD_TRANSPORT_HEADER, 2, 2);
  expect(e.length).toBe(52);
  const dv = new DataView(e.buffer);
  expect(dv.getUint16(2, true)).toBe(NFTA_LIST_ELEM | NLA_F_NESTED);
  const el = parseAttrs(e.subarray(4));
  expect(new TextDecoder().decode(el.get(NFTA_EXPR_NAME))).toBe("payload\0");
  const data = parseAttrs(el.get(NFTA_EXPR_DATA)!);
  expect([1, 2, 3, 4].map((k) => be(data.get(k)!))).toEqual([9, 2, 2, 2]);
});

test("masq carries an empty data block; lookup names its set", () => {
  expect(nftExpr.masq().length).toBe(4 + 12 + 4); // LIST_ELEM hdr + NAME "masq\0" padded + empty DATA
  const l = parseAttrs(parseAttrs(nftExpr.lookup("pm_any", NFT_REG_1, NFT_REG_1).subarray(4)).get(NFTA_EXPR_DATA)!);
  expect(new TextDecoder().decode(l.get(1))).toBe("pm_any\0");
});

test("concatenated type ids and interface names", () => {
  // as nft stores them for the port maps: 0x30d and 0x1cd (NFTA_SET_KEY_TYPE / NFTA_SET_DATA_TYPE)
  expect(concatType(TYPE_INET_PROTOCOL, TYPE_INET_SERVICE)).toBe(0x30d);
  expect(concatType(TYPE_IPADDR, TYPE_INET_SERVICE)).toBe(0x1cd);
  expect(ifnameBytes("br0").length).toBe(16);
  expect(() => ifnameBytes("a-very-long-name0")).toThrow(/longer than 15/);
});
