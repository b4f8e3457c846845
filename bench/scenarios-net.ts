/**
 * Networking scenarios (issue 5), kept apart from scenarios.ts:
 *
 *   n1. `run --rm IMG true` on berth's default bridge against the same run with `--network none`,
 *       interleaved pair by pair: the ratio is what bridge networking (address, veth pair, NAT check,
 *       release) adds to a container start. The absolute target (≤ 25 ms, 0.1 × docker) is scenario b's.
 *   n2. TCP throughput host → container through a published port on 127.0.0.1 (DNAT, bridge, veth)
 *       against the same transfer over the host's loopback: 256 MiB sent by a Bun one-liner, drained
 *       by busybox nc (in the container / on the host). Ratio > 1 = slower than loopback.
 *
 * Register in run.ts's table, e.g.
 *   ["n", "n. networking: bridge vs none; TCP host → container vs loopback", () => scenarioNet(c)],
 * with `import { scenarioNet } from "./scenarios-net.ts";`. The default bridge it uses is berth's own
 * (berth0, or $BERTH_BRIDGE); nothing outside loopback and that bridge carries traffic.
 */
import { existsSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { IMAGE } from "./fixtures.ts";
import { interleave, Scenario, type Side } from "./harness.ts";
import { runCmd } from "./proc.ts";
import type { Ctx } from "./scenarios.ts";

const T_RUN = 120_000;
const MB = 256;
const BUSYBOX = ["/bin/busybox", "/usr/bin/busybox"].find((p) => existsSync(p)) ?? "busybox";

function berth(ctx: Ctx, ...args: string[]): string[] {
  return [ctx.berthBin, "--root", ctx.berthRoot, ...args];
}

function timed(engine: string, cmd: string[]): Side {
  return {
    engine,
    op: () => runCmd(cmd, { timeoutMs: T_RUN }),
    rssProbe: () => runCmd(cmd, { timeoutMs: T_RUN, timeRss: true }).rssKb,
  };
}

export function scenarioNet(ctx: Ctx): Scenario[] {
  const fail = ctx.berthErr ?? ctx.berthImageErr;
  const start = new Scenario("n1", "n1. run --rm IMG true: default bridge vs --network none", fail);
  if (!fail) {
    interleave(
      start,
      timed("berth", berth(ctx, "run", "--rm", IMAGE, "true")),
      timed("berth --network none", berth(ctx, "run", "--rm", "--network", "none", IMAGE, "true")),
      ctx.runs,
      1,
      ctx.budget,
    );
  }
  return [start, throughput(ctx, fail)];
}

/** a persistent receiver (`nc -ll -e`): every connection is drained by `cat > /dev/null` until the sender closes */
const SINK = "#!/bin/sh\nexec cat > /dev/null\n";

/** the sender: Bun itself (busybox nc as a client stops after its first read of a pipe) — MB MiB, then close and wait for the receiver's */
const SEND = `const p=Number(process.argv[1]),c=new Uint8Array(1<<20);let left=Number(process.argv[2]),off=0;await new Promise((res,rej)=>Bun.connect({hostname:"127.0.0.1",port:p,socket:{open:f,drain:f,close:()=>res(),error:(_,e)=>rej(e),connectError:(_,e)=>rej(e)}}));function f(s){while(left>0){const n=s.write(c.subarray(off));if(n<c.length-off){off+=n;return}off=0;left--}s.end()}`;
const sender = (port: number, mb = MB) => [process.execPath, "-e", SEND, String(port), String(mb)];

/** untimed: wait until a receiver accepts (an empty connection; the receiver loop restarts after it) */
function ready(port: number): void {
  for (let i = 0; i < 100 && !runCmd(sender(port, 0), { timeoutMs: 5000 }).ok; i++) Bun.sleepSync(100);
}

function throughput(ctx: Ctx, fail: string | undefined): Scenario {
  const sc = new Scenario("n2", `n2. TCP ${MB} MiB host → container (published port on 127.0.0.1) vs host loopback`, fail);
  if (fail) return sc;
  const name = `berth-bench-net-${process.pid}`;
  const [cport, lport] = [30000 + (process.pid % 10000), 40000 + (process.pid % 10000)];
  const inCtr = `printf '${SINK}' > /tmp/sink && chmod +x /tmp/sink && exec nc -ll -p 5001 -e /tmp/sink`;
  const ctr = runCmd(berth(ctx, "run", "-d", "--name", name, "-p", `127.0.0.1:${cport}:5001`, IMAGE, "sh", "-c", inCtr), { timeoutMs: T_RUN });
  if (!ctr.ok) {
    sc.berth.status = `berth failed: ${ctr.stderr.trim().split("\n")[0]}`;
    return sc;
  }
  const sink = join(ctx.work, `sink-${process.pid}`);
  writeFileSync(sink, SINK, { mode: 0o755 });
  // its own process group, so nc and its per-connection children go at the end
  const loop = Bun.spawn([BUSYBOX, "nc", "-ll", "-p", String(lport), "-e", sink], { stdout: "ignore", stderr: "ignore", detached: true });
  try {
    ready(cport);
    ready(lport);
    interleave(
      sc,
      { engine: "berth", op: () => runCmd(sender(cport), { timeoutMs: T_RUN }) },
      { engine: "host loopback", op: () => runCmd(sender(lport), { timeoutMs: T_RUN }) },
      Math.min(ctx.runs, 5),
      1,
      ctx.budget,
    );
  } finally {
    try {
      process.kill(-loop.pid, 9);
    } catch {}
    rmSync(sink, { force: true });
    runCmd(berth(ctx, "rm", "-f", name), { timeoutMs: T_RUN });
  }
  return sc;
}
