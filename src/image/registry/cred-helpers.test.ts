/**
 * Credential helpers as the docker CLI calls them: a fake `docker-credential-<name>` on PATH keeps its
 * secrets in a directory; berth's store/load/remove go through it (credsStore, then credHelpers per
 * registry, which wins), config.json keeps only an empty auths entry, a "credentials not found" answer
 * is no credentials, and a missing helper program is a one-line error.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { chmodSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";

let tmp = "";
beforeAll(() => {
  tmp = mkdtempSync("/tmp/berth-credhelper-");
  // the protocol of docker-credential-helpers: get/store/erase, server URL or JSON on stdin
  const helper = (name: string) => `#!/bin/sh
dir=${tmp}/store-${name}; mkdir -p "$dir"
read -r line || true
case "$1" in
  store) key=$(printf '%s' "$line" | sed 's/.*"ServerURL":"\\([^"]*\\)".*/\\1/' | tr '/:' '__'); printf '%s' "$line" > "$dir/$key" ;;
  get) key=$(printf '%s' "$line" | tr '/:' '__'); if [ -f "$dir/$key" ]; then cat "$dir/$key"; else echo "credentials not found in native keychain"; exit 1; fi ;;
  erase) key=$(printf '%s' "$line" | tr '/:' '__'); if [ -f "$dir/$key" ]; then rm "$dir/$key"; else echo "credentials not found in native keychain"; exit 1; fi ;;
esac
`;
  for (const name of ["berthtest", "other"]) {
    writeFileSync(join(tmp, `docker-credential-${name}`), helper(name));
    chmodSync(join(tmp, `docker-credential-${name}`), 0o755);
  }
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** run `code` (with auth.ts's functions in scope) in a process whose PATH has the fake helpers, as a user's shell would */
function withHelpers(code: string): unknown {
  const script = join(tmp, `t-${Math.random().toString(36).slice(2)}.ts`);
  writeFileSync(
    script,
    `import { loadCredentials, removeCredentials, storeCredentials } from ${JSON.stringify(join(import.meta.dir, "auth.ts"))};
const out: unknown[] = [];
const r = (v: unknown) => out.push(v === undefined ? null : v);
try { ${code} } catch (e) { out.push({ error: (e as Error).message }); }
console.log(JSON.stringify(out));`,
  );
  const p = Bun.spawnSync([process.execPath, script], { env: { ...process.env, PATH: `${tmp}:${process.env.PATH}` } });
  expect(p.stderr.toString()).toBe("");
  return JSON.parse(p.stdout.toString());
}

test("credsStore and credHelpers: the secret lives in the helper, config.json keeps an empty entry", () => {
  const path = join(tmp, "cfg", "config.json");
  const P = JSON.stringify(path);
  withHelpers(`storeCredentials("127.0.0.1:5000", { username: "u", password: "x" }, ${P});`); // no helper yet: the file
  writeFileSync(path, JSON.stringify({ credsStore: "berthtest", credHelpers: { "127.0.0.1:5001": "other" } }));
  withHelpers(`storeCredentials("127.0.0.1:5000", { username: "alice", password: "s3cret" }, ${P});
    storeCredentials("127.0.0.1:5001", { username: "bob", password: "pw" }, ${P});
    storeCredentials("docker.io", { username: "hub", password: "h" }, ${P});`);
  const doc = JSON.parse(readFileSync(path, "utf8"));
  expect(doc.auths).toEqual({ "127.0.0.1:5000": {}, "127.0.0.1:5001": {}, "https://index.docker.io/v1/": {} });
  expect(readdirSync(join(tmp, "store-berthtest")).sort()).toEqual(["127.0.0.1_5000", "https___index.docker.io_v1_"]);
  expect(readdirSync(join(tmp, "store-other"))).toEqual(["127.0.0.1_5001"]);
  expect(
    withHelpers(`r(loadCredentials("127.0.0.1:5000", ${P})); r(loadCredentials("127.0.0.1:5001", ${P})); r(loadCredentials("docker.io", ${P}));
      r(loadCredentials("127.0.0.1:5999", ${P})); r(removeCredentials("127.0.0.1:5000", ${P})); r(loadCredentials("127.0.0.1:5000", ${P}));
      r(removeCredentials("127.0.0.1:5000", ${P}));`),
  ).toEqual([{ username: "alice", password: "s3cret" }, { username: "bob", password: "pw" }, { username: "hub", password: "h" }, null, true, null, false]);
  expect(Object.keys(JSON.parse(readFileSync(path, "utf8")).auths)).not.toContain("127.0.0.1:5000");
});

test("an identity token comes back as <token> and a missing helper is a one-line error", () => {
  const path = join(tmp, "cfg2", "config.json");
  const P = JSON.stringify(path);
  withHelpers(`storeCredentials("127.0.0.1:5002", { username: "x", password: "y" }, ${P});`);
  writeFileSync(path, JSON.stringify({ credsStore: "berthtest" }));
  expect(
    withHelpers(`storeCredentials("127.0.0.1:5002", { username: "<token>", password: "refresh-123" }, ${P}); r(loadCredentials("127.0.0.1:5002", ${P}));`),
  ).toEqual([{ identityToken: "refresh-123" }]);
  writeFileSync(path, JSON.stringify({ credsStore: "nosuchhelper" }));
  expect(withHelpers(`r(loadCredentials("127.0.0.1:5002", ${P}));`)).toEqual([
    { error: 'error getting credentials - err: exec: "docker-credential-nosuchhelper": executable file not found in $PATH, out: ``' },
  ]);
});
