import { expect, test } from "bun:test";
import { escapeFilter, parseDetachKeys } from "./_detach-keys.ts";

test("docker's key syntax: ctrl-<x>, single characters, commas; an unknown ctrl- name is refused", () => {
  expect([...parseDetachKeys("ctrl-p,ctrl-q")]).toEqual([16, 17]);
  expect([...parseDetachKeys("ctrl-@,ctrl-a,ctrl-z,ctrl-[,ctrl-\\,ctrl-],ctrl-^,ctrl-_")]).toEqual([0, 1, 26, 27, 28, 29, 30, 31]);
  expect([...parseDetachKeys("a,X,ctrl-e")]).toEqual([97, 88, 5]);
  expect(() => parseDetachKeys("ctrl-1")).toThrow("Invalid detach keys (ctrl-1) provided");
});

async function feed(reads: number[][], keys = [16, 17]) {
  async function* src() {
    for (const r of reads) yield Uint8Array.from(r);
  }
  let detached = false;
  const out: number[][] = [];
  for await (const c of escapeFilter(src(), Uint8Array.from(keys), () => (detached = true))) out.push([...c]);
  return { out, detached };
}

test("the sequence detaches; a partial one followed by another key passes the held bytes through", async () => {
  expect(await feed([[104], [16], [17], [105]])).toEqual({ out: [[104]], detached: true });
  expect(await feed([[16], [120], [16], [16], [17]])).toEqual({ out: [[16], [120], [16], [16], [17]], detached: false });
  // a multi-byte read passes whole, as moby's EscapeProxy does
  expect(await feed([[16, 17]])).toEqual({ out: [[16, 17]], detached: false });
  expect(await feed([[16]])).toEqual({ out: [[16]], detached: false });
});
