import { expect, test } from "bun:test";
import { buildAnswer, parseQuery, resolveOnNetwork, upstreamsFrom, RCODE_NXDOMAIN, TYPE_A, TYPE_AAAA } from "./dns.ts";
import type { NetworkRecord } from "./store.ts";

/** a standard query as `dig` sends it */
function query(id: number, name: string, type: number): Uint8Array {
  const labels = name.split(".").flatMap((l) => [l.length, ...new TextEncoder().encode(l)]);
  const b = new Uint8Array(12 + labels.length + 1 + 4);
  const dv = new DataView(b.buffer);
  dv.setUint16(0, id);
  dv.setUint16(2, 0x0100); // RD
  dv.setUint16(4, 1);
  b.set(labels, 12);
  dv.setUint16(12 + labels.length + 1, type);
  dv.setUint16(12 + labels.length + 3, 1);
  return b;
}

test("parses a question and answers it with A records", () => {
  const qb = query(0x1234, "Web", TYPE_A);
  const q = parseQuery(qb)!;
  expect(q).toMatchObject({ id: 0x1234, name: "web", type: TYPE_A, class: 1 });
  const a = buildAnswer(qb, q, ["172.20.0.2", "172.20.0.3"]);
  const dv = new DataView(a.buffer);
  expect(dv.getUint16(0)).toBe(0x1234);
  expect(dv.getUint16(2)).toBe(0x8000 | 0x0400 | 0x0100 | 0x0080);
  expect(dv.getUint16(6)).toBe(2);
  expect([...a.subarray(a.length - 4)]).toEqual([172, 20, 0, 3]);
  expect(new DataView(buildAnswer(qb, q, [], RCODE_NXDOMAIN).buffer).getUint16(2) & 0xf).toBe(RCODE_NXDOMAIN);
  const aaaa = query(7, "web", TYPE_AAAA);
  expect(new DataView(buildAnswer(aaaa, parseQuery(aaaa)!, ["172.20.0.2"]).buffer).getUint16(6)).toBe(0);
});

test("hostile or non-query packets are ignored", () => {
  expect(parseQuery(new Uint8Array(5))).toBeUndefined();
  const resp = query(1, "a", TYPE_A);
  resp[2] = 0x80;
  expect(parseQuery(resp)).toBeUndefined();
  const trunc = query(1, "abc", TYPE_A).subarray(0, 15);
  expect(parseQuery(trunc)).toBeUndefined();
  const ptr = query(1, "abc", TYPE_A);
  ptr[12] = 0xc0; // compression pointer in a question
  expect(parseQuery(ptr)).toBeUndefined();
});

test("names resolve from the network's record; upstreams from resolv.conf", () => {
  const rec = {
    endpoints: {
      "172.20.0.3": { containerId: "b", hostVeth: "", ifName: "eth0", mac: "", names: ["db", "cache"] },
      "172.20.0.2": { containerId: "a", hostVeth: "", ifName: "eth0", mac: "", names: ["web", "Cache"] },
    },
  } as unknown as NetworkRecord;
  expect(resolveOnNetwork(rec, "DB.")).toEqual(["172.20.0.3"]);
  expect(resolveOnNetwork(rec, "cache")).toEqual(["172.20.0.2", "172.20.0.3"]);
  expect(resolveOnNetwork(rec, "nope")).toEqual([]);
  expect(upstreamsFrom("nameserver 127.0.0.53\n# c\nnameserver ::1\nnameserver 10.0.0.2\n")).toEqual(["127.0.0.53:53", "10.0.0.2:53"]);
});
