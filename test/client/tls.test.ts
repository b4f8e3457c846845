/**
 * Client mode over TLS: a daemon with --tlsverify on a loopback port (certificates made here with
 * openssl: a CA, a server certificate for 127.0.0.1, a client certificate), reached with docker's
 * DOCKER_TLS_VERIFY + DOCKER_CERT_PATH, and through a context holding the same files. A client
 * without a certificate, or one that does not trust the daemon's CA, is refused. Root only (the daemon).
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { berth, berthArgv, tempRoot, waitUntil } from "../helpers/cli.ts";
import { rootEnabled } from "../helpers/root.ts";
import { freePort } from "./_fixture.ts";

const haveOpenssl = Bun.which("openssl") !== null;
const tr = rootEnabled ? tempRoot("client-tls") : undefined;
const dir = tr?.path ?? "/nonexistent";
const certs = join(dir, "certs");
const config = join(dir, "config");
const state: { proc?: ReturnType<typeof Bun.spawn>; port: number } = { port: 0 };

function openssl(args: string[]) {
  const r = Bun.spawnSync(["openssl", ...args], { cwd: certs, stderr: "pipe" });
  if (r.exitCode !== 0) throw new Error(`openssl ${args[0]}: ${r.stderr}`);
}

beforeAll(async () => {
  if (!rootEnabled || !haveOpenssl) return;
  mkdirSync(certs, { recursive: true });
  mkdirSync(config, { recursive: true });
  openssl(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca-key.pem", "-out", "ca.pem", "-days", "2", "-subj", "/CN=berth test CA"]);
  writeFileSync(join(certs, "server.ext"), "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n");
  writeFileSync(join(certs, "client.ext"), "extendedKeyUsage=clientAuth\n");
  for (const who of ["server", "client"]) {
    openssl(["req", "-newkey", "rsa:2048", "-nodes", "-keyout", `${who}-key.pem`, "-out", `${who}.csr`, "-subj", `/CN=${who}`]);
    openssl([
      "x509",
      "-req",
      "-in",
      `${who}.csr`,
      "-CA",
      "ca.pem",
      "-CAkey",
      "ca-key.pem",
      "-CAcreateserial",
      "-out",
      `${who}.pem`,
      "-days",
      "2",
      "-extfile",
      `${who}.ext`,
    ]);
  }
  // docker's DOCKER_CERT_PATH layout for the client
  const client = join(dir, "client-certs");
  mkdirSync(client);
  for (const [from, to] of [
    ["ca.pem", "ca.pem"],
    ["client.pem", "cert.pem"],
    ["client-key.pem", "key.pem"],
  ] as const)
    writeFileSync(join(client, to), await Bun.file(join(certs, from)).text());
  state.port = await freePort();
  const log = Bun.file(join(dir, "daemon.log"));
  state.proc = Bun.spawn(
    berthArgv([
      "--root",
      join(dir, "root"),
      "daemon",
      "-H",
      `tcp://127.0.0.1:${state.port}`,
      "--tlsverify",
      "--tlscacert",
      join(certs, "ca.pem"),
      "--tlscert",
      join(certs, "server.pem"),
      "--tlskey",
      join(certs, "server-key.pem"),
    ]),
    { stdin: "ignore", stdout: log, stderr: log },
  );
  await waitUntil("the TLS daemon answers", async () => (await tlsClient(["version", "--format", "{{.Server.Os}}"])).exitCode === 0, 20_000);
});

afterAll(async () => {
  state.proc?.kill("SIGTERM");
  await state.proc?.exited;
  tr?.[Symbol.dispose]();
});

const host = () => `tcp://127.0.0.1:${state.port}`;
const tlsClient = (args: string[], env: Record<string, string> = {}) =>
  berth(["-H", host(), ...args], { env: { BERTH_CONFIG: config, DOCKER_TLS_VERIFY: "1", DOCKER_CERT_PATH: join(dir, "client-certs"), ...env } });

describe.skipIf(!rootEnabled || !haveOpenssl)("client mode over TLS", () => {
  test("DOCKER_TLS_VERIFY and DOCKER_CERT_PATH: docker's client certificate files", async () => {
    const v = await tlsClient(["version", "--format", "{{.Server.Os}}"]);
    expect(v).toMatchObject({ exitCode: 0, stdout: "linux\n" });
    expect((await tlsClient(["ps", "-a"])).stdout.startsWith("CONTAINER ID")).toBe(true);
  });

  test("docker's global flags: --tlsverify --tlscacert --tlscert --tlskey", async () => {
    const v = await berth(
      [
        "--tlsverify",
        "--tlscacert",
        join(certs, "ca.pem"),
        "--tlscert",
        join(certs, "client.pem"),
        "--tlskey",
        join(certs, "client-key.pem"),
        "-H",
        host(),
        "version",
        "--format",
        "{{.Server.Os}}",
      ],
      { env: { BERTH_CONFIG: config } },
    );
    expect(v).toMatchObject({ exitCode: 0, stdout: "linux\n" });
  });

  test("a context holding the CA, certificate and key", async () => {
    const c = await berth(
      ["context", "create", "secure", "--docker", `host=${host()},ca=${certs}/ca.pem,cert=${certs}/client.pem,key=${certs}/client-key.pem`],
      { env: { BERTH_CONFIG: config } },
    );
    expect(c.exitCode).toBe(0);
    const v = await berth(["--context", "secure", "version", "--format", "{{.Server.Os}} {{.Client.Context}}"], { env: { BERTH_CONFIG: config } });
    expect(v).toMatchObject({ exitCode: 0, stdout: "linux secure\n" });
  });

  test("no client certificate, or a CA that is not the daemon's: refused", async () => {
    const noCert = join(dir, "ca-only");
    mkdirSync(noCert, { recursive: true });
    writeFileSync(join(noCert, "ca.pem"), await Bun.file(join(certs, "ca.pem")).text());
    const r = await tlsClient(["version"], { DOCKER_CERT_PATH: noCert });
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toContain(`error during connect: ${host()}`);
    // the daemon's certificate is not signed by the CA the client trusts
    const wrongCa = join(dir, "wrong-ca");
    mkdirSync(wrongCa, { recursive: true });
    openssl([
      "req",
      "-x509",
      "-newkey",
      "rsa:2048",
      "-nodes",
      "-keyout",
      join(wrongCa, "other-key.pem"),
      "-out",
      join(wrongCa, "ca.pem"),
      "-days",
      "2",
      "-subj",
      "/CN=other CA",
    ]);
    for (const f of ["cert.pem", "key.pem"]) writeFileSync(join(wrongCa, f), await Bun.file(join(dir, "client-certs", f)).text());
    const w = await tlsClient(["version"], { DOCKER_CERT_PATH: wrongCa });
    expect(w.exitCode).toBe(1);
    expect(w.stderr).toContain(host());
    // plain TCP to a TLS port: no HTTP answer
    const plain = await berth(["-H", host(), "version"], { env: { BERTH_CONFIG: config } });
    expect(plain.exitCode).toBe(1);
  });
});
