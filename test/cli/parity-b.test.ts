/**
 * Issue 16 items 7, 8, 12 and 16 (wording), and the client/daemon config files: what docker 28 prints,
 * with berth's own "berth: " prefix where docker's says "Error response from daemon:" (there is no
 * daemon). Root only; everything lives in the file's own root.
 */
import { describe, expect, test } from "bun:test";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { type CliResult, busyboxRoot, waitUntil } from "../helpers/cli.ts";
import { rootEnabled } from "../helpers/root.ts";
import { haveRegistryTools, Registry } from "../integration/registry-fixture.ts";

const { root, run } = busyboxRoot("parity-b");
const ok = (r: CliResult) => expect(r).toMatchObject({ exitCode: 0 });
const sfx = Math.random().toString(36).slice(2, 8);

describe.skipIf(!rootEnabled)("no daemon in the wording (issue 16 item 16)", () => {
  test("volume, network, image and inspect misses say berth:, then docker's text", async () => {
    expect(await run(["volume", "inspect", `nov${sfx}`])).toMatchObject({ exitCode: 1, stderr: `berth: get nov${sfx}: no such volume\n` });
    expect(await run(["volume", "rm", `nov${sfx}`])).toMatchObject({ exitCode: 1, stderr: expect.stringMatching(/^berth: .*nov\w+/) });
    expect(await run(["network", "inspect", `non${sfx}`])).toMatchObject({ exitCode: 1, stderr: `berth: network non${sfx} not found\n` });
    expect(await run(["inspect", "--type", "network", `non${sfx}`])).toMatchObject({ exitCode: 1, stderr: `berth: network non${sfx} not found\n` });
    expect(await run(["rmi", `noi${sfx}`])).toMatchObject({ exitCode: 1, stderr: `berth: No such image: noi${sfx}:latest\n` });
    for (const r of [await run(["rmi", `noi${sfx}`]), await run(["volume", "rm", `nov${sfx}`])]) expect(r.stderr).not.toContain("daemon");
    void root;
  });
});

describe.skipIf(!rootEnabled)("the predefined host and none networks", () => {
  test("an id and a creation time of the root's own, not constants; found by id; a container's NetworkID", async () => {
    const ls = async () => (await run(["network", "ls", "--no-trunc", "--format", "{{.Name}} {{.ID}} {{.CreatedAt}}"])).stdout.trim().split("\n");
    const rows = Object.fromEntries((await ls()).map((l) => [l.split(" ")[0], l]));
    for (const n of ["host", "none", "bridge"]) {
      // docker's CLI prints Go's time String(): "2026-12-07 08:17:04.732 +0000 UTC"
      expect(rows[n]).toMatch(new RegExp(`^${n} [0-9a-f]{64} \\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\d(\\.\\d+)? \\+0000 UTC$`));
    }
    const hostId = rows.host!.split(" ")[1]!;
    const noneId = rows.none!.split(" ")[1]!;
    expect(hostId).not.toBe(noneId);
    // not ASCII "host"/"none" padded with zeros (what berth printed before), and the same every time
    expect(hostId.startsWith("686f7374")).toBe(false);
    expect(noneId.startsWith("6e6f6e65")).toBe(false);
    expect(await ls()).toEqual(Object.values(rows));
    const created = (await run(["network", "inspect", "host", "--format", "{{.Created}}"])).stdout.trim();
    expect(Math.abs(Date.parse(created) - Date.now())).toBeLessThan(24 * 3600 * 1000);
    expect(await run(["network", "inspect", hostId.slice(0, 12), "--format", "{{.Name}}"])).toMatchObject({ exitCode: 0, stdout: "host\n" });
    const c = (await run(["create", "--network", "none", "busybox", "true"])).stdout.trim();
    expect(await run(["inspect", c, "--format", "{{.NetworkSettings.Networks.none.NetworkID}}"])).toMatchObject({ exitCode: 0, stdout: `${noneId}\n` });
    ok(await run(["rm", c]));
  });
});

describe.skipIf(!rootEnabled)("image inspect GraphDriver.Data (overlay)", () => {
  test("the top layer's directory as UpperDir, as docker's overlay2 reports it (it printed null)", async () => {
    if ((await run(["info", "--format", "{{.Driver}}"])).stdout.trim() !== "overlay") return;
    const data = JSON.parse((await run(["image", "inspect", "busybox", "--format", "{{json .GraphDriver.Data}}"])).stdout);
    expect(existsSync(join(data.UpperDir, "bin"))).toBe(true);
  });
});

describe.skipIf(!rootEnabled)("templates print docker's Go types (issue 16 item 12)", () => {
  test("{{.NetworkSettings.Ports}} is Go's map of PortBinding structs; GraphDriver.Data names overlay's dirs", async () => {
    const name = `tpl-${sfx}`;
    ok(await run(["run", "-d", "--name", name, "-p", "127.0.0.1::80", "--expose", "81", "busybox", "sleep", "300"]));
    const port = (await run(["port", name, "80/tcp"])).stdout.trim().split(":").pop();
    expect(await run(["inspect", "-f", "{{.NetworkSettings.Ports}}", name])).toMatchObject({
      exitCode: 0,
      stdout: `map[80/tcp:[{127.0.0.1 ${port}}] 81/tcp:[]]\n`,
    });
    expect(await run(["inspect", "-f", "{{.HostConfig.PortBindings}}|{{.HostConfig.RestartPolicy}}", name])).toMatchObject({
      exitCode: 0,
      stdout: "map[80/tcp:[{127.0.0.1 }]]|{no 0}\n",
    });
    const drv = (await run(["inspect", "-f", "{{.GraphDriver.Name}}", name])).stdout.trim();
    const merged = await run(["inspect", "-f", "{{.GraphDriver.Data.MergedDir}}", name]);
    expect(merged.exitCode).toBe(0);
    if (drv === "overlay") {
      const pid = (await run(["inspect", "-f", "{{.State.Pid}}", name])).stdout.trim();
      expect(merged.stdout).toBe(`/proc/${pid}/root\n`);
      // the path shows the container's files, as docker's merged directory does
      ok(await run(["exec", name, "sh", "-c", "echo hi > /marker"]));
      expect(await Bun.file(`${merged.stdout.trim()}/marker`).text()).toBe("hi\n");
      const d = JSON.parse((await run(["inspect", "-f", "{{json .GraphDriver.Data}}", name])).stdout);
      expect(Object.keys(d)).toEqual(["LowerDir", "MergedDir", "UpperDir", "WorkDir"]);
      expect(await Bun.file(`${d.UpperDir}/marker`).text()).toBe("hi\n");
    } else expect(merged.stdout).toBe("<no value>\n"); // vfs, btrfs: docker's drivers report no Data
    ok(await run(["rm", "-f", name]));
  });
});

describe.skipIf(!rootEnabled)("ps --filter publish/expose/volume/network, network prune --filter (issue 16 item 8)", () => {
  test("docker's semantics: ports, ranges and protocols; volume names and destinations; network names and IDs", async () => {
    const [a, b, net, vol] = [`fa-${sfx}`, `fb-${sfx}`, `fnet-${sfx}`, `fvol-${sfx}`];
    const netId = (await run(["network", "create", net])).stdout.trim();
    expect(netId).toMatch(/^[0-9a-f]{64}$/);
    ok(await run(["run", "-d", "--name", a, "-p", "127.0.0.1::80", "-v", `${vol}:/data`, "--network", net, "busybox", "sleep", "300"]));
    ok(await run(["run", "-d", "--name", b, "--expose", "8081", "busybox", "sleep", "300"]));
    const port = Number((await run(["port", a, "80/tcp"])).stdout.trim().split(":").pop());
    const names = async (...f: string[]) => {
      const r = await run(["ps", "--format", "{{.Names}}", ...f.flatMap((x) => ["--filter", x])]);
      expect(r).toMatchObject({ exitCode: 0, stderr: "" });
      return r.stdout.split("\n").filter(Boolean).sort();
    };
    // dockerd matches publish against the container ports of HostConfig.PortBindings, not the host port
    expect(port).not.toBe(80);
    expect(await names("publish=80")).toEqual([a]);
    expect(await names("publish=80/tcp")).toEqual([a]);
    expect(await names("publish=79-81/tcp")).toEqual([a]);
    expect(await names("publish=80/udp")).toEqual([]);
    expect(await names(`publish=${port}`)).toEqual([]);
    expect(await names("publish=8081")).toEqual([]);
    expect(await names("publish=80", "expose=8081")).toEqual([]);
    expect(await names("expose=80")).toEqual([a]);
    expect(await names("expose=8081/tcp")).toEqual([b]);
    expect(await names("expose=8000-8090")).toEqual([b]);
    expect(await names("expose=80", "expose=8081")).toEqual([a, b].sort());
    expect(await names("expose=8081/udp")).toEqual([]);
    expect(await names(`volume=${vol}`)).toEqual([a]);
    expect(await names("volume=/data")).toEqual([a]);
    expect(await names(`network=${net}`)).toEqual([a]);
    expect(await names(`network=${netId.slice(0, 12)}`)).toEqual([a]);
    expect(await names(`network=${net}`, "expose=8081")).toEqual([]);
    expect(await run(["ps", "--filter", "publish=1:80"])).toMatchObject({ exitCode: 1, stderr: "berth: filter for 'publish' should not contain ':': 1:80\n" });
    expect((await run(["ps", "--filter", "expose=x"])).exitCode).toBe(1);
    ok(await run(["rm", "-f", a, b]));
  });

  test("network prune --filter until=… and label=…", async () => {
    const n = `prn-${sfx}`;
    const before = Math.floor(Date.now() / 1000) - 60;
    ok(await run(["network", "create", n]));
    const ls = async () => (await run(["network", "ls", "--format", "{{.Name}}"])).stdout.split("\n");
    // created after `until`: kept; a label it does not have: kept; the label it lacks negated: removed
    expect(await run(["network", "prune", "-f", "--filter", `until=${before}`])).toMatchObject({ exitCode: 0, stdout: "" });
    expect(await run(["network", "prune", "-f", "--filter", "label=team"])).toMatchObject({ exitCode: 0, stdout: "" });
    expect(await ls()).toContain(n);
    expect(await run(["network", "prune", "-f", "--filter", "nope=1"])).toMatchObject({ exitCode: 1, stderr: "berth: invalid filter 'nope'\n" });
    const r = await run(["network", "prune", "-f", "--filter", `until=${Math.ceil(Date.now() / 1000) + 5}`, "--filter", "label!=team"]);
    expect(r).toMatchObject({ exitCode: 0 });
    expect(r.stdout).toContain(`Deleted Networks:\n`);
    expect(r.stdout).toContain(`${n}\n`);
    expect(await ls()).not.toContain(n);
  });
});

describe.skipIf(!rootEnabled)("events of images, volumes, networks, execs and health (issue 16 item 7)", () => {
  test("docker's Type, Action, Actor ID and name attribute", async () => {
    const since = String(Date.now() / 1000 - 1);
    const [v, n, c, t] = [`ev-v-${sfx}`, `ev-n-${sfx}`, `ev-c-${sfx}`, `evtag${sfx}:one`];
    const id = (await run(["inspect", "-f", "{{.Id}}", "busybox"])).stdout.trim();
    let imp = "";
    ok(await run(["volume", "create", v]));
    const netId = (await run(["network", "create", n])).stdout.trim();
    ok(await run(["tag", "busybox", t]));
    ok(await run(["rmi", t]));
    ok(await run(["save", "-o", `${root}/ev.tar`, "busybox"]));
    ok(await run(["load", "-i", `${root}/ev.tar`]));
    imp = (await run(["import", `${root}/busybox.tar`])).stdout.trim();
    expect(imp).toMatch(/^sha256:[0-9a-f]{64}$/);
    ok(await run(["rmi", imp]));
    ok(await run(["run", "-d", "--name", c, "-v", `${v}:/data`, "--health-cmd", "true", "--health-interval", "1s", "busybox", "sleep", "300"]));
    expect(await run(["exec", c, "sh", "-c", "exit 3"])).toMatchObject({ exitCode: 3 });
    const cid = (await run(["inspect", "-f", "{{.Id}}", c])).stdout.trim();
    let lines: string[] = [];
    const read = async () =>
      (lines = (
        await run([
          "events",
          "--since",
          since,
          "--until",
          String(Date.now() / 1000),
          "--format",
          "{{.Type}} {{.Action}} {{.Actor.ID}} {{.Actor.Attributes.name}} {{.Actor.Attributes.exitCode}}",
        ])
      ).stdout.split("\n"));
    await waitUntil("health_status", async () => (await read()).some((l) => l.startsWith("container health_status: healthy")));
    ok(await run(["rm", "-f", c]));
    ok(await run(["network", "rm", n]));
    ok(await run(["volume", "rm", v]));
    await read();
    const want = [
      `volume create ${v} <no value> <no value>`,
      `network create ${netId} ${n} <no value>`,
      `image tag ${id} evtag${sfx}:one <no value>`,
      `image untag ${id} ${id} <no value>`,
      `image save ${id} ${id} <no value>`,
      `image load ${id} ${id} <no value>`,
      `image import ${imp} ${imp} <no value>`,
      `image delete ${imp} ${imp} <no value>`,
      `volume mount ${v} <no value> <no value>`,
      `container exec_create: sh -c exit 3 ${cid} ${c} <no value>`,
      `container exec_start: sh -c exit 3 ${cid} ${c} <no value>`,
      `container exec_die ${cid} ${c} 3`,
      `container health_status: healthy ${cid} ${c} <no value>`,
      `volume unmount ${v} <no value> <no value>`,
      `network destroy ${netId} ${n} <no value>`,
      `volume destroy ${v} <no value> <no value>`,
    ];
    for (const w of want) expect(lines).toContain(w);
    // docker's attributes on the mount: the container, where, and how
    const all = (
      await run(["events", "--since", since, "--until", String(Date.now() / 1000), "--format", "{{.Type}} {{.Action}} {{json .Actor.Attributes}}"])
    ).stdout.split("\n");
    const mount = all.find((l) => l.startsWith("volume mount ") && l.includes(cid))!.slice("volume mount ".length);
    expect(JSON.parse(mount)).toEqual({ container: cid, destination: "/data", driver: "local", propagation: "", "read/write": "true" });
    // in docker's order
    const at = want.filter((w) => !w.includes("health_status")).map((w) => lines.indexOf(w));
    expect(at.filter((i, k) => k > 0 && i < at[k - 1]!)).toEqual([]);
  });
});

describe.skipIf(!rootEnabled)("the client config's psFormat and imagesFormat", () => {
  test("used when --format is not given; --format and -q win", async () => {
    const dir = `${root}/dockercfg`;
    await Bun.write(`${dir}/config.json`, JSON.stringify({ psFormat: "table {{.Names}}\\t{{.Image}}", imagesFormat: "{{.Repository}}={{.Tag}}" }));
    const env = { DOCKER_CONFIG: dir };
    const c = `cfg-${sfx}`;
    ok(await run(["create", "--name", c, "busybox", "true"]));
    const ps = await run(["ps", "-a", "--filter", `name=${c}`], { env });
    expect(ps).toMatchObject({ exitCode: 0, stdout: expect.stringMatching(new RegExp(`^NAMES\\s+IMAGE\\n${c}\\s+busybox\\n$`)) });
    expect((await run(["ps", "-a", "--filter", `name=${c}`, "--format", "{{.Names}}"], { env })).stdout).toBe(`${c}\n`);
    expect((await run(["ps", "-aq", "--filter", `name=${c}`], { env })).stdout).toMatch(/^[0-9a-f]{12}\n$/);
    expect((await run(["images", "busybox"], { env })).stdout).toBe("busybox=latest\n");
    expect((await run(["images", "busybox", "--format", "{{.Tag}}"], { env })).stdout).toBe("latest\n");
    expect((await run(["images", "-q", "busybox"], { env })).stdout).toMatch(/^[0-9a-f]{12}\n$/);
    ok(await run(["rm", c]));
  });
});

describe.skipIf(!rootEnabled)("the daemon config file (--config-file, docker's daemon.json keys)", () => {
  const file = async (name: string, o: unknown) => {
    const p = `${root}/${name}.json`;
    await Bun.write(p, typeof o === "string" ? o : JSON.stringify(o));
    return p;
  };
  test("unknown keys and a missing named file are errors; docker keys not implemented are accepted", async () => {
    const bad = await file("bad", { "data-root": "/x", bogus: 1 });
    expect(await run(["--config-file", bad, "ps"])).toMatchObject({
      exitCode: 1,
      stdout: "",
      stderr: `berth: unable to configure the berth engine with file ${bad}: the following directives don't match any configuration option: bogus\n`,
    });
    expect((await run(["--config-file", `${root}/nope.json`, "ps"])).stderr).toBe(
      `berth: unable to configure the berth engine with file ${root}/nope.json: open ${root}/nope.json: no such file or directory\n`,
    );
    expect((await run(["--config-file", await file("badjson", "{"), "ps"])).exitCode).toBe(1);
    expect((await run(["--config-file", await file("type", { "log-opts": ["x"] }), "ps"])).stderr).toContain("log-opts: want an object of strings");
    ok(await run(["--config-file", await file("later", { "registry-mirrors": ["https://m.example"] }), "ps"]));
  });

  test("default-address-pools: networks without --subnet are cut from the pools, in order", async () => {
    const f = await file("pools", { "default-address-pools": [{ base: "10.199.0.0/16", size: 24 }] });
    const [a, b] = [`pa-${sfx}`, `pb-${sfx}`];
    ok(await run(["--config-file", f, "network", "create", a]));
    ok(await run(["--config-file", f, "network", "create", b]));
    try {
      const subnet = async (n: string) => (await run(["network", "inspect", "-f", "{{range .IPAM.Config}}{{.Subnet}} {{.Gateway}}{{end}}", n])).stdout.trim();
      expect(await subnet(a)).toBe("10.199.0.0/24 10.199.0.1");
      expect(await subnet(b)).toBe("10.199.1.0/24 10.199.1.1");
    } finally {
      await run(["network", "rm", a, b]);
    }
    expect((await run(["--config-file", await file("badpool", { "default-address-pools": [{ base: "10.0.0.0/16" }] }), "ps"])).stderr).toContain(
      'default-address-pools: want a list of {"base": "CIDR", "size": prefix length}',
    );
  });

  test.skipIf(!haveRegistryTools)("registry-mirrors: a docker.io image comes from the mirror first", async () => {
    const reg = new Registry(`${root}/mirror-${sfx}`);
    await reg.start();
    try {
      // the mirror holds library/busybox, as a pull-through cache of Docker Hub would
      ok(await run(["tag", "busybox", `${reg.host}/library/busybox:mirrored`]));
      ok(await run(["push", `${reg.host}/library/busybox:mirrored`]));
      const { berth } = await import("../helpers/cli.ts");
      const fresh = `${root}/mirror-root-${sfx}`;
      const f = await file("mirrors", { "registry-mirrors": [`http://${reg.host}`] });
      const r = await berth(["--config-file", f, "pull", "busybox:mirrored"], { root: fresh });
      expect({ exitCode: r.exitCode, stderr: r.stderr }).toEqual({ exitCode: 0, stderr: "" });
      expect(r.stdout).toContain("mirrored: Pulling from library/busybox");
      expect((await berth(["images", "--format", "{{.Repository}}:{{.Tag}}"], { root: fresh })).stdout).toBe("busybox:mirrored\n");
      // without the mirror the same pull goes to Docker Hub, which this test machine cannot reach
      expect((await berth(["pull", "busybox:mirrored"], { root: `${fresh}-nomirror` })).exitCode).toBe(1);
      expect((await run(["--config-file", await file("badmirror", { "registry-mirrors": ["ftp://x"] }), "ps"])).stderr).toContain('invalid mirror: "ftp://x"');
    } finally {
      await reg.stop();
    }
  });

  test("data-root and storage-driver, under --root and the environment", async () => {
    const dr = `${root}/dataroot`;
    const f = await file("dr", { "data-root": dr, "storage-driver": "vfs" });
    // no --root: the file's data-root (berth() adds --root only when given one)
    const { berth } = await import("../helpers/cli.ts");
    const env = { BERTH_ROOT: "" };
    ok(await berth(["--config-file", f, "volume", "create", `dv-${sfx}`], { env }));
    expect(await Bun.file(`${dr}/volumes/dv-${sfx}/meta.json`).exists()).toBe(true);
    expect((await berth(["--config-file", f, "info", "--format", "{{.Driver}}|{{.DockerRootDir}}"], { env })).stdout).toBe(`vfs|${dr}\n`);
    // a flag wins over the file
    expect((await run(["--config-file", f, "volume", "ls", "-q"])).stdout).not.toContain(`dv-${sfx}`);
  });

  test("insecure-registries: a listed registry is spoken to over plain HTTP", async () => {
    // a plain-HTTP registry on this host's first non-loopback address (loopback is insecure anyway)
    const ip = new TextDecoder()
      .decode(Bun.spawnSync(["hostname", "-I"]).stdout)
      .trim()
      .split(/\s+/)
      .find((a) => /^\d+\.\d+\.\d+\.\d+$/.test(a) && !a.startsWith("127."));
    if (!ip) return;
    const seen: string[] = [];
    using srv = Bun.serve({ hostname: "0.0.0.0", port: 0, fetch: (req) => (seen.push(new URL(req.url).pathname), new Response("{}", { status: 404 })) });
    const reg = `${ip}:${srv.port}`;
    const listed = await file("insecure", { "insecure-registries": [reg] });
    const none = await file("empty", {});
    // test/preload.ts sends everything but loopback to a closed proxy: this address goes direct
    const env = { NO_PROXY: `127.0.0.1,localhost,::1,${ip}`, no_proxy: `127.0.0.1,localhost,::1,${ip}` };
    const plain = await run(["--config-file", listed, "pull", `${reg}/x`], { env });
    expect(plain).toMatchObject({ exitCode: 1, stderr: `berth: manifest for ${reg}/x:latest not found: not found\n` });
    expect(seen).toEqual(["/v2/x/manifests/latest"]);
    const tls = await run(["--config-file", none, "pull", `${reg}/x`], { env });
    expect(tls.exitCode).toBe(1);
    expect(tls.stderr).toContain("TLS");
  });

  test("log-driver and log-opts are new containers' default LogConfig (moby's merge)", async () => {
    const f = await file("log", { "log-driver": "json-file", "log-opts": { "max-size": "1m", "max-file": "3" } });
    const lc = async (...args: string[]) => {
      const c = `lc-${sfx}-${Math.random().toString(36).slice(2, 6)}`;
      ok(await run(["--config-file", f, "create", "--name", c, ...args, "busybox", "true"]));
      const r = (await run(["inspect", "-f", "{{.HostConfig.LogConfig}}", c])).stdout;
      ok(await run(["rm", c]));
      return r;
    };
    expect(await lc()).toBe("{json-file map[max-file:3 max-size:1m]}\n");
    expect(await lc("--log-opt", "max-file=5")).toBe("{json-file map[max-file:5 max-size:1m]}\n");
    expect(await lc("--log-driver", "none")).toBe("{none map[]}\n");
  });
});
