/**
 * Published ports: a TCP server in a container netns answers on the host's 127.0.0.1 (output DNAT +
 * route_localnet) and to a client in an "outside" netns through the host's address (prerouting DNAT);
 * a port already in use — by a host listener or by another container — is refused at reservation.
 * Traffic stays on loopback and in the namespaces this file creates.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { randomBytes } from "node:crypto";
import { closeSync, mkdtempSync, openSync, readlinkSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { rootEnabled } from "../helpers/root.ts";
import { NetworkManager, parsePortSpec } from "../../src/net/index.ts";
import { NetlinkSocket, addAddress, createVethPair, deleteLinkByName, listLinks, openSocketInNetns, requireLink, setUp } from "../../src/ffi/netlink.ts";
import { dropLeaseDir } from "../helpers/leases.ts";

const tag = randomBytes(3).toString("hex");
const BRIDGE = `bp${tag}`;
const TABLE = `berth_p${tag}`;
const OUT_LINK = `bq${tag}`;
const procs: Bun.Subprocess[] = [];
const dirs: string[] = [];

afterAll(() => {
  for (const p of procs) p.kill(9);
  using s = new NetlinkSocket();
  for (const l of [OUT_LINK, BRIDGE]) deleteLinkByName(s, l);
  dropLeaseDir(BRIDGE);
  if (nftTableExists(TABLE)) Bun.spawnSync(["nft", "delete", "table", "ip", TABLE]);
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function nftTableExists(name: string): boolean {
  return Bun.spawnSync(["nft", "list", "table", "ip", name], { stdout: "ignore", stderr: "ignore" }).exitCode === 0;
}

async function netnsProcess(): Promise<number> {
  const p = Bun.spawn(["unshare", "-n", "sleep", "120"], { stdout: "ignore", stderr: "inherit" });
  procs.push(p);
  const own = readlinkSync("/proc/self/ns/net");
  for (let i = 0; i < 500; i++) {
    try {
      if (readlinkSync(`/proc/${p.pid}/ns/net`) !== own && readlinkSync(`/proc/${p.pid}/exe`).endsWith("sleep")) return p.pid;
    } catch {}
    await Bun.sleep(5);
  }
  throw new Error("unshare -n did not start");
}

/** a bun TCP server in `pid`'s netns answering "hello <client address>" */
async function serverIn(pid: number, port: number): Promise<void> {
  const d = mkdtempSync("/tmp/berth-test-net-");
  dirs.push(d);
  const script = join(d, "server.ts");
  writeFileSync(
    script,
    `Bun.listen({ hostname: "0.0.0.0", port: ${port}, socket: { open(s) { s.write("hello " + s.remoteAddress + "\\n"); s.end(); }, data() {} } });
     console.log("ready");`,
  );
  const p = Bun.spawn(["nsenter", "-t", String(pid), "-n", process.execPath, script], { stdout: "pipe", stderr: "inherit" });
  procs.push(p);
  const { value } = await p.stdout.getReader().read();
  expect(new TextDecoder().decode(value)).toContain("ready");
}

function nc(argvPrefix: string[], host: string, port: number) {
  const r = Bun.spawnSync([...argvPrefix, "busybox", "nc", "-w", "5", host, String(port)], { stdout: "pipe", stderr: "pipe" });
  return { stdout: r.stdout.toString().trim(), exitCode: r.exitCode };
}

describe.skipIf(!rootEnabled)("published ports", () => {
  test("answer on 127.0.0.1 and from outside; conflicts refused; release removes them", async () => {
    const nets = new NetworkManager({ root: mkdtempSync("/tmp/berth-test-net-"), defaultBridge: BRIDGE, natTable: TABLE });
    dirs.push(nets.store.dir.replace(/\/network$/, ""));
    const id = "a1".repeat(32),
      other = "b2".repeat(32);

    const ports = await nets.reservePorts(id, [...parsePortSpec("80"), ...parsePortSpec("127.0.0.1::80")]);
    expect(ports.length).toBe(2);
    expect(ports.every((p) => p.hostPort > 0)).toBe(true);
    const [anyPort, loPort] = [ports[0]!.hostPort, ports[1]!.hostPort];

    const ctr = await netnsProcess();
    const ep = nets.connect(ctr, "bridge", { containerId: id });
    expect(ep.ports).toEqual(ports);
    expect(nets.ports(id)).toEqual(ports);
    await serverIn(ctr, 80);

    // from the host itself, on loopback: masqueraded to the gateway address
    expect(nc([], "127.0.0.1", anyPort)).toEqual({ stdout: `hello ${ep.gateway}`, exitCode: 0 });
    expect(nc([], "127.0.0.1", loPort)).toEqual({ stdout: `hello ${ep.gateway}`, exitCode: 0 });

    // from a neighbour on the bridge, and from the container itself, through a host address (hairpin)
    const neighbour = await netnsProcess();
    nets.connect(neighbour, "bridge", { containerId: "c3".repeat(32) });
    expect(nc(["nsenter", "-t", String(neighbour), "-n"], ep.gateway, anyPort)).toEqual({ stdout: `hello ${ep.gateway}`, exitCode: 0 });
    expect(nc(["nsenter", "-t", String(ctr), "-n"], ep.gateway, anyPort)).toEqual({ stdout: `hello ${ep.gateway}`, exitCode: 0 });
    nets.release("c3".repeat(32));

    // from "outside" through the host's address on a /30 link: the container sees the real client
    const outside = await netnsProcess();
    const o = 64 + (randomBytes(1)[0]! % 64);
    const [hostIp, outIp] = [`10.252.${o}.1`, `10.252.${o}.2`];
    {
      using s = new NetlinkSocket();
      const fd = openSync(`/proc/${outside}/ns/net`, "r");
      try {
        createVethPair(s, OUT_LINK, "eth0", { netnsFd: fd });
      } finally {
        closeSync(fd);
      }
      const h = requireLink(s, OUT_LINK);
      addAddress(s, h.index, `${hostIp}/30`);
      setUp(s, h.index);
      using ns = openSocketInNetns(`/proc/${outside}/ns/net`);
      const e = requireLink(ns, "eth0");
      addAddress(ns, e.index, `${outIp}/30`);
      setUp(ns, e.index);
    }
    const viaOutside = ["nsenter", "-t", String(outside), "-n"];
    expect(nc(viaOutside, hostIp, anyPort)).toEqual({ stdout: `hello ${outIp}`, exitCode: 0 });
    // the 127.0.0.1-only binding is not reachable through the host's other addresses
    expect(nc(viaOutside, hostIp, loPort).stdout).not.toContain("hello");

    // a port held by a host listener, and a port another container holds, are refused before start
    const listener = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
    try {
      await expect(nets.reservePorts(other, parsePortSpec(`127.0.0.1:${listener.port}:80`))).rejects.toThrow(/port is already allocated/);
      await expect(nets.reservePorts(other, parsePortSpec(`${listener.port}:80`))).rejects.toThrow(/port is already allocated/);
    } finally {
      listener.stop(true);
    }
    const udp = await Bun.udpSocket({ hostname: "127.0.0.1", port: 0 });
    try {
      await expect(nets.reservePorts(other, parsePortSpec(`${udp.port}:53/udp`))).rejects.toThrow(/udp failed: port is already allocated/);
    } finally {
      udp.close();
    }
    await expect(nets.reservePorts(other, parsePortSpec(`127.0.0.1:${anyPort}:8080`))).rejects.toThrow(
      new RegExp(`127\\.0\\.0\\.1:${anyPort}/tcp failed: port is already allocated`),
    );
    expect(nets.ports(other)).toEqual([]);

    // release: no forwarding left, the port can be reserved again
    nets.release(id);
    expect(nc([], "127.0.0.1", anyPort).stdout).not.toContain("hello");
    expect(Bun.spawnSync(["nft", "list", "map", "ip", TABLE, "pm_any"]).stdout.toString()).not.toContain(`. ${anyPort} :`);
    expect((await nets.reservePorts(other, parsePortSpec(`${anyPort}:80`)))[0]!.hostPort).toBe(anyPort);
    nets.release(other);
    expect(nets.ports(other)).toEqual([]);

    nets.remove("bridge");
    using s = new NetlinkSocket();
    deleteLinkByName(s, OUT_LINK);
    const names = listLinks(s).map((l) => l.name);
    expect(names.filter((n) => [BRIDGE, OUT_LINK, ep.hostVeth].includes(n))).toEqual([]);
    expect(nftTableExists(TABLE)).toBe(false);
  });
});
