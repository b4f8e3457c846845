/**
 * `docker build` (DOCKER_BUILDKIT=0: the legacy builder's POST /build) on berth's daemon: -t, --build-arg,
 * -f outside the context, --target, -q, --label, a failing RUN step, .dockerignore; a BuildKit request
 * is refused naming DOCKER_BUILDKIT=0. Root only.
 */
import { describe, expect, test } from "bun:test";
import { mkdirSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { waitUntil } from "../helpers/cli.ts";
import { rootEnabled } from "../helpers/root.ts";
import { apiDaemon } from "./_api-daemon.ts";

const d = apiDaemon("daemon-build");
const ok = (r: { exitCode: number; stderr: string; stdout: string }) => {
  if (r.exitCode !== 0) throw new Error(`exit ${r.exitCode}: ${r.stderr}${r.stdout}`);
  return r.stdout;
};

function context(name: string, files: Record<string, string>): string {
  const dir = join(d.dir, name);
  for (const [p, c] of Object.entries(files)) {
    mkdirSync(join(dir, p, ".."), { recursive: true });
    writeFileSync(join(dir, p), c);
  }
  return dir;
}

describe.skipIf(!rootEnabled)("docker build → berth daemon (legacy builder)", () => {
  test("-t (twice), --build-arg, --label, COPY with .dockerignore, RUN; the image runs", async () => {
    const dir = context("ctx1", {
      Dockerfile: 'FROM busybox\nARG GREETING=hi\nCOPY . /app/\nRUN echo "$GREETING from run" > /app/out\nCMD ["cat", "/app/out"]\n',
      "hello.txt": "hello\n",
      "secret.txt": "no\n",
      ".dockerignore": "secret.txt\n",
    });
    const r = await d.docker(["build", "-t", "built:1", "-t", "built:latest", "--build-arg", "GREETING=hello", "--label", "team=core", dir]);
    const out = ok(r);
    // docker's legacy builder adds --label as a last LABEL step
    expect(out).toContain("Step 1/6 : FROM busybox");
    expect(out).toContain('Step 4/6 : RUN echo "$GREETING from run" > /app/out');
    expect(out).toMatch(/Successfully built [0-9a-f]{12}\n/);
    expect(out).toContain("Successfully tagged built:1\n");
    expect(out).toContain("Successfully tagged built:latest\n");
    expect(ok(await d.docker(["run", "--rm", "--pull=never", "built:1"]))).toBe("hello from run\n");
    expect(ok(await d.docker(["run", "--rm", "--pull=never", "built:1", "ls", "/app"]))).toBe("Dockerfile\nhello.txt\nout\n");
    expect(ok(await d.docker(["inspect", "-f", "{{.Config.Labels.team}}", "built:1"]))).toBe("core\n");
  });

  test("-f from outside the context, --target of a multi-stage file, -q prints the ID only", async () => {
    const dir = context("ctx2", { "data.txt": "data\n" });
    const df = join(d.dir, "elsewhere.Dockerfile");
    writeFileSync(df, "FROM busybox AS base\nCOPY data.txt /d\nFROM base AS test\nRUN echo test > /t\nFROM base AS final\nRUN echo final > /t\n");
    ok(await d.docker(["build", "-f", df, "--target", "test", "-t", "staged:test", dir]));
    expect(ok(await d.docker(["run", "--rm", "--pull=never", "staged:test", "cat", "/d", "/t"]))).toBe("data\ntest\n");
    const q = ok(await d.docker(["build", "-q", "-f", df, "-t", "staged:final", dir]));
    expect(q).toMatch(/^sha256:[0-9a-f]{64}\n$/);
    expect(ok(await d.docker(["inspect", "-f", "{{.Id}}", "staged:final"]))).toBe(q);
    expect(ok(await d.docker(["run", "--rm", "--pull=never", "staged:final", "cat", "/t"]))).toBe("final\n");
  });

  test("a failing RUN step: docker's message and exit 1; nothing tagged", async () => {
    const dir = context("ctx3", { Dockerfile: "FROM busybox\nRUN echo about to fail && exit 3\n" });
    const r = await d.docker(["build", "-t", "broken:1", dir]);
    expect(r.exitCode).toBe(1);
    expect(r.stdout).toContain("about to fail");
    expect(r.stderr).toContain("returned a non-zero code: 3");
    expect((await d.docker(["image", "inspect", "broken:1"])).exitCode).toBe(1);
    // a base image that cannot be pulled (nothing listens on the registry's port): the error names it
    const dir2 = context("ctx4", { Dockerfile: "FROM 127.0.0.1:9/nosuchimage:1\n" });
    const r2 = await d.docker(["build", dir2]);
    expect(r2.exitCode).toBe(1);
    expect(r2.stderr).toContain("nosuchimage");
  });

  test("a BuildKit request (version=2) is refused with DOCKER_BUILDKIT=0 in the message", async () => {
    const res = await fetch("http://localhost/v1.44/build?version=2", { method: "POST", unix: d.sock, body: new Uint8Array(1024) } as RequestInit);
    expect(res.status).toBe(400);
    expect(((await res.json()) as { message: string }).message).toContain("DOCKER_BUILDKIT=0");
  });

  test("a build whose client goes away stops: its RUN container is killed and removed, its context deleted, nothing tagged", async () => {
    const dir = context("ctx5", { Dockerfile: "FROM busybox\nRUN echo started && exec sleep 61.25\n" });
    const tar = Bun.spawnSync(["tar", "-C", dir, "-cf", "-", "."]).stdout;
    const seen = Promise.withResolvers<string>();
    let text = "";
    const s = await Bun.connect({
      unix: d.sock,
      socket: {
        data(_s, b) {
          text += Buffer.from(b).toString();
          if (text.includes('{"stream":"started')) seen.resolve(text);
        },
        close: () => seen.resolve(text),
        error: () => seen.resolve(text),
      },
    });
    s.write(`POST /v1.44/build?t=abandoned:1 HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-tar\r\nContent-Length: ${tar.length}\r\n\r\n`);
    s.write(tar);
    expect(await seen.promise).toContain("Running in");
    const sleeping = () => Bun.spawnSync(["pgrep", "-f", "sleep 61.25"]).stdout.toString().trim();
    expect(sleeping()).not.toBe("");
    s.terminate();
    const t0 = Date.now();
    await waitUntil("the build's RUN process is gone", async () => sleeping() === "", 20_000);
    await waitUntil("the build's RUN container is gone", async () => (await d.berth(["ps", "-aq"])).stdout === "", 20_000);
    await waitUntil("the build's context is deleted", async () => readdirSync(join(d.root, "builder", "tmp")).length === 0, 20_000);
    expect(Date.now() - t0).toBeLessThan(20_000);
    expect((await d.docker(["image", "inspect", "abandoned:1"])).exitCode).toBe(1);
  });
});
