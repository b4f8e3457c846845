/**
 * berth daemon as a server (issue 12): malformed requests get 400/431 and the daemon lives, version
 * negotiation, clients vanishing mid-stream free what they held, 100 concurrent streaming clients do not
 * block a ping, socket activation (systemd-socket-activate), listener rules (0660 socket, no plain TCP
 * beyond loopback), SIGHUP reload and SIGTERM drain with containers running on.
 */
import { describe, expect, test } from "bun:test";
import { existsSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { berthArgv, waitUntil } from "../helpers/cli.ts";
import { rootEnabled } from "../helpers/root.ts";
import { daemonFixture, dockerBin, fdCount, freePort, haveDocker, ping, rawRequest } from "./_daemon.ts";

const { dir, root, sock, docker, cli, state } = daemonFixture("daemon-srv");

const status = (raw: string) => raw.split("\r\n")[0];

describe.skipIf(!rootEnabled)("berth daemon: HTTP and robustness", () => {
  test("the socket is 0660 and never world-writable", () => {
    const st = statSync(sock);
    expect(st.isSocket()).toBe(true);
    expect(st.mode & 0o777).toBe(0o660);
  });

  test("/_ping (GET and HEAD) carries docker's headers; versions are negotiated as dockerd's", async () => {
    const head = await rawRequest(sock, "HEAD /_ping HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    expect(status(head)).toBe("HTTP/1.1 200 OK");
    for (const h of [
      "Api-Version: 1.47",
      "Builder-Version: 1",
      "Docker-Experimental: false",
      "Ostype: linux",
      "Cache-Control: no-cache, no-store, must-revalidate",
      "Pragma: no-cache",
    ])
      expect(head).toContain(`\r\n${h}\r\n`);
    expect(head).toMatch(/\r\nServer: Docker\/[\w.+-]+ \(linux\)\r\n/);
    const get = await rawRequest(sock, "GET /v1.24/_ping HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    expect(get.endsWith("\r\n\r\nOK")).toBe(true);
    const tooNew = await rawRequest(sock, "GET /v1.99/version HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    expect(status(tooNew)).toBe("HTTP/1.1 400 Bad Request");
    expect(tooNew).toContain('{"message":"client version 1.99 is too new. Maximum supported API version is 1.47"}');
    const tooOld = await rawRequest(sock, "GET /v1.20/version HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    expect(tooOld).toContain("client version 1.20 is too old. Minimum supported API version is 1.24");
    const nf = await rawRequest(sock, "GET /v1.47/nope HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    expect(status(nf)).toBe("HTTP/1.1 404 Not Found");
    expect(nf).toContain('{"message":"page not found"}');
  });

  test("keep-alive: several requests on one connection, a chunked request body", async () => {
    const body = '{"Image":"busybox","Cmd":["true"]}';
    const chunked = `${(10).toString(16)}\r\n${body.slice(0, 10)}\r\n${(body.length - 10).toString(16)}\r\n${body.slice(10)}\r\n0\r\n\r\n`;
    const raw = await rawRequest(
      sock,
      "GET /_ping HTTP/1.1\r\nHost: x\r\n\r\n" +
        `POST /containers/create?name=chunky HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n${chunked}` +
        "DELETE /containers/chunky HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    expect(raw.match(/HTTP\/1\.1 \d+ [\w ]+/g)).toEqual(["HTTP/1.1 200 OK", "HTTP/1.1 201 Created", "HTTP/1.1 204 No Content"]);
  });

  test("malformed requests get 400/431 and the daemon lives", async () => {
    const cases: [string, string][] = [
      ["GARBAGE\r\n\r\n", "400"],
      ["GET /_ping HTTP/1.1\r\nno colon here\r\n\r\n", "400"],
      ["GET /_ping HTTP/1.1\r\nX: " + "a".repeat(100_000) + "\r\n\r\n", "431"],
      ["POST /containers/create HTTP/1.1\r\nContent-Length: 5\r\nConnection: close\r\n\r\n{bad}", "400"],
      ["POST /containers/create HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", "400"],
      ["POST /containers/create HTTP/1.1\r\nContent-Length: -1\r\n\r\n", "400"],
      ["GET /containers/%zz/json HTTP/1.1\r\nConnection: close\r\n\r\n", "400"],
      ["GET http://evil/ HTTP/1.1\r\n\r\n", "400"],
    ];
    for (const [req, code] of cases) expect(status(await rawRequest(sock, req))).toStartWith(`HTTP/1.1 ${code}`);
    // a client that sends half a request and leaves
    await rawRequest(sock, "POST /containers/create HTTP/1.1\r\nContent-Length: 1000\r\n\r\n{", 200);
    expect(await ping(sock)).toBe(true);
  });

  test.skipIf(!haveDocker)("a client vanishing mid logs -f and mid attach frees what it held", async () => {
    expect(
      (await docker(["run", "-d", "--name", "longrun", "--pull=never", "busybox", "sh", "-c", "while true; do echo tick; sleep 0.2; done"])).exitCode,
    ).toBe(0);
    // the daemon's descriptors at rest (after one request, so lazily opened files are counted)
    await docker(["ps"]);
    await Bun.sleep(300);
    const base = fdCount(state.pid);
    const env = { PATH: process.env.PATH ?? "", HOME: dir, DOCKER_HOST: `unix://${sock}`, DOCKER_CONFIG: join(dir, "docker-config") };
    const follow = Bun.spawn([dockerBin, "logs", "-f", "longrun"], { stdout: "pipe", stderr: "ignore", env });
    const attach = Bun.spawn([dockerBin, "attach", "--no-stdin", "longrun"], { stdout: "pipe", stderr: "ignore", env });
    const firstTick = async (p: typeof follow) => {
      const r = p.stdout.getReader();
      const { value } = await r.read();
      r.releaseLock();
      return Buffer.from(value ?? new Uint8Array()).toString();
    };
    expect(await firstTick(follow)).toContain("tick");
    expect(await firstTick(attach)).toContain("tick");
    expect(fdCount(state.pid)).toBeGreaterThan(base);
    follow.kill("SIGKILL");
    attach.kill("SIGKILL");
    await Promise.all([follow.exited, attach.exited]);
    await waitUntil("the daemon closed the streams of the vanished clients", async () => fdCount(state.pid) <= base, 10_000);
    // the container is untouched
    expect((await docker(["inspect", "-f", "{{.State.Running}}", "longrun"])).stdout).toBe("true\n");
    await docker(["rm", "-f", "longrun"]);
  });

  test("100 concurrent streaming clients do not block a ping", async () => {
    const base = fdCount(state.pid);
    const conns = await Promise.all(
      Array.from({ length: 100 }, () =>
        Bun.connect({
          unix: sock,
          socket: {
            data() {},
          },
        }),
      ),
    );
    for (const c of conns) c.write("GET /events HTTP/1.1\r\nHost: x\r\n\r\n");
    await waitUntil("100 connections open", async () => fdCount(state.pid) >= base + 95, 10_000);
    const t0 = performance.now();
    expect(await ping(sock)).toBe(true);
    expect(performance.now() - t0).toBeLessThan(2000);
    if (haveDocker) expect((await docker(["ps"])).exitCode).toBe(0);
    for (const c of conns) c.end();
    await waitUntil("the streams closed", async () => fdCount(state.pid) <= base + 5, 10_000);
  });
});

describe.skipIf(!rootEnabled)("berth daemon: listeners, signals, socket activation", () => {
  test("a TCP address beyond loopback is refused without TLS; loopback TCP serves", async () => {
    const port = await freePort();
    const refused = Bun.spawnSync(berthArgv(["daemon", "-H", `tcp://0.0.0.0:${port}`, "--root", root, "--pidfile", join(dir, "tcp.pid")]), { timeout: 20_000 });
    expect(refused.exitCode).not.toBe(0);
    expect(refused.stderr.toString()).toContain(`refusing to listen on tcp://0.0.0.0:${port} without TLS`);
    const d = Bun.spawn(berthArgv(["-d", "-H", `tcp://127.0.0.1:${port}`, "--root", root, "--pidfile", join(dir, "tcp.pid")]), {
      stdout: "ignore",
      stderr: "ignore",
    });
    try {
      await waitUntil("the tcp daemon answers", async () => {
        try {
          return (await (await fetch(`http://127.0.0.1:${port}/_ping`)).text()) === "OK";
        } catch {
          return false; // not listening yet
        }
      });
      const v = (await (await fetch(`http://127.0.0.1:${port}/v1.41/version`)).json()) as { Platform: { Name: string } };
      expect(v.Platform.Name).toBe("berth");
    } finally {
      d.kill("SIGTERM");
      expect(await d.exited).toBe(0);
    }
  });

  test.skipIf(!haveDocker)("--tlsverify: the docker CLI with a client certificate is served, one without is not", async () => {
    const t = join(dir, "tls");
    const client = join(t, "client");
    Bun.spawnSync(["mkdir", "-p", client]);
    const sh = (cmd: string) => {
      const r = Bun.spawnSync(["sh", "-c", cmd], { cwd: t });
      if (r.exitCode !== 0) throw new Error(`${cmd}: ${r.stderr}`);
    };
    sh('openssl req -x509 -newkey rsa:2048 -nodes -keyout ca-key.pem -out ca.pem -days 1 -subj "/CN=test-ca"');
    sh('openssl req -newkey rsa:2048 -nodes -keyout key.pem -out server.csr -subj "/CN=127.0.0.1"');
    sh('printf "subjectAltName=IP:127.0.0.1\\nextendedKeyUsage=serverAuth\\n" > ext.cnf');
    sh("openssl x509 -req -in server.csr -CA ca.pem -CAkey ca-key.pem -CAcreateserial -out cert.pem -days 1 -extfile ext.cnf");
    sh('openssl req -newkey rsa:2048 -nodes -keyout client/key.pem -out client.csr -subj "/CN=client"');
    sh('printf "extendedKeyUsage=clientAuth\\n" > cext.cnf');
    sh("openssl x509 -req -in client.csr -CA ca.pem -CAkey ca-key.pem -CAcreateserial -out client/cert.pem -days 1 -extfile cext.cnf && cp ca.pem client/");
    const port = await freePort();
    const d = Bun.spawn(
      berthArgv([
        "daemon",
        "-H",
        `tcp://127.0.0.1:${port}`,
        "--tlsverify",
        "--tlscacert",
        join(t, "ca.pem"),
        "--tlscert",
        join(t, "cert.pem"),
        "--tlskey",
        join(t, "key.pem"),
        "--root",
        root,
        "--pidfile",
        join(dir, "tls.pid"),
      ]),
      { stdout: "ignore", stderr: "ignore" },
    );
    try {
      const withCert = { DOCKER_HOST: `tcp://127.0.0.1:${port}`, DOCKER_TLS_VERIFY: "1", DOCKER_CERT_PATH: client };
      await waitUntil(
        "the TLS daemon answers",
        async () => (await docker(["version", "--format", "{{.Server.Platform.Name}}"], { env: withCert })).stdout === "berth\n",
      );
      expect((await docker(["ps", "-a", "--format", "{{.Names}}"], { env: withCert })).exitCode).toBe(0);
      const plain = await docker(["version", "--format", "{{.Server.Platform.Name}}"], { env: { DOCKER_HOST: `tcp://127.0.0.1:${port}` } });
      expect(plain.exitCode).not.toBe(0);
      const noCert = await docker(["--tls", "--tlscacert", join(t, "ca.pem"), "version", "--format", "{{.Server.Platform.Name}}"], {
        env: { DOCKER_HOST: `tcp://127.0.0.1:${port}`, DOCKER_CERT_PATH: join(t, "none") },
      });
      expect(noCert.exitCode).not.toBe(0);
    } finally {
      d.kill("SIGTERM");
      await d.exited;
    }
  });

  test("socket activation: systemd-socket-activate hands the socket over (fd://)", async () => {
    if (!existsSync("/usr/bin/systemd-socket-activate")) throw new Error("systemd-socket-activate is missing (scripts/deps.sh installs systemd)");
    const act = join(dir, "act.sock");
    const p = Bun.spawn(["systemd-socket-activate", "-l", act, ...berthArgv(["daemon", "-H", "fd://", "--root", root, "--pidfile", join(dir, "act.pid")])], {
      stdout: "ignore",
      stderr: "pipe",
    });
    try {
      await waitUntil("the activation socket exists", async () => existsSync(act));
      // the first connection makes systemd-socket-activate exec berth, which serves the same socket
      const raw = await rawRequest(act, "GET /_ping HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 20_000);
      expect(raw.endsWith("OK")).toBe(true);
      if (haveDocker) {
        const r = await docker(["-H", `unix://${act}`, "version", "--format", "{{.Server.Platform.Name}}"]);
        expect(r).toMatchObject({ exitCode: 0, stdout: "berth\n" });
      }
    } finally {
      p.kill("SIGTERM");
      await p.exited;
    }
  });

  test("SIGHUP reloads the config file; SIGTERM drains, removes socket and pidfile, containers run on", async () => {
    const cfg = join(dir, "daemon.json");
    writeFileSync(cfg, JSON.stringify({ "registry-mirrors": ["http://127.0.0.1:1"] }));
    const s2 = join(dir, "s2.sock");
    const pidfile = join(dir, "s2.pid");
    const d = Bun.spawn(berthArgv(["daemon", "-H", `unix://${s2}`, "--root", root, "--pidfile", pidfile, "--config-file", cfg]), {
      stdout: "ignore",
      stderr: "ignore",
    });
    await using _ = { [Symbol.asyncDispose]: async () => void (d.exitCode === null && (d.kill("SIGKILL"), await d.exited)) };
    await waitUntil("the second daemon answers", () => ping(s2));
    expect(readPid(pidfile)).toBe(d.pid);
    const mirrors = async () =>
      JSON.parse((await rawRequest(s2, "GET /info HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")).split("\r\n\r\n")[1]!).RegistryConfig.Mirrors;
    expect(await mirrors()).toEqual(["http://127.0.0.1:1"]);
    writeFileSync(cfg, JSON.stringify({ "registry-mirrors": ["http://127.0.0.1:2"] }));
    d.kill("SIGHUP");
    await waitUntil("the reloaded mirrors", async () => JSON.stringify(await mirrors()) === '["http://127.0.0.1:2"]');
    // a container started through this daemon outlives it
    const body = JSON.stringify({ Image: "busybox", Cmd: ["sleep", "1000"] });
    const run = await rawRequest(
      s2,
      `POST /containers/create?name=survivor HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`,
    );
    expect(status(run)).toBe("HTTP/1.1 201 Created");
    expect(status(await rawRequest(s2, "POST /containers/survivor/start HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"))).toBe("HTTP/1.1 204 No Content");
    d.kill("SIGTERM");
    expect(await d.exited).toBe(0);
    expect(existsSync(s2)).toBe(false);
    expect(existsSync(pidfile)).toBe(false);
    expect((await cli(["inspect", "-f", "{{.State.Running}}", "survivor"])).stdout).toBe("true\n");
    await cli(["rm", "-f", "survivor"]);
  });
});

function readPid(p: string): number {
  return Number(Bun.spawnSync(["cat", p]).stdout.toString().trim());
}
