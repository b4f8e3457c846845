/**
 * Docker-style argv parsing for citty command definitions. citty gives us the command table, metadata
 * and usage text; its parser is lenient (unknown flags pass, repeated flags collapse, it never stops at
 * the first positional), while docker's is strict. This parser reads the same `args` definitions plus
 * two extensions:
 *   - `multiple: true` on a string flag collects every occurrence (`-e A -e B`),
 *   - `meta.stopAtPositional` on a command ends flag parsing at the first positional, as cobra's
 *     SetInterspersed(false) does for `run` and `exec`: everything after the image name belongs to the
 *     container's command, flags included.
 */
import type { ArgsDef } from "citty";
import { UsageError } from "../lib/errors.ts";

/** citty's ArgDef, flattened so every field is reachable, plus our two extensions */
export interface FlagDef {
  type?: "boolean" | "string" | "enum" | "positional";
  description?: string;
  valueHint?: string;
  alias?: string | string[];
  default?: string | boolean;
  required?: boolean;
  options?: string[];
  multiple?: boolean;
  hidden?: boolean;
}
export type FlagsDef = Record<string, FlagDef>;

export interface Parsed {
  flags: Record<string, string | boolean | string[] | undefined>;
  positionals: string[];
  /** arguments after the first positional when stopAtPositional, else after `--` */
  rest: string[];
}

function camel(s: string): string {
  return s.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
}

export function parseFlags(argv: string[], defs: FlagsDef | ArgsDef, opts: { stopAtPositional?: boolean } = {}): Parsed {
  const byName = new Map<string, [string, FlagDef]>();
  for (const [name, def] of Object.entries(defs as FlagsDef)) {
    if (def.type === "positional") continue;
    byName.set(name, [name, def]);
    const aliases = def.alias === undefined ? [] : Array.isArray(def.alias) ? def.alias : [def.alias];
    for (const a of aliases) byName.set(a, [name, def]);
  }
  const flags: Parsed["flags"] = {};
  for (const [name, def] of Object.entries(defs as FlagsDef)) {
    if (def.type === "positional") continue;
    if (def.multiple) flags[name] = [];
    else if (def.default !== undefined) flags[name] = def.default as string | boolean;
  }
  const positionals: string[] = [];
  let rest: string[] = [];

  const set = (name: string, def: FlagDef, value: string | boolean, shown: string) => {
    if (def.type === "boolean") {
      flags[name] = value;
    } else if (def.multiple) {
      (flags[name] as string[]).push(String(value));
    } else {
      if (def.valueHint === "int" && !/^[-+]?\d+$/.test(String(value))) {
        // pflag's wording names the flag by both its forms: "-n, --last"
        const aliases = def.alias === undefined ? [] : Array.isArray(def.alias) ? def.alias : [def.alias];
        const short = aliases.find((a) => a.length === 1);
        throw new UsageError(
          `invalid argument "${value}" for "${short ? `-${short}, ` : ""}--${name}" flag: strconv.ParseInt: parsing ${JSON.stringify(String(value))}: invalid syntax`,
        );
      }
      if (def.type === "enum" && def.options && !def.options.includes(String(value))) {
        throw new UsageError(`invalid argument "${value}" for "${shown}" flag: must be one of ${def.options.join(", ")}`);
      }
      flags[name] = String(value);
    }
  };

  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === "--") {
      rest = argv.slice(i + 1);
      break;
    }
    if (arg.startsWith("--") && arg.length > 2) {
      const eq = arg.indexOf("=");
      const key = eq < 0 ? arg.slice(2) : arg.slice(2, eq);
      const found = byName.get(key) ?? byName.get(camel(key));
      if (!found) throw new UsageError(`unknown flag: --${key}`);
      const [name, def] = found;
      if (def.type === "boolean") {
        const v = eq < 0 ? "true" : arg.slice(eq + 1);
        if (v !== "true" && v !== "false")
          throw new UsageError(`invalid argument "${v}" for "--${key}" flag: strconv.ParseBool: parsing "${v}": invalid syntax`);
        set(name, def, v === "true", `--${key}`);
      } else {
        let v: string;
        if (eq >= 0) v = arg.slice(eq + 1);
        else if (i + 1 < argv.length) v = argv[++i]!;
        else throw new UsageError(`flag needs an argument: --${key}`);
        set(name, def, v, `--${key}`);
      }
      continue;
    }
    if (arg.startsWith("-") && arg.length > 1 && arg !== "-") {
      // a cluster of short flags: -it, -e FOO=1, -eFOO=1, -p8080:80
      for (let j = 1; j < arg.length; j++) {
        const ch = arg[j]!;
        const found = byName.get(ch);
        if (!found) throw new UsageError(`unknown shorthand flag: '${ch}' in ${arg}`);
        const [name, def] = found;
        if (def.type === "boolean") {
          if (arg[j + 1] === "=") {
            const v = arg.slice(j + 2);
            if (v !== "true" && v !== "false") throw new UsageError(`invalid argument "${v}" for "-${ch}" flag`);
            set(name, def, v === "true", `-${ch}`);
            break;
          }
          set(name, def, true, `-${ch}`);
          continue;
        }
        let v = arg.slice(j + 1);
        if (v.startsWith("=")) v = v.slice(1);
        if (v === "") {
          if (i + 1 >= argv.length) throw new UsageError(`flag needs an argument: '${ch}' in -${ch}`);
          v = argv[++i]!;
        }
        set(name, def, v, `-${ch}`);
        break;
      }
      continue;
    }
    positionals.push(arg);
    if (opts.stopAtPositional) {
      rest = argv.slice(i + 1);
      break;
    }
  }
  return { flags, positionals, rest };
}
