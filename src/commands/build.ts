/**
 * `berth build [OPTIONS] PATH | URL | -`: docker's legacy builder (src/build does the work). The context
 * is a directory, or a tar (plain, gzip or zstd) on stdin, or — when stdin is not a tar — a Dockerfile
 * on stdin with an empty context. `-f -` reads the Dockerfile from stdin and the context from PATH.
 * Progress goes to stdout as docker's legacy builder writes it; `-q` prints only the image ID.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { defineBerthCommand } from "./_command.ts";
import { EngineError, UsageError } from "../lib/errors.ts";

const list = (description: string) => ({ type: "string" as const, multiple: true, description });

/** stdin whole as bytes, but only up to a Dockerfile's worth when it is text; tars stream */
async function peekStdin(): Promise<{ head: Uint8Array; stream: ReadableStream<Uint8Array> }> {
  const reader = Bun.stdin.stream().getReader();
  const chunks: Uint8Array[] = [];
  let n = 0;
  let done = false;
  while (n < 512) {
    const r = await reader.read();
    if (r.done) {
      done = true;
      break;
    }
    chunks.push(r.value);
    n += r.value.length;
  }
  const head = Buffer.concat(chunks);
  const stream = new ReadableStream<Uint8Array>(
    {
      start(c) {
        if (head.length) c.enqueue(head);
        if (done) c.close();
      },
      async pull(c) {
        if (done) return;
        const r = await reader.read();
        if (r.done) c.close();
        else c.enqueue(r.value);
      },
    },
    { highWaterMark: 0 },
  );
  return { head, stream };
}

function looksLikeArchive(b: Uint8Array): boolean {
  if (b.length >= 2 && b[0] === 0x1f && b[1] === 0x8b) return true;
  if (b.length >= 4 && b[0] === 0x28 && b[1] === 0xb5 && b[2] === 0x2f && b[3] === 0xfd) return true;
  return b.length >= 262 && Buffer.from(b.subarray(257, 262)).toString("latin1") === "ustar";
}

export default defineBerthCommand({
  meta: {
    name: "build",
    description: "Build an image from a Dockerfile",
    usage: "[OPTIONS] PATH | URL | -",
    aliases: ["berth image build", "berth builder build", "berth build"],
    minArgs: 1,
    maxArgs: 1,
    exitPolicy: "build",
  },
  args: {
    tag: { ...list("Name and optionally a tag in the 'name:tag' format"), alias: "t" },
    file: { type: "string", alias: "f", description: "Name of the Dockerfile (Default is 'PATH/Dockerfile')" },
    "build-arg": list("Set build-time variables"),
    label: list("Set metadata for an image"),
    target: { type: "string", description: "Set the target build stage to build." },
    "no-cache": { type: "boolean", description: "Do not use cache when building the image" },
    pull: { type: "boolean", description: "Always attempt to pull a newer version of the image" },
    network: { type: "string", description: "Set the networking mode for the RUN instructions during build" },
    quiet: { type: "boolean", alias: "q", description: "Suppress the build output and print image ID on success" },
    iidfile: { type: "string", description: "Write the image ID to the file" },
    rm: { type: "boolean", default: true, description: "Remove intermediate containers after a successful build" },
    "force-rm": { type: "boolean", description: "Always remove intermediate containers" },
    platform: { type: "string", description: "Set platform if server is multi-platform capable" },
    "add-host": list("Add a custom host-to-IP mapping (host:ip)"),
    "cache-from": list("Images to consider as cache sources"),
    // docker 20.10's legacy builder accepts these and ignores them (BuildKit's), so CI scripts can pass them
    progress: { type: "string", description: "Set type of progress output (auto, plain, tty). Ignored by the legacy builder" },
    secret: list("Secret file to expose to the build (requires BuildKit)"),
    ssh: list("SSH agent socket or keys to expose to the build (requires BuildKit)"),
  },
  async run({ flags, positionals, ctx }) {
    const [pathArg] = positionals as [string];
    const { parseDockerRef } = await import("../engine/index.ts");
    for (const t of flags.tag as string[]) {
      try {
        parseDockerRef(t);
      } catch {
        throw new UsageError(`invalid argument "${t}" for "-t, --tag" flag: invalid reference format`);
      }
    }
    const buildArgs = new Map<string, string>();
    for (const a of flags["build-arg"] as string[]) {
      const i = a.indexOf("=");
      if (i < 0) {
        // docker: a name alone takes the value from the environment, and is dropped when unset
        if (process.env[a] !== undefined) buildArgs.set(a, process.env[a]!);
      } else buildArgs.set(a.slice(0, i), a.slice(i + 1));
    }
    const labels: Record<string, string> = {};
    for (const l of flags.label as string[]) {
      const i = l.indexOf("=");
      labels[i < 0 ? l : l.slice(0, i)] = i < 0 ? "" : l.slice(i + 1);
    }
    if (flags.platform) {
      const { hostPlatform } = await import("../oci/index.ts");
      const h = hostPlatform();
      const [os, arch] = String(flags.platform).split("/");
      if (os !== h.os || (arch !== undefined && arch !== h.architecture))
        throw new EngineError("invalid_argument", `platform ${flags.platform} is not supported: berth builds for ${h.os}/${h.architecture} only`);
    }
    if (/^(https?|git):\/\//.test(pathArg) || pathArg.startsWith("git@"))
      throw new EngineError("invalid_argument", `unable to prepare context: remote contexts are not supported by berth: ${pathArg}`);

    const engine = await ctx.engine();
    const { build } = await import("../build/executor.ts");
    const scratch = join(engine.root, "builder", "tmp");
    const cleanups: (() => void)[] = [];
    try {
      // docker 20.10's legacy builder ignores them, and a build that needs a secret then fails somewhere
      // in a RUN step; say at once what is missing (invalid_argument: exit 1 for build, as the catch below)
      for (const f of ["secret", "ssh"] as const) {
        if ((flags[f] as string[]).length)
          throw new EngineError("invalid_argument", `the --${f} option requires BuildKit, which berth's builder does not implement`);
      }
      let contextDir: string;
      let dockerfile: string | undefined;
      let dockerfileName = "Dockerfile";
      if (pathArg === "-") {
        if (flags.file === "-") throw new UsageError("invalid argument: can't use stdin for both build context and dockerfile");
        const { head, stream } = await peekStdin();
        mkdirSync(scratch, { recursive: true, mode: 0o700 });
        contextDir = mkdtempSync(join(scratch, "ctx-"));
        cleanups.push(() => rmSync(contextDir, { recursive: true, force: true }));
        if (looksLikeArchive(head)) {
          await engine.buildContextExtract(stream, contextDir);
        } else {
          dockerfile = await new Response(stream).text();
        }
      } else {
        contextDir = resolve(pathArg);
        let st;
        try {
          st = statSync(contextDir);
        } catch {
          throw new EngineError("not_found", `unable to prepare context: path "${pathArg}" not found`);
        }
        if (!st.isDirectory()) throw new EngineError("invalid_argument", `unable to prepare context: context must be a directory: ${contextDir}`);
      }
      if (flags.file === "-") {
        dockerfile = await new Response(Bun.stdin.stream()).text();
      } else if (dockerfile === undefined) {
        const f = flags.file ? resolve(pathArg === "-" && !flags.file.startsWith("/") ? contextDir : ".", flags.file) : join(contextDir, "Dockerfile");
        dockerfileName = flags.file ? String(flags.file).split("/").pop()! : "Dockerfile";
        try {
          dockerfile = readFileSync(f, "utf8");
        } catch {
          let alt: string | undefined;
          if (!flags.file)
            try {
              alt = readFileSync(join(contextDir, "dockerfile"), "utf8");
            } catch {} // no lowercase dockerfile either: the not_found below names the usual one
          if (alt === undefined)
            throw new EngineError(
              "not_found",
              `unable to prepare context: unable to evaluate symlinks in Dockerfile path: lstat ${f}: no such file or directory`,
            );
          dockerfile = alt;
        }
      }
      // ^C / SIGTERM / SIGHUP cancel the build: the RUN container is killed, cleanup runs, nothing is tagged
      const cancel = new AbortController();
      const onSignal = (sig: NodeJS.Signals) => cancel.abort(sig);
      const sigs: NodeJS.Signals[] = ["SIGINT", "SIGTERM", "SIGHUP"];
      for (const s of sigs) process.on(s, onSignal);
      cleanups.push(() => void sigs.forEach((s) => process.off(s, onSignal)));
      const res = await build(engine, {
        contextDir,
        dockerfile,
        dockerfileName,
        tags: flags.tag as string[],
        buildArgs,
        labels,
        target: flags.target,
        noCache: !!flags["no-cache"],
        pull: !!flags.pull,
        network: flags.network,
        quiet: !!flags.quiet,
        addHost: flags["add-host"] as string[],
        cacheFrom: (flags["cache-from"] as string[]).flatMap((c) => c.split(",")).filter(Boolean),
        out: (s) => (typeof s === "string" ? ctx.out(s) : void process.stdout.write(s)),
        err: (b) => void process.stderr.write(b),
        signal: cancel.signal,
      });
      if (flags.quiet) ctx.out(`${res.id}\n`);
      if (flags.iidfile) writeFileSync(flags.iidfile, res.id);
    } finally {
      for (const c of cleanups)
        try {
          c();
        } catch {} // each undoes one thing (temp context, signal handlers); one failing must not hide the build's result
    }
  },
});
