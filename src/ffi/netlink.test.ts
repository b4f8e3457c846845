import { expect, test } from "bun:test";
import {
  IFLA_IFNAME,
  IFLA_INFO_DATA,
  IFLA_INFO_KIND,
  IFLA_LINKINFO,
  IFLA_NET_NS_PID,
  NLM_F_ACK,
  NLM_F_CREATE,
  NLM_F_EXCL,
  NLM_F_REQUEST,
  RTM_NEWLINK,
  VETH_INFO_PEER,
  attr,
  attrStr,
  attrU32,
  ifaddrmsg,
  ifinfomsg,
  nlmsg,
  parseAttrs,
  parseMessages,
  rtmsg,
  ipv4Bytes,
  macBytes,
} from "./netlink.ts";

test("struct sizes match <linux/rtnetlink.h>", () => {
  expect(ifinfomsg().length).toBe(16);
  expect(ifaddrmsg(2, 24, 1).length).toBe(8);
  expect(rtmsg().length).toBe(12);
  expect(nlmsg(1, 0, 0, []).length).toBe(16);
  expect(attrStr(IFLA_IFNAME, "eth0").length).toBe(12); // 4 + "eth0\0" = 9 → padded to 12
});

test("the veth request is the 104 bytes the probe sent (docs/bun-ffi.md §8)", () => {
  const peer = [ifinfomsg(), attrStr(IFLA_IFNAME, "vpeer0"), attrU32(IFLA_NET_NS_PID, 15829)];
  const m = nlmsg(RTM_NEWLINK, NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL, 7, [
    ifinfomsg(),
    attrStr(IFLA_IFNAME, "vhost0"),
    attr(IFLA_LINKINFO, [attrStr(IFLA_INFO_KIND, "veth"), attr(IFLA_INFO_DATA, [attr(VETH_INFO_PEER, peer)])]),
  ]);
  expect(m.length).toBe(104);
  const [msg] = parseMessages(m);
  expect(msg).toMatchObject({ type: RTM_NEWLINK, seq: 7, flags: 0x605 });
  const top = parseAttrs(msg!.body.subarray(16));
  expect(new TextDecoder().decode(top.get(IFLA_IFNAME))).toBe("vhost0\0");
  const info = parseAttrs(top.get(IFLA_LINKINFO)!);
  expect(new TextDecoder().decode(info.get(IFLA_INFO_KIND))).toBe("veth\0");
  const p = parseAttrs(parseAttrs(info.get(IFLA_INFO_DATA)!).get(VETH_INFO_PEER)!.subarray(16));
  expect(new DataView(p.get(IFLA_NET_NS_PID)!.buffer, p.get(IFLA_NET_NS_PID)!.byteOffset).getUint32(0, true)).toBe(15829);
});

test("address parsing rejects junk", () => {
  expect([...ipv4Bytes("172.17.0.2")]).toEqual([172, 17, 0, 2]);
  expect(() => ipv4Bytes("1.2.3")).toThrow(/invalid IPv4/);
  expect([...macBytes("02:42:ac:11:00:02")]).toEqual([2, 0x42, 0xac, 0x11, 0, 2]);
  expect(() => macBytes("02:42:ac:11:00")).toThrow(/invalid MAC/);
});
