import { expect, test } from "bun:test";
import { collides, formatPortBinding, parsePortSpec, specsFromExposed } from "./ports.ts";

test("docker's -p forms", () => {
  expect(parsePortSpec("80")).toEqual([{ hostIp: "", hostPort: 0, containerPort: 80, proto: "tcp" }]);
  expect(parsePortSpec("8080:80/udp")).toEqual([{ hostIp: "", hostPort: 8080, containerPort: 80, proto: "udp" }]);
  expect(parsePortSpec("127.0.0.1:8080:80")).toEqual([{ hostIp: "127.0.0.1", hostPort: 8080, containerPort: 80, proto: "tcp" }]);
  expect(parsePortSpec("127.0.0.1::80")).toEqual([{ hostIp: "127.0.0.1", hostPort: 0, containerPort: 80, proto: "tcp" }]);
  expect(parsePortSpec("0.0.0.0:81:80")[0]!.hostIp).toBe("");
  expect(parsePortSpec("8000-8001:80-81").map((s) => [s.hostPort, s.containerPort])).toEqual([
    [8000, 80],
    [8001, 81],
  ]);
  expect(parsePortSpec("80-81").map((s) => s.hostPort)).toEqual([0, 0]);
});

test("bad -p values are refused with the reason", () => {
  expect(() => parsePortSpec("80/sctp")).toThrow(/unsupported protocol/);
  expect(() => parsePortSpec("0:80")).toThrow(/out of range/);
  expect(() => parsePortSpec("8080:70000")).toThrow(/out of range/);
  expect(() => parsePortSpec("8000-8002:80-81")).toThrow(/differ in length/);
  expect(() => parsePortSpec("1.2.3:80:80")).toThrow(/bad host address/);
  expect(() => parsePortSpec("[::1]:80:80")).toThrow(/IPv6/);
  expect(() => parsePortSpec("a:b:c:d")).toThrow(/too many colons/);
  expect(() => parsePortSpec("http")).toThrow(/bad container port/);
});

test("collisions: same proto and port, overlapping addresses", () => {
  const b = (hostIp: string, hostPort: number, proto: "tcp" | "udp" = "tcp") => ({ hostIp, hostPort, containerPort: 80, proto });
  expect(collides(b("", 80), b("127.0.0.1", 80))).toBe(true);
  expect(collides(b("127.0.0.1", 80), b("127.0.0.2", 80))).toBe(false);
  expect(collides(b("", 80), b("", 80, "udp"))).toBe(false);
  expect(collides(b("", 80), b("", 81))).toBe(false);
});

test("-P and berth port output", () => {
  expect(specsFromExposed(["80/tcp", "53/udp"]).map((s) => `${s.containerPort}/${s.proto}`)).toEqual(["80/tcp", "53/udp"]);
  expect(formatPortBinding({ hostIp: "", hostPort: 32768, containerPort: 80, proto: "tcp" })).toEqual(["80/tcp -> 0.0.0.0:32768"]);
  expect(formatPortBinding({ hostIp: "", hostPort: 32768, containerPort: 80, proto: "tcp" }, true)).toEqual([
    "80/tcp -> 0.0.0.0:32768",
    "80/tcp -> [::]:32768",
  ]);
  expect(formatPortBinding({ hostIp: "", hostPort: 53, containerPort: 53, proto: "udp" }, true)).toEqual(["53/udp -> 0.0.0.0:53"]);
  expect(formatPortBinding({ hostIp: "127.0.0.1", hostPort: 8080, containerPort: 80, proto: "tcp" }, true)).toEqual(["80/tcp -> 127.0.0.1:8080"]);
});
