/**
 * Bridge networking against the real kernel: every "container" is `unshare -n sleep` (a process in a
 * fresh network namespace), configured through NetworkManager over rtnetlink, and checked from the
 * inside with iproute2 (`nsenter -t PID -n ip -j …`) and busybox ping/nc. Traffic stays inside the
 * namespaces this file creates. Bridges, veths and the nft table get unique names and are removed.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { randomBytes } from "node:crypto";
import { mkdtempSync, openSync, closeSync, readlinkSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { rootEnabled } from "../helpers/root.ts";
import { NetworkManager } from "../../src/net/index.ts";
import { natInstalled } from "../../src/net/nat.ts";
import { NetlinkSocket, addAddress, createVethPair, deleteLinkByName, listLinks, openSocketInNetns, requireLink, setUp } from "../../src/ffi/netlink.ts";
import { dropLeaseDir } from "../helpers/leases.ts";

const tag = randomBytes(3).toString("hex");
const BRIDGE = `bt${tag}`;
const TABLE = `berth_t${tag}`;
const procs: Bun.Subprocess[] = [];
const dirs: string[] = [];
const extraLinks: string[] = [];

function tmpRoot(): string {
  const d = mkdtempSync("/tmp/berth-test-net-");
  dirs.push(d);
  return d;
}

/** a process alone in a new network namespace; resolves once the unshare has happened */
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

function inNs(pid: number, argv: string[]) {
  const r = Bun.spawnSync(["nsenter", "-t", String(pid), "-n", ...argv], { stdout: "pipe", stderr: "pipe" });
  return { stdout: r.stdout.toString(), stderr: r.stderr.toString(), exitCode: r.exitCode };
}

function hostLinkNames(): string[] {
  using s = new NetlinkSocket();
  return listLinks(s).map((l) => l.name);
}

function nftTableExists(name: string): boolean {
  return Bun.spawnSync(["nft", "list", "table", "ip", name], { stdout: "ignore", stderr: "ignore" }).exitCode === 0;
}

afterAll(() => {
  for (const p of procs) p.kill(9);
  using s = new NetlinkSocket();
  for (const l of [...extraLinks, BRIDGE]) deleteLinkByName(s, l);
  dropLeaseDir(BRIDGE);
  if (nftTableExists(TABLE)) Bun.spawnSync(["nft", "delete", "table", "ip", TABLE]);
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe.skipIf(!rootEnabled)("bridge network", () => {
  const cid = (n: number) => n.toString(16).padStart(2, "0").repeat(32);

  test("two containers get addresses, routes, reach each other, and leave nothing behind", async () => {
    const nets = new NetworkManager({ root: tmpRoot(), defaultBridge: BRIDGE, natTable: TABLE });
    nets.checkHost();
    const [a, b] = [await netnsProcess(), await netnsProcess()];
    const ea = nets.connect(a, "bridge", { containerId: cid(1) });
    const eb = nets.connect(b, "bridge", { containerId: cid(2) });

    expect(ea.bridge).toBe(BRIDGE);
    expect(ea.ip).not.toBe(eb.ip);
    expect(ea.gateway).toBe(ea.ip.replace(/\.\d+\.\d+$/, ".0.1"));
    expect(ea.mac).toBe(
      "02:42:" +
        ea.ip
          .split(".")
          .map((x) => Number(x).toString(16).padStart(2, "0"))
          .join(":"),
    );
    expect(ea.hostVeth).toMatch(/^veth[0-9a-f]{7}$/);

    // inside: eth0 with the address, MAC and MTU, lo up, default route via the gateway
    const addrs = JSON.parse(inNs(a, ["ip", "-j", "addr"]).stdout) as any[];
    const eth0 = addrs.find((l) => l.ifname === "eth0");
    const lo = addrs.find((l) => l.ifname === "lo");
    expect(eth0.address).toBe(ea.mac);
    expect(eth0.mtu).toBe(1500);
    expect(eth0.flags).toContain("UP");
    expect(eth0.addr_info.some((x: any) => x.family === "inet" && x.local === ea.ip && x.prefixlen === ea.prefixLen)).toBe(true);
    expect(lo.flags).toContain("UP");
    const routes = JSON.parse(inNs(a, ["ip", "-j", "route"]).stdout) as any[];
    expect(routes).toContainEqual(expect.objectContaining({ dst: "default", gateway: ea.gateway, dev: "eth0" }));

    // host: the bridge carries the gateway and the veth is its port
    const br = JSON.parse(Bun.spawnSync(["ip", "-j", "addr", "show", "dev", BRIDGE]).stdout.toString())[0];
    expect(br.addr_info.some((x: any) => x.local === ea.gateway)).toBe(true);
    const veth = JSON.parse(Bun.spawnSync(["ip", "-j", "link", "show", "dev", ea.hostVeth]).stdout.toString())[0];
    expect(veth.master).toBe(BRIDGE);

    // the two containers reach each other and the gateway
    expect(inNs(a, ["busybox", "ping", "-c", "1", "-W", "5", eb.ip])).toMatchObject({ exitCode: 0 });
    expect(inNs(b, ["busybox", "ping", "-c", "1", "-W", "5", ea.ip])).toMatchObject({ exitCode: 0 });
    expect(inNs(b, ["busybox", "ping", "-c", "1", "-W", "5", eb.gateway])).toMatchObject({ exitCode: 0 });

    // connecting the same container twice is refused
    expect(() => nets.connect(a, "bridge", { containerId: cid(1) })).toThrow(/already connected/);

    // release frees the address and removes the veth (the peer goes with it)
    nets.release(cid(1));
    expect(hostLinkNames()).not.toContain(ea.hostVeth);
    expect(JSON.parse(inNs(a, ["ip", "-j", "link"]).stdout).map((l: any) => l.ifname)).toEqual(["lo"]);
    expect(Object.keys(nets.inspect("bridge").endpoints)).toEqual([eb.ip]);

    // rules lost behind berth's back (a flushed ruleset) are put back by the next connect
    Bun.spawnSync(["nft", "delete", "table", "ip", TABLE]);
    expect(natInstalled(TABLE, BRIDGE)).toBe(false);

    // the freed address is handed out again
    const c = await netnsProcess();
    const ec = nets.connect(c, "bridge", { containerId: cid(3) });
    expect(ec.ip).toBe(ea.ip);
    expect(natInstalled(TABLE, BRIDGE)).toBe(true);
    expect(Bun.spawnSync(["nft", "list", "table", "ip", TABLE]).stdout.toString()).toContain("masquerade");

    expect(() => nets.remove("bridge")).toThrow(/active endpoints/);
    nets.release(cid(2));
    nets.release(cid(3));
    nets.release(cid(3)); // idempotent
    nets.remove("bridge");
    const left = hostLinkNames();
    expect(left).not.toContain(BRIDGE);
    expect(left.filter((n) => n === eb.hostVeth || n === ec.hostVeth)).toEqual([]);
    expect(nftTableExists(TABLE)).toBe(false);
  });

  test("--network none brings up only lo; berth's own netns is refused", async () => {
    const nets = new NetworkManager({ root: tmpRoot(), defaultBridge: BRIDGE, natTable: TABLE });
    const p = await netnsProcess();
    nets.setupNone(p);
    const links = JSON.parse(inNs(p, ["ip", "-j", "link"]).stdout) as any[];
    expect(links.map((l) => l.ifname)).toEqual(["lo"]);
    expect(links[0].flags).toContain("UP");
    expect(() => nets.connect(process.pid, "bridge", { containerId: cid(9) })).toThrow(/shares berth's network namespace/);
    expect(() => nets.connect(2 ** 22 + 7, "bridge", { containerId: cid(9) })).toThrow(/not found/);
    expect(nets.list()).toEqual([]);
  });

  test("a failed connect undoes its veth and its address", async () => {
    const nets = new NetworkManager({ root: tmpRoot(), defaultBridge: BRIDGE, natTable: TABLE });
    const p = await netnsProcess();
    const vethsBefore = hostLinkNames().filter((n) => n.startsWith("veth"));
    // a bad MAC (multicast bit set) is rejected by the kernel after the address was recorded
    expect(() => nets.connect(p, "bridge", { containerId: cid(4), mac: "03:00:00:00:00:01" })).toThrow(
      /connect container .*RTM_NEWLINK "veth[0-9a-f]{7}": Cannot assign requested address \(EADDRNOTAVAIL\)/,
    );
    expect(Object.keys(nets.inspect("bridge").endpoints)).toEqual([]);
    expect(hostLinkNames().filter((n) => n.startsWith("veth") && !vethsBefore.includes(n))).toEqual([]);
    expect(JSON.parse(inNs(p, ["ip", "-j", "link"]).stdout).map((l: any) => l.ifname)).toEqual(["lo"]);
    nets.remove("bridge");
    expect(hostLinkNames()).not.toContain(BRIDGE);
    expect(nftTableExists(TABLE)).toBe(false);
  });

  test("outbound NAT: a server outside sees the host's address, not the container's", async () => {
    const nets = new NetworkManager({ root: tmpRoot(), defaultBridge: BRIDGE, natTable: TABLE });
    const ctr = await netnsProcess();
    const outside = await netnsProcess();
    // "outside": another netns joined to the host by a veth with a /30 of its own
    const o = 64 + (randomBytes(1)[0]! % 64);
    const hostEnd = `bo${tag}`;
    const [hostIp, outIp] = [`10.253.${o}.1`, `10.253.${o}.2`];
    extraLinks.push(hostEnd);
    {
      using s = new NetlinkSocket();
      const fd = openSync(`/proc/${outside}/ns/net`, "r");
      try {
        createVethPair(s, hostEnd, "eth0", { netnsFd: fd });
      } finally {
        closeSync(fd);
      }
      const h = requireLink(s, hostEnd);
      addAddress(s, h.index, `${hostIp}/30`);
      setUp(s, h.index);
      using ns = openSocketInNetns(`/proc/${outside}/ns/net`);
      const e = requireLink(ns, "eth0");
      addAddress(ns, e.index, `${outIp}/30`);
      setUp(ns, e.index);
      setUp(ns, requireLink(ns, "lo").index);
    }
    const ep = nets.connect(ctr, "bridge", { containerId: cid(5) });
    // independent check of what the kernel holds, read back through the nft tool
    expect(Bun.spawnSync(["nft", "list", "table", "ip", TABLE]).stdout.toString()).toContain(`ip saddr ${ep.subnet} oifname != "${BRIDGE}" masquerade`);
    expect((await Bun.file("/proc/sys/net/ipv4/ip_forward").text()).trim()).toBe("1");

    // a TCP server in "outside" that answers with the peer address it sees
    const dir = tmpRoot();
    const script = join(dir, "server.ts");
    writeFileSync(
      script,
      `Bun.listen({ hostname: "${outIp}", port: 18080, socket: { open(s) { s.write(s.remoteAddress + "\\n"); s.end(); }, data() {} } });
       console.log("ready");`,
    );
    const server = Bun.spawn(["nsenter", "-t", String(outside), "-n", process.execPath, script], { stdout: "pipe", stderr: "inherit" });
    procs.push(server);
    const reader = server.stdout.getReader();
    const first = await reader.read();
    expect(new TextDecoder().decode(first.value)).toContain("ready");

    const r = inNs(ctr, ["busybox", "nc", "-w", "5", outIp, "18080"]);
    expect(r).toMatchObject({ exitCode: 0 });
    expect(r.stdout.trim()).toBe(hostIp);
    expect(r.stdout.trim()).not.toBe(ep.ip);

    server.kill(9);
    await server.exited;
    nets.release(cid(5));
    nets.remove("bridge");
    {
      using s = new NetlinkSocket();
      deleteLinkByName(s, hostEnd);
    }
    expect(hostLinkNames().filter((n) => n === hostEnd || n === BRIDGE || n === ep.hostVeth)).toEqual([]);
    expect(nftTableExists(TABLE)).toBe(false);
  });

  test("user networks: --subnet overlap refused, internal has no default route", async () => {
    const nets = new NetworkManager({ root: tmpRoot(), defaultBridge: BRIDGE, natTable: TABLE });
    const sub = `10.254.${randomBytes(1)[0]! % 200}.0/24`;
    const rec = nets.create(`net${tag}`, { subnet: sub, internal: true });
    expect(rec.bridge).toMatch(/^br-[0-9a-f]{12}$/);
    extraLinks.push(rec.bridge);
    expect(() => nets.create(`other${tag}`, { subnet: sub.replace(/\.0\/24$/, ".128/25") })).toThrow(/overlaps network/);
    expect(() => nets.create(`net${tag}`)).toThrow(/already exists/);
    const p = await netnsProcess();
    const ep = nets.connect(p, `net${tag}`, { containerId: cid(6), ip: sub.replace(/\.0\/24$/, ".77") });
    expect(ep.ip).toBe(sub.replace(/\.0\/24$/, ".77"));
    expect(JSON.parse(inNs(p, ["ip", "-j", "route"]).stdout).some((r: any) => r.dst === "default")).toBe(false);
    expect(Bun.spawnSync(["nft", "list", "table", "ip", TABLE]).stdout.toString()).toContain("drop");
    expect(nets.prune()).toEqual([]); // in use
    nets.release(cid(6));
    expect(nets.prune()).toEqual([`net${tag}`]);
    expect(hostLinkNames()).not.toContain(rec.bridge);
    expect(nftTableExists(TABLE)).toBe(false);
  });

  test("two networks: eth0 and eth1, disconnect takes one away", async () => {
    const nets = new NetworkManager({ root: tmpRoot(), defaultBridge: BRIDGE, natTable: TABLE });
    const user = nets.create(`two${tag}`);
    extraLinks.push(user.bridge);
    const p = await netnsProcess();
    const e0 = nets.connect(p, "bridge", { containerId: cid(7) });
    const e1 = nets.connect(p, `two${tag}`, { containerId: cid(7) });
    expect([e0.ifName, e1.ifName]).toEqual(["eth0", "eth1"]);
    expect(e0.subnet).not.toBe(e1.subnet);
    expect(() => nets.connect(p, `two${tag}`, { containerId: cid(7) })).toThrow(/already connected/);
    const names = () =>
      (JSON.parse(inNs(p, ["ip", "-j", "addr"]).stdout) as any[]).map((l) => `${l.ifname}:${l.addr_info.find((a: any) => a.family === "inet")?.local}`);
    expect(names()).toEqual(["lo:127.0.0.1", `eth0:${e0.ip}`, `eth1:${e1.ip}`]);
    const defaults = (JSON.parse(inNs(p, ["ip", "-j", "route"]).stdout) as any[]).filter((r) => r.dst === "default");
    expect(defaults).toEqual([expect.objectContaining({ gateway: e0.gateway, dev: "eth0" })]);
    nets.disconnect(cid(7), `two${tag}`);
    expect(names()).toEqual(["lo:127.0.0.1", `eth0:${e0.ip}`]);
    expect(nets.inspect(`two${tag}`).endpoints).toEqual({});
    const again = nets.connect(p, `two${tag}`, { containerId: cid(7) });
    expect(again.ifName).toBe("eth1");
    nets.release(cid(7));
    nets.remove(`two${tag}`);
    nets.remove("bridge");
    expect(hostLinkNames().filter((n) => [BRIDGE, user.bridge, e0.hostVeth, e1.hostVeth, again.hostVeth].includes(n))).toEqual([]);
    expect(nftTableExists(TABLE)).toBe(false);
  });

  test("after a crash: a dead container's records and ports are reclaimed by releaseStale", async () => {
    const nets = new NetworkManager({ root: tmpRoot(), defaultBridge: BRIDGE, natTable: TABLE });
    const [live, dead] = [await netnsProcess(), await netnsProcess()];
    const el = nets.connect(live, "bridge", { containerId: cid(10) });
    await nets.reservePorts(cid(11), [{ hostIp: "127.0.0.1", hostPort: 0, containerPort: 80, proto: "tcp" }]);
    const ed = nets.connect(dead, "bridge", { containerId: cid(11) });
    expect(ed.ports.length).toBe(1);
    // the "container" dies without berth noticing: its netns goes, and the kernel removes both veth ends
    const proc = procs.find((p) => p.pid === dead)!;
    proc.kill(9);
    await proc.exited;
    nets.releaseStale((id) => id === cid(10));
    expect(Object.keys(nets.inspect("bridge").endpoints)).toEqual([el.ip]);
    expect(nets.ports(cid(11))).toEqual([]);
    expect(Bun.spawnSync(["nft", "list", "map", "ip", TABLE, "pm_ip"]).stdout.toString()).not.toContain(`${ed.ports[0]!.hostPort} :`);
    for (let i = 0; i < 200 && hostLinkNames().includes(ed.hostVeth); i++) await Bun.sleep(10); // netns teardown is asynchronous
    expect(hostLinkNames()).not.toContain(ed.hostVeth);
    nets.release(cid(10));
    nets.remove("bridge");
    expect(hostLinkNames().filter((n) => [BRIDGE, el.hostVeth].includes(n))).toEqual([]);
    expect(nftTableExists(TABLE)).toBe(false);
  });
});
