/**
 * The part of Go's text/template that docker's --format users write, as docker's CLI sets it up.
 *
 * Actions with `{{-`/`-}}` trim markers and comments; fields `.A.B`, `$`, `$var.A`, `(pipeline).A`;
 * pipelines with `|`; variables (`$x :=`, `$k, $v := range`); if/else if/else, range (slices and maps,
 * keys sorted), with; literals; Go's builtins (and or not len index slice eq ne lt le gt ge print printf
 * println html urlquery) and docker's (json join split title lower upper pad truncate). Values print as
 * Go's %v does. A template that does not parse is docker's "template parsing error" (exit 64); one that
 * fails while running, exit 1.
 */
import { CliError } from "../_exit-codes.ts";

/**
 * a --format template that does not parse ("parse": docker's exit 64) or fails on a value ("execute":
 * exit 1). A CLI error, so it carries its exit status the way docker/cli's StatusError does; the CLI's
 * exit-code table keys off `stage`.
 */
export class TemplateError extends CliError {
  constructor(
    readonly stage: "parse" | "execute",
    message: string,
  ) {
    // kind invalid_argument, with docker/cli's status: 64 for "parse", 1 for "execute"
    super(message, stage === "parse" ? 64 : 1);
  }
}

/** Go's time.Time String(): "2024-01-02 15:04:05 +0000 UTC" */
export function goTime(d: Date): string {
  const p = (n: number) => String(n).padStart(2, "0");
  return `${d.getUTCFullYear()}-${p(d.getUTCMonth() + 1)}-${p(d.getUTCDate())} ${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())} +0000 UTC`;
}

/**
 * Go's time.Time String() of an RFC 3339 time, with its fraction as Go prints it (up to nine digits,
 * trailing zeros dropped): "2024-01-02 15:04:05.0663 +0000 UTC". The input as given when it is no time.
 */
export function goTimeOf(rfc3339: string): string {
  const ms = Date.parse(rfc3339);
  if (Number.isNaN(ms)) return rfc3339;
  const frac = (/\.(\d+)/.exec(rfc3339)?.[1] ?? "").slice(0, 9).replace(/0+$/, "");
  const base = goTime(new Date(ms));
  return frac ? base.replace(" +0000 UTC", `.${frac} +0000 UTC`) : base;
}

type Operand =
  | { t: "dot"; path: string[] }
  | { t: "var"; name: string; path: string[] }
  | { t: "lit"; v: unknown }
  | { t: "ident"; name: string }
  | { t: "sub"; pipe: Pipe; path: string[] };
interface Cmd {
  args: Operand[];
  pos: number;
}
interface Pipe {
  decl: string[];
  cmds: Cmd[];
  pos: number;
}
type Node = { t: "text"; s: string } | { t: "action"; pipe: Pipe } | { t: "if" | "with" | "range"; pipe: Pipe; list: Node[]; else: Node[] };

class TemplateFault extends Error {}
const parseFault = (msg: string) => new TemplateError("parse", `template parsing error: template: :${msg}`);

/** nesting of control blocks and of parentheses (Go's parser allows 10000; our interpreter recurses on the JS stack) */
const MAX_DEPTH = 1000;

const FUNCS = new Set([
  "and",
  "or",
  "not",
  "len",
  "index",
  "slice",
  "eq",
  "ne",
  "lt",
  "le",
  "gt",
  "ge",
  "print",
  "printf",
  "println",
  "json",
  "join",
  "split",
  "title",
  "lower",
  "upper",
  "pad",
  "truncate",
  "html",
  "urlquery",
]);

/** where the parser is: positions only grow while one template is parsed, so count on from the last one
 * (counting from the start each time made a template of many actions quadratic) */
let lineAt = { src: "", pos: 0, line: 1 };
function lineOf(src: string, pos: number): number {
  if (lineAt.src !== src || pos < lineAt.pos) lineAt = { src, pos: 0, line: 1 };
  for (let i = lineAt.pos; i < pos && i < src.length; i++) if (src.charCodeAt(i) === 10) lineAt.line++;
  lineAt.pos = Math.max(lineAt.pos, Math.min(pos, src.length));
  return lineAt.line;
}

/** one action's words */
function lexAction(src: string, from: number, to: number): { tok: string; pos: number }[] {
  const out: { tok: string; pos: number }[] = [];
  let i = from;
  while (i < to) {
    const c = src[i]!;
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    const start = i;
    if (c === '"') {
      i++;
      while (i < to && src[i] !== '"') i += src[i] === "\\" ? 2 : 1;
      if (i >= to) throw parseFault(`${lineOf(src, start)}: unterminated quoted string`);
      i++;
    } else if (c === "`") {
      i = src.indexOf("`", i + 1);
      if (i < 0 || i >= to) throw parseFault(`${lineOf(src, start)}: unterminated raw quoted string`);
      i++;
    } else if (c === "'") {
      i++;
      while (i < to && src[i] !== "'") i += src[i] === "\\" ? 2 : 1;
      i++;
    } else if (c === ":" && src[i + 1] === "=") i += 2;
    else if ("()|,=".includes(c)) i++;
    else {
      i++;
      // a word: field chains, variables, identifiers, numbers; `(x).A` chains are split at ")"
      while (i < to && !/[\s()|,=]/.test(src[i]!) && !(src[i] === ":" && src[i + 1] === "=")) i++;
    }
    out.push({ tok: src.slice(start, i), pos: start });
  }
  return out;
}

function unquote(tok: string): string {
  if (tok.startsWith("`")) return tok.slice(1, -1);
  if (tok.startsWith("'")) return JSON.parse(`"${tok.slice(1, -1).replace(/"/g, '\\"')}"`).codePointAt(0);
  // (a tab or newline may be real here: the format's \t and \n were turned into them first)
  return JSON.parse(
    tok
      .replace(/\\x([0-9a-fA-F]{2})/g, "\\u00$1")
      .replace(/\n/g, "\\n")
      .replace(/\t/g, "\\t"),
  );
}

function parseTemplate(src: string): Node[] {
  type Frame = { node: Extract<Node, { list: Node[] }> | null; list: Node[]; inElse: boolean; chained: number };
  const root: Node[] = [];
  const stack: Frame[] = [{ node: null, list: root, inElse: false, chained: 0 }];
  const top = () => stack[stack.length - 1]!;
  const push = (n: Node) => (top().inElse ? (top().node as { else: Node[] }).else : top().list).push(n);
  let i = 0;
  while (i < src.length) {
    const open = src.indexOf("{{", i);
    let text = src.slice(i, open < 0 ? src.length : open);
    if (open < 0) {
      if (text) push({ t: "text", s: text });
      break;
    }
    let a = open + 2;
    if (src[a] === "-" && /\s/.test(src[a + 1] ?? "")) {
      text = text.replace(/\s+$/, "");
      a += 2;
    }
    if (text) push({ t: "text", s: text });
    let close = -1;
    for (let j = a, q = ""; j < src.length - 1; j++) {
      const c = src[j]!;
      if (q) {
        if (c === "\\" && q !== "`") j++;
        else if (c === q) q = "";
        continue;
      }
      if (c === '"' || c === "`" || c === "'") {
        q = c;
        continue;
      }
      if (c === "}" && src[j + 1] === "}") {
        close = j;
        break;
      }
    }
    if (close < 0) throw parseFault(`${lineOf(src, open)}: unclosed action`);
    let b = close;
    i = close + 2;
    if (src[b - 1] === "-" && /\s/.test(src[b - 2] ?? "")) {
      b -= 2;
      while (i < src.length && /\s/.test(src[i]!)) i++;
    }
    const inner = src.slice(a, b).trim();
    if (inner.startsWith("/*")) {
      if (!inner.endsWith("*/")) throw parseFault(`${lineOf(src, open)}: unclosed comment`);
      continue;
    }
    const toks = lexAction(src, a, b);
    const line = lineOf(src, open);
    const word = toks[0]?.tok;
    if (word === undefined) throw parseFault(`${line}: missing value for command`);
    if (word === "end") {
      if (stack.length === 1) throw parseFault(`${line}: unexpected {{end}}`);
      const f = stack.pop()!;
      for (let k = 0; k < f.chained; k++) stack.pop();
      continue;
    }
    if (word === "else") {
      const f = top();
      if (!f.node || f.inElse) throw parseFault(`${line}: unexpected {{else}}`);
      f.inElse = true;
      if (toks[1]?.tok === "if" || toks[1]?.tok === "with") {
        // `{{else if x}}` is `{{else}}{{if x}}` whose {{end}} closes both
        if (stack.length > MAX_DEPTH) throw parseFault(`${line}: max expression depth exceeded`);
        const n = { t: toks[1].tok as "if" | "with", pipe: parsePipe(toks.slice(2), src, line), list: [] as Node[], else: [] as Node[] };
        f.node.else.push(n);
        stack.push({ node: n, list: n.list, inElse: false, chained: f.chained + 1 });
        f.chained = 0;
      }
      continue;
    }
    if (word === "if" || word === "with" || word === "range") {
      if (stack.length > MAX_DEPTH) throw parseFault(`${line}: max expression depth exceeded`);
      const n = { t: word as "if" | "with" | "range", pipe: parsePipe(toks.slice(1), src, line), list: [] as Node[], else: [] as Node[] };
      push(n);
      stack.push({ node: n, list: n.list, inElse: false, chained: 0 });
      continue;
    }
    if (["define", "template", "block", "break", "continue"].includes(word)) throw parseFault(`${line}: {{${word}}} is not supported by berth`);
    push({ t: "action", pipe: parsePipe(toks, src, line) });
  }
  if (stack.length > 1) throw parseFault(`${lineOf(src, src.length)}: unexpected EOF`);
  return root;
}

function parsePipe(toks: { tok: string; pos: number }[], src: string, line: number, depth = 0): Pipe {
  if (depth === 0) {
    // refuse deep parentheses before recursing into them: each level rescans the tokens
    let open = 0;
    for (const t of toks) if ((open += t.tok === "(" ? 1 : t.tok === ")" ? -1 : 0) > MAX_DEPTH) throw parseFault(`${line}: max expression depth exceeded`);
  }
  let k = 0;
  const decl: string[] = [];
  // `$x :=` / `$k, $v :=`
  const declEnd = toks.findIndex((t) => t.tok === ":=" || t.tok === "=");
  if (declEnd > 0 && toks.slice(0, declEnd).every((t, j) => (j % 2 === 0 ? t.tok.startsWith("$") : t.tok === ","))) {
    for (let j = 0; j < declEnd; j += 2) decl.push(toks[j]!.tok);
    k = declEnd + 1;
  }
  const cmds: Cmd[] = [];
  let args: Operand[] = [];
  const end = (): void => {
    if (args.length === 0) throw parseFault(`${line}: missing value for command`);
    cmds.push({ args, pos: line });
    args = [];
  };
  const chain = (w: string) =>
    w
      .split(".")
      .slice(1)
      .filter((p) => p !== "");
  while (k < toks.length) {
    const { tok } = toks[k]!;
    if (tok === "|") {
      end();
      k++;
      continue;
    }
    if (tok === "(") {
      if (depth >= MAX_DEPTH) throw parseFault(`${line}: max expression depth exceeded`);
      let open = 1,
        j = k + 1;
      for (; j < toks.length && open > 0; j++) open += toks[j]!.tok === "(" ? 1 : toks[j]!.tok === ")" ? -1 : 0;
      if (open !== 0) throw parseFault(`${line}: unclosed left paren`);
      const sub = parsePipe(toks.slice(k + 1, j - 1), src, line, depth + 1);
      let path: string[] = [];
      if (toks[j] && toks[j]!.tok.startsWith(".") && toks[j]!.pos === toks[j - 1]!.pos + 1) path = chain(toks[j++]!.tok);
      args.push({ t: "sub", pipe: sub, path });
      k = j;
      continue;
    }
    if (tok === ")" || tok === "," || tok === ":=" || tok === "=") throw parseFault(`${line}: unexpected "${tok}" in command`);
    if (tok.startsWith('"') || tok.startsWith("`") || tok.startsWith("'")) {
      let v: unknown;
      try {
        v = unquote(tok);
      } catch {
        // an escape JSON does not know ("\q", "\400"): Go's strconv.Unquote error
        throw parseFault(`${line}: invalid syntax`);
      }
      args.push({ t: "lit", v });
    } else if (tok.startsWith(".")) args.push({ t: "dot", path: chain(tok) });
    else if (tok.startsWith("$")) {
      const [name, ...rest] = tok.split(".");
      args.push({ t: "var", name: name!, path: rest });
    } else if (/^[-+]?(\d|\.\d)/.test(tok)) {
      const n = Number(tok);
      if (Number.isNaN(n)) throw parseFault(`${line}: bad number syntax: "${tok}"`);
      args.push({ t: "lit", v: n });
    } else if (tok === "true" || tok === "false") args.push({ t: "lit", v: tok === "true" });
    else if (tok === "nil") args.push({ t: "lit", v: null });
    else if (/^[A-Za-z_]\w*$/.test(tok)) {
      if (!FUNCS.has(tok)) throw parseFault(`${line}: function "${tok}" not defined`);
      args.push({ t: "ident", name: tok });
    } else throw parseFault(`${line}: unexpected "${tok}" in command`);
    k++;
  }
  end();
  return { decl, cmds, pos: line };
}

// names of docker's fields that are Go maps or slices: a null one prints as "map[]" / "[]", not "<nil>"
const MAP_FIELDS = new Set([
  "Labels",
  "Volumes",
  "ExposedPorts",
  "Ports",
  "Networks",
  "Options",
  "Tmpfs",
  "Sysctls",
  "StorageOpt",
  "LogConfig.Config",
  "DriverOpts",
  "Config",
  "Containers",
  "IPAMConfig",
]);
const SLICE_FIELDS = new Set([
  "Entrypoint",
  "Cmd",
  "Env",
  "Binds",
  "Mounts",
  "Links",
  "Dns",
  "DnsOptions",
  "DnsSearch",
  "ExtraHosts",
  "CapAdd",
  "CapDrop",
  "SecurityOpt",
  "GroupAdd",
  "Aliases",
  "OnBuild",
  "Shell",
  "Devices",
  "DeviceRequests",
  "RepoTags",
  "RepoDigests",
  "Args",
  "Layers",
  "VolumesFrom",
  "ConsoleSize",
  "DNSNames",
]);

/**
 * Go types for JSON-shaped values: docker's documents are Go structs, and text/template prints a struct
 * as `{v1 v2}` in field order (`{{.NetworkSettings.Ports}}` → `map[80/tcp:[{ 18080}]]`), a nil slice as
 * `[]`, a nil map as `map[]`, a missing string as "". `goTyped` marks a document once (a hidden symbol on
 * each object, nothing in its JSON); goValue then prints it as Go would.
 */
export type GoType = "string" | "int" | "bool" | "any" | { struct: Record<string, GoType>; ptr?: boolean } | { map: GoType } | { slice: GoType };

const GO_TYPE = Symbol("berth.goType");

/** mark `v` (and what it holds) as a value of Go type `t`; returns `v` */
export function goTyped<T>(v: T, t: GoType): T {
  if (v === null || typeof v !== "object" || typeof t === "string") return v;
  Object.defineProperty(v, GO_TYPE, { value: t, configurable: true });
  const o = v as Record<string, unknown>;
  if ("struct" in t) for (const [k, ft] of Object.entries(t.struct)) goTyped(o[k], ft);
  else if ("map" in t) for (const k of Object.keys(o)) goTyped(o[k], t.map);
  else if (Array.isArray(v)) for (const x of v) goTyped(x, t.slice);
  return v;
}

function typeOf(v: unknown): GoType | undefined {
  return v !== null && typeof v === "object" ? (v as { [GO_TYPE]?: GoType })[GO_TYPE] : undefined;
}

/** the Go type of field `k` of a marked value (a struct's field, a map's element) */
function memberType(parent: unknown, k: string): GoType | undefined {
  const t = typeOf(parent);
  if (!t || typeof t === "string") return undefined;
  if ("struct" in t) return t.struct[k];
  if ("map" in t) return t.map;
  return undefined;
}

/** Go's fmt %v of a JSON-shaped value; `name` is the field it came from (for nil maps and slices), `t` its Go type when known */
function goValue(v: unknown, name = "", t?: GoType, depth = 0): string {
  t ??= typeOf(v);
  if (t !== undefined && t !== "any") {
    if (typeof t === "string") {
      if (v === undefined || v === null) return t === "string" ? "" : t === "int" ? "0" : "false";
    } else if ("struct" in t) {
      if (v === undefined || v === null)
        return t.ptr
          ? "<nil>"
          : `{${Object.entries(t.struct)
              .map(([k, ft]) => goValue(undefined, k, ft, depth + 1))
              .join(" ")}}`;
      const body = `{${Object.entries(t.struct)
        .map(([k, ft]) => goValue((v as Record<string, unknown>)[k], k, ft, depth + 1))
        .join(" ")}}`;
      return t.ptr ? `&${body}` : body;
    } else if ("map" in t) {
      if (v === undefined || v === null) return "map[]";
      return `map[${Object.keys(v as object)
        .sort()
        .map((k) => `${k}:${goValue((v as Record<string, unknown>)[k], k, t.map, depth + 1)}`)
        .join(" ")}]`;
    } else if ("slice" in t) {
      if (v === undefined || v === null) return "[]";
      if (Array.isArray(v)) return `[${v.map((x) => goValue(x, "", t.slice, depth + 1)).join(" ")}]`;
    }
  }
  // a field docker's types always have (Cmd, Env, Labels…) prints as Go's nil slice or map when absent too
  if (v === undefined) return MAP_FIELDS.has(name) ? "map[]" : SLICE_FIELDS.has(name) ? "[]" : "<no value>";
  if (v === null) return MAP_FIELDS.has(name) ? "map[]" : SLICE_FIELDS.has(name) ? "[]" : "<nil>";
  if (Array.isArray(v)) return `[${v.map((x) => goValue(x)).join(" ")}]`;
  if (typeof v === "object")
    return `map[${Object.keys(v as object)
      .sort()
      .map((k) => `${k}:${goValue((v as Record<string, unknown>)[k], k)}`)
      .join(" ")}]`;
  if (typeof v === "function") return "<function>";
  return String(v);
}

function truthy(v: unknown): boolean {
  if (v === null || v === undefined || v === false || v === 0 || v === "") return false;
  if (Array.isArray(v)) return v.length > 0;
  if (typeof v === "object") return Object.keys(v as object).length > 0;
  return true;
}

/** Go's json.Marshal: HTML-safe (<, >, & and the JS line separators as \u escapes) */
export function goJson(v: unknown): string {
  return (JSON.stringify(v) ?? "null").replace(/[<>&\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
}

/** Go's fmt.Sprintf for the verbs templates use: %s %v %d %q %t %x %X %f %T %%, flags -+0 and width.precision */
function sprintf(format: string, args: unknown[]): string {
  let n = 0;
  return (
    format.replace(/%([-+# 0]*)(\d+|\*)?(?:\.(\d+))?([a-zA-Z%])/g, (_, flags: string, width: string | undefined, prec: string | undefined, verb: string) => {
      if (verb === "%") return "%";
      if (n >= args.length) return `%!${verb}(MISSING)`;
      const a = args[n++];
      // Go's fmt refuses widths and precisions above 1e6 and prints the verb without them
      let bad = "";
      let w = width ? Number(width) : 0;
      if (w > 1e6) (bad += "%!(BADWIDTH)"), (w = 0);
      if (prec !== undefined && Number(prec) > 1e6) (bad += "%!(BADPREC)"), (prec = undefined);
      let s: string;
      switch (verb) {
        case "d":
          s = typeof a === "number" ? String(Math.trunc(a)) : `%!d(${typeof a}=${goValue(a)})`;
          break;
        case "q":
          s = JSON.stringify(typeof a === "string" ? a : goValue(a));
          break;
        case "x":
        case "X":
          s = typeof a === "number" ? a.toString(16) : Buffer.from(String(a)).toString("hex");
          if (verb === "X") s = s.toUpperCase();
          break;
        case "f": {
          // toFixed stops at 100 digits; the digits of a double's exact expansion past them are zeros here
          const p = prec === undefined ? 6 : Number(prec);
          s = typeof a === "number" ? a.toFixed(Math.min(p, 100)) + (p > 100 && Number.isFinite(a) ? "0".repeat(p - 100) : "") : `%!f(${goValue(a)})`;
          break;
        }
        case "T":
          s =
            a === null
              ? "<nil>"
              : Array.isArray(a)
                ? "[]interface {}"
                : typeof a === "object"
                  ? "map[string]interface {}"
                  : typeof a === "number"
                    ? Number.isInteger(a)
                      ? "int"
                      : "float64"
                    : typeof a === "boolean"
                      ? "bool"
                      : "string";
          break;
        default:
          s = goValue(a);
      }
      if (prec !== undefined && (verb === "s" || verb === "v")) s = [...s].slice(0, Number(prec)).join("");
      if (s.length < w) s = flags.includes("-") ? s.padEnd(w) : flags.includes("0") && verb !== "s" ? s.padStart(w, "0") : s.padStart(w);
      return bad + s;
    }) +
    (n < args.length
      ? `%!(EXTRA ${args
          .slice(n)
          .map((a) => `${typeof a === "number" ? "int" : "string"}=${goValue(a)}`)
          .join(", ")})`
      : "")
  );
}

/** fmt.Sprint: a space between operands when neither is a string */
function sprint(args: unknown[]): string {
  let out = "";
  args.forEach((a, i) => {
    if (i > 0 && typeof a !== "string" && typeof args[i - 1] !== "string") out += " ";
    out += goValue(a);
  });
  return out;
}

function compare(name: string, a: unknown, b: unknown): number {
  if (typeof a === "number" && typeof b === "number") return a - b;
  if (typeof a === "string" && typeof b === "string") return a < b ? -1 : a > b ? 1 : 0;
  if (name === "eq" || name === "ne") return a === b ? 0 : 1;
  throw new TemplateFault(`error calling ${name}: incompatible types for comparison`);
}

function callFunc(name: string, args: unknown[]): unknown {
  const need = (n: number) => {
    if (args.length < n) throw new TemplateFault(`wrong number of args for ${name}: want ${n} got ${args.length}`);
  };
  const str = (v: unknown) => (typeof v === "string" ? v : goValue(v));
  switch (name) {
    case "and":
      need(1);
      for (const a of args) if (!truthy(a)) return a;
      return args[args.length - 1];
    case "or":
      need(1);
      for (const a of args) if (truthy(a)) return a;
      return args[args.length - 1];
    case "not":
      need(1);
      return !truthy(args[0]);
    case "len": {
      need(1);
      const v = args[0];
      if (typeof v === "string" || Array.isArray(v)) return v.length;
      if (v && typeof v === "object") return Object.keys(v).length;
      throw new TemplateFault(`error calling len: len of type ${v === null ? "<nil>" : typeof v}`);
    }
    case "index": {
      need(1);
      let v = args[0];
      for (const k of args.slice(1)) {
        if (v === null || v === undefined) throw new TemplateFault("error calling index: index of untyped nil");
        if (Array.isArray(v)) {
          if (typeof k !== "number" || k < 0 || k >= v.length) throw new TemplateFault(`error calling index: index out of range: ${goValue(k)}`);
          v = v[k];
        } else if (typeof v === "object") {
          v = member(v, String(k));
          // a missing map key is the element type's zero value; for docker's maps of strings, ""
          if (v === undefined) v = null;
        } else throw new TemplateFault(`error calling index: can't index item of type ${typeof v}`);
      }
      return v;
    }
    case "slice": {
      need(1);
      const v = args[0] as string | unknown[];
      if (typeof v !== "string" && !Array.isArray(v))
        throw new TemplateFault(`error calling slice: can't slice item of type ${v === null ? "<nil>" : typeof v}`);
      const [from = 0, to = v.length] = args.slice(1) as number[];
      return v.slice(from, to);
    }
    case "eq":
      need(2);
      return args.slice(1).some((b) => compare(name, args[0], b) === 0);
    case "ne":
      need(2);
      return compare(name, args[0], args[1]) !== 0;
    case "lt":
      need(2);
      return compare(name, args[0], args[1]) < 0;
    case "le":
      need(2);
      return compare(name, args[0], args[1]) <= 0;
    case "gt":
      need(2);
      return compare(name, args[0], args[1]) > 0;
    case "ge":
      need(2);
      return compare(name, args[0], args[1]) >= 0;
    case "print":
      return sprint(args);
    case "println":
      return args.map((a) => goValue(a)).join(" ") + "\n";
    case "printf":
      need(1);
      return sprintf(str(args[0]), args.slice(1));
    case "json":
      need(1);
      return goJson(args[0] === undefined ? null : args[0]);
    case "join": {
      need(2);
      const v = args[0];
      if (!Array.isArray(v)) throw new TemplateFault(`error calling join: expected a list, got ${goValue(v)}`);
      return v.map(str).join(str(args[1]));
    }
    case "split":
      need(2);
      return str(args[0]).split(str(args[1]));
    case "title":
      need(1);
      return str(args[0]).replace(/(^|[^\p{L}\p{N}'])(\p{L})/gu, (_, p: string, c: string) => p + c.toUpperCase());
    case "lower":
      need(1);
      return str(args[0]).toLowerCase();
    case "upper":
      need(1);
      return str(args[0]).toUpperCase();
    case "pad": {
      need(3);
      // Go's strings.Repeat panics on a negative count; more than Go's fmt width limit is refused too
      const [l, r] = [Number(args[1]), Number(args[2])];
      if (!(l >= 0 && r >= 0)) throw new TemplateFault("error calling pad: strings: negative Repeat count");
      if (l > 1e6 || r > 1e6) throw new TemplateFault("error calling pad: padding above 1000000");
      return " ".repeat(l) + str(args[0]) + " ".repeat(r);
    }
    case "truncate": {
      need(2);
      const chars = [...str(args[0])];
      return chars.length > Number(args[1]) ? chars.slice(0, Number(args[1])).join("") : str(args[0]);
    }
    case "html":
      return sprint(args).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&#34;", "'": "&#39;" })[c]!);
    // a lone surrogate (from "\ud800") would make encodeURIComponent throw: U+FFFD, as Go's invalid UTF-8 handling
    case "urlquery":
      return encodeURIComponent(sprint(args).replace(/\p{Cs}/gu, "\uFFFD"));
  }
  throw new TemplateFault(`function "${name}" not defined`);
}

interface Scope {
  vars: { name: string; value: unknown; type?: GoType }[];
}

/** a key of the value as Go sees it: Object.prototype's members (constructor, toString, __proto__…) are not fields */
function member(o: object, p: string): unknown {
  return p in Object.prototype && !Object.hasOwn(o, p) ? undefined : (o as Record<string, unknown>)[p];
}

function field(v: unknown, path: string[], args: unknown[], at: string): unknown {
  return fieldTyped(v, path, args, at).value;
}

/** a field path's value and, for a marked document, its Go type */
function fieldTyped(v: unknown, path: string[], args: unknown[], at: string): { value: unknown; type?: GoType } {
  let cur = v;
  let type: GoType | undefined;
  for (let i = 0; i < path.length; i++) {
    const p = path[i]!;
    // Go: a field of a nil map is the map's missing key, "<no value>" (GraphDriver.Data of vfs/btrfs)
    if ((cur === null || cur === undefined) && type !== undefined && typeof type === "object" && "map" in type) return { value: undefined };
    if (cur === null || cur === undefined) throw new TemplateFault(`executing "" at <${at}>: nil pointer evaluating interface {}.${p}`);
    if (typeof cur !== "object") throw new TemplateFault(`executing "" at <${at}>: can't evaluate field ${p} in type ${typeof cur}`);
    const next = member(cur, p);
    type = memberType(cur, p);
    // docker's formatter methods, e.g. ps's {{.Label "com.example"}}
    cur = typeof next === "function" ? (next as (...a: unknown[]) => unknown).apply(cur, i === path.length - 1 ? args : []) : next;
  }
  return { value: cur, type };
}

function lastName(path: string[]): string {
  return path[path.length - 1] ?? "";
}

function evalPipe(p: Pipe, dot: unknown, scope: Scope): { value: unknown; name: string; type?: GoType } {
  let value: unknown;
  let name = "";
  let type: GoType | undefined;
  let first = true;
  for (const c of p.cmds) {
    const piped = first ? [] : [value];
    const [head, ...rest] = c.args;
    const argv = () => [...rest.map((o) => evalOperand(o, dot, scope, []).value), ...piped];
    if (head!.t === "ident") {
      value = callFunc(head!.name, argv());
      name = "";
      type = undefined;
    } else {
      if (rest.length || piped.length) {
        // arguments after a field are a method call's
        const r = evalOperand(head!, dot, scope, argv());
        if (r.called !== true) throw new TemplateFault(`can't give argument to non-function ${describe(head!)}`);
        value = r.value;
        name = r.name;
        type = undefined;
      } else ({ value, name, type } = evalOperand(head!, dot, scope, []));
    }
    first = false;
  }
  for (const d of p.decl) scope.vars.push({ name: d, value });
  return { value, name, type };
}

function describe(o: Operand): string {
  return o.t === "dot" ? `.${o.path.join(".")}` : o.t === "var" ? [o.name, ...o.path].join(".") : o.t === "ident" ? o.name : "";
}

function evalOperand(o: Operand, dot: unknown, scope: Scope, args: unknown[]): { value: unknown; name: string; called?: boolean; type?: GoType } {
  const isCall = (base: unknown, path: string[]) => {
    let cur = base;
    for (const p of path.slice(0, -1)) cur = cur && typeof cur === "object" ? member(cur, p) : undefined;
    return !!cur && typeof cur === "object" && typeof member(cur, lastName(path)) === "function";
  };
  switch (o.t) {
    case "lit":
      return { value: o.v, name: "" };
    case "ident":
      return { value: callFunc(o.name, args), name: "" };
    case "dot":
      return { ...fieldTyped(dot, o.path, args, describe(o)), name: lastName(o.path), called: isCall(dot, o.path) };
    case "var": {
      const v = o.name === "$" ? scope.vars[0]!.value : [...scope.vars].reverse().find((x) => x.name === o.name);
      if (o.name !== "$" && v === undefined) throw parseFault(`1: undefined variable "${o.name}"`);
      const base = o.name === "$" ? v : (v as { value: unknown }).value;
      const ft = fieldTyped(base, o.path, args, describe(o));
      return { ...ft, type: o.path.length || o.name === "$" ? ft.type : (v as { type?: GoType }).type, name: lastName(o.path), called: isCall(base, o.path) };
    }
    case "sub": {
      const r = evalPipe(o.pipe, dot, scope);
      return o.path.length ? { value: field(r.value, o.path, args, `(...).${o.path.join(".")}`), name: lastName(o.path) } : r;
    }
  }
}

function execNodes(nodes: Node[], dot: unknown, scope: Scope, out: string[]): void {
  for (const n of nodes) {
    if (n.t === "text") {
      out.push(n.s);
      continue;
    }
    const mark = scope.vars.length;
    if (n.t === "action") {
      const r = evalPipe(n.pipe, dot, scope);
      // an assignment prints nothing; its variable lives to the end of the enclosing block
      if (n.pipe.decl.length === 0) {
        out.push(goValue(r.value, r.name, r.type));
      }
      continue;
    }
    const decl = n.pipe.decl;
    const r = evalPipe(n.t === "range" ? { ...n.pipe, decl: [] } : n.pipe, dot, scope);
    if (n.t === "if") {
      execNodes(truthy(r.value) ? n.list : n.else, dot, scope, out);
    } else if (n.t === "with") {
      if (truthy(r.value)) execNodes(n.list, r.value, scope, out);
      else execNodes(n.else, dot, scope, out);
    } else {
      const v = r.value;
      const entries: [unknown, unknown][] = Array.isArray(v)
        ? v.map((x, i) => [i, x])
        : v && typeof v === "object"
          ? Object.keys(v)
              .sort()
              .map((k) => [k, (v as Record<string, unknown>)[k]])
          : v === null || v === undefined
            ? []
            : (() => {
                throw new TemplateFault(`range can't iterate over ${goValue(v)}`);
              })();
      if (entries.length === 0) execNodes(n.else, dot, scope, out);
      // a marked map's or slice's element type, so a nil element prints as Go's ([] for a nil slice)
      const t = r.type ?? typeOf(v);
      const elem = t && typeof t === "object" ? ("map" in t ? t.map : "slice" in t ? t.slice : undefined) : undefined;
      for (const [k, x] of entries) {
        const inner = scope.vars.length;
        if (decl.length === 1) scope.vars.push({ name: decl[0]!, value: x, type: elem });
        else if (decl.length === 2) scope.vars.push({ name: decl[0]!, value: k }, { name: decl[1]!, value: x, type: elem });
        execNodes(n.list, x, scope, out);
        scope.vars.length = inner;
      }
    }
    scope.vars.length = mark;
  }
}

/**
 * a listing row as docker's formatter contexts are: Go structs, so a field they do not have is an
 * error (`{{.Nmae}}` in a script fails instead of printing "<no value>"). Capitalised names only.
 */
export function strictFields<T extends object>(row: T, typeName: string): T {
  return new Proxy(row, {
    get(target, prop, recv) {
      if (typeof prop === "string" && /^[A-Z]/.test(prop) && !(prop in target))
        throw new TemplateFault(`executing "" at <.${prop}>: can't evaluate field ${prop} in type *formatter.${typeName}`);
      return Reflect.get(target, prop, recv);
    },
  });
}

/**
 * a parsed template, run once per object (docker's --format). docker's listing commands (ps, images, …)
 * turn the two characters \t and \n of a format into a tab and a newline; inspect does not (`raw`).
 */
export function compileTemplate(tmpl: string, o: { raw?: boolean } = {}): (data: unknown) => string {
  const nodes = parseTemplate(o.raw ? tmpl : tmpl.replace(/\\t/g, "\t").replace(/\\n/g, "\n"));
  return (data) => {
    const out: string[] = [];
    try {
      execNodes(nodes, data, { vars: [{ name: "$", value: data }] }, out);
    } catch (e) {
      if (e instanceof TemplateFault) throw new TemplateError("execute", `template: :1: ${e.message}`);
      throw e;
    }
    return out.join("");
  };
}

/** render one object with a docker --format template */
export function renderTemplate(tmpl: string, data: unknown, o: { raw?: boolean } = {}): string {
  return compileTemplate(tmpl, o)(data);
}
