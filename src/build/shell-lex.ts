/**
 * Docker's variable substitution for Dockerfile instructions (moby's shell.Lex): `$VAR`, `${VAR}`,
 * `${VAR:-word}`, `${VAR-word}`, `${VAR:+word}`, `${VAR+word}`, `${VAR:?msg}`, `${VAR?msg}`; single
 * quotes are literal, double quotes allow substitution, the escape character (`\` or the `escape`
 * directive's choice) protects the next character. Pure.
 *
 * Used by ADD COPY ENV EXPOSE FROM LABEL STOPSIGNAL USER VOLUME WORKDIR ARG (docker's list); RUN, CMD
 * and ENTRYPOINT are left to the container's shell.
 */
export type Env = ReadonlyMap<string, string>;

export class SubstitutionError extends Error {
  constructor(message: string) {
    // the word may span lines (heredocs, continuations): the message stays one line
    super(message.replace(/\r?\n/g, "\\n"));
  }
}

/** `${A:-${B:-…}}` deeper than this is refused: each level rescans the rest of the word */
const MAX_NESTING = 100;

export class ShellLex {
  private depth = 0;
  constructor(readonly escape: string = "\\") {}

  /** one word: quotes removed, variables substituted; whitespace kept */
  processWord(word: string, env: Env): string {
    return this.process(word, env, false).join("");
  }

  /** split on unquoted whitespace, then substitute (EXPOSE, VOLUME's shell form, …) */
  processWords(word: string, env: Env): string[] {
    return this.process(word, env, true);
  }

  private process(src: string, env: Env, split: boolean): string[] {
    const words: string[] = [];
    let cur = "";
    let inWord = false;
    let i = 0;
    const esc = this.escape;
    const flush = () => {
      if (inWord) words.push(cur);
      cur = "";
      inWord = false;
    };
    while (i < src.length) {
      const ch = src[i]!;
      if (split && /\s/.test(ch)) {
        flush();
        i++;
        continue;
      }
      inWord = true;
      if (ch === esc) {
        if (i + 1 < src.length) cur += src[i + 1]!;
        i += 2;
        continue;
      }
      if (ch === "'") {
        const end = src.indexOf("'", i + 1);
        if (end < 0) throw new SubstitutionError("unexpected end of statement while looking for matching single-quote");
        cur += src.slice(i + 1, end);
        i = end + 1;
        continue;
      }
      if (ch === '"') {
        i++;
        for (;;) {
          if (i >= src.length) throw new SubstitutionError("unexpected end of statement while looking for matching double-quote");
          const c = src[i]!;
          if (c === '"') {
            i++;
            break;
          }
          if (c === esc) {
            const n = src[i + 1];
            // inside double quotes the escape only protects ", $ and itself (moby: and newline)
            if (n !== undefined && (n === '"' || n === "$" || n === esc || n === "\n")) {
              cur += n;
              i += 2;
            } else {
              cur += c;
              i++;
            }
            continue;
          }
          if (c === "$") {
            const r = this.dollar(src, i, env);
            cur += r.value;
            i = r.next;
            continue;
          }
          cur += c;
          i++;
        }
        continue;
      }
      if (ch === "$") {
        const r = this.dollar(src, i, env);
        cur += r.value;
        i = r.next;
        continue;
      }
      cur += ch;
      i++;
    }
    flush();
    if (!split && words.length === 0) return [""];
    return words;
  }

  /** src[i] is `$`: the substituted value and the index after the expression */
  private dollar(src: string, i: number, env: Env): { value: string; next: number } {
    const n = src[i + 1];
    if (n === "{") {
      let j = i + 2;
      const nameStart = j;
      while (j < src.length && /[A-Za-z0-9_]/.test(src[j]!)) j++;
      const name = src.slice(nameStart, j);
      if (!name) throw new SubstitutionError(`bad substitution: ${src.slice(i)}`);
      if (j >= src.length) throw new SubstitutionError("syntax error: missing '}'");
      if (src[j] === "}") return { value: env.get(name) ?? "", next: j + 1 };
      let op = src[j] ?? "";
      j++;
      if (op === ":") {
        op += src[j] ?? "";
        j++;
      }
      if (![":-", ":+", ":?", "-", "+", "?"].includes(op)) throw new SubstitutionError(`unsupported modifier (${op}) in substitution`);
      // the word runs to the matching brace; it may itself contain substitutions and quotes
      let depth = 1;
      let k = j;
      while (k < src.length) {
        const c = src[k]!;
        if (c === this.escape) {
          k += 2;
          continue;
        }
        if (c === "{") depth++;
        else if (c === "}" && --depth === 0) break;
        k++;
      }
      if (k >= src.length) throw new SubstitutionError("syntax error: missing '}'");
      const word = src.slice(j, k);
      if (this.depth >= MAX_NESTING) throw new SubstitutionError(`bad substitution: nested deeper than ${MAX_NESTING} levels`);
      this.depth++;
      try {
        return { value: this.modified(name, op, word, env), next: k + 1 };
      } finally {
        this.depth--;
      }
    }
    let j = i + 1;
    while (j < src.length && /[A-Za-z0-9_]/.test(src[j]!)) j++;
    if (j === i + 1) return { value: "$", next: i + 1 };
    return { value: env.get(src.slice(i + 1, j)) ?? "", next: j };
  }

  /** `${name<op>word}` once the word is known */
  private modified(name: string, op: string, word: string, env: Env): string {
    const set = env.has(name);
    const val = env.get(name) ?? "";
    const nonEmpty = set && val !== "";
    switch (op) {
      case ":-":
        return nonEmpty ? val : this.processWord(word, env);
      case "-":
        return set ? val : this.processWord(word, env);
      case ":+":
        return nonEmpty ? this.processWord(word, env) : "";
      case "+":
        return set ? this.processWord(word, env) : "";
      case ":?":
        if (!nonEmpty) throw new SubstitutionError(`${name}: ${this.processWord(word, env) || "parameter null or not set"}`);
        return val;
      default:
        if (!set) throw new SubstitutionError(`${name}: ${this.processWord(word, env) || "parameter not set"}`);
        return val;
    }
  }
}
