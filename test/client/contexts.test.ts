/**
 * `berth context`: create, ls (the current one starred, docker's columns), use, show, inspect (docker's
 * JSON shape), update, rm (the one in use only with -f), stored atomically under $BERTH_CONFIG; and how
 * the endpoint is chosen: -H > --context > BERTH_HOST/DOCKER_HOST > BERTH_CONTEXT/DOCKER_CONTEXT > `use`.
 * No daemon needed: an endpoint nobody listens on shows which one was picked.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createHash } from "node:crypto";
import { join } from "node:path";
import { berth } from "../helpers/cli.ts";

const dir = mkdtempSync("/tmp/berth-test-contexts-");
const config = join(dir, "config");
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const run = (args: string[], env: Record<string, string> = {}) => berth(args, { env: { BERTH_CONFIG: config, ...env } });
const sha = (s: string) => createHash("sha256").update(s).digest("hex");

describe("berth context", () => {
  test("create, ls, use, show, inspect, rm", async () => {
    const ls0 = await run(["context", "ls"]);
    expect(ls0.exitCode).toBe(0);
    expect(ls0.stdout.split("\n")[0]).toMatch(/^NAME +DESCRIPTION +DOCKER ENDPOINT +ERROR$/);
    expect(ls0.stdout).toMatch(/\ndefault \* /);

    const c = await run(["context", "create", "far", "--description", "the far one", "--docker", "host=unix:///nonexistent/far.sock"]);
    expect(c).toMatchObject({ exitCode: 0, stdout: "far\n", stderr: 'Successfully created context "far"\n' });
    expect((await run(["context", "create", "far", "--docker", "host=unix:///x.sock"])).stderr).toContain('context "far" already exists');
    expect((await run(["context", "create", "default"])).exitCode).toBe(1);
    expect((await run(["context", "create", "-bad"])).exitCode).not.toBe(0);
    expect((await run(["context", "create", "badhost", "--docker", "host=ftp://x"])).stderr).toContain("unable to parse berth host");

    // docker's layout: meta.json under the sha256 of the name, written whole (no temp file left)
    const metaDir = join(config, "contexts/meta", sha("far"));
    expect(JSON.parse(readFileSync(join(metaDir, "meta.json"), "utf8"))).toEqual({
      Name: "far",
      Metadata: { Description: "the far one" },
      Endpoints: { docker: { Host: "unix:///nonexistent/far.sock", SkipTLSVerify: false } },
    });
    expect(readdirSync(metaDir)).toEqual(["meta.json"]);

    const ls1 = await run(["context", "ls"]);
    expect(ls1.stdout).toMatch(/\nfar +the far one +unix:\/\/\/nonexistent\/far\.sock/);
    expect((await run(["context", "ls", "-q"])).stdout).toBe("default\nfar\n");
    const json = (await run(["context", "ls", "--format", "json"])).stdout
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    expect(json[1]).toMatchObject({ Name: "far", Current: false, DockerEndpoint: "unix:///nonexistent/far.sock" });

    const use = await run(["context", "use", "far"]);
    expect(use).toMatchObject({ exitCode: 0, stdout: "far\n", stderr: 'Current context is now "far"\n' });
    expect(JSON.parse(readFileSync(join(config, "config.json"), "utf8"))).toEqual({ currentContext: "far" });
    expect((await run(["context", "show"])).stdout).toBe("far\n");
    expect((await run(["context", "ls"])).stdout).toMatch(/\nfar \* +the far one/);
    // the current context makes every verb a client of it
    const ps = await run(["ps"]);
    expect(ps.exitCode).toBe(1);
    expect(ps.stderr).toContain("Cannot connect to the berth daemon at unix:///nonexistent/far.sock");

    const ins = await run(["context", "inspect"]);
    expect(JSON.parse(ins.stdout)).toEqual([
      {
        Name: "far",
        Metadata: { Description: "the far one" },
        Endpoints: { docker: { Host: "unix:///nonexistent/far.sock", SkipTLSVerify: false } },
        TLSMaterial: {},
        Storage: { MetadataPath: metaDir, TLSPath: join(config, "contexts/tls", sha("far")) },
      },
    ]);
    expect((await run(["context", "inspect", "-f", "{{.Endpoints.docker.Host}}", "far"])).stdout).toBe("unix:///nonexistent/far.sock\n");
    expect((await run(["context", "inspect", "nope"])).exitCode).toBe(1);

    const up = await run(["context", "update", "far", "--docker", "host=unix:///nonexistent/other.sock"]);
    expect(up.exitCode).toBe(0);
    expect((await run(["context", "inspect", "-f", "{{.Endpoints.docker.Host}}"])).stdout).toBe("unix:///nonexistent/other.sock\n");

    // the context in use is removed only with -f, which also goes back to default
    const rm = await run(["context", "rm", "far"]);
    expect(rm).toMatchObject({ exitCode: 1, stderr: 'context "far" is in use, set -f flag to force remove\n' });
    expect((await run(["context", "rm", "-f", "far"])).stdout).toBe("far\n");
    expect(existsSync(metaDir)).toBe(false);
    expect((await run(["context", "show"])).stdout).toBe("default\n");
    expect((await run(["context", "rm", "far"])).stderr).toContain('context "far" does not exist');
  });

  test("TLS material from --docker ca=,cert=,key= is kept with the context", async () => {
    for (const f of ["ca", "cert", "key"]) writeFileSync(join(dir, `${f}.pem`), `-----BEGIN ${f}-----\n`);
    const c = await run(["context", "create", "tls1", "--docker", `host=tcp://127.0.0.1:1,ca=${dir}/ca.pem,cert=${dir}/cert.pem,key=${dir}/key.pem`]);
    expect(c.exitCode).toBe(0);
    const ins = JSON.parse((await run(["context", "inspect", "tls1"])).stdout);
    expect(ins[0].TLSMaterial).toEqual({ docker: ["ca.pem", "cert.pem", "key.pem"] });
    expect(readFileSync(join(config, "contexts/tls", sha("tls1"), "docker/key.pem"), "utf8")).toBe("-----BEGIN key-----\n");
    await run(["context", "rm", "tls1"]);
  });

  test("which endpoint wins: -H > --context > BERTH_HOST/DOCKER_HOST > BERTH_CONTEXT/DOCKER_CONTEXT > use", async () => {
    for (const n of ["ctx-a", "ctx-b"]) await run(["context", "create", n, "--docker", `host=unix:///nonexistent/${n}.sock`]);
    await run(["context", "use", "ctx-a"]);
    const at = async (args: string[], env: Record<string, string> = {}) => /at (\S+)\. Is/.exec((await run([...args, "ps"], env)).stderr)?.[1];
    expect(await at([])).toBe("unix:///nonexistent/ctx-a.sock");
    expect(await at([], { DOCKER_CONTEXT: "ctx-b" })).toBe("unix:///nonexistent/ctx-b.sock");
    expect(await at([], { DOCKER_CONTEXT: "ctx-b", DOCKER_HOST: "unix:///nonexistent/env.sock" })).toBe("unix:///nonexistent/env.sock");
    expect(await at([], { DOCKER_HOST: "unix:///nonexistent/env.sock", BERTH_HOST: "unix:///nonexistent/berth.sock" })).toBe("unix:///nonexistent/berth.sock");
    expect(await at(["--context", "ctx-b"], { DOCKER_HOST: "unix:///nonexistent/env.sock" })).toBe("unix:///nonexistent/ctx-b.sock");
    expect(await at(["-H", "unix:///nonexistent/flag.sock"], { DOCKER_CONTEXT: "ctx-b", DOCKER_HOST: "unix:///nonexistent/env.sock" })).toBe(
      "unix:///nonexistent/flag.sock",
    );
    // `--context default` is daemonless when no host is in the environment: the local store answers
    const local = await run(["--root", join(dir, "root"), "--context", "default", "ps", "-a"]);
    expect(local.exitCode).toBe(0);
    expect(local.stdout.startsWith("CONTAINER ID")).toBe(true);
    expect((await run(["--context", "nope", "ps"])).stderr).toContain('context "nope" does not exist');
    await run(["context", "use", "default"]);
    for (const n of ["ctx-a", "ctx-b"]) await run(["context", "rm", n]);
    // a current context that went away: every verb says so, `context` still works to repair it
    writeFileSync(join(config, "config.json"), JSON.stringify({ currentContext: "vanished" }));
    const ps = await run(["ps"]);
    expect(ps.exitCode).toBe(1);
    expect(ps.stderr).toContain('current context "vanished" does not exist');
    expect((await run(["context", "ls", "-q"])).stdout).toBe("default\n");
    expect((await run(["context", "use", "default"])).exitCode).toBe(0);
    // a host string berth cannot use: the same
    const bad = await run(["ps"], { DOCKER_HOST: "npipe:////./pipe/docker_engine" });
    expect(bad.exitCode).toBe(1);
    expect(bad.stderr).toContain("unable to parse berth host");
    expect((await run(["context", "show"], { DOCKER_HOST: "npipe:////./pipe/docker_engine" })).stdout).toBe("default\n");
  });
});
