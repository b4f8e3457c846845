import { describe, expect, test } from "bun:test";
import {
  allocate,
  chooseSubnet,
  contains,
  defaultGateway,
  findOverlap,
  formatSubnet,
  macFromIp,
  overlaps,
  parseAddressPools,
  parseSubnet,
  poolSubnets,
} from "./ipam.ts";

describe("parseSubnet", () => {
  test("parses and formats", () => {
    const s = parseSubnet("172.17.0.0/16");
    expect(formatSubnet(s)).toBe("172.17.0.0/16");
    expect(defaultGateway(s)).toBe("172.17.0.1");
    expect(contains(s, "172.17.255.254")).toBe(true);
    expect(contains(s, "172.18.0.1")).toBe(false);
  });
  test("rejects host bits, bad syntax and tiny subnets", () => {
    expect(() => parseSubnet("172.17.0.1/16")).toThrow(/host bits/);
    expect(() => parseSubnet("172.17.0.0")).toThrow(/invalid subnet/);
    expect(() => parseSubnet("300.1.1.0/24")).toThrow(/invalid IPv4/);
    expect(() => parseSubnet("10.0.0.0/31")).toThrow(/too small/);
  });
});

describe("allocate", () => {
  const s = parseSubnet("10.1.2.0/29"); // .0 network, .7 broadcast, .1 gateway → .2–.6
  test("skips gateway, network and taken addresses", () => {
    expect(allocate(s, "10.1.2.1", [])).toBe("10.1.2.2");
    expect(allocate(s, "10.1.2.1", ["10.1.2.2", "10.1.2.3"])).toBe("10.1.2.4");
    expect(allocate(s, "10.1.2.3", ["10.1.2.2"])).toBe("10.1.2.1"); // custom gateway: .1 is a host
  });
  test("reuses a released address", () => {
    expect(allocate(s, "10.1.2.1", ["10.1.2.3"])).toBe("10.1.2.2");
  });
  test("exhaustion and broadcast", () => {
    expect(() => allocate(s, "10.1.2.1", ["10.1.2.2", "10.1.2.3", "10.1.2.4", "10.1.2.5", "10.1.2.6"])).toThrow(/no free address/);
  });
  test("requested addresses are checked", () => {
    expect(allocate(s, "10.1.2.1", [], "10.1.2.6")).toBe("10.1.2.6");
    expect(() => allocate(s, "10.1.2.1", [], "10.1.2.7")).toThrow(/broadcast/);
    expect(() => allocate(s, "10.1.2.1", [], "10.1.2.0")).toThrow(/network or broadcast/);
    expect(() => allocate(s, "10.1.2.1", [], "10.1.2.1")).toThrow(/gateway/);
    expect(() => allocate(s, "10.1.2.1", ["10.1.2.5"], "10.1.2.5")).toThrow(/already in use/);
    expect(() => allocate(s, "10.1.2.1", [], "10.1.3.5")).toThrow(/not in subnet/);
  });
});

describe("subnet choice", () => {
  test("docker's 172.17/16 when free, ignoring the default route", () => {
    expect(formatSubnet(chooseSubnet(["0.0.0.0/0", "192.0.2.0/24"], []))).toBe("172.17.0.0/16");
  });
  test("skips a colliding host route and networks in use", () => {
    expect(formatSubnet(chooseSubnet(["172.17.5.0/24"], [parseSubnet("172.18.0.0/16")]))).toBe("172.19.0.0/16");
  });
  test("host-bit routes are masked", () => {
    expect(formatSubnet(chooseSubnet(["172.17.0.9/32"], []))).toBe("172.18.0.0/16");
  });
  test("falls back to 192.168 /20s", () => {
    const all = Array.from({ length: 15 }, (_, i) => parseSubnet(`172.${17 + i}.0.0/16`));
    expect(formatSubnet(chooseSubnet([], all))).toBe("192.168.0.0/20");
  });
  test("overlap reports the culprit", () => {
    const s = parseSubnet("10.0.0.0/8");
    expect(overlaps(s, parseSubnet("10.5.0.0/16"))).toBe(true);
    expect(findOverlap(s, ["10.9.0.0/16"], [])).toBe("host route or address 10.9.0.0/16");
    expect(findOverlap(s, [], [{ name: "x", subnet: parseSubnet("10.200.0.0/24") }])).toBe('network "x" (10.200.0.0/24)');
    expect(findOverlap(s, ["0.0.0.0/0", "192.0.2.0/24"], [])).toBeUndefined();
  });
});

test("macFromIp follows docker", () => {
  expect(macFromIp("172.17.0.2")).toBe("02:42:ac:11:00:02");
});

test("default-address-pools: BASE/prefix/size cut in order; bad text is one line", () => {
  const pools = parseAddressPools("10.10.0.0/16/24,192.168.200.0/24/26");
  const got = [...poolSubnets(pools)].map(formatSubnet);
  expect(got.slice(0, 2)).toEqual(["10.10.0.0/24", "10.10.1.0/24"]);
  expect(got.length).toBe(256 + 4);
  expect(got.slice(-1)).toEqual(["192.168.200.192/26"]);
  expect(formatSubnet(chooseSubnet([], [parseSubnet("10.10.0.0/24")], poolSubnets(pools)))).toBe("10.10.1.0/24");
  expect(() => parseAddressPools("10.10.0.0/16")).toThrow('default address pool "10.10.0.0/16": want BASE/prefix/size, e.g. 10.10.0.0/16/24');
  expect(() => parseAddressPools("10.10.0.0/16/8")).toThrow("size 8 must be between 16 and 30");
});
