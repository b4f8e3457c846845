import { afterAll, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { JsonLogWriter, logFiles, parseLogConfig, readLogFrom } from "./logs.ts";

const dir = mkdtempSync("/tmp/berth-test-logs-");
afterAll(() => rmSync(dir, { recursive: true, force: true }));

test("--log-opt: json-file's options, docker's errors", () => {
  expect(parseLogConfig({ Type: "", Config: {} })).toEqual({ driver: "json-file", maxFile: 1 });
  expect(parseLogConfig({ Type: "json-file", Config: { "max-size": "10m", "max-file": "3" } })).toEqual({
    driver: "json-file",
    maxSize: 10 * 1024 ** 2,
    maxFile: 3,
  });
  expect(parseLogConfig({ Type: "json-file", Config: { "max-size": "512k" } }).maxSize).toBe(512 * 1024);
  expect(parseLogConfig({ Type: "none", Config: {} }).driver).toBe("none");
  expect(() => parseLogConfig({ Type: "syslog", Config: {} })).toThrow("no log driver named 'syslog' is registered");
  expect(() => parseLogConfig({ Type: "json-file", Config: { "max-sizes": "1" } })).toThrow("unknown log opt 'max-sizes' for json-file log driver");
  expect(() => parseLogConfig({ Type: "json-file", Config: { "max-file": "3" } })).toThrow("max-file cannot be set without max-size");
  expect(() => parseLogConfig({ Type: "json-file", Config: { "max-size": "ten" } })).toThrow("invalid size: 'ten'");
  expect(() => parseLogConfig({ Type: "json-file", Config: { "max-size": "1k", "max-file": "0" } })).toThrow("max-file cannot be less than 1");
});

test("rotation: files stay under max-size, the oldest beyond max-file go, the lines read back in order", () => {
  const path = `${dir}/c-json.log`;
  const w = new JsonLogWriter(path, { maxSize: 1000, maxFile: 3 });
  for (let i = 0; i < 100; i++) w.write("stdout", Buffer.from(`line ${String(i).padStart(3, "0")}\n`));
  w.close();
  const files = logFiles(path, 3);
  expect(files).toEqual([`${path}.2`, `${path}.1`, path]);
  for (const f of files) expect(statSync(f).size).toBeLessThanOrEqual(1000);
  expect(existsSync(`${path}.3`)).toBe(false);
  const lines = files.flatMap((f) => readLogFrom(f, 0).entries.map((e) => e.log));
  expect(lines.at(-1)).toBe("line 099\n");
  const first = Number(lines[0]!.slice(5, 8));
  expect(lines).toEqual(Array.from({ length: 100 - first }, (_, i) => `line ${String(first + i).padStart(3, "0")}\n`));
  expect(first).toBeGreaterThan(0);

  // one file: truncated in place
  const one = `${dir}/one-json.log`;
  const w1 = new JsonLogWriter(one, { maxSize: 500, maxFile: 1 });
  for (let i = 0; i < 50; i++) w1.write("stderr", Buffer.from(`e${i}\n`));
  w1.close();
  expect(statSync(one).size).toBeLessThanOrEqual(500);
  expect(existsSync(`${one}.1`)).toBe(false);
  expect(readFileSync(one, "utf8")).toContain('"log":"e49\\n"');
});
