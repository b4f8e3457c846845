/**
 * Embedded DNS on a user network: two "containers" (processes in new netns) connected with names,
 * the server on the network's gateway, busybox nslookup and nc from inside by name. Other names go
 * to an upstream the test runs itself on 127.0.0.1 — never a real resolver.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { randomBytes } from "node:crypto";
import { mkdtempSync, readlinkSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { rootEnabled } from "../helpers/root.ts";
import { NetworkManager, startDnsServer } from "../../src/net/index.ts";
import { buildAnswer, parseQuery } from "../../src/net/dns.ts";
import { NetlinkSocket, deleteLinkByName, linkByName, listLinks } from "../../src/ffi/netlink.ts";

const tag = randomBytes(3).toString("hex");
const TABLE = `berth_d${tag}`;
const procs: Bun.Subprocess[] = [];
const dirs: string[] = [];
const links: string[] = [];

afterAll(() => {
  for (const p of procs) p.kill(9);
  using s = new NetlinkSocket();
  for (const l of links) deleteLinkByName(s, l);
  if (Bun.spawnSync(["nft", "list", "table", "ip", TABLE], { stdout: "ignore", stderr: "ignore" }).exitCode === 0) {
    Bun.spawnSync(["nft", "delete", "table", "ip", TABLE]);
  }
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

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

/** async on purpose: the DNS server under test answers from this process's event loop */
async function inNs(pid: number, argv: string[]) {
  const p = Bun.spawn(["nsenter", "-t", String(pid), "-n", ...argv], { stdout: "pipe", stderr: "pipe" });
  const [stdout, exitCode] = await Promise.all([new Response(p.stdout).text(), p.exited]);
  return { stdout, exitCode };
}

describe.skipIf(!rootEnabled)("embedded DNS", () => {
  test("containers resolve each other by name and alias; other names are forwarded", async () => {
    const root = mkdtempSync("/tmp/berth-test-net-");
    dirs.push(root);
    const nets = new NetworkManager({ root, natTable: TABLE });
    const rec = nets.create(`dns${tag}`);
    links.push(rec.bridge);
    const [a, b] = [await netnsProcess(), await netnsProcess()];
    const ea = nets.connect(a, `dns${tag}`, { containerId: "a".repeat(64), names: ["web", "frontend"] });
    const eb = nets.connect(b, `dns${tag}`, { containerId: "b".repeat(64), names: ["db"] });

    // a stand-in upstream on loopback that answers every A question with 10.9.9.9
    const upstream = await Bun.udpSocket({
      hostname: "127.0.0.1",
      port: 0,
      socket: {
        data(s, buf, port, address) {
          const q = parseQuery(buf);
          if (q) s.send(buildAnswer(buf, q, ["10.9.9.9"]), port, address);
        },
      },
    });
    const dns = await startDnsServer({ root, network: `dns${tag}`, upstreams: [`127.0.0.1:${upstream.port}`] });
    try {
      expect(dns.hostname).toBe(ea.gateway);
      const look = async (pid: number, name: string) => await inNs(pid, ["busybox", "nslookup", "-type=a", name, ea.gateway]);
      const r1 = await look(a, "db");
      expect(r1.exitCode).toBe(0);
      expect(r1.stdout).toContain(`Address: ${eb.ip}`);
      expect((await look(b, "frontend")).stdout).toContain(`Address: ${ea.ip}`);
      expect((await look(b, "WEB")).stdout).toContain(`Address: ${ea.ip}`);
      expect((await look(a, "elsewhere.test")).stdout).toContain("Address: 10.9.9.9");

      // a container connected after the server started resolves too (the record is re-read), and the
      // bridge keeps its MAC when the new port joins (else a's cached gateway MAC goes stale: a timeout)
      const bridgeMac = () => {
        using s = new NetlinkSocket();
        return linkByName(s, rec.bridge)?.mac;
      };
      const macBefore = bridgeMac();
      const c = await netnsProcess();
      const ec = nets.connect(c, `dns${tag}`, { containerId: "c".repeat(64), names: ["late"] });
      expect(bridgeMac()).toBe(macBefore!);
      expect((await look(a, "late")).stdout).toContain(`Address: ${ec.ip}`);

      // and a TCP exchange with the address the name resolved to
      const d = mkdtempSync("/tmp/berth-test-net-");
      dirs.push(d);
      writeFileSync(
        join(d, "srv.ts"),
        `Bun.listen({ hostname: "0.0.0.0", port: 7000, socket: { open(s) { s.write("pong\\n"); s.end(); }, data() {} } }); console.log("ready");`,
      );
      const srv = Bun.spawn(["nsenter", "-t", String(b), "-n", process.execPath, join(d, "srv.ts")], { stdout: "pipe" });
      procs.push(srv);
      await srv.stdout.getReader().read();
      const ip = (await look(a, "db")).stdout.match(/Address: (\d+\.\d+\.\d+\.\d+)\s*$/m)?.[1];
      expect(ip).toBe(eb.ip);
      expect((await inNs(a, ["busybox", "nc", "-w", "5", ip!, "7000"])).stdout.trim()).toBe("pong");
    } finally {
      dns.stop();
      upstream.close();
    }
    nets.release("a".repeat(64));
    nets.release("b".repeat(64));
    nets.release("c".repeat(64));
    nets.remove(`dns${tag}`);
    using s = new NetlinkSocket();
    expect(listLinks(s).map((l) => l.name)).not.toContain(rec.bridge);
  });
});
