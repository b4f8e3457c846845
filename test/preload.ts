/**
 * Loaded before every test file (bunfig.toml [test] preload). As root, the whole run gets a default
 * bridge, subnet and nftables table of its own (BERTH_BRIDGE / BERTH_BIP / BERTH_NFT_TABLE, docker's
 * daemon --bridge / --bip), inherited by every berth process the tests start, and removes them after
 * the last test: the suite leaves no link, address or firewall table behind, and never touches a
 * berth0 that real containers on this host may be using. Tests that need their own set them explicitly.
 */
import { freeSubnets } from "./helpers/subnets.ts";
import { afterAll } from "bun:test";
import { existsSync, rmSync } from "node:fs";
import { randomBytes } from "node:crypto";
import { rootEnabled } from "./helpers/root.ts";
import { berthCgroupParents, removeNewCgroupParents } from "./helpers/cgroups.ts";

// Nothing a test starts may reach a registry beyond this host (`run` pulls a missing image from docker.io,
// as docker does): every http(s) request not to loopback goes to a closed local port instead. Bun's fetch
// and skopeo both honour these variables, and every berth process the tests start inherits them.
for (const k of ["HTTPS_PROXY", "HTTP_PROXY", "https_proxy", "http_proxy"]) process.env[k] = "http://127.0.0.1:9";
for (const k of ["NO_PROXY", "no_proxy"]) process.env[k] = "127.0.0.1,localhost,::1";

// Bun.spawn and Bun.spawnSync without an `env` option hand the child the environment the test process
// started with, not process.env as changed here: a berth the tests start that way would miss the
// proxies above and the bridge below (and create the host's default berth0). They get process.env.
{
  type Spawn = (a: unknown, b?: { env?: Record<string, string | undefined> }) => unknown;
  const withEnv =
    (orig: Spawn): Spawn =>
    (a, b) => {
      if (Array.isArray(a)) return orig(a, { ...b, env: b?.env ?? { ...process.env } });
      const o = a as { env?: Record<string, string | undefined> };
      return orig({ ...o, env: o.env ?? { ...process.env } }, b);
    };
  const B = Bun as unknown as { spawn: Spawn; spawnSync: Spawn };
  B.spawn = withEnv(B.spawn.bind(Bun));
  B.spawnSync = withEnv(B.spawnSync.bind(Bun));
}

// berth is daemonless in tests unless a test points it at a daemon itself: no endpoint inherited from
// the environment or from a context the user chose with `berth context use` (client mode)
for (const k of ["BERTH_HOST", "DOCKER_HOST", "BERTH_CONTEXT", "DOCKER_CONTEXT"]) delete process.env[k];
process.env.BERTH_CONFIG ??= `/tmp/berth-test-config-${process.pid}`;

if (rootEnabled && !process.env.BERTH_BRIDGE) {
  const tag = randomBytes(3).toString("hex");
  const bridge = `bt${tag}`;
  const table = `berth_t${tag}`;
  process.env.BERTH_BRIDGE = bridge;
  process.env.BERTH_NFT_TABLE = table;
  process.env.BERTH_BIP = freeSubnets(1, [50, 100])[0];
  const parents = new Set(berthCgroupParents());
  afterAll(() => {
    removeNewCgroupParents(parents);
    Bun.spawnSync(["ip", "link", "del", bridge], { stderr: "ignore" });
    Bun.spawnSync(["nft", "delete", "table", "ip", table], { stderr: "ignore" });
    if (existsSync(`/run/berth/net/${bridge}`)) rmSync(`/run/berth/net/${bridge}`, { recursive: true, force: true });
  });
}
