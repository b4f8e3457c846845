/**
 * Client mode's image, build, network, volume and system verbs against `berth daemon`: images, tag,
 * rmi, image inspect, build (a tar context honouring .dockerignore, -f outside the context, -q,
 * --iidfile, a failing step), save/load, push/pull through a local docker-registry with credentials
 * from `berth login` (sent as X-Registry-Auth), network and volume create/ls/inspect/rm, events and
 * system df — printed as the daemonless CLI prints them. Root only.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { rootEnabled } from "../helpers/root.ts";
import { Registry } from "../integration/registry-fixture.ts";
import { clientFixture } from "./_fixture.ts";

const { dir, client, local } = clientFixture("client-images");
const haveRegistry = existsSync("/usr/bin/docker-registry");
const registry = new Registry(join(dir, "registry"));
const dockerConfig = () => ({ DOCKER_CONFIG: join(dir, "docker-config") });

beforeAll(async () => {
  if (rootEnabled && haveRegistry) await registry.start({ htpasswd: { user: "tester", password: "s3cret" } });
});
afterAll(async () => {
  await registry.stop();
});

describe.skipIf(!rootEnabled)("client mode: images, build, networks, volumes", () => {
  test("images, tag, image inspect, rmi: the daemonless CLI's output", async () => {
    expect((await client(["tag", "busybox", "client/tagged:1"])).exitCode).toBe(0);
    const fmt = ["images", "--format", "{{.Repository}}:{{.Tag}} {{.ID}} {{.Size}}"];
    const ri = await client(fmt);
    expect(ri.stdout).toBe((await local(fmt)).stdout);
    expect(ri.stdout).toContain("client/tagged:1 ");
    expect((await client(["images", "-q"])).stdout).toBe((await local(["images", "-q"])).stdout);
    expect((await client(["images"])).stdout.split("\n")[0]).toMatch(/^REPOSITORY +TAG +IMAGE ID +CREATED +SIZE$/);
    const id = (await client(["image", "inspect", "-f", "{{.Id}}", "client/tagged:1"])).stdout;
    expect(id).toBe((await local(["image", "inspect", "-f", "{{.Id}}", "busybox"])).stdout);
    expect((await client(["rmi", "client/tagged:1"])).stdout).toBe("Untagged: client/tagged:1\n");
    const gone = await client(["rmi", "client/tagged:1"]);
    expect(gone.exitCode).toBe(1);
    expect(gone.stderr).toMatch(/^Error response from daemon: No such image: client\/tagged:1/);
  });

  test("build: the context as a tar (.dockerignore kept out), -f outside it, -q, --iidfile, a failing step", async () => {
    const ctx = join(dir, "build-ctx");
    mkdirSync(join(ctx, "ignored"), { recursive: true });
    writeFileSync(join(ctx, "Dockerfile"), 'FROM busybox\nCOPY . /ctx/\nRUN ls /ctx > /listing\nCMD ["cat", "/listing"]\n');
    writeFileSync(join(ctx, "kept.txt"), "kept\n");
    writeFileSync(join(ctx, "ignored/secret.txt"), "secret\n");
    writeFileSync(join(ctx, ".dockerignore"), "ignored\n");
    const b = await client(["build", "-t", "client/built:1", "--iidfile", join(dir, "iid"), ctx]);
    expect(b.exitCode).toBe(0);
    expect(b.stdout).toContain("Step 1/4 : FROM busybox");
    expect(b.stdout).toContain("Successfully tagged client/built:1");
    const iid = readFileSync(join(dir, "iid"), "utf8");
    expect(iid).toMatch(/^sha256:[0-9a-f]{64}$/);
    const r = await client(["run", "--rm", "client/built:1"]);
    expect(r.stdout.split("\n").filter(Boolean).sort()).toEqual(["Dockerfile", "kept.txt"]);
    // a Dockerfile outside the context rides in the tar; -q prints the image ID only
    writeFileSync(join(dir, "Outside.Dockerfile"), "FROM busybox\nRUN echo outside > /o\n");
    const q = await client(["build", "-q", "-f", join(dir, "Outside.Dockerfile"), ctx]);
    expect(q.exitCode).toBe(0);
    expect(q.stdout).toMatch(/^sha256:[0-9a-f]{64}\n$/);
    // a failing RUN: the builder's message, exit 1 (docker's build)
    writeFileSync(join(dir, "Bad.Dockerfile"), "FROM busybox\nRUN exit 3\n");
    const bad = await client(["build", "-f", join(dir, "Bad.Dockerfile"), ctx]);
    expect(bad.exitCode).toBe(1);
    expect(bad.stderr).toContain("returned a non-zero code: 3");
  });

  test("save and load round-trip an image through the daemon", async () => {
    const tar = join(dir, "saved.tar");
    expect((await client(["save", "-o", tar, "client/built:1"])).exitCode).toBe(0);
    expect(readFileSync(tar).subarray(257, 262).toString()).toBe("ustar");
    expect((await client(["rmi", "client/built:1"])).exitCode).toBe(0);
    const l = await client(["load", "-i", tar]);
    expect(l).toMatchObject({ exitCode: 0, stdout: "Loaded image: client/built:1\n" });
    expect((await client(["run", "--rm", "client/built:1"])).stdout).toContain("kept.txt");
  });

  test.skipIf(!haveRegistry)("push and pull through a registry with credentials from berth login", async () => {
    const ref = `${registry.host}/client/bb:1`;
    const login = await client(["login", "-u", "tester", "--password-stdin", registry.host], { stdin: "s3cret\n", env: dockerConfig() });
    expect(login.exitCode).toBe(0);
    expect((await client(["tag", "busybox", ref])).exitCode).toBe(0);
    const push = await client(["push", ref], { env: dockerConfig() });
    expect(push.exitCode).toBe(0);
    expect(push.stdout).toContain(`The push refers to repository [${registry.host}/client/bb]`);
    expect(push.stdout).toMatch(/1: digest: sha256:[0-9a-f]{64} size: \d+/);
    expect((await client(["rmi", ref])).exitCode).toBe(0);
    const pull = await client(["pull", ref], { env: dockerConfig() });
    expect(pull.exitCode).toBe(0);
    expect(pull.stdout).toContain("Status: Downloaded newer image for");
    expect(pull.stdout.endsWith(`${ref}\n`)).toBe(true);
    // run pulls a missing image through the daemon, progress on stderr
    expect((await client(["rmi", ref])).exitCode).toBe(0);
    const run = await client(["run", "--rm", ref, "echo", "pulled"], { env: dockerConfig() });
    expect(run).toMatchObject({ exitCode: 0, stdout: "pulled\n" });
    expect(run.stderr).toContain(`Unable to find image '${ref}' locally`);
    // without the credentials the registry refuses
    await client(["rmi", ref]);
    const anon = await client(["pull", ref], { env: { DOCKER_CONFIG: join(dir, "no-config") } });
    expect(anon.exitCode).toBe(1);
    expect(anon.stderr).toContain("Error response from daemon:");
  });

  test("networks and volumes: create, ls, inspect, rm", async () => {
    const n = await client(["network", "create", "client-net"]);
    expect(n.stdout).toMatch(/^[0-9a-f]{64}\n$/);
    const nfmt = ["network", "ls", "--format", "{{.Name}} {{.Driver}}"];
    expect((await client(nfmt)).stdout).toBe((await local(nfmt)).stdout);
    expect((await client(["network", "inspect", "-f", "{{.Name}} {{.Id}}", "client-net"])).stdout).toBe(`client-net ${n.stdout.trim()}\n`);
    expect((await client(["inspect", "--type", "network", "-f", "{{.Driver}}", "client-net"])).stdout).toBe("bridge\n");
    const r = await client(["run", "--rm", "--network", "client-net", "busybox", "sh", "-c", "ip -4 -o addr show eth0 | wc -l"]);
    expect(r).toMatchObject({ exitCode: 0, stdout: "1\n" });
    expect((await client(["network", "rm", "client-net"])).stdout).toBe("client-net\n");
    expect((await client(["network", "rm", "client-net"])).exitCode).toBe(1);

    expect((await client(["volume", "create", "client-vol"])).stdout).toBe("client-vol\n");
    expect((await client(["volume", "ls", "--format", "{{.Name}}"])).stdout).toBe((await local(["volume", "ls", "--format", "{{.Name}}"])).stdout);
    expect((await client(["volume", "inspect", "-f", "{{.Name}} {{.Driver}}", "client-vol"])).stdout).toBe("client-vol local\n");
    const w = await client(["run", "--rm", "-v", "client-vol:/data", "busybox", "sh", "-c", "echo persisted > /data/f"]);
    expect(w.exitCode).toBe(0);
    expect((await client(["run", "--rm", "-v", "client-vol:/data", "busybox", "cat", "/data/f"])).stdout).toBe("persisted\n");
    expect((await client(["volume", "rm", "client-vol"])).stdout).toBe("client-vol\n");
    const missing = await client(["volume", "inspect", "client-vol"]);
    expect(missing.exitCode).toBe(1);
  });

  test("import a tarball through the daemon; system prune", async () => {
    const tar = join(dir, "rootfs.tar");
    Bun.spawnSync(["bash", join(import.meta.dir, "../../scripts/busybox-rootfs.sh"), tar]);
    const i = await client(["import", "-m", "via client", "-c", 'CMD ["sh"]', tar, "client/imported:1"]);
    expect(i.exitCode).toBe(0);
    expect(i.stdout).toMatch(/^sha256:[0-9a-f]{64}\n$/);
    const s = await client(["import", "-", "client/imported:2"], { stdin: readFileSync(tar) });
    expect(s.stdout).toMatch(/^sha256:[0-9a-f]{64}\n$/);
    expect((await client(["run", "--rm", "client/imported:1", "echo", "imported"])).stdout).toBe("imported\n");
    expect((await client(["image", "inspect", "-f", "{{.Comment}}", "client/imported:1"])).stdout).toBe("via client\n");
    await client(["rmi", "client/imported:1", "client/imported:2"]);
    expect((await client(["create", "--name", "prunable", "busybox", "true"])).exitCode).toBe(0);
    const p = await client(["system", "prune", "-f"]);
    expect(p.exitCode).toBe(0);
    expect(p.stdout).toContain("Deleted Containers:");
    expect(p.stdout).toMatch(/Total reclaimed space: \S+\n$/);
    expect((await local(["ps", "-a", "--format", "{{.Names}}"])).stdout).not.toContain("prunable");
  });

  test("events and system df", async () => {
    const since = Math.floor(Date.now() / 1000) - 1;
    await client(["run", "--rm", "--name", "evt", "busybox", "true"]);
    const until = Math.ceil(Date.now() / 1000) + 1;
    const e = await client(["events", "--since", String(since), "--until", String(until), "--filter", "container=evt", "--format", "{{.Action}}"]);
    expect(e.exitCode).toBe(0);
    expect(e.stdout.split("\n")).toEqual(expect.arrayContaining(["create", "start", "die", "destroy"]));
    const df = await client(["system", "df"]);
    expect(df.exitCode).toBe(0);
    expect(df.stdout.split("\n").map((l) => l.split(/ {2,}/)[0])).toEqual(["TYPE", "Images", "Containers", "Local Volumes", "Build Cache", ""]);
    const j = await client(["system", "df", "--format", "json"]);
    expect(JSON.parse(j.stdout.split("\n")[0]!)).toMatchObject({ Type: "Images" });
  });
});
