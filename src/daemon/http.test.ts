import { describe, expect, test } from "bun:test";
import { EventEmitter } from "node:events";
import type { Socket } from "node:net";
import { bodyReader, HttpError, parseHead, readHead, SocketReader } from "./http.ts";
import { compareVersions, Router } from "./server.ts";

/** a socket stand-in that delivers `parts` as data events, then the end */
function fakeSocket(parts: string[]): Socket {
  const s = new EventEmitter() as unknown as Socket & EventEmitter;
  Object.assign(s, { pause() {}, resume() {}, isPaused: () => false });
  queueMicrotask(() => {
    for (const p of parts) s.emit("data", Buffer.from(p, "latin1"));
    s.emit("end");
  });
  return s;
}

async function collect(it: AsyncIterable<Uint8Array>): Promise<string> {
  const out: Uint8Array[] = [];
  for await (const c of it) out.push(c);
  return Buffer.concat(out).toString("latin1");
}

describe("request heads", () => {
  test("request line and headers; repeated headers joined; names lower-cased", () => {
    const h = parseHead("POST /v1.41/containers/create?name=x HTTP/1.1\r\nHost: a\r\nX-A: 1\r\nx-a: 2\r\nContent-Length: 0");
    expect(h).toEqual({
      method: "POST",
      target: "/v1.41/containers/create?name=x",
      httpVersion: "1.1",
      headers: { host: "a", "x-a": "1, 2", "content-length": "0" },
    });
  });

  test.each([
    ["GARBAGE", 400],
    ["GET / HTTP/2.0", 400],
    ["GET http://x/ HTTP/1.1", 400],
    ["GET / HTTP/1.1\r\nno-colon", 400],
    ["GET / HTTP/1.1\r\nbad name: x", 400],
    ["GET / HTTP/1.1\r\n: empty", 400],
  ])("%j → %d", (head, status) => {
    try {
      parseHead(head);
      throw new Error("parsed");
    } catch (e) {
      expect(e).toBeInstanceOf(HttpError);
      expect((e as HttpError).status).toBe(status);
    }
  });

  test("a head split across reads, the rest left for the body; an oversized head is 431", async () => {
    const r = new SocketReader(fakeSocket(["GET /_p", "ing HTTP/1.1\r\nHo", "st: x\r\n\r\nBODY"]));
    const h = await readHead(r);
    expect(h?.target).toBe("/_ping");
    expect((await r.read())?.toString()).toBe("BODY");
    const big = new SocketReader(fakeSocket([`GET / HTTP/1.1\r\nX: ${"a".repeat(70_000)}`]));
    await expect(readHead(big)).rejects.toMatchObject({ status: 431 });
    expect(await readHead(new SocketReader(fakeSocket([])))).toBeNull();
  });
});

describe("request bodies", () => {
  test("Content-Length: exactly that many bytes, the rest stays", async () => {
    const r = new SocketReader(fakeSocket(["hello", " worldNEXT"]));
    const b = bodyReader(r, { "content-length": "11" });
    expect(await collect(b.iter)).toBe("hello world");
    expect(b.done()).toBe(true);
    expect((await r.read())?.toString()).toBe("NEXT");
  });

  test("chunked, with extensions and trailers, split anywhere", async () => {
    const wire = "5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nTrailer: x\r\n\r\nNEXT";
    const parts = wire.match(/.{1,3}/gs)!;
    const r = new SocketReader(fakeSocket(parts));
    const b = bodyReader(r, { "transfer-encoding": "chunked" });
    expect(await collect(b.iter)).toBe("hello world");
    expect(b.done()).toBe(true);
    expect(
      await collect({
        [Symbol.asyncIterator]: async function* () {
          for (let c = await r.read(); c; c = await r.read()) yield c;
        },
      }),
    ).toBe("NEXT");
  });

  test.each([
    [{ "transfer-encoding": "chunked" }, "zz\r\n"],
    [{ "transfer-encoding": "chunked" }, "5\r\nhelloXX"],
    [{ "content-length": "10" }, "short"],
  ])("malformed %j %j → 400", async (headers, wire) => {
    const r = new SocketReader(fakeSocket([wire]));
    await expect(collect(bodyReader(r, headers).iter)).rejects.toMatchObject({ status: 400 });
  });

  test("bad framing headers are refused before reading", () => {
    const r = new SocketReader(fakeSocket([]));
    expect(() => bodyReader(r, { "content-length": "-1" })).toThrow(HttpError);
    expect(() => bodyReader(r, { "transfer-encoding": "gzip" })).toThrow(HttpError);
  });
});

describe("routing and versions", () => {
  const h = () => ({ status: 204, empty: true as const });
  const router = new Router([
    { method: "GET", path: "/containers/{id}/json", handler: h },
    { method: "GET", path: "/containers/json", handler: h },
    { method: "GET", path: "/images/{name*}/json", handler: h },
    { method: "GET", path: "/images/json", handler: h },
  ]);

  test("literal paths win; {name*} takes slashes; params are decoded", () => {
    expect(router.match("GET", "/containers/json")?.route.path).toBe("/containers/json");
    expect(router.match("GET", "/containers/abc/json")?.params).toEqual({ id: "abc" });
    expect(router.match("GET", "/images/json")?.route.path).toBe("/images/json");
    expect(router.match("GET", "/images/reg:5000/a/b%3Atag/json")?.params).toEqual({ name: "reg:5000/a/b:tag" });
    expect(router.match("POST", "/containers/json")).toBeUndefined();
    expect(() => router.match("GET", "/containers/%zz/json")).toThrow(HttpError);
  });

  test("versions compare as numbers", () => {
    expect(compareVersions("1.9", "1.41")).toBeLessThan(0);
    expect(compareVersions("1.47", "1.47")).toBe(0);
    expect(compareVersions("2.0", "1.99")).toBeGreaterThan(0);
  });
});

test("a connection that does not finish its request head in time is closed; a prompt one is served", async () => {
  const { createServer, connect } = await import("node:net");
  const { ApiServer } = await import("./server.ts");
  const quiet = { debug() {}, info() {}, warn() {}, error() {} } as unknown as ConstructorParameters<typeof ApiServer>[0]["log"];
  const routes = [{ method: "GET" as const, path: "/_ping", handler: () => ({ text: "OK" }) }];
  const api = new ApiServer({ ctx: { minVersion: "1.24", maxVersion: "1.47" } as never, routes, log: quiet, headTimeoutMs: 150 });
  const srv = createServer((s) => api.handleConnection(s));
  await new Promise<void>((r) => srv.listen(0, "127.0.0.1", r));
  const port = (srv.address() as { port: number }).port;
  try {
    const slow = connect(port, "127.0.0.1");
    const closed = new Promise<number>((r) => {
      const t0 = Date.now();
      slow.on("close", () => r(Date.now() - t0));
    });
    slow.on("error", () => {}); // reset by the server: what the test waits for
    slow.write("GET /_ping HTTP/1.1\r\nHost: d\r\n"); // never the blank line
    expect(await closed).toBeLessThan(5000);

    const res = await new Promise<string>((resolve) => {
      const c = connect(port, "127.0.0.1", () => c.write("GET /_ping HTTP/1.1\r\nHost: d\r\nConnection: close\r\n\r\n"));
      let out = "";
      c.on("data", (b) => (out += b.toString()));
      c.on("close", () => resolve(out));
    });
    expect(res).toStartWith("HTTP/1.1 200");
    expect(res).toEndWith("OK");
  } finally {
    srv.close();
  }
});
