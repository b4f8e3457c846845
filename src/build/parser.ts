/**
 * The Dockerfile language, text → instructions (moby's parser + instructions packages, the legacy
 * builder's rules). Pure: no I/O, no substitution yet (that needs the stage's environment and happens
 * when the plan runs, see shell-lex.ts).
 *
 * Handled: the `syntax` and `escape` directives (only at the very top), comments (also inside a
 * continued instruction), line continuations with the escape character, blank lines inside
 * continuations, heredocs on RUN/COPY/ADD (`<<EOF`, `<<-EOF`, `<<"EOF"` = no expansion), JSON (exec)
 * and shell forms, leading `--flag[=value]` options, and every instruction of the reference.
 *
 * Errors carry the file and the line: `Dockerfile:3: unknown instruction: FOO`.
 */
import { EngineError } from "../lib/errors.ts";

export interface Heredoc {
  name: string;
  content: string;
  /** false when the delimiter was quoted: no variable expansion inside */
  expand: boolean;
}

/** one instruction as written: keyword, flags and the rest of the (joined) line */
export interface Node {
  /** upper case: RUN, COPY, … */
  keyword: string;
  /** the instruction text as written, continuations joined (docker prints it in "Step n/m : …") */
  original: string;
  line: number;
  endLine: number;
  flags: Record<string, string[]>;
  /** everything after the keyword and its flags */
  rest: string;
  heredocs: Heredoc[];
}

export type CmdForm = { json: true; args: string[] } | { json: false; text: string };

export type Instruction = { node: Node } & (
  | { kind: "FROM"; image: string; alias?: string; platform?: string }
  | { kind: "RUN"; cmd: CmdForm; network?: string }
  | { kind: "CMD" | "ENTRYPOINT"; cmd: CmdForm }
  | { kind: "SHELL"; args: string[] }
  | { kind: "ENV" | "LABEL"; pairs: [string, string][] }
  | { kind: "ARG"; args: { name: string; value?: string }[] }
  | { kind: "EXPOSE"; ports: string[] }
  | { kind: "VOLUME"; paths: string[]; json: boolean }
  | { kind: "USER" | "WORKDIR" | "STOPSIGNAL" | "MAINTAINER"; value: string }
  | { kind: "COPY" | "ADD"; sources: string[]; dest: string; from?: string; chown?: string; chmod?: string; checksum?: string; link: boolean }
  | { kind: "ONBUILD"; trigger: string; inner: Instruction }
  | { kind: "HEALTHCHECK"; none: true }
  | { kind: "HEALTHCHECK"; none: false; test: string[]; interval?: number; timeout?: number; startPeriod?: number; startInterval?: number; retries?: number }
);

export interface Stage {
  /** index in the file (docker's `--from=0`) */
  index: number;
  name?: string;
  from: Extract<Instruction, { kind: "FROM" }>;
  instructions: Instruction[];
}

export interface Dockerfile {
  directives: { escape: string; syntax?: string };
  /** ARG instructions before the first FROM */
  metaArgs: Extract<Instruction, { kind: "ARG" }>[];
  stages: Stage[];
}

export class DockerfileError extends EngineError {
  /** `text`: the offending line, shown as the hint (`  4 | BOGUS x`) */
  constructor(
    readonly file: string,
    readonly line: number,
    readonly detail: string,
    text?: string,
  ) {
    super("invalid_argument", `${file}:${line}: ${detail}`, { ...(text !== undefined ? { hint: `${String(line).padStart(4)} | ${text.trim()}` } : {}) });
  }
}

const KNOWN = new Set([
  "FROM",
  "RUN",
  "CMD",
  "ENTRYPOINT",
  "SHELL",
  "ENV",
  "LABEL",
  "ARG",
  "EXPOSE",
  "VOLUME",
  "USER",
  "WORKDIR",
  "STOPSIGNAL",
  "MAINTAINER",
  "COPY",
  "ADD",
  "ONBUILD",
  "HEALTHCHECK",
]);
const HEREDOC_OK = new Set(["RUN", "COPY", "ADD"]);
const DIRECTIVE = /^#[ \t]*([a-zA-Z][a-zA-Z0-9]*)[ \t]*=[ \t]*(.+?)[ \t]*$/;

/** the directives at the top of the file (docker stops looking at the first other line) */
function readDirectives(lines: string[], file: string): { escape: string; syntax?: string; skip: number } {
  let escape = "\\";
  let syntax: string | undefined;
  const seen = new Set<string>();
  let i = 0;
  for (; i < lines.length; i++) {
    const m = DIRECTIVE.exec(lines[i]!);
    if (!m) break;
    const name = m[1]!.toLowerCase();
    if (name !== "escape" && name !== "syntax" && name !== "check") break;
    if (seen.has(name)) throw new DockerfileError(file, i + 1, `only one ${name} parser directive can be used`);
    seen.add(name);
    if (name === "escape") {
      if (m[2] !== "\\" && m[2] !== "`") throw new DockerfileError(file, i + 1, `invalid escape token '${m[2]}' does not match ${"`"} or \\`);
      escape = m[2]!;
    } else if (name === "syntax") syntax = m[2];
  }
  return { escape, syntax, skip: i };
}

/** split the text into nodes: keyword, flags, rest, heredoc bodies */
export function parseNodes(text: string, file = "Dockerfile"): { nodes: Node[]; escape: string; syntax?: string } {
  const lines = text.replace(/^\uFEFF/, "").split(/\r?\n/);
  const { escape, syntax, skip } = readDirectives(lines, file);
  const contRe = new RegExp(`${escape === "\\" ? "\\\\" : "`"}[ \\t]*$`);
  const nodes: Node[] = [];
  let i = skip;
  while (i < lines.length) {
    const raw = lines[i]!;
    const trimmed = raw.trimStart();
    if (trimmed === "" || trimmed.startsWith("#")) {
      i++;
      continue;
    }
    const start = i;
    let joined = "";
    let cur = trimmed;
    for (;;) {
      if (contRe.test(cur)) {
        joined += cur.replace(contRe, "");
        i++;
        // comments and blank lines inside a continuation are dropped (docker warns about blanks)
        while (i < lines.length && (lines[i]!.trim() === "" || lines[i]!.trimStart().startsWith("#"))) i++;
        if (i >= lines.length) break;
        cur = lines[i]!;
        continue;
      }
      joined += cur;
      i++;
      break;
    }
    const endLine = Math.min(i, lines.length);
    const m = /^(\S+)\s*([\s\S]*)$/.exec(joined.trim());
    if (!m) continue;
    const keyword = m[1]!.toUpperCase();
    let rest = m[2]!;
    const node: Node = { keyword, original: joined.trim(), line: start + 1, endLine, flags: {}, rest, heredocs: [] };
    // ONBUILD's flags belong to its trigger
    if (keyword !== "ONBUILD") {
      const f = takeFlags(rest);
      node.flags = f.flags;
      rest = f.rest;
      node.rest = rest;
    }
    const hdKeyword = keyword === "ONBUILD" ? (/^\s*(\S+)/.exec(rest)?.[1] ?? "").toUpperCase() : keyword;
    if (HEREDOC_OK.has(hdKeyword) && !rest.trimStart().startsWith("[")) {
      for (const h of rest.matchAll(/<<(-?)(["']?)([A-Za-z_][A-Za-z0-9_]*)\2/g)) {
        const strip = h[1] === "-";
        const name = h[3]!;
        const body: string[] = [];
        let closed = false;
        while (i < lines.length) {
          let l = lines[i]!;
          i++;
          if (strip) l = l.replace(/^\t+/, "");
          if (l === name) {
            closed = true;
            break;
          }
          body.push(l);
        }
        if (!closed) throw new DockerfileError(file, node.line, `unterminated heredoc ${name}`);
        node.heredocs.push({ name, content: body.length ? body.join("\n") + "\n" : "", expand: h[2] === "" });
      }
      node.endLine = i;
    }
    nodes.push(node);
  }
  return { nodes, escape, syntax };
}

/** leading `--name=value` / `--name` words */
function takeFlags(rest: string): { flags: Record<string, string[]>; rest: string } {
  const flags: Record<string, string[]> = {};
  let r = rest;
  for (;;) {
    const m = /^--([A-Za-z][A-Za-z0-9-]*)(?:=((?:"[^"]*"|'[^']*'|\S)*))?(?:\s+|$)/.exec(r);
    if (!m) break;
    let v = m[2] ?? "true";
    if (v.length >= 2 && (v[0] === '"' || v[0] === "'") && v.at(-1) === v[0]) v = v.slice(1, -1);
    (flags[m[1]!.toLowerCase()] ??= []).push(v);
    r = r.slice(m[0].length);
  }
  return { flags, rest: r };
}

/** `["a","b"]` → strings; undefined when the text is not a JSON array of strings (shell form) */
export function parseJsonArray(rest: string): string[] | undefined {
  const t = rest.trim();
  if (!t.startsWith("[")) return undefined;
  try {
    const v = JSON.parse(t);
    if (Array.isArray(v) && v.every((x) => typeof x === "string")) return v;
  } catch {} // not JSON: the caller takes the shell form, as docker does
  return undefined;
}

function cmdForm(rest: string): CmdForm {
  const a = parseJsonArray(rest);
  return a ? { json: true, args: a } : { json: false, text: rest.trim() };
}

/**
 * Words of `rest` split on unquoted whitespace, quotes kept (moby's parseWords): ENV/LABEL/ARG
 * pairs are split here and unquoted by substitution later.
 */
export function splitWords(rest: string, escape: string): string[] {
  const out: string[] = [];
  let cur = "";
  let quote = "";
  let inWord = false;
  for (let i = 0; i < rest.length; i++) {
    const c = rest[i]!;
    if (!quote && /\s/.test(c)) {
      if (inWord) out.push(cur);
      cur = "";
      inWord = false;
      continue;
    }
    inWord = true;
    if (c === escape && i + 1 < rest.length && quote !== "'") {
      cur += c + rest[i + 1]!;
      i++;
      continue;
    }
    if (quote) {
      if (c === quote) quote = "";
    } else if (c === '"' || c === "'") quote = c;
    cur += c;
  }
  if (inWord) out.push(cur);
  return out;
}

/** ENV / LABEL: `k=v k2="v 2"` or the legacy `k some value` */
function nameValues(node: Node, escape: string, file: string): [string, string][] {
  const words = splitWords(node.rest, escape);
  const what = node.keyword;
  if (words.length === 0) throw new DockerfileError(file, node.line, `${what} requires at least one argument`);
  if (!words[0]!.includes("=")) {
    // legacy form: one key, the rest of the line is the value
    const m = /^(\S+)\s+([\s\S]*)$/.exec(node.rest.trim());
    if (!m || m[2]!.trim() === "") throw new DockerfileError(file, node.line, `${what} must have two arguments`);
    return [[m[1]!, m[2]!.trim()]];
  }
  return words.map((w) => {
    const eq = w.indexOf("=");
    if (eq < 0) throw new DockerfileError(file, node.line, `Syntax error - can't find = in "${w}". Must be of the form: name=value`);
    if (eq === 0) throw new DockerfileError(file, node.line, `${what} names can not be blank`);
    return [w.slice(0, eq), w.slice(eq + 1)];
  });
}

const DURATION_UNITS: Record<string, number> = { ns: 1e-6, us: 1e-3, µs: 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** Go's time.ParseDuration → nanoseconds */
export function parseDuration(s: string): number | undefined {
  if (s === "0") return 0;
  const re = /(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)/y;
  let ms = 0;
  let pos = 0;
  while (pos < s.length) {
    re.lastIndex = pos;
    const m = re.exec(s);
    if (!m) return undefined;
    ms += parseFloat(m[1]!) * DURATION_UNITS[m[2]!]!;
    pos = re.lastIndex;
  }
  return pos === 0 ? undefined : Math.round(ms * 1e6);
}

function checkFlags(node: Node, allowed: string[], file: string): void {
  for (const f of Object.keys(node.flags)) {
    if (!allowed.includes(f)) throw new DockerfileError(file, node.line, `Unknown flag: ${f}`);
  }
}

const flag = (node: Node, name: string) => node.flags[name]?.at(-1);

/** one node → a typed instruction (validated) */
export function toInstruction(node: Node, escape: string, file = "Dockerfile"): Instruction {
  const err = (msg: string) => new DockerfileError(file, node.line, msg);
  const rest = node.rest.trim();
  const needArg = () => {
    if (rest === "") throw err(`${node.keyword} requires at least one argument`);
  };
  switch (node.keyword) {
    case "FROM": {
      checkFlags(node, ["platform"], file);
      const w = rest.split(/\s+/).filter(Boolean);
      if (w.length !== 1 && !(w.length === 3 && w[1]!.toLowerCase() === "as")) throw err("FROM requires either one or three arguments");
      const alias = w[2]?.toLowerCase();
      if (alias !== undefined && !/^[a-z][a-z0-9-_.]*$/.test(alias))
        throw err(`invalid name for build stage: "${w[2]}", name can't start with a number or contain symbols`);
      return { node, kind: "FROM", image: w[0]!, alias, platform: flag(node, "platform") };
    }
    case "RUN": {
      checkFlags(node, ["mount", "network", "security"], file);
      needArg();
      return { node, kind: "RUN", cmd: cmdForm(rest), network: flag(node, "network") };
    }
    case "CMD":
    case "ENTRYPOINT":
      checkFlags(node, [], file);
      return { node, kind: node.keyword, cmd: cmdForm(rest) };
    case "SHELL": {
      checkFlags(node, [], file);
      const a = parseJsonArray(rest);
      if (!a) throw err("SHELL requires the arguments to be in JSON form");
      if (a.length === 0) throw err("SHELL requires at least one argument");
      return { node, kind: "SHELL", args: a };
    }
    case "ENV":
    case "LABEL":
      checkFlags(node, [], file);
      return { node, kind: node.keyword, pairs: nameValues(node, escape, file) };
    case "ARG": {
      checkFlags(node, [], file);
      needArg();
      const args = splitWords(rest, escape).map((w) => {
        const eq = w.indexOf("=");
        if (eq === 0) throw err("ARG names can not be blank");
        return eq < 0 ? { name: w } : { name: w.slice(0, eq), value: w.slice(eq + 1) };
      });
      return { node, kind: "ARG", args };
    }
    case "EXPOSE":
      checkFlags(node, [], file);
      needArg();
      return { node, kind: "EXPOSE", ports: splitWords(rest, escape) };
    case "VOLUME": {
      checkFlags(node, [], file);
      needArg();
      const a = parseJsonArray(rest);
      if (a && a.length === 0) throw err("VOLUME specified can not be an empty string");
      return { node, kind: "VOLUME", paths: a ?? splitWords(rest, escape), json: !!a };
    }
    case "USER":
    case "WORKDIR":
    case "STOPSIGNAL":
    case "MAINTAINER":
      checkFlags(node, [], file);
      if (rest === "") throw err(`${node.keyword} requires exactly one argument`);
      return { node, kind: node.keyword, value: rest };
    case "COPY":
    case "ADD": {
      checkFlags(
        node,
        node.keyword === "COPY" ? ["from", "chown", "chmod", "link", "parents", "exclude"] : ["chown", "chmod", "link", "checksum", "keep-git-dir", "exclude"],
        file,
      );
      const a = parseJsonArray(rest);
      let words = a ?? splitWords(rest, escape);
      // heredoc sources are named by their delimiter word
      if (!a && node.heredocs.length) words = words.map((w) => w.replace(/^<<-?["']?([A-Za-z_][A-Za-z0-9_]*)["']?$/, "<<$1"));
      if (words.length < 2) throw err(`${node.keyword} requires at least two arguments, but only one was provided. Destination could not be determined.`);
      return {
        node,
        kind: node.keyword,
        sources: words.slice(0, -1),
        dest: words.at(-1)!,
        from: flag(node, "from"),
        chown: flag(node, "chown"),
        chmod: flag(node, "chmod"),
        checksum: flag(node, "checksum"),
        link: flag(node, "link") === "true",
      };
    }
    case "ONBUILD": {
      needArg();
      const inner = parseNodes(rest, file).nodes[0];
      if (!inner) throw err("ONBUILD requires at least one argument");
      inner.line = node.line;
      inner.endLine = node.endLine;
      inner.heredocs = node.heredocs;
      const kw = inner.keyword;
      if (kw === "ONBUILD") throw err("Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed");
      if (kw === "FROM" || kw === "MAINTAINER") throw err(`${kw} isn't allowed as an ONBUILD trigger`);
      if (!KNOWN.has(kw)) throw err(`unknown instruction: ${inner.keyword}`);
      return { node, kind: "ONBUILD", trigger: rest, inner: toInstruction(inner, escape, file) };
    }
    case "HEALTHCHECK": {
      checkFlags(node, ["interval", "timeout", "start-period", "start-interval", "retries"], file);
      const words = rest.split(/\s+/);
      const type = (words[0] ?? "").toUpperCase();
      if (type === "NONE") {
        if (words.length > 1 || Object.keys(node.flags).length) throw err("HEALTHCHECK NONE takes no arguments");
        return { node, kind: "HEALTHCHECK", none: true };
      }
      if (type !== "CMD") throw err(`Unknown type "${words[0] ?? ""}" in HEALTHCHECK (try CMD)`);
      const cmdRest = rest.replace(/^\S+\s*/, "");
      if (cmdRest === "") throw err("Missing command after HEALTHCHECK CMD");
      const form = cmdForm(cmdRest);
      const test = form.json ? ["CMD", ...form.args] : ["CMD-SHELL", form.text];
      const dur = (name: string) => {
        const v = flag(node, name);
        if (v === undefined) return undefined;
        const d = parseDuration(v);
        if (d === undefined) throw err(`time: invalid duration "${v}"`);
        if (d !== 0 && d < 1e6) throw err(`Interval "${name}" cannot be less than 1ms`);
        return d;
      };
      const retriesRaw = flag(node, "retries");
      const retries = retriesRaw === undefined ? undefined : Number(retriesRaw);
      if (retries !== undefined && (!Number.isInteger(retries) || retries < 0)) throw err("--retries cannot be negative");
      return {
        node,
        kind: "HEALTHCHECK",
        none: false,
        test,
        interval: dur("interval"),
        timeout: dur("timeout"),
        startPeriod: dur("start-period"),
        startInterval: dur("start-interval"),
        retries,
      };
    }
    default:
      throw err(`unknown instruction: ${node.original.split(/\s/, 1)[0]}`);
  }
}

/** the whole file: directives, ARGs before FROM, stages */
export function parseDockerfile(text: string, file = "Dockerfile"): Dockerfile {
  try {
    return parseStages(text, file);
  } catch (e) {
    if (!(e instanceof DockerfileError) || e.hint) throw e;
    throw new DockerfileError(e.file, e.line, e.detail, text.replace(/^\uFEFF/, "").split(/\r?\n/)[e.line - 1]);
  }
}

function parseStages(text: string, file: string): Dockerfile {
  const { nodes, escape, syntax } = parseNodes(text, file);
  const metaArgs: Extract<Instruction, { kind: "ARG" }>[] = [];
  const stages: Stage[] = [];
  for (const node of nodes) {
    const ins = toInstruction(node, escape, file);
    if (ins.kind === "FROM") {
      stages.push({ index: stages.length, name: ins.alias, from: ins, instructions: [] });
      continue;
    }
    const st = stages.at(-1);
    if (!st) {
      if (ins.kind !== "ARG")
        throw new DockerfileError(
          file,
          node.line,
          `${node.keyword} not allowed before FROM: only ARG may precede the first FROM (no build stage in current context)`,
        );
      metaArgs.push(ins);
      continue;
    }
    st.instructions.push(ins);
  }
  // docker's legacy builder words these two cases differently
  if (nodes.length === 0) throw new DockerfileError(file, 1, `the Dockerfile (${file}) cannot be empty`);
  if (stages.length === 0) throw new DockerfileError(file, nodes.at(-1)!.line, "no build stage in current context");
  const names = new Set<string>();
  for (const s of stages) {
    if (!s.name) continue;
    if (names.has(s.name)) throw new DockerfileError(file, s.from.node.line, `duplicate name ${s.name}`);
    names.add(s.name);
  }
  return { directives: { escape, syntax }, metaArgs, stages };
}
