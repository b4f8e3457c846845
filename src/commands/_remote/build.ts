/**
 * Client mode `build`: docker's legacy-builder request. The context directory goes up as a tar (the
 * system's `tar`, fed the list of files .dockerignore keeps; the Dockerfile and .dockerignore always
 * go), or stdin's tar as it is; a Dockerfile outside the context (or `-f -`) rides in the tar under a
 * generated name, as docker's CLI does. The `stream` lines print as they come; `aux.ID` is the image.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync, lstatSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative, resolve } from "node:path";
import type { RunInput } from "../_command.ts";
import type { ApiClient } from "../../client/index.ts";
import { EngineError, UsageError } from "../../lib/errors.ts";
import { IgnoreMatcher, parseDockerignore } from "../../build/dockerignore.ts";
import { showProgress } from "./_progress.ts";

/** the context-relative paths to send (directories included, so empty ones and modes travel) */
function contextFiles(dir: string, keep: (rel: string) => boolean): string[] {
  const ignore = (() => {
    try {
      return new IgnoreMatcher(parseDockerignore(readFileSync(join(dir, ".dockerignore"), "utf8")));
    } catch {
      return undefined; // no .dockerignore: everything goes
    }
  })();
  const out: string[] = [];
  const walk = (rel: string) => {
    for (const name of readdirSync(join(dir, rel)).sort()) {
      const r = rel ? `${rel}/${name}` : name;
      const ignored = ignore?.ignores(r) && !keep(r);
      const isDir = lstatSync(join(dir, r)).isDirectory();
      if (ignored && (!isDir || ignore!.canSkipDir(r))) continue;
      if (!ignored) out.push(r);
      if (isDir) walk(r);
    }
  };
  walk("");
  return out;
}

/** a tar of `files` under `dir` (plus `extra` files from another directory) as a stream */
function tarStream(dir: string, files: string[], extra?: { dir: string; name: string }): { body: AsyncIterable<Uint8Array>; done: Promise<void> } {
  const list = join(mkdtempSync(join(tmpdir(), "berth-ctx-")), "list");
  writeFileSync(list, files.map((f) => f + "\0").join(""));
  const argv = ["tar", "-c", "-f", "-", "--null", "--no-recursion", "-C", dir, "-T", list, ...(extra ? ["-C", extra.dir, extra.name] : [])];
  const proc = Bun.spawn(argv, { stdout: "pipe", stderr: "pipe" });
  const done = (async () => {
    const code = await proc.exited;
    rmSync(join(list, ".."), { recursive: true, force: true });
    if (code !== 0) throw new EngineError("internal", `tar of the build context: ${(await new Response(proc.stderr).text()).trim() || `exit ${code}`}`);
  })();
  return { body: proc.stdout as unknown as AsyncIterable<Uint8Array>, done };
}

export default async function build(input: RunInput, api: ApiClient) {
  const { flags, positionals, ctx } = input;
  const pathArg = positionals[0]!;
  for (const f of ["secret", "ssh"] as const)
    if (((flags[f] as string[]) ?? []).length)
      throw new EngineError("invalid_argument", `the --${f} option requires BuildKit, which berth's builder does not implement`);
  if (/^(https?|git):\/\//.test(pathArg) || pathArg.startsWith("git@"))
    throw new EngineError("invalid_argument", `unable to prepare context: remote contexts are not supported by berth: ${pathArg}`);
  const buildArgs: Record<string, string> = {};
  for (const a of (flags["build-arg"] as string[]) ?? []) {
    const i = a.indexOf("=");
    if (i < 0) {
      if (ctx.env[a] !== undefined) buildArgs[a] = ctx.env[a]!;
    } else buildArgs[a.slice(0, i)] = a.slice(i + 1);
  }
  const labels: Record<string, string> = {};
  for (const l of (flags.label as string[]) ?? []) {
    const i = l.indexOf("=");
    labels[i < 0 ? l : l.slice(0, i)] = i < 0 ? "" : l.slice(i + 1);
  }
  const cleanups: (() => void)[] = [];
  try {
    let body: AsyncIterable<Uint8Array>;
    let done: Promise<void> = Promise.resolve();
    let dockerfile: string | undefined;
    if (pathArg === "-") {
      if (flags.file === "-") throw new UsageError("invalid argument: can't use stdin for both build context and dockerfile");
      // stdin is the context's tar (the daemon also takes a bare Dockerfile there, as docker's does)
      body = process.stdin as unknown as AsyncIterable<Uint8Array>;
      if (typeof flags.file === "string") dockerfile = flags.file;
    } else {
      const dir = resolve(pathArg);
      let st;
      try {
        st = statSync(dir);
      } catch {
        throw new EngineError("not_found", `unable to prepare context: path "${pathArg}" not found`);
      }
      if (!st.isDirectory()) throw new EngineError("invalid_argument", `unable to prepare context: context must be a directory: ${dir}`);
      let extra: { dir: string; name: string } | undefined;
      const given = typeof flags.file === "string" ? flags.file : undefined;
      let text: string | undefined;
      if (given === "-") text = await new Response(Bun.stdin.stream()).text();
      else if (given) {
        const f = resolve(given);
        const rel = relative(dir, f);
        if (!rel.startsWith("..") && !rel.startsWith("/")) dockerfile = rel;
        else {
          try {
            text = readFileSync(f, "utf8");
          } catch {
            throw new EngineError(
              "not_found",
              `unable to prepare context: unable to evaluate symlinks in Dockerfile path: lstat ${f}: no such file or directory`,
            );
          }
        }
      }
      if (text !== undefined) {
        const tmp = mkdtempSync(join(tmpdir(), "berth-dockerfile-"));
        cleanups.push(() => rmSync(tmp, { recursive: true, force: true }));
        const name = `.dockerfile.${Math.random().toString(16).slice(2, 14)}`;
        writeFileSync(join(tmp, name), text);
        extra = { dir: tmp, name };
        dockerfile = name;
      }
      const df = dockerfile ?? "Dockerfile";
      const t = tarStream(
        dir,
        contextFiles(dir, (r) => r === df || r === ".dockerignore"),
        extra,
      );
      body = t.body;
      done = t.done;
    }
    const { body: out } = await api.stream("POST", "/build", {
      query: {
        t: (flags.tag as string[]) ?? [],
        dockerfile,
        buildargs: Object.keys(buildArgs).length ? JSON.stringify(buildArgs) : undefined,
        labels: Object.keys(labels).length ? JSON.stringify(labels) : undefined,
        target: typeof flags.target === "string" ? flags.target : undefined,
        nocache: !!flags["no-cache"],
        pull: !!flags.pull,
        q: !!flags.quiet,
        rm: flags.rm !== false,
        forcerm: !!flags["force-rm"],
        networkmode: typeof flags.network === "string" ? flags.network : undefined,
        platform: typeof flags.platform === "string" ? flags.platform : undefined,
        extrahosts: ((flags["add-host"] as string[]) ?? []).join(",") || undefined,
        cachefrom: ((flags["cache-from"] as string[]) ?? []).length ? JSON.stringify(flags["cache-from"]) : undefined,
      },
      body,
      headers: { "Content-Type": "application/x-tar", "X-Registry-Config": Buffer.from("{}").toString("base64") },
    });
    let id = "";
    await showProgress(out, {
      quiet: false,
      write: ctx.out,
      tty: false,
      onAux: (aux) => {
        if (typeof aux.ID === "string") id = aux.ID;
      },
    });
    await done;
    if (flags.iidfile && id) writeFileSync(String(flags.iidfile), id);
  } finally {
    for (const c of cleanups) c();
  }
}
