/**
 * Concurrent `run`s never share an address: several bun processes allocate from one store at once,
 * first through the store alone (many allocations), then through NetworkManager.connect with real
 * namespaces (which also races the first-use bridge and NAT creation).
 */
import { afterAll, describe, expect, test } from "bun:test";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { rootEnabled } from "../helpers/root.ts";
import { NetworkManager } from "../../src/net/index.ts";
import { NetlinkSocket, deleteLinkByName, listLinks } from "../../src/ffi/netlink.ts";
import { dropLeaseDir } from "../helpers/leases.ts";

const SRC = resolve(import.meta.dir, "../../src/net");
const tag = randomBytes(3).toString("hex");
const BRIDGE = `bc${tag}`;
const TABLE = `berth_c${tag}`;
const dirs: string[] = [];

function tmpRoot(): string {
  const d = mkdtempSync("/tmp/berth-test-net-");
  dirs.push(d);
  return d;
}

afterAll(() => {
  using s = new NetlinkSocket();
  deleteLinkByName(s, BRIDGE);
  dropLeaseDir(BRIDGE);
  if (Bun.spawnSync(["nft", "list", "table", "ip", TABLE], { stdout: "ignore", stderr: "ignore" }).exitCode === 0) {
    Bun.spawnSync(["nft", "delete", "table", "ip", TABLE]);
  }
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

async function runWorkers(script: string, n: number, args: (i: number) => string[]): Promise<string[]> {
  const ps = Array.from({ length: n }, (_, i) => Bun.spawn([process.execPath, script, ...args(i)], { stdout: "pipe", stderr: "pipe" }));
  const outs = await Promise.all(
    ps.map(async (p) => ({ out: await new Response(p.stdout).text(), err: await new Response(p.stderr).text(), code: await p.exited })),
  );
  for (const o of outs) expect({ code: o.code, err: o.err }).toEqual({ code: 0, err: "" });
  return outs.flatMap((o) => o.out.trim().split("\n").filter(Boolean));
}

describe("concurrent allocation", () => {
  test("store: 6 processes × 15 allocations are all distinct", async () => {
    const root = tmpRoot();
    const script = join(root, "alloc.ts");
    writeFileSync(
      script,
      `import { NetworkStore } from ${JSON.stringify(join(SRC, "store.ts"))};
       import { allocate, parseSubnet } from ${JSON.stringify(join(SRC, "ipam.ts"))};
       const store = new NetworkStore(process.argv[2]);
       for (let k = 0; k < 15; k++) {
         const ip = store.withLock(() => {
           const rec = store.get("n") ?? { name: "n", id: "x", driver: "bridge", bridge: "b", subnet: "10.9.0.0/24", gateway: "10.9.0.1", internal: false, mtu: 1500, createdAt: "", endpoints: {} };
           const ip = allocate(parseSubnet(rec.subnet), rec.gateway, Object.keys(rec.endpoints));
           rec.endpoints[ip] = { containerId: process.argv[3] + "-" + k, hostVeth: "", ifName: "eth0", mac: "" };
           store.put(rec);
           return ip;
         });
         console.log(ip);
       }`,
    );
    const ips = await runWorkers(script, 6, (i) => [root, `w${i}`]);
    expect(ips.length).toBe(90);
    expect(new Set(ips).size).toBe(90);
    const NetworkStore = (await import("../../src/net/store.ts")).NetworkStore;
    expect(Object.keys(new NetworkStore(root).get("n")!.endpoints).sort()).toEqual([...ips].sort());
  });

  test.skipIf(!rootEnabled)("connect: 4 processes connecting at once to a network not yet created", async () => {
    const root = tmpRoot();
    const script = join(root, "connect.ts");
    writeFileSync(
      script,
      `import { NetworkManager } from ${JSON.stringify(join(SRC, "index.ts"))};
       const [root, bridge, table, id] = process.argv.slice(2);
       const p = Bun.spawn(["unshare", "-n", "sleep", "60"]);
       const own = (await import("node:fs")).readlinkSync("/proc/self/ns/net");
       while ((await import("node:fs")).readlinkSync("/proc/" + p.pid + "/ns/net") === own) await Bun.sleep(2);
       try {
         const ep = new NetworkManager({ root, defaultBridge: bridge, natTable: table }).connect(p.pid, "bridge", { containerId: id });
         console.log(ep.ip + " " + ep.hostVeth);
       } finally { p.kill(9); await p.exited; }`,
    );
    const ids = Array.from({ length: 4 }, (_, i) => String(i + 1).repeat(64));
    const lines = await runWorkers(script, 4, (i) => [root, BRIDGE, TABLE, ids[i]!]);
    const ips = lines.map((l) => l.split(" ")[0]);
    expect(new Set(ips).size).toBe(4);
    const nets = new NetworkManager({ root, defaultBridge: BRIDGE, natTable: TABLE });
    expect(Object.keys(nets.inspect("bridge").endpoints).sort()).toEqual([...ips].sort() as string[]);
    for (const id of ids) nets.release(id);
    nets.remove("bridge");
    using s = new NetlinkSocket();
    const names = listLinks(s).map((l) => l.name);
    expect(names).not.toContain(BRIDGE);
    expect(lines.map((l) => l.split(" ")[1]).filter((v) => names.includes(v!))).toEqual([]);
  });
});
