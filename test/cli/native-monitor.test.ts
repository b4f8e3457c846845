/**
 * The native monitor (src/runtime/monitor.c) against the Bun monitor it replaces (BERTH_MONITOR=bun):
 * the same json-file lines for awkward output (invalid UTF-8, control characters, a line over 16 KiB, a
 * surrogate pair cut at the split, a last line without newline) and the same rotation; it is the
 * recorded monitor (same pid as the Bun process it replaced) and stays small; attach with stdin and
 * the exit code; one DNS process serves every user network. Root only.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { type CliResult, busyboxRoot, waitUntil } from "../helpers/cli.ts";
import { freeSubnets } from "../helpers/subnets.ts";
import { rootEnabled } from "../helpers/root.ts";
import { dropLeaseDir } from "../helpers/leases.ts";

const tag = Math.random().toString(16).slice(2, 8);
const SUBNETS = rootEnabled ? freeSubnets(3).map((c) => c.slice(0, -4)) : ["", "", ""];
// a bridge and nftables table of its own: never the host's default ones
const env = { BERTH_BRIDGE: `bm${tag}`, BERTH_BIP: `${SUBNETS[2]}0/24`, BERTH_NFT_TABLE: `berth_m${tag}` };
const { root, run } = busyboxRoot("native-mon", { env });
afterAll(() => {
  if (!rootEnabled) return;
  Bun.spawnSync(["nft", "delete", "table", "ip", env.BERTH_NFT_TABLE], { stderr: "ignore" });
  Bun.spawnSync(["ip", "link", "del", env.BERTH_BRIDGE], { stderr: "ignore" });
  dropLeaseDir(env.BERTH_BRIDGE);
});
const ok = (r: CliResult) => expect(r).toMatchObject({ exitCode: 0 });
const sfx = Math.random().toString(36).slice(2, 8);
const net = ["--network", "none"];
const BUN = { ...env, BERTH_MONITOR: "bun" };

const inspect = async (name: string, f: string) => (await run(["inspect", "-f", f, name])).stdout.trim();

/** the log's entries of one stream, time dropped (the two streams' order depends on read timing) */
function entries(path: string, stream: string): string[] {
  return readFileSync(path, "utf8")
    .split("\n")
    .filter(Boolean)
    .map((l) => {
      const e = JSON.parse(l) as { log: string; stream: string; time: string };
      expect(e.time).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z$/);
      expect(Object.keys(e)).toEqual(["log", "stream", "time"]);
      return e;
    })
    .filter((e) => e.stream === stream)
    .map((e) => JSON.stringify(e.log));
}

/** raw lines with the time cut out, to compare the bytes the two monitors wrote */
function rawLines(path: string): string[] {
  return readFileSync(path, "utf8")
    .split("\n")
    .filter(Boolean)
    .map((l) => l.replace(/"time":"[^"]+"/, ""));
}

async function runToEnd(name: string, env: Record<string, string>, args: string[]): Promise<string> {
  ok(await run(["run", "-d", ...net, "--name", name, ...args], { env }));
  await waitUntil(`${name} to exit`, async () => (await inspect(name, "{{.State.Status}}")) === "exited");
  return inspect(name, "{{.LogPath}}");
}

const AWKWARD = [
  "printf 'plain\\n'",
  "printf 'tab\\there \"q\" back\\\\slash \\001\\033[0m\\r\\n'",
  "printf '\\303\\251 \\360\\237\\230\\200 astral \\342\\200\\250 sep\\n'",
  "printf 'bad \\377\\376 \\340\\200 trunc \\355\\240\\200 surrogate\\n'",
  "printf 'to stderr\\n' >&2",
  "head -c 20000 /dev/zero | tr '\\0' a; printf '\\n'",
  "head -c 16383 /dev/zero | tr '\\0' b; printf '\\360\\237\\230\\200x\\n'",
  "printf 'partial \\342\\202'",
].join("; ");

describe.skipIf(!rootEnabled)("native monitor", () => {
  test("it is the recorded monitor, small, and the container is its child", async () => {
    const name = `nm-${sfx}`;
    ok(await run(["run", "-d", ...net, "--name", name, "busybox", "sleep", "60"]));
    const id = await inspect(name, "{{.Id}}");
    const st = JSON.parse(readFileSync(join(root, "containers", id, "state.json"), "utf8")) as { MonitorPid: number; Pid: number };
    const exe = readFileSync(`/proc/${st.MonitorPid}/cmdline`, "latin1").split("\0")[0]!;
    expect(exe).toMatch(/\/bin\/monitor-(src-)?[0-9a-f]{16}$/);
    const ppid = Number(readFileSync(`/proc/${st.Pid}/stat`, "utf8").split(") ")[1]!.split(" ")[1]);
    expect(ppid).toBe(st.MonitorPid);
    const rss = Number(/^VmRSS:\s+(\d+)/m.exec(readFileSync(`/proc/${st.MonitorPid}/status`, "utf8"))?.[1]);
    expect(rss).toBeLessThan(4096); // kB; the Bun monitor holds ~40 MB
    ok(await run(["stop", "-t", "1", name]));
    expect(await inspect(name, "{{.State.Status}} {{.State.ExitCode}}")).toBe("exited 137"); // sleep as PID 1 ignores SIGTERM
    ok(await run(["rm", name]));
  });

  test("the json-file log is the Bun monitor's, line for line, for awkward output", async () => {
    const nat = await runToEnd(`lg-n-${sfx}`, env, ["busybox", "sh", "-c", AWKWARD]);
    const bun = await runToEnd(`lg-b-${sfx}`, BUN, ["busybox", "sh", "-c", AWKWARD]);
    for (const s of ["stdout", "stderr"]) expect(entries(nat, s)).toEqual(entries(bun, s));
    const out = entries(nat, "stdout");
    expect(out.length).toBe(9); // plain, tab, astral, bad, 16384 a + the rest, 16383 b + half a pair, the rest, partial
    expect((await run(["logs", `lg-n-${sfx}`])).stdout).toBe((await run(["logs", `lg-b-${sfx}`])).stdout);
    ok(await run(["rm", `lg-n-${sfx}`, `lg-b-${sfx}`]));
  });

  test("max-size and max-file rotate as the Bun monitor does", async () => {
    const opts = ["--log-opt", "max-size=2k", "--log-opt", "max-file=3", "busybox", "sh", "-c", "i=0; while [ $i -lt 120 ]; do echo line $i; i=$((i+1)); done"];
    const nat = await runToEnd(`rot-n-${sfx}`, env, opts);
    const bun = await runToEnd(`rot-b-${sfx}`, BUN, opts);
    for (const suffix of ["", ".1", ".2"]) {
      expect(existsSync(nat + suffix)).toBe(true);
      expect(rawLines(nat + suffix)).toEqual(rawLines(bun + suffix));
    }
    expect(existsSync(`${nat}.3`)).toBe(false);
    ok(await run(["rm", `rot-n-${sfx}`, `rot-b-${sfx}`]));
  });

  test("attach: stdin in, output and the exit code out; a restart by policy comes back to a native monitor", async () => {
    const name = `at-${sfx}`;
    ok(await run(["run", "-d", "-i", ...net, "--name", name, "busybox", "sh", "-c", "cat; echo done; exit 4"]));
    const r = await run(["attach", name], { stdin: "hello\n" });
    expect(r).toMatchObject({ stdout: "hello\ndone\n", exitCode: 4 });
    expect(await inspect(name, "{{.State.Status}} {{.State.ExitCode}}")).toBe("exited 4");
    ok(await run(["rm", name]));

    const again = `rs-${sfx}`;
    ok(await run(["run", "-d", ...net, "--name", again, "--restart", "on-failure:1", "busybox", "sh", "-c", "sleep 0.3; exit 2"]));
    await waitUntil("one restart", async () => (await inspect(again, "{{.RestartCount}} {{.State.Status}}")) === "1 running");
    const id = await inspect(again, "{{.Id}}");
    const mon = (JSON.parse(readFileSync(join(root, "containers", id, "state.json"), "utf8")) as { MonitorPid: number }).MonitorPid;
    await waitUntil("the native monitor again", async () => readFileSync(`/proc/${mon}/cmdline`, "latin1").includes("/bin/monitor-"));
    await waitUntil("the second exit", async () => (await inspect(again, "{{.State.Status}}")) === "exited");
    expect(await inspect(again, "{{.RestartCount}} {{.State.ExitCode}}")).toBe("1 2");
    ok(await run(["rm", again]));
  });

  test("a port published on every address answers on [::1] through the native monitor's proxy, also after a restart", async () => {
    const l = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
    const port = l.port;
    l.stop(true);
    const name = `px-${sfx}`;
    const big = "x".repeat(300_000);
    ok(
      await run([
        "run",
        "-d",
        "--name",
        name,
        "-p",
        `${port}:80`,
        "busybox",
        "sh",
        "-c",
        `mkdir /www; head -c 300000 /dev/zero | tr '\\0' x > /www/big; echo v6 > /www/index.html; exec httpd -f -p 80 -h /www`,
      ]),
    );
    const get = async (path: string) => {
      let body = "";
      await waitUntil(`an answer on [::1]:${port}${path}`, async () => {
        try {
          body = await (await fetch(`http://[::1]:${port}${path}`)).text();
          return true;
        } catch {
          return false; // httpd not listening yet
        }
      });
      return body;
    };
    expect(await get("/")).toBe("v6\n");
    expect(await get("/big")).toBe(big);
    const id = await inspect(name, "{{.Id}}");
    const mon = (JSON.parse(readFileSync(join(root, "containers", id, "state.json"), "utf8")) as { MonitorPid: number }).MonitorPid;
    expect(readFileSync(`/proc/${mon}/cmdline`, "latin1")).toContain("--proxy");
    ok(await run(["restart", "-t", "1", name]));
    expect(await get("/")).toBe("v6\n");
    ok(await run(["rm", "-f", name]));
    const refused = await fetch(`http://[::1]:${port}/`).then(
      () => false,
      () => true,
    );
    expect(refused).toBe(true);
  });

  test("one DNS process serves every user network, and ends with the last", async () => {
    const nets = [`dn1-${sfx}`, `dn2-${sfx}`];
    const dns = () =>
      readdirSync("/proc").filter((p) => {
        try {
          return /^\d+$/.test(p) && readFileSync(`/proc/${p}/cmdline`, "latin1").includes(`${root}\0__dns`);
        } catch {
          return false; // raced with its exit
        }
      });
    try {
      ok(await run(["network", "create", "--subnet", `${SUBNETS[0]}0/24`, nets[0]!]));
      ok(await run(["network", "create", "--subnet", `${SUBNETS[1]}0/24`, nets[1]!]));
      for (const n of nets) {
        ok(await run(["run", "-d", "--network", n, "--name", `a-${n}`, "busybox", "sleep", "60"]));
        ok(await run(["run", "-d", "--network", n, "--name", `b-${n}`, "busybox", "sleep", "60"]));
      }
      expect(dns().length).toBe(1);
      // the native server (monitor.c's DNS mode): a couple of MB, not a Bun process
      const pid = dns()[0]!;
      expect(readFileSync(`/proc/${pid}/cmdline`, "latin1")).toMatch(/\/bin\/monitor-/);
      expect(Number(/^VmRSS:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1])).toBeLessThan(4096);
      for (const n of nets) {
        const r = await run(["exec", `a-${n}`, "nslookup", `b-${n}`]);
        expect(r.stdout).toContain(n === nets[0] ? SUBNETS[0]! : SUBNETS[1]!);
      }
      ok(await run(["rm", "-f", `a-${nets[0]}`, `b-${nets[0]}`]));
      ok(await run(["network", "rm", nets[0]!]));
      expect((await run(["exec", `a-${nets[1]}`, "nslookup", `b-${nets[1]}`])).stdout).toContain(SUBNETS[1]!);
      expect(dns().length).toBe(1);
      ok(await run(["rm", "-f", `a-${nets[1]}`, `b-${nets[1]}`]));
      await waitUntil("no DNS process", async () => dns().length === 0);
    } finally {
      for (const n of nets) await run(["network", "rm", "-f", n]);
    }
  });
});
