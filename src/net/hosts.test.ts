import { expect, test } from "bun:test";
import { linkEnv, parseAddHost, renderHosts, renderResolvConf, withHostsEntry, withoutHostsEntry } from "./hosts.ts";

test("hosts: docker's head, --add-host, links, then the container itself", () => {
  const out = renderHosts({
    hostname: "0123456789ab",
    ip: "172.17.0.3",
    aliases: ["web"],
    extraHosts: [parseAddHost("db.local:10.0.0.5"), parseAddHost("gw:host-gateway", "172.17.0.1")],
    links: [{ ip: "172.17.0.2", alias: "db", name: "postgres", shortId: "abcdef012345" }],
  });
  expect(out).toBe(
    [
      "127.0.0.1\tlocalhost",
      "::1\tlocalhost ip6-localhost ip6-loopback",
      "fe00::0\tip6-localnet",
      "ff00::0\tip6-mcastprefix",
      "ff02::1\tip6-allnodes",
      "ff02::2\tip6-allrouters",
      "10.0.0.5\tdb.local",
      "172.17.0.1\tgw",
      "172.17.0.2\tdb postgres abcdef012345",
      "172.17.0.3\t0123456789ab web",
      "",
    ].join("\n"),
  );
  expect(renderHosts({ hostname: "h" })).not.toContain("\th\n");
});

test("--add-host parsing", () => {
  expect(parseAddHost("v6:::1")).toEqual({ ip: "::1", names: ["v6"] });
  expect(parseAddHost("a=1.2.3.4")).toEqual({ ip: "1.2.3.4", names: ["a"] });
  expect(() => parseAddHost("nohost")).toThrow(/NAME:IP/);
  expect(() => parseAddHost("x:999.1.1.1")).toThrow(/not an IP/);
  expect(() => parseAddHost("x:host-gateway")).toThrow(/host-gateway/);
});

test("resolv.conf drops loopback resolvers and honours --dns", () => {
  const host = "# generated\nnameserver 127.0.0.53\nnameserver 10.0.0.2\nsearch corp.example\noptions edns0\n";
  expect(renderResolvConf(host)).toBe("search corp.example\nnameserver 10.0.0.2\noptions edns0\n");
  expect(renderResolvConf(host, { dns: ["10.1.1.1"], dnsSearch: ["a.test"], dnsOptions: ["ndots:2"] })).toBe(
    "search a.test\nnameserver 10.1.1.1\noptions ndots:2\n",
  );
});

test("docker's --link environment variables", () => {
  expect(
    linkEnv({
      alias: "web-db",
      containerName: "app",
      ip: "172.17.0.5",
      exposed: ["5432/tcp", "53/udp"],
      env: ["PATH=/bin", "POSTGRES_USER=me", "HOME=/root", "EMPTY="],
    }),
  ).toEqual([
    "WEB_DB_PORT=udp://172.17.0.5:53",
    "WEB_DB_PORT_53_UDP=udp://172.17.0.5:53",
    "WEB_DB_PORT_53_UDP_ADDR=172.17.0.5",
    "WEB_DB_PORT_53_UDP_PORT=53",
    "WEB_DB_PORT_53_UDP_PROTO=udp",
    "WEB_DB_PORT_5432_TCP=tcp://172.17.0.5:5432",
    "WEB_DB_PORT_5432_TCP_ADDR=172.17.0.5",
    "WEB_DB_PORT_5432_TCP_PORT=5432",
    "WEB_DB_PORT_5432_TCP_PROTO=tcp",
    "WEB_DB_NAME=/app/web-db",
    "WEB_DB_ENV_POSTGRES_USER=me",
    "WEB_DB_ENV_EMPTY=",
  ]);
});

test("network connect/disconnect: a line per further address, replaced or removed by address", () => {
  const base = "127.0.0.1\tlocalhost\n172.17.0.2\tabc\n";
  const added = withHostsEntry(base, "172.18.0.3", ["abc"]);
  expect(added).toBe("127.0.0.1\tlocalhost\n172.17.0.2\tabc\n172.18.0.3\tabc\n");
  expect(withHostsEntry(added, "172.18.0.3", ["abc", "x"])).toBe("127.0.0.1\tlocalhost\n172.17.0.2\tabc\n172.18.0.3\tabc x\n");
  expect(withoutHostsEntry(added, "172.18.0.3")).toBe(base);
  // 172.18.0.30 is another address, not a prefix match
  expect(withoutHostsEntry(added + "172.18.0.30\tzz\n", "172.18.0.3")).toBe(base + "172.18.0.30\tzz\n");
});
