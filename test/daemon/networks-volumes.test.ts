/**
 * The docker CLI on berth's daemon, network and volume verbs: network create (labels, subnet), ls with
 * filters, inspect, connect with an alias, disconnect, rm, prune, and name resolution between two
 * containers on a user network; volume create/ls/inspect/rm/prune and a named volume shared by two
 * containers. Root only; creates bridges (run under /work/wt/locked).
 */
import { describe, expect, test } from "bun:test";
import { rootEnabled } from "../helpers/root.ts";
import { apiDaemon, jsonLines } from "./_api-daemon.ts";

const d = apiDaemon("daemon-netvol");
const ok = (r: { exitCode: number; stderr: string; stdout: string }) => {
  if (r.exitCode !== 0) throw new Error(`exit ${r.exitCode}: ${r.stderr}${r.stdout}`);
  return r.stdout;
};
const tag = Math.random().toString(36).slice(2, 7);

describe.skipIf(!rootEnabled)("docker CLI → berth daemon: networks and volumes", () => {
  test("network create/ls/inspect; two containers resolve each other by name and by a connect alias; disconnect; rm; prune", async () => {
    const net = `apinet${tag}`;
    const net2 = `apinet2${tag}`;
    const id = ok(await d.docker(["network", "create", "--label", "purpose=test", "--subnet", "10.197.31.0/24", net])).trim();
    expect(id).toMatch(/^[0-9a-f]{64}$/);
    const dup = await d.docker(["network", "create", net]);
    expect(dup.exitCode).toBe(1);
    expect(dup.stderr).toContain("already exists");
    ok(await d.docker(["network", "create", net2]));
    const listed = ok(await d.docker(["network", "ls", "--filter", "label=purpose=test", "--format", "{{.Name}} {{.Driver}}"]));
    expect(listed).toBe(`${net} bridge\n`);
    expect(ok(await d.docker(["network", "ls", "--format", "{{.Name}}"])).split("\n")).toEqual(expect.arrayContaining(["bridge", "host", "none", net, net2]));
    const insp = JSON.parse(ok(await d.docker(["network", "inspect", net])))[0];
    expect(insp).toMatchObject({ Name: net, Id: id, Driver: "bridge", Labels: { purpose: "test" } });
    expect(insp.IPAM.Config[0].Subnet).toBe("10.197.31.0/24");

    ok(await d.docker(["run", "-d", "--pull=never", "--network", net, "--name", `srv${tag}`, "busybox", "sleep", "300"]));
    const ip = ok(await d.docker(["inspect", "-f", `{{(index .NetworkSettings.Networks "${net}").IPAddress}}`, `srv${tag}`])).trim();
    expect(ip).toMatch(/^10\.197\.31\.\d+$/);
    const containers = JSON.parse(ok(await d.docker(["network", "inspect", net])))[0].Containers;
    expect(Object.values(containers).map((c) => (c as { Name: string }).Name)).toEqual([`srv${tag}`]);
    const ping = await d.docker(["run", "--rm", "--pull=never", "--network", net, "busybox", "sh", "-c", `ping -c1 -W3 srv${tag} >/dev/null && echo reached`]);
    expect(ok(ping)).toBe("reached\n");

    // connect the running server to a second network with an alias: a client there reaches it by the alias
    ok(await d.docker(["network", "connect", "--alias", `extra${tag}`, net2, `srv${tag}`]));
    const viaAlias = await d.docker([
      "run",
      "--rm",
      "--pull=never",
      "--network",
      net2,
      "busybox",
      "sh",
      "-c",
      `ping -c1 -W3 extra${tag} >/dev/null && echo alias`,
    ]);
    expect(ok(viaAlias)).toBe("alias\n");
    const inUse = await d.docker(["network", "rm", net2]);
    expect(inUse.exitCode).toBe(1);
    ok(await d.docker(["network", "disconnect", net2, `srv${tag}`]));
    expect(JSON.parse(ok(await d.docker(["network", "inspect", net2])))[0].Containers).toEqual({});
    ok(await d.docker(["network", "rm", net2]));
    ok(await d.docker(["rm", "-f", `srv${tag}`]));

    const pruned = ok(await d.docker(["network", "prune", "-f", "--filter", "label=purpose=test"]));
    expect(pruned).toContain(net);
    const gone = await d.docker(["network", "inspect", net]);
    expect(gone.exitCode).toBe(1);
    expect(gone.stderr).toContain("not found");
  });

  test("volume create/ls/inspect; a named volume carries data between containers; rm refused in use; prune", async () => {
    const vol = `apivol${tag}`;
    expect(ok(await d.docker(["volume", "create", "--label", "kind=data", vol]))).toBe(`${vol}\n`);
    const ls = jsonLines<{ Name: string; Driver: string }>(ok(await d.docker(["volume", "ls", "--filter", "label=kind=data", "--format", "{{json .}}"])));
    expect(ls.map((v) => [v.Name, v.Driver])).toEqual([[vol, "local"]]);
    const insp = JSON.parse(ok(await d.docker(["volume", "inspect", vol])))[0];
    expect(insp).toMatchObject({ Name: vol, Driver: "local", Labels: { kind: "data" }, Scope: "local" });
    ok(await d.docker(["run", "--rm", "--pull=never", "-v", `${vol}:/data`, "busybox", "sh", "-c", "echo kept > /data/f"]));
    expect(ok(await d.docker(["run", "--rm", "--pull=never", "-v", `${vol}:/data:ro`, "busybox", "cat", "/data/f"]))).toBe("kept\n");
    ok(await d.docker(["create", "--pull=never", "--name", `holder${tag}`, "-v", `${vol}:/data`, "busybox"]));
    const busy = await d.docker(["volume", "rm", vol]);
    expect(busy.exitCode).toBe(1);
    expect(busy.stderr).toContain("volume is in use");
    ok(await d.docker(["rm", `holder${tag}`]));
    // an anonymous volume (a -v without a name) is what prune takes by default; --all takes named ones
    ok(await d.docker(["volume", "create", `other${tag}`]));
    const pruned = ok(await d.docker(["volume", "prune", "-f", "--all", "--filter", "label=kind=data"]));
    expect(pruned).toContain(vol);
    expect(pruned).not.toContain(`other${tag}`);
    expect(ok(await d.docker(["volume", "rm", `other${tag}`]))).toBe(`other${tag}\n`);
    const missing = await d.docker(["volume", "inspect", `other${tag}`]);
    expect(missing.exitCode).toBe(1);
    expect(missing.stderr).toContain("no such volume");
  });
});
