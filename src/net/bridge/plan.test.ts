import { expect, test } from "bun:test";
import { hostVethName, planBridge, planEndpoint } from "./plan.ts";
import { planLoopback } from "../null.ts";
import { chainSuffix, portElement } from "../nat.ts";
import type { NetworkRecord } from "../store.ts";

const net: NetworkRecord = {
  name: "bridge",
  id: "f".repeat(64),
  driver: "bridge",
  bridge: "berth0",
  subnet: "172.17.0.0/16",
  gateway: "172.17.0.1",
  internal: false,
  mtu: 1500,
  createdAt: "",
  endpoints: {},
};

test("a missing bridge is created with a fixed MAC, addressed and set up; a ready one needs nothing", () => {
  expect(planBridge(net, { exists: false, up: false, addrs: [] })).toEqual([
    { op: "create-bridge", bridge: "berth0", mtu: 1500, mac: "02:42:ac:11:00:01" },
    { op: "bridge-address", bridge: "berth0", cidr: "172.17.0.1/16" },
    { op: "host-up", name: "berth0" },
  ]);
  expect(planBridge(net, { exists: true, up: true, addrs: ["172.17.0.1/16"] })).toEqual([]);
  expect(planBridge(net, { exists: true, up: false, addrs: ["172.17.0.1/16"] })).toEqual([{ op: "host-up", name: "berth0" }]);
  // a bridge whose MAC follows its ports (made before berth pinned it) gets the fixed one
  expect(planBridge(net, { exists: true, up: true, addrs: ["172.17.0.1/16"], mac: "0a:1b:2c:3d:4e:5f" })).toEqual([
    { op: "bridge-mac", bridge: "berth0", mac: "02:42:ac:11:00:01" },
  ]);
  expect(planBridge(net, { exists: true, up: true, addrs: ["172.17.0.1/16"], mac: "02:42:ac:11:00:01" })).toEqual([]);
});

test("an endpoint: veth with docker's MAC, lo and eth0 up, address, default route", () => {
  const p = planEndpoint(net, { ip: "172.17.0.2", hostVeth: "veth1234567", ifName: "eth0" });
  expect(p).toMatchObject({ ip: "172.17.0.2", prefixLen: 16, gateway: "172.17.0.1", mac: "02:42:ac:11:00:02", mtu: 1500 });
  expect(p.ops).toEqual([
    { op: "create-veth", hostVeth: "veth1234567", ifName: "eth0", mac: "02:42:ac:11:00:02", mtu: 1500, bridge: "berth0", ipv6: false },
    { op: "hairpin", name: "veth1234567" },
    { op: "ns-up", name: "lo" },
    { op: "ns-address", name: "eth0", cidr: "172.17.0.2/16" },
    { op: "ns-up", name: "eth0" },
    { op: "ns-default-route", gateway: "172.17.0.1", name: "eth0" },
  ]);
  // a namespace berth's shim made has lo up already
  expect(planEndpoint(net, { ip: "172.17.0.2", hostVeth: "veth1234567", ifName: "eth0", loUp: true }).ops.map((o) => o.op)).toEqual([
    "create-veth",
    "hairpin",
    "ns-address",
    "ns-up",
    "ns-default-route",
  ]);
  const internal = planEndpoint({ ...net, internal: true }, { ip: "172.17.0.3", hostVeth: "veth7654321", ifName: "eth1", mac: "02:00:00:00:00:09" });
  expect(internal.mac).toBe("02:00:00:00:00:09");
  expect(internal.ops.some((o) => o.op === "ns-default-route")).toBe(false);
  expect(planLoopback()).toEqual([{ op: "ns-up", name: "lo" }]);
});

test("host veth names fit IFNAMSIZ", () => {
  const n = hostVethName(new Uint8Array([0xab, 0xcd, 0xef, 0x12]));
  expect(n).toBe("vethabcdef1");
  expect(n.length).toBeLessThan(16);
});

test("port map elements: 4-byte slots in network byte order, as nft stores them", () => {
  // nft --debug=netlink for `tcp . 8080 : 172.17.0.2 . 80`: element 00000006 0000901f : 020011ac 00005000
  const any = portElement({ hostIp: "", hostPort: 8080, proto: "tcp", target: "172.17.0.2", containerPort: 80 });
  expect(any.set).toBe("pm_any");
  expect([...any.key]).toEqual([6, 0, 0, 0, 0x1f, 0x90, 0, 0]);
  expect([...any.data]).toEqual([172, 17, 0, 2, 0, 80, 0, 0]);
  const one = portElement({ hostIp: "127.0.0.1", hostPort: 5353, proto: "udp", target: "10.0.0.9", containerPort: 53 });
  expect(one.set).toBe("pm_ip");
  expect([...one.key]).toEqual([127, 0, 0, 1, 17, 0, 0, 0, 0x14, 0xe9, 0, 0]);
  expect(chainSuffix("br-0123456789ab")).toBe("br_0123456789ab");
});
