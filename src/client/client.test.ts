/**
 * The client's own pieces, without a daemon: host strings, the endpoint's priority, HTTP/1.1 framing
 * (Content-Length, chunked, read-to-close, the 101 of a hijack with the half-close of stdin), docker's
 * 8-byte frames, NDJSON, and the daemon's `{"message"}` errors — against a raw unix socket server that
 * writes exactly the bytes under test.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import net from "node:net";
import { join } from "node:path";
import { ApiClient, DaemonError, demux, ndjson, parseHost, readAll, selectEndpoint } from "./index.ts";

const dir = mkdtempSync("/tmp/berth-client-unit-");
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function* chunks(...parts: string[]): AsyncGenerator<Uint8Array> {
  for (const p of parts) yield new TextEncoder().encode(p);
}

/** a unix socket server: `answer` gets each request's head and the socket */
async function server(name: string, answer: (head: string, s: net.Socket, rest: Buffer) => void): Promise<{ sock: string; close(): void }> {
  const sock = join(dir, name);
  const srv = net.createServer({ allowHalfOpen: true }, (s) => {
    let buf = Buffer.alloc(0);
    let done = false;
    s.on("data", (d: Buffer) => {
      if (done) return;
      buf = Buffer.concat([buf, d]);
      const i = buf.indexOf("\r\n\r\n");
      if (i < 0) return;
      done = true;
      answer(buf.subarray(0, i).toString(), s, buf.subarray(i + 4));
    });
  });
  await new Promise<void>((r) => srv.listen(sock, () => r()));
  return { sock, close: () => srv.close() };
}

const ping = (s: net.Socket, version = "1.43") =>
  s.end(`HTTP/1.1 200 OK\r\nApi-Version: ${version}\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nOK`);

describe("host strings and the endpoint's priority", () => {
  test("docker's forms", () => {
    expect(parseHost("unix:///run/x.sock")).toEqual({ proto: "unix", path: "/run/x.sock" });
    expect(parseHost("unix://")).toEqual({ proto: "unix", path: "/run/berth/berth.sock" });
    expect(parseHost("tcp://10.0.0.1:2376")).toEqual({ proto: "tcp", hostname: "10.0.0.1", port: 2376 });
    expect(parseHost("tcp://box")).toEqual({ proto: "tcp", hostname: "box", port: 2375 });
    expect(parseHost("tcp://box", true)).toEqual({ proto: "tcp", hostname: "box", port: 2376 });
    expect(parseHost("tcp://[::1]:99")).toEqual({ proto: "tcp", hostname: "::1", port: 99 });
    expect(parseHost("ssh://me@box:2222")).toEqual({ proto: "ssh", hostname: "box", port: 2222, user: "me" });
    expect(parseHost("ssh://box/run/o.sock")).toEqual({ proto: "ssh", hostname: "box", path: "/run/o.sock" });
    for (const bad of ["ftp://x", "/run/x.sock", "tcp://x:99999", "tcp://x/path", "ssh://"]) expect(() => parseHost(bad)).toThrow();
  });

  test("-H > --context > BERTH_HOST > DOCKER_HOST > contexts; nothing is daemonless", () => {
    const env = { BERTH_CONFIG: join(dir, "cfg"), DOCKER_HOST: "unix:///d.sock" };
    expect(selectEndpoint({ hosts: [], env: { BERTH_CONFIG: join(dir, "cfg") } })).toBeUndefined();
    expect(selectEndpoint({ hosts: [], env })?.host).toBe("unix:///d.sock");
    expect(selectEndpoint({ hosts: [], env: { ...env, BERTH_HOST: "unix:///b.sock" } })?.host).toBe("unix:///b.sock");
    expect(selectEndpoint({ hosts: ["tcp://h:1"], env })?.host).toBe("tcp://h:1");
    expect(selectEndpoint({ hosts: [], context: "default", env })?.host).toBe("unix:///d.sock");
    expect(() => selectEndpoint({ hosts: ["unix:///a"], context: "x", env })).toThrow("conflicting options");
    expect(() => selectEndpoint({ hosts: ["unix:///a", "unix:///b"], env })).toThrow("Specify only one -H");
    expect(() => selectEndpoint({ hosts: [], context: "nope", env })).toThrow('context "nope" does not exist');
  });
});

describe("streams", () => {
  test("docker's 8-byte frames, split anywhere", async () => {
    const frame = (n: number, s: string) => {
      const b = Buffer.alloc(8 + s.length);
      b[0] = n;
      b.writeUInt32BE(s.length, 4);
      b.write(s, 8);
      return b.toString("latin1");
    };
    const all = frame(1, "out\n") + frame(2, "err\n") + frame(1, "");
    const parts: string[] = [];
    for (let i = 0; i < all.length; i += 3) parts.push(all.slice(i, i + 3));
    const got: [number, string][] = [];
    async function* latin(): AsyncGenerator<Uint8Array> {
      for (const p of parts) yield Buffer.from(p, "latin1");
    }
    for await (const [n, b] of demux(latin())) got.push([n, Buffer.from(b).toString()]);
    const joined = new Map<number, string>();
    for (const [n, s] of got) joined.set(n, (joined.get(n) ?? "") + s);
    expect(Object.fromEntries(joined)).toEqual({ 1: "out\n", 2: "err\n" });
  });

  test("NDJSON across chunk boundaries, and objects back to back", async () => {
    const out: unknown[] = [];
    for await (const o of ndjson(chunks('{"a":1}\n{"b"', ':"x}"}\n', '{"c":3}{"d":4}'))) out.push(o);
    expect(out).toEqual([{ a: 1 }, { b: "x}" }, { c: 3 }, { d: 4 }]);
  });
});

describe("HTTP/1.1 against a raw server", () => {
  test("negotiation, Content-Length, chunked, read-to-close; errors as the daemon said", async () => {
    const seen: string[] = [];
    const srv = await server("h1.sock", (head, s) => {
      const line = head.split("\r\n")[0]!;
      seen.push(line);
      if (line.startsWith("GET /_ping")) return ping(s);
      if (line.includes("/chunked"))
        return s.end("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\n[1,2\r\n3;ext=1\r\n,3]\r\n0\r\nX-Trailer: y\r\n\r\n");
      if (line.includes("/close")) return s.end('HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\r\n{"closed":true}');
      if (line.includes("/missing"))
        return s.end('HTTP/1.1 404 Not Found\r\nContent-Type: application/json\r\nContent-Length: 37\r\n\r\n{"message":"No such container: nope"}');
      if (line.includes("/plain")) return s.end("HTTP/1.1 500 Internal Server Error\r\nContent-Length: 5\r\n\r\nboom\n");
      s.end('HTTP/1.1 200 OK\r\nContent-Length: 7\r\n\r\n{"x":1}');
    });
    const api = new ApiClient({ host: `unix://${srv.sock}` }, {});
    expect(await api.json("GET", "/doc")).toEqual({ x: 1 });
    expect(await api.apiVersion()).toBe("1.43");
    expect(await api.json("GET", "/chunked")).toEqual([1, 2, 3]);
    expect(await api.json("GET", "/close")).toEqual({ closed: true });
    const e = await api.json("GET", "/missing").catch((x) => x);
    expect(e).toBeInstanceOf(DaemonError);
    expect(e).toMatchObject({ status: 404, kind: "not_found", message: "Error response from daemon: No such container: nope" });
    expect(await api.json("GET", "/plain").catch((x) => (x as Error).message)).toBe("Error response from daemon: boom");
    expect(seen).toEqual([
      "GET /_ping HTTP/1.1",
      "GET /v1.43/doc HTTP/1.1",
      "GET /v1.43/chunked HTTP/1.1",
      "GET /v1.43/close HTTP/1.1",
      "GET /v1.43/missing HTTP/1.1",
      "GET /v1.43/plain HTTP/1.1",
    ]);
    srv.close();
  });

  test("a daemon newer than the client is spoken to in the client's version; DOCKER_API_VERSION pins one", async () => {
    const paths: string[] = [];
    const srv = await server("h2.sock", (head, s) => {
      const line = head.split("\r\n")[0]!;
      paths.push(line.split(" ")[1]!);
      if (line.startsWith("GET /_ping")) return ping(s, "1.99");
      s.end("HTTP/1.1 204 No Content\r\n\r\n");
    });
    await new ApiClient({ host: `unix://${srv.sock}` }, {}).ok("POST", "/x");
    await new ApiClient({ host: `unix://${srv.sock}` }, { DOCKER_API_VERSION: "1.30" }).ok("POST", "/y");
    expect(paths).toEqual(["/_ping", "/v1.44/x", "/v1.30/y"]);
    srv.close();
  });

  test("hijack: 101, raw bytes both ways, stdin's end is a half-close", async () => {
    const srv = await server("h3.sock", (head, s, rest) => {
      if (head.startsWith("GET /_ping")) return ping(s);
      expect(head).toContain("Upgrade: tcp");
      expect(head).toContain("Connection: Upgrade");
      s.write("HTTP/1.1 101 UPGRADED\r\nContent-Type: application/vnd.docker.raw-stream\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n");
      let got = rest.toString();
      s.on("data", (d) => (got += d.toString()));
      // the client's half-close: everything it sent, then our answer, then our close
      s.on("end", () => s.end(`echo:${got}`));
    });
    const api = new ApiClient({ host: `unix://${srv.sock}` }, {});
    const res = await api.call("POST", "/containers/x/attach", { hijack: true });
    expect(res.status).toBe(101);
    await res.conn.write("hello ");
    await res.conn.write("world");
    res.conn.closeWrite();
    expect(new TextDecoder().decode(await readAll(res.body))).toBe("echo:hello world");
    res.conn.close();
    srv.close();
  });

  test("nobody listening: docker's words", async () => {
    const api = new ApiClient({ host: `unix://${join(dir, "none.sock")}` }, {});
    expect(await api.json("GET", "/x").catch((e) => (e as Error).message)).toBe(
      `Cannot connect to the berth daemon at unix://${join(dir, "none.sock")}. Is the berth daemon running?`,
    );
  });
});
