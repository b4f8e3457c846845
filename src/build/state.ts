/**
 * A build stage's state as the legacy builder keeps it (moby builder/dockerfile dispatchers.go): the
 * image config being built, the build args in scope, and the shell. `applyMeta` performs the
 * instructions that only change the config (ENV, LABEL, CMD, …) and returns the history text docker
 * records for them. Pure.
 */
import type { ContainerConfig, HealthConfig } from "../oci/index.ts";
import { DockerfileError, type Instruction } from "./parser.ts";
import { type ShellLex, SubstitutionError } from "./shell-lex.ts";

export const DEFAULT_SHELL = ["/bin/sh", "-c"];

export interface StageState {
  config: ContainerConfig;
  /** ARGs declared in this stage (name → value, undefined = declared without a value) in order */
  args: Map<string, string | undefined>;
  /** CMD was set in this stage (ENTRYPOINT then keeps it) */
  cmdSet: boolean;
  author?: string;
}

export interface BuildArgs {
  /** --build-arg values (a name without a value takes the host's environment, as docker does) */
  given: Map<string, string>;
  /** names a stage or the meta scope consumed */
  used: Set<string>;
  /** values of the ARGs before the first FROM: `ARG NAME` without a value in a stage takes them */
  meta?: Map<string, string>;
}

export function envMap(env: string[] | undefined): Map<string, string> {
  const m = new Map<string, string>();
  for (const e of env ?? []) {
    const i = e.indexOf("=");
    if (i < 0) m.set(e, "");
    else m.set(e.slice(0, i), e.slice(i + 1));
  }
  return m;
}

/** the variables substitution sees: build args in scope, then ENV (ENV wins, as in docker) */
export function substitutionEnv(st: StageState): Map<string, string> {
  const m = new Map<string, string>();
  for (const [k, v] of st.args) if (v !== undefined) m.set(k, v);
  for (const [k, v] of envMap(st.config.Env)) m.set(k, v);
  return m;
}

/** args with values that ENV does not shadow, sorted: RUN's extra environment and `|N a=b` prefix */
export function runArgs(st: StageState): [string, string][] {
  const env = envMap(st.config.Env);
  return [...st.args]
    .filter(([k, v]) => v !== undefined && !env.has(k))
    .map(([k, v]) => [k, v!] as [string, string])
    .sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
}

export function setEnv(env: string[] | undefined, key: string, value: string): string[] {
  const out = [...(env ?? [])];
  const i = out.findIndex((e) => e.split("=", 1)[0] === key);
  if (i >= 0) out[i] = `${key}=${value}`;
  else out.push(`${key}=${value}`);
  return out;
}

export function shellOf(st: StageState): string[] {
  return st.config.Shell?.length ? st.config.Shell : DEFAULT_SHELL;
}

/** Go's %q of a string slice: ["a" "b"] */
export function goQuoteList(a: string[]): string {
  return `[${a.map((s) => JSON.stringify(s)).join(" ")}]`;
}

/** the `#(nop)` history line of a config-only step */
export function nopCreatedBy(st: StageState, comment: string): string {
  return [...shellOf(st), `#(nop) `, comment].join(" ");
}

function formatNanos(ns: number | undefined): string {
  if (!ns) return "0s";
  const s = ns / 1e9;
  if (s >= 60 && Number.isInteger(s)) {
    const m = Math.floor(s / 60),
      r = s % 60;
    return m >= 60 ? `${Math.floor(m / 60)}h${m % 60}m${r}s` : `${m}m${r}s`;
  }
  if (s >= 1) return `${s}s`;
  return `${ns / 1e6}ms`;
}

/** substitute one word, as an instruction error on bad syntax */
export function sub(lex: ShellLex, word: string, env: Map<string, string>, ins: Instruction, file: string): string {
  try {
    return lex.processWord(word, env);
  } catch (e) {
    if (e instanceof SubstitutionError) throw new DockerfileError(file, ins.node.line, e.message);
    throw e;
  }
}

function subWords(lex: ShellLex, word: string, env: Map<string, string>, ins: Instruction, file: string): string[] {
  try {
    return lex.processWords(word, env);
  } catch (e) {
    if (e instanceof SubstitutionError) throw new DockerfileError(file, ins.node.line, e.message);
    throw e;
  }
}

/** docker's WORKDIR rule: relative paths join the current one */
export function joinWorkdir(cur: string | undefined, p: string): string {
  const base = p.startsWith("/") ? p : `${cur || "/"}/${p}`;
  const parts: string[] = [];
  for (const c of base.split("/")) {
    if (c === "" || c === ".") continue;
    if (c === "..") parts.pop();
    else parts.push(c);
  }
  return "/" + parts.join("/");
}

/**
 * Apply a config-only instruction (not FROM/RUN/COPY/ADD). Returns the history comment, e.g.
 * `ENV A=1`, that becomes `/bin/sh -c #(nop)  ENV A=1`.
 */
export function applyMeta(st: StageState, ins: Instruction, lex: ShellLex, buildArgs: BuildArgs, file = "Dockerfile"): string {
  const c = st.config;
  const env = () => substitutionEnv(st);
  switch (ins.kind) {
    case "ENV": {
      let comment = "ENV";
      for (const [k0, v0] of ins.pairs) {
        const e = env();
        const k = sub(lex, k0, e, ins, file);
        const v = sub(lex, v0, e, ins, file);
        c.Env = setEnv(c.Env, k, v);
        comment += ` ${k}=${v}`;
      }
      return comment;
    }
    case "LABEL": {
      let comment = "LABEL";
      const e = env();
      for (const [k0, v0] of ins.pairs) {
        const k = sub(lex, k0, e, ins, file);
        const v = sub(lex, v0, e, ins, file);
        c.Labels = { ...c.Labels, [k]: v };
        comment += ` ${k}=${v}`;
      }
      return comment;
    }
    case "ARG": {
      const parts: string[] = [];
      for (const a of ins.args) {
        const name = a.name;
        let value = a.value === undefined ? buildArgs.meta?.get(name) : sub(lex, a.value, env(), ins, file);
        if (buildArgs.given.has(name)) {
          value = buildArgs.given.get(name);
          buildArgs.used.add(name);
        }
        st.args.set(name, value);
        parts.push(a.value === undefined ? name : `${name}=${a.value}`);
      }
      return `ARG ${parts.join(" ")}`;
    }
    case "CMD": {
      c.Cmd = ins.cmd.json ? ins.cmd.args : [...shellOf(st), ins.cmd.text];
      st.cmdSet = true;
      return `CMD ${goQuoteList(c.Cmd)}`;
    }
    case "ENTRYPOINT": {
      c.Entrypoint = ins.cmd.json ? ins.cmd.args : ins.cmd.text === "" ? null : [...shellOf(st), ins.cmd.text];
      if (!st.cmdSet) c.Cmd = null;
      return `ENTRYPOINT ${goQuoteList(c.Entrypoint ?? [])}`;
    }
    case "SHELL":
      c.Shell = ins.args;
      return `SHELL ${goQuoteList(ins.args)}`;
    case "EXPOSE": {
      const ports: string[] = [];
      const e = env();
      for (const w of ins.ports) {
        for (const p0 of subWords(lex, w, e, ins, file)) {
          const m = /^(\d+)(?:-(\d+))?(?:\/(tcp|udp|sctp))?$/i.exec(p0);
          if (!m) throw new DockerfileError(file, ins.node.line, `invalid containerPort: ${p0}`);
          const proto = (m[3] ?? "tcp").toLowerCase();
          const lo = Number(m[1]),
            hi = m[2] ? Number(m[2]) : lo;
          if (hi < lo) throw new DockerfileError(file, ins.node.line, `invalid range: ${p0}`);
          for (let p = lo; p <= hi; p++) ports.push(`${p}/${proto}`);
        }
      }
      c.ExposedPorts = { ...c.ExposedPorts };
      for (const p of ports) c.ExposedPorts[p] = {};
      return `EXPOSE ${ports.join(" ")}`;
    }
    case "VOLUME": {
      const e = env();
      const vols = ins.json ? ins.paths.map((p) => sub(lex, p, e, ins, file)) : ins.paths.flatMap((p) => subWords(lex, p, e, ins, file));
      c.Volumes = { ...c.Volumes };
      for (const v of vols) {
        if (v.trim() === "") throw new DockerfileError(file, ins.node.line, "VOLUME specified can not be an empty string");
        c.Volumes[v] = {};
      }
      return `VOLUME [${vols.join(" ")}]`;
    }
    case "USER":
      c.User = sub(lex, ins.value, env(), ins, file);
      return `USER ${c.User}`;
    case "WORKDIR":
      c.WorkingDir = joinWorkdir(c.WorkingDir, sub(lex, ins.value, env(), ins, file));
      return `WORKDIR ${c.WorkingDir}`;
    case "STOPSIGNAL": {
      const s = sub(lex, ins.value, env(), ins, file);
      if (!/^(SIG)?[A-Z0-9+-]+$/i.test(s)) throw new DockerfileError(file, ins.node.line, `Invalid signal: ${s}`);
      c.StopSignal = s;
      return `STOPSIGNAL ${s}`;
    }
    case "MAINTAINER":
      st.author = ins.value;
      return `MAINTAINER ${ins.value}`;
    case "ONBUILD":
      c.OnBuild = [...(c.OnBuild ?? []), ins.trigger];
      return `ONBUILD ${ins.trigger}`;
    case "HEALTHCHECK": {
      if (ins.none) {
        c.Healthcheck = { Test: ["NONE"] } as HealthConfig;
      } else {
        const h: HealthConfig = { Test: ins.test } as HealthConfig;
        const hh = h as unknown as Record<string, number>;
        if (ins.interval) hh.Interval = ins.interval;
        if (ins.timeout) hh.Timeout = ins.timeout;
        if (ins.startPeriod) hh.StartPeriod = ins.startPeriod;
        if (ins.startInterval) hh.StartInterval = ins.startInterval;
        if (ins.retries) hh.Retries = ins.retries;
        c.Healthcheck = h;
      }
      const h = c.Healthcheck as unknown as Record<string, number | undefined>;
      return `HEALTHCHECK &{${goQuoteList(c.Healthcheck!.Test ?? [])} "${formatNanos(h.Interval)}" "${formatNanos(h.Timeout)}" "${formatNanos(h.StartPeriod)}" "${formatNanos(h.StartInterval)}" '\\x${(h.Retries ?? 0).toString(16).padStart(2, "0")}'}`;
    }
    default:
      throw new Error(`applyMeta: ${ins.kind} is not a config-only instruction`);
  }
}
