/**
 * Runs a parsed Dockerfile the way docker's legacy builder does: stage by stage, one image per step
 * (each the parent of the next), `Step n/m : …` lines, ` ---> Using cache`, ` ---> <id>`, ONBUILD
 * triggers of the base run right after FROM and then cleared, `--label` as a final LABEL step, tags
 * only once everything succeeded.
 *
 * The plan for each step (its config change, argv, copy plan and cache key) is worked out here from
 * pure parts (parser, state, context); the engine acts (BuildSupport: containers, layers, cache).
 * Imports: engine (it may: commands → build → engine), tar-free.
 */
import { readFileSync, mkdtempSync, rmSync, writeFileSync, mkdirSync } from "node:fs";
import { join, posix } from "node:path";
import { EngineError } from "../lib/errors.ts";
import type { ContainerConfig, Digest } from "../oci/index.ts";
import { DEFAULT_PATH } from "../oci/defaults.ts";
import type { Engine } from "../engine/index.ts";
import { BuildSupport, type CopyEntry, type CopyPlan } from "../engine/build.ts";
import { DockerfileError, parseDockerfile, parseNodes, toInstruction, type Dockerfile, type Instruction, type Stage } from "./parser.ts";
import { ShellLex } from "./shell-lex.ts";
import { IgnoreMatcher, parseDockerignore } from "./dockerignore.ts";
import { SourceRoot } from "./context.ts";
import { applyMeta, nopCreatedBy, runArgs, shellOf, sub, substitutionEnv, type BuildArgs, type StageState } from "./state.ts";

export interface BuildOptions {
  /** the context directory (a tar context has been unpacked into one already) */
  contextDir: string;
  dockerfile: string;
  /** name used in errors: "Dockerfile" */
  dockerfileName: string;
  tags: string[];
  buildArgs: Map<string, string>;
  labels: Record<string, string>;
  target?: string;
  noCache: boolean;
  pull: boolean;
  network?: string;
  /** --add-host host:ip for the RUN containers' /etc/hosts */
  addHost?: string[];
  /** --cache-from: images whose layer chains count as cache (docker's image/cache sources) */
  cacheFrom?: string[];
  quiet: boolean;
  /** progress and RUN output (docker's legacy builder writes both to stdout) */
  out(s: string | Uint8Array): void;
  /** with quiet: a failed RUN step's output (docker prints it on stderr) */
  err?(b: Uint8Array): void;
  /** cancels the build (the caller's ^C / SIGTERM); the reason, e.g. "SIGINT", words the error */
  signal?: AbortSignal;
}

export interface BuildResult {
  id: Digest;
  tags: string[];
}

const short = (id: string) => id.replace(/^sha256:/, "").slice(0, 12);

/** --build-arg values and docker's predefined proxy args, which never need an ARG to be "consumed" */
const PREDEFINED = new Set([
  "HTTP_PROXY",
  "http_proxy",
  "HTTPS_PROXY",
  "https_proxy",
  "FTP_PROXY",
  "ftp_proxy",
  "NO_PROXY",
  "no_proxy",
  "ALL_PROXY",
  "all_proxy",
]);

class StepFailed extends EngineError {}

export class Builder {
  private support: BuildSupport;
  private lex!: ShellLex;
  private stageImages = new Map<number, Digest | undefined>();
  private stepNo = 0;
  private total = 0;
  private ignore?: IgnoreMatcher;
  private context!: SourceRoot;
  private args!: BuildArgs;
  private metaEnv = new Map<string, string>();
  private tmp: string;

  constructor(
    readonly engine: Engine,
    readonly o: BuildOptions,
  ) {
    this.support = new BuildSupport(engine.images, engine.containers, join(engine.root, "builder"));
    mkdirSync(this.support.scratchDir, { recursive: true, mode: 0o700 });
    this.tmp = mkdtempSync(join(this.support.scratchDir, "build-"));
  }

  private say(s: string): void {
    if (!this.o.quiet) this.o.out(s + "\n");
  }

  private interrupted?: string;
  private runningContainer?: string;

  /**
   * ^C / SIGTERM: the RUN container is killed, its step fails, cleanup runs (container removed, scratch
   * deleted) and the build stops before the next step, as docker cancels a build; nothing is tagged.
   */
  async build(): Promise<BuildResult> {
    const signal = this.o.signal;
    const onAbort = () => {
      this.interrupted = String(signal?.reason ?? "aborted");
      if (this.runningContainer) void this.engine.containers.kill(this.runningContainer, "SIGKILL").catch(() => {}); // it may have exited already; the step's wait reports how it ended
    };
    if (signal?.aborted) onAbort();
    signal?.addEventListener("abort", onAbort);
    try {
      // once per build: each step's commit is a batch commit that skips it (engine/build.ts)
      await this.engine.images.recover();
      return await this.run();
    } finally {
      signal?.removeEventListener("abort", onAbort);
      rmSync(this.tmp, { recursive: true, force: true });
    }
  }

  private checkInterrupted(): void {
    if (this.interrupted) throw new EngineError("unavailable", `build canceled (${this.interrupted})`);
  }

  /**
   * Let the event loop run (a signal is delivered by it: a build whose steps only chain promises — ENV,
   * cache hits — would never see one), then stop if the build was canceled. setImmediate costs ~µs.
   */
  private async yieldAndCheck(): Promise<void> {
    await new Promise<void>((r) => setImmediate(r));
    this.checkInterrupted();
  }

  private lastPace = 0;
  /** inside long work (a big COPY's checksum and copy): yieldAndCheck at most every 20 ms */
  private pace = async (): Promise<void> => {
    const now = performance.now();
    if (now - this.lastPace < 20) return;
    await this.yieldAndCheck();
    this.lastPace = performance.now();
  };

  private async run(): Promise<BuildResult> {
    const df = parseDockerfile(this.o.dockerfile, this.o.dockerfileName);
    this.lex = new ShellLex(df.directives.escape);
    let ignoreText = "";
    try {
      ignoreText = readFileSync(join(this.o.contextDir, ".dockerignore"), "utf8");
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw new EngineError("internal", `read .dockerignore: ${(e as Error).message}`, { cause: e });
    } // none: nothing ignored; an unreadable one must not send what it excludes
    this.ignore = ignoreText ? new IgnoreMatcher(parseDockerignore(ignoreText)) : undefined;
    this.context = new SourceRoot(this.o.contextDir, this.ignore);
    this.args = { given: this.o.buildArgs, used: new Set(), meta: this.metaEnv };

    let last = df.stages.length - 1;
    if (this.o.target !== undefined) {
      const t = this.o.target.toLowerCase();
      last = df.stages.findIndex((s) => s.name === t);
      if (last < 0) throw new EngineError("not_found", `failed to reach build target ${this.o.target} in Dockerfile`);
    }
    const labelKeys = Object.keys(this.o.labels).sort();
    // docker's legacy builder counts (and prints) each ARG before the first FROM as a step
    this.total = df.metaArgs.length + df.stages.slice(0, last + 1).reduce((n, s) => n + 1 + s.instructions.length, 0) + labelKeys.length;

    this.metaArgs(df);
    if (this.o.cacheFrom?.length) this.cacheSources = await this.resolveCacheFrom();
    let id: Digest | undefined;
    for (let i = 0; i <= last; i++) {
      const extra: Instruction[] = [];
      if (i === last) {
        // docker's buildLabelOptions: one LABEL step per --label, sorted, at the end of the built stage
        for (const k of labelKeys) {
          const v = this.o.labels[k]!;
          const lit = (x: string) => `'${x.split("'").join(`'"'"'`)}'`;
          const node = { keyword: "LABEL", original: `LABEL ${k}=${v}`, line: 0, endLine: 0, flags: {}, rest: "", heredocs: [] };
          extra.push({ node, kind: "LABEL", pairs: [[lit(k), lit(v)]] });
        }
      }
      id = await this.stage(df.stages[i]!, extra);
      this.stageImages.set(i, id);
    }
    if (!id) throw new EngineError("failed_precondition", "No image was generated. Is your Dockerfile empty?");

    const unused = [...this.o.buildArgs.keys()].filter((k) => !this.args.used.has(k) && !PREDEFINED.has(k)).sort();
    if (unused.length) this.say(`[Warning] One or more build-args [${unused.join(" ")}] were not consumed`);
    this.say(`Successfully built ${short(id)}`);
    const tagged: string[] = [];
    for (const t of this.o.tags) {
      let current: string | undefined;
      // a bare hex name could resolve as an image ID prefix rather than a tag: always tag those
      if (!/^[0-9a-f]+$/.test(t)) {
        try {
          current = this.engine.images.store.resolve(t).id;
        } catch {} // not a tag yet (not_found): tagged below, where any other problem with the name is reported
      }
      // re-tagging an unchanged name costs a locked, fsynced write: skip it (the fully cached path)
      if (current !== id) this.engine.images.tag(t, id);
      const lastPart = t.slice(t.lastIndexOf("/") + 1);
      const shown = t.includes("@") || lastPart.includes(":") ? t : `${t}:latest`;
      tagged.push(shown);
      this.say(`Successfully tagged ${shown}`);
    }
    return { id, tags: tagged };
  }

  /** ARGs before the first FROM: usable in FROM lines (and re-declared inside stages) */
  private metaArgs(df: Dockerfile): void {
    for (const a of df.metaArgs) {
      this.step(a);
      for (const { name, value } of a.args) {
        let v = value === undefined ? undefined : sub(this.lex, value, this.metaEnv, a, this.o.dockerfileName);
        if (this.o.buildArgs.has(name)) {
          v = this.o.buildArgs.get(name);
          this.args.used.add(name);
        }
        if (v !== undefined) this.metaEnv.set(name, v);
        else this.metaEnv.delete(name);
      }
    }
  }

  private step(ins: Instruction): void {
    this.checkInterrupted();
    this.stepNo++;
    this.say(`Step ${this.stepNo}/${this.total} : ${ins.node.original}`);
  }

  private async pull(name: string): Promise<void> {
    // loaded only when a build pulls: most builds start from a local image
    const { pullImage } = await import("../engine/pull.ts");
    await pullImage(this.engine.images, name, {});
  }

  private async resolveBase(name: string, stages: Map<string, number>): Promise<Digest | undefined> {
    const lower = name.toLowerCase();
    if (lower === "scratch") return undefined;
    const idx = stages.get(lower);
    if (idx !== undefined) return this.stageImages.get(idx);
    if (this.o.pull) {
      await this.pull(name);
      return (await this.engine.images.resolve(name)).id;
    }
    try {
      return (await this.engine.images.resolve(name)).id;
    } catch (e) {
      if (!(e instanceof EngineError) || e.kind !== "not_found") throw e;
    }
    try {
      await this.pull(name);
    } catch (e) {
      throw new EngineError(
        "not_found",
        `pull access denied for ${name.split(":")[0]}, repository does not exist or may require 'docker login': ${(e as Error).message}`,
        { cause: e },
      );
    }
    return (await this.engine.images.resolve(name)).id;
  }

  private stageNames = new Map<string, number>();

  private async stage(stage: Stage, extra: Instruction[]): Promise<Digest | undefined> {
    await this.yieldAndCheck();
    this.step(stage.from);
    const baseName = sub(this.lex, stage.from.image, this.metaEnv, stage.from, this.o.dockerfileName);
    if (baseName === "") throw new DockerfileError(this.o.dockerfileName, stage.from.node.line, "base name (" + stage.from.image + ") should not be blank");
    let cur = await this.resolveBase(baseName, this.stageNames);
    if (stage.name) this.stageNames.set(stage.name, stage.index);
    this.stageNames.set(String(stage.index), stage.index);
    const baseCfg = cur ? this.engine.images.store.config(cur) : undefined;
    const st: StageState = { config: structuredClone(baseCfg?.config ?? {}), args: new Map(), cmdSet: false, author: baseCfg?.author };
    // docker's setDefaultPath: a stage's config always has a PATH
    if (!(st.config.Env ?? []).some((e) => e.startsWith("PATH="))) st.config.Env = [...(st.config.Env ?? []), `PATH=${DEFAULT_PATH}`];
    if (cur) this.say(` ---> ${short(cur)}`);

    const triggers = st.config.OnBuild ?? [];
    if (triggers.length) {
      this.say(`# Executing ${triggers.length} build trigger${triggers.length > 1 ? "s" : ""}`);
      // docker clears the triggers before running them: the new image does not inherit them
      st.config.OnBuild = null;
      for (const t of triggers) {
        const node = parseNodes(t, this.o.dockerfileName).nodes[0];
        if (!node) continue;
        node.line = stage.from.node.line;
        const ins = toInstruction(node, this.lex.escape, this.o.dockerfileName);
        if (ins.kind === "ONBUILD" || ins.kind === "FROM" || ins.kind === "MAINTAINER")
          throw new DockerfileError(this.o.dockerfileName, stage.from.node.line, `${ins.kind} isn't allowed as an ONBUILD trigger`);
        await this.yieldAndCheck();
        cur = await this.dispatch(st, ins, cur);
      }
    }
    for (const ins of [...stage.instructions, ...extra]) {
      await this.yieldAndCheck();
      this.step(ins);
      cur = await this.dispatch(st, ins, cur);
    }
    return cur;
  }

  /** the --cache-from images still in play: docker narrows them to the one that hit, and drops them all at the first miss */
  private cacheSources?: Digest[];

  private async resolveCacheFrom(): Promise<Digest[]> {
    const ids: Digest[] = [];
    for (const ref of this.o.cacheFrom ?? []) {
      try {
        ids.push((await this.engine.images.resolve(ref)).id);
      } catch (e) {
        // docker's daemon logs "Could not look up … for cache resolution, skipping" and builds on
        if (!(e instanceof EngineError) || e.kind !== "not_found") throw e;
      }
    }
    return ids;
  }

  /**
   * look the key up in the local cache, then in the --cache-from images (`step`: the parent, the
   * history line and config the step would produce); else produce the image and remember it
   */
  private async cached(
    key: unknown[],
    make: () => Promise<Digest>,
    quietProduce = false,
    step?: { parent: Digest | undefined; createdBy: string; config: ContainerConfig },
  ): Promise<Digest> {
    const k = JSON.stringify(key);
    if (!this.o.noCache) {
      let hit = this.support.cacheGet(k);
      if (!hit && step && this.cacheSources?.length) {
        const source = this.support.cacheFromSource(this.cacheSources, step.parent, step.createdBy);
        this.cacheSources = source ? [source] : [];
        if (source) {
          hit = await this.support.restoreCached(step.parent, source, step.config);
          this.support.cachePut(k, hit);
        }
      }
      if (hit) {
        this.say(" ---> Using cache");
        this.say(` ---> ${short(hit)}`);
        return hit;
      }
    }
    const id = await make();
    this.support.cachePut(k, id);
    if (!quietProduce) this.say(` ---> ${short(id)}`);
    return id;
  }

  private async dispatch(st: StageState, ins: Instruction, cur: Digest | undefined): Promise<Digest | undefined> {
    const file = this.o.dockerfileName;
    // BuildKit-only options: docker's legacy builder refuses them rather than build something else
    for (const f of ["mount", "security", "parents", "exclude"]) {
      if (ins.node.flags[f]) throw new DockerfileError(file, ins.node.line, `the --${f} option requires BuildKit, which berth's builder does not implement`);
    }
    switch (ins.kind) {
      case "RUN":
        return this.runInstr(st, ins, cur);
      case "COPY":
      case "ADD":
        return this.copyInstr(st, ins, cur);
      case "FROM":
        throw new DockerfileError(file, ins.node.line, "FROM inside a stage");
      case "WORKDIR": {
        // docker's legacy builder creates the directory in this step (a layer only when it was missing)
        const comment = applyMeta(st, ins, this.lex, this.args, file);
        // docker's withCmdCommentString: "#(nop) WORKDIR /x", one space (the other steps have two)
        const createdBy = [...shellOf(st), `#(nop) ${comment}`].join(" ");
        const config = structuredClone(st.config);
        const dir = config.WorkingDir!;
        if (!cur)
          return this.cached(
            ["meta", "scratch", createdBy, st.author ?? ""],
            () => this.support.fsStep(undefined, { dest: dir, entries: [] }, config, createdBy, st.author),
            false,
            { parent: cur, createdBy, config },
          );
        return this.cached(
          ["workdir", cur, createdBy, st.author ?? ""],
          () => this.support.fsStep(cur, { dest: dir, entries: [] }, config, createdBy, st.author),
          false,
          { parent: cur, createdBy, config },
        );
      }
      default: {
        const comment = applyMeta(st, ins, this.lex, this.args, file);
        const createdBy = nopCreatedBy(st, comment);
        const config = structuredClone(st.config);
        return this.cached(["meta", cur ?? "scratch", createdBy, st.author ?? ""], () => this.support.configStep(cur, config, createdBy, st.author), false, {
          parent: cur,
          createdBy,
          config,
        });
      }
    }
  }

  private async runInstr(st: StageState, ins: Extract<Instruction, { kind: "RUN" }>, cur: Digest | undefined): Promise<Digest> {
    if (!cur) throw new EngineError("failed_precondition", "RUN needs a base image: FROM scratch has no shell");
    let argv: string[];
    if (ins.cmd.json) argv = ins.cmd.args;
    else {
      let text = ins.cmd.text;
      const hd = ins.node.heredocs;
      const whole = /^<<-?(["']?)([A-Za-z_][A-Za-z0-9_]*)\1$/.exec(text.trim());
      if (hd.length === 1 && whole) text = hd[0]!.content;
      else if (hd.length) text = text + "\n" + hd.map((h) => `${h.content}${h.name}\n`).join("");
      argv = [...shellOf(st), text];
    }
    const args = runArgs(st);
    const prefix = args.length ? `|${args.length} ${args.map(([k, v]) => `${k}=${v}`).join(" ")} ` : "";
    const createdBy = prefix + argv.join(" ");
    const network = ins.network ?? this.o.network;
    const config = structuredClone(st.config);
    return this.cached(
      ["run", cur, createdBy, network ?? "", st.author ?? ""],
      async () => {
        const output: Uint8Array[] = [];
        const sink = (b: Uint8Array) => {
          if (this.o.quiet) output.push(b.slice());
          else this.o.out(b);
        };
        let ctr = "";
        const res = await this.support.runStep({
          base: cur,
          argv,
          env: args.map(([k, v]) => `${k}=${v}`),
          user: st.config.User,
          workdir: st.config.WorkingDir,
          network,
          addHost: this.o.addHost,
          config,
          createdBy,
          author: st.author,
          stdout: sink,
          stderr: sink,
          onStarted: () => {
            this.runningContainer = ctr;
            if (this.interrupted) void this.engine.containers.kill(ctr, "SIGKILL").catch(() => {}); // it may have exited already; the step's wait reports how it ended
          },
          onContainer: (id) => {
            ctr = id;
            this.say(` ---> Running in ${short(id)}`);
          },
        });
        this.runningContainer = undefined;
        this.checkInterrupted();
        if (res.exitCode !== 0 || !res.id) {
          if (this.o.quiet) for (const b of output) this.o.err?.(b);
          throw new StepFailed("failed_precondition", `The command '${argv.join(" ")}' returned a non-zero code: ${res.exitCode}`);
        }
        this.say(`Removing intermediate container ${short(ctr)}`);
        return res.id;
      },
      false,
      { parent: cur, createdBy, config },
    );
  }

  private async copyInstr(st: StageState, ins: Extract<Instruction, { kind: "COPY" | "ADD" }>, cur: Digest | undefined): Promise<Digest> {
    const file = this.o.dockerfileName;
    const env = substitutionEnv(st);
    const s = (w: string) => sub(this.lex, w, env, ins, file);
    let dest = s(ins.dest);
    const trailing = dest.endsWith("/") || dest.endsWith("/.") || dest === ".";
    dest = posix.isAbsolute(dest) ? posix.normalize(dest) : posix.join(st.config.WorkingDir || "/", dest);
    if (dest.length > 1 && dest.endsWith("/")) dest = dest.slice(0, -1);
    const chown = ins.chown === undefined ? undefined : s(ins.chown);
    let chmod: number | undefined;
    if (ins.chmod !== undefined) {
      const c = s(ins.chmod);
      if (!/^[0-7]{3,4}$/.test(c)) throw new DockerfileError(file, ins.node.line, `invalid chmod parameter: ${c}`);
      chmod = parseInt(c, 8);
    }
    const heredocs = new Map(ins.node.heredocs.map((h) => [h.name, h]));
    const sources = ins.sources.map((src) => (src.startsWith("<<") && heredocs.has(src.slice(2)) ? src : s(src)));
    const multi = sources.length > 1 || sources.some((x) => /[*?[]/.test(x));
    if (multi && !trailing)
      throw new EngineError("invalid_argument", `When using ${ins.kind} with more than one source file, the destination must be a directory and end with a /`);

    const entries: CopyEntry[] = [];
    const archives: string[] = [];
    const h = new Bun.CryptoHasher("sha256");
    let singleFile: string | undefined;
    let kind = "multi";
    let fromId: Digest | undefined;
    const now = Math.floor(Date.now() / 1000);

    const collectFrom = async (root: SourceRoot, list: string[], unpack: boolean) => {
      const set = await root.collectPaced(list, ins.kind, unpack, this.pace);
      entries.push(...set.entries);
      archives.push(...set.archives);
      h.update(set.checksum);
      if (sources.length === 1) {
        singleFile = set.singleFile;
        kind = set.singleFile !== undefined ? "file" : "dir";
      }
    };

    const plain: string[] = [];
    for (const src of sources) {
      if (src.startsWith("<<") && heredocs.has(src.slice(2))) {
        const hd = heredocs.get(src.slice(2))!;
        const text = hd.expand ? s(hd.content.replace(/"/g, '\\"').replace(/^/, '"') + '"') : hd.content;
        const data = new TextEncoder().encode(text);
        entries.push({ rel: hd.name, type: "file", data, mode: 0o644, mtime: now });
        h.update(`heredoc\0${hd.name}\0${text}\n`);
        if (sources.length === 1) {
          singleFile = hd.name;
          kind = "file";
        }
        continue;
      }
      if (ins.kind === "ADD" && /^https?:\/\//i.test(src)) {
        const got = await this.download(src, ins.checksum);
        entries.push({ rel: got.name, type: "file", src: got.path, mode: 0o600, mtime: got.mtime });
        h.update(`url\0${src}\0${got.sha}\n`);
        if (sources.length === 1) {
          singleFile = got.name;
          kind = "file";
        }
        continue;
      }
      plain.push(src);
    }
    if (ins.kind === "ADD" && ins.checksum && plain.length) throw new EngineError("invalid_argument", "checksum can't be specified for non-HTTP(S) sources");

    const plan = (): CopyPlan => ({ dest, singleFile: trailing ? undefined : singleFile, entries, chown, chmod, archives, pace: this.pace });
    let sum: string | undefined;
    const createdBy = () =>
      [...shellOf(st), `#(nop) ${ins.kind} ${kind}:${(sum ??= h.digest("hex"))} in ${dest}${trailing && dest !== "/" ? "/" : ""} `].join(" ");
    const config = structuredClone(st.config);

    if (ins.kind === "COPY" && ins.from !== undefined && plain.length) {
      const from = s(ins.from);
      const idx = this.stageNames.get(from.toLowerCase());
      if (idx !== undefined) fromId = this.stageImages.get(idx);
      else if (/^\d+$/.test(from)) throw new EngineError("invalid_argument", `invalid from flag value ${from}: refers to current or later build stage`);
      else fromId = await this.resolveBase(from, new Map());
      if (!fromId) throw new EngineError("invalid_argument", `COPY --from=${from}: the stage has no filesystem (FROM scratch with nothing in it)`);
      // an image is content-addressed: its ID stands for the content, only the names need hashing
      h.update(`from\0${fromId}\0${plain.join("\0")}\0`);
      if (sources.length === 1) kind = "file";
      return this.cached(
        ["copy", cur ?? "scratch", createdBy(), chown ?? "", chmod ?? "", trailing, st.author ?? ""],
        () =>
          this.support.withImageRoot(fromId!, async (root) => {
            const got = await new SourceRoot(root, undefined, "image").collectPaced(plain, ins.kind, false, this.pace);
            entries.push(...got.entries);
            if (sources.length === 1) singleFile = got.singleFile;
            return this.support.fsStep(cur, plan(), config, createdBy(), st.author);
          }),
        false,
        { parent: cur, createdBy: createdBy(), config },
      );
    }
    if (plain.length) await collectFrom(this.context, plain, ins.kind === "ADD");
    return this.cached(
      ["copy", cur ?? "scratch", createdBy(), chown ?? "", chmod ?? "", trailing, st.author ?? ""],
      () => this.support.fsStep(cur, plan(), config, createdBy(), st.author),
      false,
      { parent: cur, createdBy: createdBy(), config },
    );
  }

  /** ADD <url>: into the build's scratch directory, checked against --checksum */
  private async download(url: string, checksum?: string): Promise<{ path: string; name: string; sha: string; mtime: number }> {
    const res = await fetch(url);
    if (!res.ok) throw new EngineError("unavailable", `failed to GET ${url} with status ${res.status} ${res.statusText}`);
    const path = join(this.tmp, `dl-${crypto.randomUUID()}`);
    const h = new Bun.CryptoHasher("sha256");
    const w = Bun.file(path).writer();
    for await (const c of res.body as unknown as AsyncIterable<Uint8Array>) {
      h.update(c);
      w.write(c);
    }
    await w.end();
    const sha = h.digest("hex");
    if (checksum !== undefined) {
      const want = checksum.replace(/^sha256:/, "");
      if (!checksum.startsWith("sha256:") || want !== sha) throw new EngineError("invalid_argument", `digest mismatch ${checksum}: sha256:${sha}`);
    }
    const lm = res.headers.get("last-modified");
    const mtime = lm ? Math.floor(Date.parse(lm) / 1000) : 0;
    let name = posix.basename(new URL(url).pathname) || "__unnamed__";
    if (name === "/") name = "__unnamed__";
    return { path, name, sha, mtime: Number.isFinite(mtime) ? mtime : 0 };
  }
}

/** `berth build`: the whole build; throws on failure (nothing tagged) */
export async function build(engine: Engine, o: BuildOptions): Promise<BuildResult> {
  return new Builder(engine, o).build();
}

export function writeIidFile(path: string, id: string): void {
  writeFileSync(path, id);
}
