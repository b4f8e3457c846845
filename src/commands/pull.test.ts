import { expect, test } from "bun:test";
import { progressPrinter } from "./pull.ts";

const events: [string, string, number?, number?][] = [
  ["aaaaaaaaaaaa", "Pulling fs layer"],
  ["bbbbbbbbbbbb", "Pulling fs layer"],
  ["aaaaaaaaaaaa", "Downloading", 512 * 1024, 2 * 1024 * 1024],
  ["bbbbbbbbbbbb", "Downloading", 1024, 1024],
  ["aaaaaaaaaaaa", "Download complete"],
  ["aaaaaaaaaaaa", "Pull complete"],
];

function render(quiet: boolean, tty: boolean): string {
  let out = "";
  const p = progressPrinter(quiet, (s) => void (out += s), tty);
  p.line("1: Pulling from test/x");
  for (const [id, st, cur, total] of events) p.layer(id, st, cur, total);
  p.line("Status: done");
  return out;
}

test("tty: one line per layer, rewritten in place with a 50-column bar", () => {
  const out = render(false, true);
  expect(out.startsWith("1: Pulling from test/x\naaaaaaaaaaaa: Pulling fs layer\nbbbbbbbbbbbb: Pulling fs layer\n")).toBe(true);
  // layer a is two lines up: cursor up 2, clear, text, back down
  expect(out).toContain("\x1b[2A\r\x1b[2Kaaaaaaaaaaaa: Downloading [============>                                      ]   524kB/2.1MB\x1b[2B\r");
  expect(out).toContain("\x1b[1A\r\x1b[2Kbbbbbbbbbbbb: Downloading [==================================================>]  1.02kB/1.02kB\x1b[1B\r");
  expect(out).toContain("\x1b[2A\r\x1b[2Kaaaaaaaaaaaa: Pull complete\x1b[2B\r");
});

test("not a tty: plain status lines without byte counts or escapes; -q: nothing", () => {
  const out = render(false, false);
  expect(out).not.toContain("\x1b");
  expect(out).not.toContain("Downloading");
  expect(out).toBe(
    "1: Pulling from test/x\naaaaaaaaaaaa: Pulling fs layer\nbbbbbbbbbbbb: Pulling fs layer\naaaaaaaaaaaa: Download complete\naaaaaaaaaaaa: Pull complete\nStatus: done\n",
  );
  expect(render(true, true)).toBe("");
  expect(render(true, false)).toBe("");
});
