/**
 * Client mode `cp`: docker's archive calls. From a container: `GET /containers/{id}/archive?path=`, a tar
 * (to stdout with `-`, else unpacked by the system's `tar` and renamed into place as docker's CLI
 * does). Into a container: the destination stat'ed with `HEAD …/archive`, then `PUT …/archive?path=`
 * with a tar of the source (stdin's tar with `-`), its top entry renamed when the destination is a new name.
 */
import { existsSync, mkdtempSync, renameSync, rmSync, statSync, readdirSync, cpSync } from "node:fs";
import { basename, dirname, join, posix, resolve } from "node:path";
import type { RunInput } from "../_command.ts";
import { DaemonError, type ApiClient } from "../../client/index.ts";
import { EngineError } from "../../lib/errors.ts";

const enc = encodeURIComponent;

function split(s: string): { ctr?: string; path: string } {
  const i = s.indexOf(":");
  return i > 0 && !s.startsWith("/") && !s.startsWith(".") && !s.slice(0, i).includes("/") ? { ctr: s.slice(0, i), path: s.slice(i + 1) } : { path: s };
}

interface PathStat {
  name: string;
  size: number;
  mode: number;
  linkTarget?: string;
}

function statHeader(h: string | undefined): PathStat | undefined {
  if (!h) return undefined;
  try {
    return JSON.parse(Buffer.from(h, "base64").toString("utf8")) as PathStat;
  } catch {
    return undefined; // a header we cannot read: treated as no stat
  }
}

/** Go's os.ModeDir bit in the stat header's mode */
const MODE_DIR = 2 ** 31;

/** does a container path name its root ("/", "//", "/.."), as opposed to the root's content ("/.")? */
function posixRoot(p: string): boolean {
  return !/(^|\/)\.$/.test(p) && posix.normalize(`/${p}`) === "/";
}

/** the staging directory of a copy out of a container: `.berth-cp-<pid>-<random>` beside its destination */
const STAGE_PREFIX = ".berth-cp-";

/** a staging directory left by a copy that was killed (its pid is gone) goes with the next copy there */
function sweepStaging(dir: string): void {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return; // unreadable: mkdtemp below reports the real problem
  }
  for (const n of names) {
    const pid = Number(/^\.berth-cp-(\d+)-/.exec(n)?.[1]);
    if (!pid || pid === process.pid) continue;
    try {
      process.kill(pid, 0);
      continue; // its copy is still running
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "ESRCH") continue; // EPERM: alive, someone else's
    }
    try {
      rmSync(join(dir, n), { recursive: true, force: true });
    } catch {} // a leftover that cannot go (read-only, busy) must not fail this copy; the next one tries again
  }
}

async function fromContainer(api: ApiClient, ctr: string, src: string, dst: string, follow: boolean) {
  if (src === "") throw new EngineError("invalid_argument", "filesystem path cannot be empty");
  if (dst !== "-") {
    const dir = dirname(resolve(dst));
    if (!existsSync(dir)) throw new EngineError("invalid_argument", `invalid output path: directory ${JSON.stringify(dir)} does not exist`);
  }
  let path = src;
  if (follow) {
    const head = await api.call("HEAD", `/containers/${enc(ctr)}/archive`, { query: { path: src } });
    head.conn.close();
    const st = statHeader(head.headers["x-docker-container-path-stat"]);
    if (st?.linkTarget) path = st.linkTarget;
  }
  const { body } = await api.stream("GET", `/containers/${enc(ctr)}/archive`, { query: { path } });
  if (dst === "-") {
    for await (const b of body) process.stdout.write(b);
    return;
  }
  const target = resolve(dst);
  const intoDir = existsSync(target) && statSync(target).isDirectory();
  // the container's root comes as "/", "/bin", … (dockerd): its content is the copy, no top entry
  const wholeRoot = posixRoot(path);
  const stageDir = intoDir && !wholeRoot ? target : dirname(target);
  sweepStaging(stageDir);
  const stage = mkdtempSync(join(stageDir, `${STAGE_PREFIX}${process.pid}-`));
  try {
    const tar = Bun.spawn(["tar", "-x", "-f", "-", "-C", stage, "--no-same-owner"], { stdin: "pipe", stderr: "pipe" });
    for await (const b of body) {
      tar.stdin.write(b);
      await tar.stdin.flush();
    }
    await tar.stdin.end();
    if ((await tar.exited) !== 0) throw new EngineError("internal", `extract: ${(await new Response(tar.stderr).text()).trim()}`);
    const [top] = wholeRoot ? ["."] : readdirSync(stage);
    if (top === undefined) return;
    const dest = intoDir && !wholeRoot ? join(target, top) : target;
    // docker: copying a directory onto an existing directory merges into it
    if (existsSync(dest) && statSync(dest).isDirectory() && statSync(join(stage, top)).isDirectory())
      cpSync(join(stage, top), dest, { recursive: true, force: true });
    else {
      rmSync(dest, { recursive: true, force: true });
      renameSync(join(stage, top), dest);
    }
  } finally {
    rmSync(stage, { recursive: true, force: true });
  }
}

async function toContainer(api: ApiClient, src: string, ctr: string, dst: string, keepOwners: boolean) {
  // what the docker CLI asks: no directory replaced by a file or the reverse; -a keeps the owners
  const flags = { noOverwriteDirNonDir: true, ...(keepOwners ? { copyUIDGID: true } : {}) };
  if (dst === "") throw new EngineError("invalid_argument", "filesystem path cannot be empty");
  if (src === "-") {
    await api.ok("PUT", `/containers/${enc(ctr)}/archive`, {
      query: { path: dst, ...flags },
      body: process.stdin as unknown as AsyncIterable<Uint8Array>,
      headers: { "Content-Type": "application/x-tar" },
    });
    return;
  }
  const local = resolve(src);
  if (!existsSync(local)) throw new EngineError("not_found", `stat ${local}: no such file or directory`);
  // where it lands: into an existing directory as itself, else as the destination's name in its parent
  let st: PathStat | undefined;
  try {
    const head = await api.call("HEAD", `/containers/${enc(ctr)}/archive`, { query: { path: dst } });
    head.conn.close();
    st = statHeader(head.headers["x-docker-container-path-stat"]);
  } catch (e) {
    if (!(e instanceof DaemonError && e.status === 404)) throw e;
  }
  const isDir = st !== undefined && (st.mode & MODE_DIR) !== 0;
  const dir = isDir ? dst : dirname(dst) || "/";
  const name = isDir ? basename(local) : basename(dst);
  const argv = [
    "tar",
    "-c",
    "-f",
    "-",
    "-C",
    dirname(local),
    ...(name !== basename(local) ? [`--transform=s,^${escapeSed(basename(local))},${escapeReplacement(name)},`] : []),
    basename(local),
  ];
  const tar = Bun.spawn(argv, { stdout: "pipe", stderr: "pipe" });
  await api.ok("PUT", `/containers/${enc(ctr)}/archive`, {
    query: { path: dir, ...flags },
    body: tar.stdout as unknown as AsyncIterable<Uint8Array>,
    headers: { "Content-Type": "application/x-tar" },
  });
  if ((await tar.exited) !== 0) throw new EngineError("internal", `archive ${local}: ${(await new Response(tar.stderr).text()).trim()}`);
}

/** a literal for the pattern side of tar's --transform (a basic regular expression) */
function escapeSed(s: string): string {
  return s.replace(/[\\,.*[\]^$]/g, (c) => `\\${c}`);
}

/** a literal for the replacement side: only the backslash, & and the delimiter are special */
function escapeReplacement(s: string): string {
  return s.replace(/[\\&,]/g, (c) => `\\${c}`);
}

export default async function cp(input: RunInput, api: ApiClient) {
  const [src, dst] = input.positionals as [string, string];
  const a = split(src);
  const b = split(dst);
  if (a.ctr && b.ctr) throw new EngineError("invalid_argument", "copying between containers is not supported");
  if (!a.ctr && !b.ctr) throw new EngineError("invalid_argument", "must specify at least one container source");
  if (a.ctr) await fromContainer(api, a.ctr, a.path, b.path, !!input.flags["follow-link"]);
  else await toContainer(api, a.path, b.ctr!, b.path, !!input.flags.archive);
}
